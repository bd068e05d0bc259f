"""Benchmarks (issue #9): ``make bench``; see bench/README.md. Never imported by the product
nor collected by the test suite."""
