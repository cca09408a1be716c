"""``make bench``: every benchmark in turn; each prints its ratio against the raw limit."""

from __future__ import annotations

import importlib
import sys

BENCHMARKS = ("bench.stock", "bench.s360", "bench.servicemobility", "bench.erp", "bench.inspector")


def main() -> int:
    for name in BENCHMARKS:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name == name:
                continue
            raise
        module.main([])
    return 0


if __name__ == "__main__":
    sys.exit(main())
