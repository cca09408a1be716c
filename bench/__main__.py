"""``make bench``: every benchmark in turn, on SQLite and on PostgreSQL (when its server is reachable);
each prints its ratio against the raw limit of the same backend measured in the same run.

    python -m bench [--store sqlite|postgresql|both] [--quick]

``--quick`` (or ``BENCH_QUICK=1``) is a smoke run of small sizes and one round: it shows every line
prints, its figures mean nothing.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from bench.common import add_common_arguments

BENCHMARKS = ("bench.stock", "bench.s360", "bench.servicemobility", "bench.erp", "bench.scaleout", "bench.inspector")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n\n")[0])
    add_common_arguments(parser)
    args = parser.parse_args(argv)
    passed = ["--store", args.store] + (["--quick"] if args.quick else [])
    for name in BENCHMARKS:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name == name:
                continue
            raise
        print(f"\n######## {name}", flush=True)
        module.main(passed)
    return 0


if __name__ == "__main__":
    sys.exit(main())
