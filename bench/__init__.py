"""Benchmark scripts: each prints figures and ratios against a baseline run in the same script."""
