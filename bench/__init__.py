"""Benchmarks: each warms up, reports p50/p95/p99 and throughput, writes JSON and a PNG."""
