"""Benchmarks: each measures the service and, in the same run, the physical limit it is held against."""
