"""Benchmarks: each compares the kit against the raw limit measured in the same run and prints the ratio.

Run them all with ``make bench``, or one with ``python -m bench.<name>``.
"""
