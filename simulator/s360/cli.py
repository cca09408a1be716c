"""``inventory-simulator s360``: behave like S-360 against a receiver and print each request's answer."""

from __future__ import annotations

import argparse
import logging
import sys
from typing import Any

import requests

from .. import options
from ..runner import Console
from .auth import Auth
from .cases import GOOD_CASES, MALFORMATIONS
from .payload import CHANNEL, DEFAULT_BATCH_SIZE, DEFAULT_INTERVAL_MINUTES, DEFAULT_MAX_BODY_BYTES, DEFAULT_MAX_REPOSTS
from .platform import CompressedClock
from .scenarios import LINE, SCENARIOS, run_scenario


def _auth_argument(text: str) -> Auth:
    try:
        return Auth.parse(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def add_cli(subparsers: Any) -> None:
    """The ``s360`` sub-command of ``inventory-simulator``."""
    parser = options.channel_parser(
        subparsers, CHANNEL,
        help="S-360 inventory webhook (JSON arrays of products, re-posts on anything but 200)",
        description="Behave like S-360: POST the inventory in batches of P products, re-post the same batch "
        "every M minutes up to N times on anything but 200, and send malformed batches.",
    )
    parser.add_argument("--url", required=True, help="the receiver's webhook URL")
    parser.add_argument("--auth", type=_auth_argument, default=Auth(),
                        help="none | basic:LOGIN:PASSWORD | api-key:HEADER:KEY (default: none)")
    options.add_tls_options(parser)
    parser.add_argument("--scenario", choices=list(SCENARIOS), default="all")
    parser.add_argument("--products", type=int, default=100, help="inventory size (default: 100)")
    parser.add_argument("--batch-size", type=int, default=DEFAULT_BATCH_SIZE, help="P (default: 1000)")
    parser.add_argument("--interval-minutes", type=float, default=DEFAULT_INTERVAL_MINUTES,
                        help="M, between re-posts and between scheduled runs (1 to 1440, default: 15)")
    parser.add_argument("--max-reposts", type=int, default=DEFAULT_MAX_REPOSTS, help="N (default: 12)")
    parser.add_argument("--runs", type=int, default=3, help="runs of the schedule scenario (default: 3)")
    parser.add_argument("--speed", type=float, default=1.0,
                        help="clock compression: 600 makes 15 minutes last 1.5 s (default: 1, real time)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--max-body-bytes", type=int, default=DEFAULT_MAX_BODY_BYTES,
                        help="the receiver's body limit, for the oversize-batch case")
    options.add_case_options(parser)
    parser.set_defaults(run=run_cli)


def run_cli(args: argparse.Namespace) -> int:
    """Run the chosen scenario; exit 1 when any answer differs from what a correct receiver gives."""
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    if args.list_cases:
        return options.list_cases(GOOD_CASES, MALFORMATIONS)
    if (code := options.unknown_cases(args.case, GOOD_CASES, MALFORMATIONS)) is not None:
        return code
    try:
        clock = CompressedClock(args.speed)
    except ValueError as exc:
        print(f"s360: {exc}", file=sys.stderr)
        return 2
    print(f"S-360 inventory webhook -> {args.url} (auth {args.auth.describe()}, scenario {args.scenario})")
    try:
        results = run_scenario(
            args.url, auth=args.auth, scenario=args.scenario, products=args.products, batch_size=args.batch_size,
            interval_minutes=args.interval_minutes, max_reposts=args.max_reposts, runs=args.runs,
            clock=clock, seed=args.seed, max_body_bytes=args.max_body_bytes,
            ca_bundle=options.ca_bundle(args), on_result=Console(LINE).show, cases=args.case,
        )
    except requests.RequestException as exc:
        return options.cannot_reach(CHANNEL, args.url, exc)
    return Console.summary(results, "requests")
