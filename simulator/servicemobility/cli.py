"""``inventory-simulator servicemobility``: post ServiceMobility webhooks to a receiver and print each
answer."""

from __future__ import annotations

import argparse
import secrets
import sys
from pathlib import Path
from typing import Any

import requests

from .. import options
from ..runner import Console
from .cases import GOOD_CASES, MALFORMATIONS, RESENT
from .payload import CHANNEL
from .platform import ServiceMobilityPlatform
from .scenarios import LINE, SCENARIOS, run_scenario
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
    options.add_tls_options(parser)
    parser.add_argument("--scenario", choices=tuple(SCENARIOS), default="all")
    parser.add_argument("--events", type=int, default=3, metavar="N",
                        help="generated InventoryUsage events after the good cases (default 3)")
    parser.add_argument("--seed", type=int,
                        help="seed of the generated events (default: a fresh one, printed)")
    options.add_case_options(parser)
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
    except (OSError, ValueError, TypeError) as exc:
        print(f"servicemobility: {exc}", file=sys.stderr)
        return 2
    seed = args.seed if args.seed is not None else secrets.randbits(32)
    tokens = (f"{signer.describe()}, evaluated by the receiver" if signer
              else "HS256 with an unknown secret, receiver trusts the platform (token attacks skipped)")
    print(f"servicemobility → {args.url}  scenario={args.scenario} seed={seed} tokens: {tokens}")
    with ServiceMobilityPlatform(args.url, signer=signer, ca_bundle=options.ca_bundle(args)) as platform:
        try:
            results = run_scenario(platform, "all" if args.case else args.scenario, events=args.events, seed=seed,
                                   evaluates_tokens=signer is not None, on_result=Console(LINE).show,
                                   cases=args.case)
        except requests.RequestException as exc:
            return options.cannot_reach(CHANNEL, args.url, exc)
    return Console.summary(results, "requests")
