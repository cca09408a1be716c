"""``inventory-simulator servicemobility``: post ServiceMobility webhooks to a receiver and print each
answer."""

from __future__ import annotations

import argparse
import json
import secrets
import sys
from pathlib import Path
from typing import Any

import requests

from .. import options
from ..core import Request
from ..http import parse_header_lines
from ..runner import Console
from .cases import GOOD_CASES, MALFORMATIONS, RESENT
from .payload import CHANNEL, path_for
from .platform import ServiceMobilityPlatform
from .scenarios import LINE, SCENARIOS, event_shape, run_scenario
from .tokens import TokenSigner


def add_cli(subparsers: Any) -> None:
    """``inventory-simulator servicemobility``: send ServiceMobility webhooks to a receiver."""
    parser = options.channel_parser(
        subparsers, CHANNEL,
        help="ServiceMobility webhooks (InventoryUsage/ and its sibling types)",
        description="Post ServiceMobility webhooks (CloudEvents envelope, JWT in x-access-token) to "
                    "<url>/InventoryUsage/ and the sibling paths. Token attacks run only when a key is "
                    "given: giving --secret or --private-key says the receiver evaluates tokens with it.",
    )
    parser.add_argument("--url", required=True, help="the receiver's REST Endpoint URI (base URL)")
    key = parser.add_mutually_exclusive_group()
    key.add_argument("--secret", help="HS256 shared secret the receiver verifies with")
    key.add_argument("--private-key", type=Path, metavar="PEM_FILE", help="RSA or P-256 private key (PEM)")
    parser.add_argument("--algorithm", choices=TokenSigner.ASYMMETRIC,
                        help="with --private-key (default: follows the key)")
    parser.add_argument("--audience", help="aud claim the receiver expects")
    parser.add_argument("--issuer", help="iss claim the receiver expects")
    options.add_header_option(parser, "a header a proxy in front of the receiver needs")
    options.add_tls_options(parser)
    parser.add_argument("--scenario", choices=tuple(SCENARIOS), default="all",
                        help="conforming: the good cases and generated InventoryUsage events; malformed: every "
                        "malformation that applies (token attacks only with a key); all: both, then the "
                        "refused events sent again correctly (default: all)")
    parser.add_argument("--events", type=int, default=3, metavar="N",
                        help="generated InventoryUsage events after the good cases (default: 3)")
    options.add_seed_option(parser, "the generated events")
    options.add_case_options(parser)
    options.add_body_options(parser, sends="to the path of the type the body names (InventoryUsage/ when it "
                             "names none), with a freshly signed x-access-token", expect_default="200")
    options.add_load_options(parser)
    options.add_json_option(parser)
    parser.set_defaults(run=run_cli)


def run_cli(args: argparse.Namespace) -> int:
    """Run the chosen scenario; exit 1 when any answer differs from what a correct receiver gives."""
    if args.list_cases:
        return options.list_cases(GOOD_CASES, MALFORMATIONS, RESENT)
    if (code := options.unknown_cases(args.case, GOOD_CASES, MALFORMATIONS, RESENT)) is not None:
        return code
    claims = {"audience": args.audience, "issuer": args.issuer}
    signer: TokenSigner | None = None
    try:
        if args.secret is not None:
            signer = TokenSigner(args.secret, **claims)
        elif args.private_key is not None:
            pem = args.private_key.read_bytes()
            signer = TokenSigner.from_private_key_pem(pem, args.algorithm, **claims)
        elif args.algorithm:
            raise ValueError("--algorithm needs --private-key")
        extra = parse_header_lines(args.header)
        expect = options.body_expectation(CHANNEL, args.expect)
    except (OSError, ValueError, TypeError) as exc:
        print(f"servicemobility: {exc}", file=sys.stderr)
        return 2
    try:
        body = options.read_body(args.body) if args.body is not None else None
    except OSError as exc:
        return options.cannot_read(CHANNEL, args.body, exc)
    console = Console(LINE, as_json=args.json)
    load = options.load_of(args)
    with ServiceMobilityPlatform(args.url, signer=signer, ca_bundle=options.ca_bundle(args)) as platform:
        platform.sender.extra_headers = extra
        try:
            if body is not None:
                token_signer = signer or TokenSigner(secrets.token_hex(32))  # the platform always sends one
                path = path_for(body_type(body), platform.paths)

                def make() -> Request:
                    return Request(body, {"Content-Type": "application/json", "x-access-token": token_signer.token()},
                                   path)

                step = options.body_step(options.body_name(args.body), expect, make)
                results = options.send_steps(platform.sender, [step], console, load, measure=event_shape)
            else:
                seed = options.seed_of(args)
                tokens = (f"{signer.describe()}, evaluated by the receiver" if signer
                          else "HS256 with an unknown secret, receiver trusts the platform (token attacks skipped)")
                console.info(f"servicemobility -> {args.url}  scenario={'cases' if args.case else args.scenario} "
                             f"seed={seed} tokens: {tokens}")
                results = run_scenario(platform, "all" if args.case else args.scenario, events=args.events,
                                       seed=seed, evaluates_tokens=signer is not None, on_result=console.show,
                                       cases=args.case, load=load)
        except requests.RequestException as exc:
            return options.cannot_reach(CHANNEL, args.url, exc)
    return console.finish(results, "requests")


def body_type(body: bytes) -> str:
    """The event type a --body names (its ``type``), InventoryUsage when it names none."""
    try:
        event = json.loads(body)
    except ValueError:
        return "InventoryUsage"
    kind = event.get("type") if isinstance(event, dict) else None
    return kind if isinstance(kind, str) and kind else "InventoryUsage"
