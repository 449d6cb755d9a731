"""Pulse's state in Redis: key layout, stores (real adapter and in-memory fake), codecs."""
