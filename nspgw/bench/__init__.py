"""Benchmarks callable from `nspgw bench` and docs/benchmarks.md (measure, never assert)."""
