"""``inventory-simulator``: send a platform's scenario to a receiver and print each result.

Each platform package contributes one sub-command through its ``add_cli(subparsers)``, run by its ``run_cli(args)``.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from importlib.metadata import PackageNotFoundError, version

# One entry per platform; each package defines add_cli(subparsers) and run_cli(args).
CHANNEL_MODULES = ("inventory_push_kit.simulator.stock", "inventory_push_kit.simulator.s360",
                   "inventory_push_kit.simulator.servicemobility", "inventory_push_kit.simulator.erp")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="inventory-simulator", allow_abbrev=False,
        description="Behave like an inventory platform: send conforming and malformed pushes to a receiver.",
    )
    try:
        installed = version("inventory-push-kit")
    except PackageNotFoundError:  # a source tree that was never installed
        installed = "unknown (not installed)"
    parser.add_argument("--version", action="version", version=f"%(prog)s {installed} (inventory-push-kit)")
    subparsers = parser.add_subparsers(dest="channel", required=True, metavar="CHANNEL")
    for module_name in CHANNEL_MODULES:
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name == module_name:
                continue  # channel not built yet
            raise
        module.add_cli(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.run(args) or 0)
    except BrokenPipeError:  # the output was piped into a command that stopped reading (| head)
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0


if __name__ == "__main__":
    sys.exit(main())
