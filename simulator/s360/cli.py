"""``inventory-simulator s360``: behave like S-360 against a receiver and print each request's answer."""

from __future__ import annotations

import argparse
import logging
from typing import Any

import requests

from .. import options
from ..core import Request
from ..http import Sender, parse_header_lines
from ..runner import Console
from .auth import Auth
from .cases import GOOD_CASES, MALFORMATIONS
from .payload import (
    CHANNEL,
    DEFAULT_BATCH_SIZE,
    DEFAULT_INTERVAL_MINUTES,
    DEFAULT_MAX_BODY_BYTES,
    DEFAULT_MAX_REPOSTS,
    webhook_headers,
)
from .platform import CompressedClock
from .scenarios import LINE, SCENARIOS, count_products, run_scenario


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
    options.add_header_option(parser, "a header a proxy in front of the receiver needs")
    options.add_tls_options(parser)
    parser.add_argument("--scenario", choices=[name for name in SCENARIOS if name != "cases"], default="all",
                        help="conforming: the good cases, then one run of the inventory in batches; malformed: "
                        "every malformation that applies to --auth; all: both; schedule: --runs runs of the "
                        "inventory M minutes apart, some products changing in between (default: all)")
    parser.add_argument("--products", type=int, default=100, help="inventory size (default: 100)")
    parser.add_argument("--batch-size", type=int, default=DEFAULT_BATCH_SIZE,
                        help="P, the most products in one POST (default: 1000)")
    parser.add_argument("--interval-minutes", type=float, default=DEFAULT_INTERVAL_MINUTES,
                        help="M, between re-posts and between scheduled runs (1 to 1440, default: 15)")
    parser.add_argument("--max-reposts", type=int, default=DEFAULT_MAX_REPOSTS,
                        help="N, re-posts of a batch answered with anything but 200 before it is abandoned "
                        "(default: 12)")
    parser.add_argument("--runs", type=int, default=3, help="runs of the schedule scenario (default: 3)")
    parser.add_argument("--speed", type=float, default=1.0,
                        help="clock compression: 600 makes 15 minutes last 1.5 s; the waits printed are the "
                        "real ones (default: 1, real time)")
    options.add_seed_option(parser, "the generated products")
    parser.add_argument("--max-body-bytes", type=int, default=DEFAULT_MAX_BODY_BYTES,
                        help="the receiver's body limit, for the oversize-batch case")
    options.add_case_options(parser)
    options.add_body_options(parser, sends="with the Content-Type and the credentials of --auth",
                             expect_default="200")
    options.add_load_options(parser)
    options.add_json_option(parser)
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
        extra = parse_header_lines(args.header)
        expect = options.body_expectation(CHANNEL, args.expect)
        body = options.read_body(args.body) if args.body is not None else None
    except ValueError as exc:
        return options.usage_error(CHANNEL, exc)
    except OSError as exc:
        return options.cannot_read(CHANNEL, args.body, exc)
    console = Console(LINE, as_json=args.json)
    load = options.load_of(args)
    try:
        if body is not None:
            sender = Sender(args.url, ca_bundle=options.ca_bundle(args))
            sender.extra_headers = extra
            headers = webhook_headers(args.auth)
            step = options.body_step(options.body_name(args.body), expect, lambda: Request(body, headers))
            try:
                results = options.send_steps(sender, [step], console, load, measure=count_products)
            finally:
                sender.close()
        else:
            seed = options.seed_of(args)
            console.info(f"S-360 inventory webhook -> {args.url} (auth {args.auth.describe()}, scenario "
                         f"{'cases' if args.case else args.scenario}, seed {seed})")
            results = run_scenario(
                args.url, auth=args.auth, scenario=args.scenario, products=args.products,
                batch_size=args.batch_size, interval_minutes=args.interval_minutes, max_reposts=args.max_reposts,
                runs=args.runs, clock=clock, seed=seed, max_body_bytes=args.max_body_bytes,
                ca_bundle=options.ca_bundle(args), on_result=console.show, cases=args.case, load=load,
                headers=extra,
            )
    except requests.RequestException as exc:
        return options.cannot_reach(CHANNEL, args.url, exc)
    return console.finish(results, "requests")
