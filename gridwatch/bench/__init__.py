"""Benchmarks that print numbers: `gridwatch bench ...`."""
