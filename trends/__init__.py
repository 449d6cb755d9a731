"""Trend signals: bursts, peak times, intent shifts (pure statistics)."""
