"""Tools for running the kit locally: TLS material, a receiver in a subprocess, the demo.

Used by ``make demo``, the benchmarks and the tests; not installed with the package.
"""
