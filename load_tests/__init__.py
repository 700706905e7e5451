"""Locust load tests and the benchmark runner (``python -m load_tests.bench --help``)."""
