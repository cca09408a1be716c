"""The command-line pieces every channel's sub-command shares, so that an option meant for all of them
is added here once."""

from __future__ import annotations

import argparse
import os
import secrets
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .core import Expectation, Registry, Request, Result
from .http import Sender
from .runner import Console, HttpDelivery, Runner, Step


def channel_parser(subparsers: Any, name: str, *, help: str, description: str) -> argparse.ArgumentParser:
    """The sub-command of one channel (``inventory-simulator NAME``)."""
    parser: argparse.ArgumentParser = subparsers.add_parser(
        name, help=help, description=description, allow_abbrev=False,
        epilog=None if name == "erp" else "Exit codes: 0 every answer as a correct receiver gives it; 1 any "
        "unexpected answer; 2 a bad option, an unreadable --body, or a receiver that cannot be reached.")
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


# -- sending precisely: a file as is, load, output for scripts ----------------------------------------


@dataclass(frozen=True)
class Load:
    """How the runner paces what it sends: ``rate`` sendings started per second at most (None: as fast
    as answers come), ``concurrency`` at once, every selected step ``repeat`` times."""

    rate: float | None = None
    concurrency: int = 1
    repeat: int = 1


def positive_float(text: str) -> float:
    value = float(text)
    if not value > 0:
        raise argparse.ArgumentTypeError(f"{text} is not a positive number")
    return value


def add_seed_option(parser: argparse.ArgumentParser, what: str) -> None:
    """``--seed N``, the same on every sub-command: a fresh random seed by default, printed at the start,
    so that a run can be repeated exactly with ``--seed N``."""
    parser.add_argument("--seed", type=int, metavar="N",
                        help=f"seed of {what}; the same seed sends the same data again (default: a fresh "
                        "random seed, printed at the start)")


def seed_of(args: argparse.Namespace) -> int:
    """The seed of this run: the one given, or a fresh one."""
    return int(args.seed) if args.seed is not None else secrets.randbits(32)


def add_body_options(parser: argparse.ArgumentParser, *, sends: str, expect_default: str) -> None:
    """``--body FILE|-`` with ``--expect STATUS``: send a file (or stdin) as is, instead of a scenario."""
    parser.add_argument("--body", metavar="FILE|-",
                        help=f"send this file (- for standard input) byte for byte as the body, {sends}, "
                        "instead of a scenario; print the answer")
    parser.add_argument("--expect", action="append", metavar="STATUS" if expect_default.isdigit() else "OUTCOME",
                        help=f"with --body: the answer a correct receiver gives (repeatable; default: "
                        f"{expect_default})")


def add_load_options(parser: argparse.ArgumentParser, *, concurrency: bool = True) -> None:
    """``--rate``, ``--concurrency``, ``--repeat``: load from the named cases or a ``--body``."""
    parser.add_argument("--rate", type=positive_float, metavar="N",
                        help="start at most N sendings per second, evenly spaced (default: each as soon as "
                        "the previous one is answered)")
    if concurrency:
        parser.add_argument("--concurrency", type=positive, default=1, metavar="N",
                            help="N senders in parallel, each on its own connection (default: 1)")
    parser.add_argument("--repeat", type=positive, default=1, metavar="N",
                        help="send every selected case (or the --body) N times (default: 1)")


def add_json_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true",
                        help="print one JSON object per sending on stdout (case, method, path, size, status, "
                        "expected, ok, latency_ms, answer) and nothing else there; headings and the summary "
                        "go to stderr")


def load_of(args: argparse.Namespace) -> Load:
    return Load(args.rate, getattr(args, "concurrency", 1), args.repeat)


def read_body(name: str) -> bytes:
    """The bytes of ``--body``: a file, or standard input for ``-``; OSError when it cannot be read."""
    if name == "-":
        return sys.stdin.buffer.read()
    with open(name, "rb") as file:
        return file.read()


def body_name(name: str) -> str:
    return "stdin" if name == "-" else os.path.basename(name)


def cannot_read(channel: str, name: str, error: OSError) -> int:
    print(f"{channel}: cannot read --body {name}: {error.strerror or error}", file=sys.stderr)
    return 2


def body_expectation(channel: str, statuses: list[str] | None, default: tuple[int, ...] = (200,)) -> Expectation:
    """What a ``--body`` sending expects: the ``--expect`` statuses, or the platform's success answer."""
    try:
        chosen = tuple(int(status) for status in statuses) if statuses else default
    except ValueError:
        raise ValueError(f"{channel}: --expect takes an HTTP status such as 200 or 422") from None
    spec = "given with --expect" if statuses else "the platform's success answer"
    return Expectation(chosen, spec)


def body_step(name: str, expect: Expectation, make: Callable[[], Request]) -> Step[Request]:
    """The step of ``--body``: ``make`` builds the request right before each sending (a fresh token)."""
    return Step(f"body:{name}", expect, lambda: (make(),))


def send_steps(sender: Sender, steps: list[Step[Request]], console: Console, load: Load,
               measure: Callable[[Request], tuple[int, str]] | None = None) -> list[Result]:
    """Send steps through one sender with the given load, each result shown as it comes."""
    runner = Runner(HttpDelivery(sender, measure=measure), on_result=console.show, rate=load.rate,
                    concurrency=load.concurrency, repeat=load.repeat)
    return runner.run(steps)


def add_header_option(parser: argparse.ArgumentParser, what: str) -> None:
    """``--header 'Name: value'``, the same on every HTTP sub-command: added to every request (repeatable)."""
    parser.add_argument("--header", action="append", default=[], metavar="'Name: value'",
                        help=f"a header sent with every request, e.g. {what} (repeatable)")


def usage_error(channel: str, error: Exception) -> int:
    """A bad option value, said in one line; the exit code, 2."""
    print(f"{channel}: {error}", file=sys.stderr)
    return 2
