"""Benchmarks of segplan against a pandas baseline and the raw engine; `python -m bench` runs them."""
