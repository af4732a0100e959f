"""omniwire-bench: the benchmark harness (``python -m omniwire_bench run``)."""

__version__ = "0.1.0"
