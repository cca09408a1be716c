"""``inventory-simulator stock``: send the stock push scenarios to a receiver and print each answer."""

from __future__ import annotations

import argparse
from typing import Any

import requests

from .. import options
from ..core import Request
from ..http import parse_header_lines
from ..runner import Console
from .cases import GOOD_CASES, MALFORMATIONS
from .payload import CHANNEL, DEFAULT_MAX_BODY_BYTES, JSON_HEADERS
from .platform import StockPlatform
from .scenarios import CASE_ROWS, LINE, SCENARIOS, run_scenario


def add_cli(subparsers: Any) -> None:
    """``inventory-simulator stock``: send the stock push scenarios to a receiver."""
    parser = options.channel_parser(
        subparsers, CHANNEL, help="the aviation marketplace's stock push (stock-push.rst)",
        description="Push columnar stock changes to a receiver, conforming and broken; check each answer.",
    )
    parser.add_argument("--url", required=True, help="the receiver's stock push endpoint")
    options.add_header_option(parser, "the credential headers the endpoint requires")
    options.add_tls_options(parser)
    parser.add_argument("--scenario", choices=SCENARIOS, default="all",
                        help="conforming: a first push, deltas, a late stale copy and the good cases; "
                        "malformed: every named malformation; all: both (default: all)")
    parser.add_argument("--rows", type=options.positive, default=1000, help="rows of the first push")
    parser.add_argument("--deltas", type=options.not_negative, default=3, help="delta pushes after the first one")
    parser.add_argument("--delta-rows", type=options.positive, help="rows per delta (default: rows / 10)")
    options.add_seed_option(parser, "the generated stock")
    parser.add_argument("--max-body-bytes", type=options.positive, default=DEFAULT_MAX_BODY_BYTES,
                        help="the receiver's body limit; the oversize case exceeds it")
    parser.add_argument("--case-row", type=int, default=0, choices=range(-CASE_ROWS, CASE_ROWS), metavar="ROW",
                        help=f"the row of the {CASE_ROWS} a one-row case breaks or varies: 0 the first (default), "
                        f"1 the middle, {CASE_ROWS - 1} or -1 the last")
    options.add_case_options(parser)
    options.add_body_options(parser, sends="with the credential headers and Content-Type: application/json",
                             expect_default="200")
    options.add_load_options(parser)
    options.add_json_option(parser)
    parser.set_defaults(run=run_cli)


def run_cli(args: argparse.Namespace) -> int:
    """Run the chosen scenario; exit 1 when any answer differs from what a correct receiver gives."""
    if args.list_cases:
        return options.list_cases(GOOD_CASES, MALFORMATIONS)
    if (code := options.unknown_cases(args.case, GOOD_CASES, MALFORMATIONS)) is not None:
        return code
    try:
        credentials = parse_header_lines(args.header)
        expect = options.body_expectation(CHANNEL, args.expect)
        body = options.read_body(args.body) if args.body is not None else None
    except ValueError as exc:
        return options.usage_error(CHANNEL, exc)
    except OSError as exc:
        return options.cannot_read(CHANNEL, args.body, exc)
    console = Console(LINE, as_json=args.json)
    load = options.load_of(args)
    platform = StockPlatform(args.url, credentials=credentials, ca_bundle=options.ca_bundle(args))
    try:
        if body is not None:
            headers = {**JSON_HEADERS, **credentials}
            step = options.body_step(options.body_name(args.body), expect, lambda: Request(body, headers))
            results = options.send_steps(platform.sender, [step], console, load)
        else:
            seed = options.seed_of(args)
            console.info(f"stock -> {args.url}  scenario={'cases' if args.case else args.scenario} seed={seed}")
            results = run_scenario(platform, "all" if args.case else args.scenario, rows=args.rows,
                                   deltas=args.deltas, delta_rows=args.delta_rows, seed=seed,
                                   max_body_bytes=args.max_body_bytes, case_row=args.case_row,
                                   on_result=console.show, cases=args.case, load=load)
    except requests.RequestException as exc:
        return options.cannot_reach(CHANNEL, args.url, exc)
    finally:
        platform.close()
    return console.finish(results, "pushes")
