"""The command-line pieces every channel's sub-command shares, so that an option meant for all of them
is added here once."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from .core import Registry


def channel_parser(subparsers: Any, name: str, *, help: str, description: str) -> argparse.ArgumentParser:
    """The sub-command of one channel (``inventory-simulator NAME``)."""
    parser: argparse.ArgumentParser = subparsers.add_parser(name, help=help, description=description)
    return parser


def add_tls_options(parser: argparse.ArgumentParser) -> None:
    """``--ca-bundle FILE`` or ``--insecure``: which certificates of the receiver to trust."""
    tls = parser.add_mutually_exclusive_group()
    tls.add_argument("--ca-bundle", metavar="FILE", help="CA file to trust for the receiver's certificate")
    tls.add_argument("--insecure", action="store_true", help="do not verify the receiver's certificate")


def ca_bundle(args: argparse.Namespace) -> str | bool:
    """What the sender verifies the receiver with: a CA file, the system store (True), or nothing."""
    return False if args.insecure else (args.ca_bundle or True)


def positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value} is not a positive number")
    return value


def not_negative(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"{value} is negative")
    return value


def add_case_options(parser: argparse.ArgumentParser) -> None:
    """``--case NAME`` (repeatable) sends only those named cases; ``--list-cases`` lists them."""
    parser.add_argument("--case", action="append", metavar="NAME",
                        help="send only this named case (good or malformed; repeatable); see --list-cases")
    parser.add_argument("--list-cases", action="store_true",
                        help="list every named case with the answer a correct receiver gives, and exit")


def list_cases(*registries: Registry[Any, Any]) -> int:
    """Print each case of the registries: name, what a correct receiver answers, level, description."""
    for registry in registries:
        for case in registry:
            print(f"{case.name:<40} {case.expect.describe():<12} {case.expect.level:<6} {case.description}")
    return 0


def unknown_cases(names: list[str] | None, *registries: Registry[Any, Any]) -> int | None:
    """Exit code 2 with a message when a ``--case`` names no case; None when every name is known."""
    unknown = [name for name in names or () if not any(name in registry for registry in registries)]
    if not unknown:
        return None
    print(f"no case named {', '.join(unknown)} (--list-cases shows them)", file=sys.stderr)
    return 2


def cannot_reach(channel: str, url: str, error: Exception) -> int:
    """Say that the receiver cannot be reached at all (a bad URL, no such host); the exit code, 2."""
    print(f"{channel}: cannot reach {url}: {error}", file=sys.stderr)
    return 2
