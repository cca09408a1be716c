"""``inventory-simulator erp``: publish a scenario to a broker the way the ERP does, print what the
broker confirmed and, with a state probe, what the consumer made of each message."""

from __future__ import annotations

import argparse
import sys
import time
from typing import Any

import requests

from .. import options
from ..http import parse_header_lines
from ..runner import Console
from .cases import MALFORMATIONS
from .checks import ProbeChecker, ProbeError, checks_for
from .payload import CHANNEL, CUSTOMER_QUEUE, SUBSCRIPTION_QUEUE, ErpMessage
from .publisher import ErpPublisher, ErpPublishError
from .scenarios import LINE, SCENARIOS, ScenarioOptions, publish_messages, scenario_messages

# Exit codes: 0 every message confirmed and (with a probe) every outcome seen; 1 something unexpected;
# 2 a bad option; 3 every message confirmed, but no state probe to check what the consumer did.
NOT_CHECKED = 3
QUEUES = {"customer": CUSTOMER_QUEUE, "subscription": SUBSCRIPTION_QUEUE}


def add_cli(subparsers: Any) -> None:
    """The ``erp`` sub-command: publish a scenario to a broker the way the ERP does."""
    parser = options.channel_parser(
        subparsers, CHANNEL,
        help="ERP push notifications over AMQP 0-9-1 (customers and subscriptions)",
        description="Publish customer/subscription notifications like the ERP: persistent JSON, "
        "publisher confirms, mandatory. The queues must exist (the consumer declares them). With "
        "--state-probe, each message's outcome (stored as last published, or dead-lettered) is then read "
        "from the receiver. Exit codes: 0 all as expected; 1 something unexpected; 2 a bad option; "
        "3 all confirmed by the broker but outcomes not checked (no --state-probe).",
    )
    parser.add_argument("--amqp-url", required=True, help="the broker, e.g. amqp://guest:guest@127.0.0.1:5672/%%2F")
    parser.add_argument("--customer-queue", default=CUSTOMER_QUEUE,
                        help=f"the customer queue's name (default: {CUSTOMER_QUEUE})")
    parser.add_argument("--subscription-queue", default=SUBSCRIPTION_QUEUE,
                        help=f"the subscription queue's name (default: {SUBSCRIPTION_QUEUE})")
    parser.add_argument("--scenario", choices=list(SCENARIOS), default="conforming",
                        help="conforming: the document's examples and generated customers and subscriptions "
                        "with later states, out of order; malformed: every poison and odd message; all: both; "
                        "backlog: --messages customers at once (default: conforming)")
    parser.add_argument("--customers", type=int, default=3, help="generated customers (conforming; default: 3)")
    parser.add_argument("--subscriptions", type=int, default=3,
                        help="generated subscriptions (conforming; default: 3)")
    parser.add_argument("--duplicates", action="store_true", help="publish every message twice in a row")
    options.add_seed_option(parser, "the generated customers and subscriptions")
    parser.add_argument("--messages", type=int, default=10_000, help="backlog size (backlog; default: 10000)")
    options.add_case_options(parser)
    parser.add_argument("--body", metavar="FILE|-",
                        help="publish this file (- for standard input) byte for byte as one message, with the "
                        "platform's properties, instead of a scenario")
    parser.add_argument("--queue", choices=tuple(QUEUES), default="customer",
                        help="with --body: the queue it goes to (default: customer)")
    parser.add_argument("--expect", choices=("stored", "dead-letter"), default="stored",
                        help="with --body: what a correct consumer does with it (default: stored)")
    probe = parser.add_argument_group("checking outcomes (the state probe, docs/state-probe.md)")
    probe.add_argument("--state-probe", metavar="URL",
                       help="the receiver's state probe, e.g. https://localhost:8443/api: after publishing, "
                       "check that each message was stored as last published or dead-lettered")
    probe.add_argument("--state-probe-header", action="append", default=[], metavar="'Name: value'",
                       help="a header sent to the state probe, e.g. 'Authorization: Bearer TOKEN' (repeatable)")
    probe.add_argument("--erp-wait", type=options.positive_float, default=20.0, metavar="SECONDS",
                       help="how long to wait for the consumer to take every message (default: 20)")
    probe.add_argument("--publish-only", action="store_true",
                       help="do not check outcomes and exit 0 when the broker confirmed everything "
                       "(without it and without --state-probe the exit code is 3)")
    options.add_tls_options(parser)
    options.add_load_options(parser, concurrency=False)
    options.add_json_option(parser)
    parser.set_defaults(run=run_cli)


def run_cli(args: argparse.Namespace) -> int:
    """Run the ``erp`` sub-command; see the exit codes above."""
    if args.list_cases:
        return options.list_cases(MALFORMATIONS)
    if (code := options.unknown_cases(args.case, MALFORMATIONS)) is not None:
        return code
    try:
        probe_headers = parse_header_lines(args.state_probe_header)
    except ValueError as exc:
        return options.usage_error(CHANNEL, exc)
    console = Console(LINE, as_json=args.json)
    scenario = "malformed" if args.case else args.scenario
    if args.body is not None:
        try:
            body = options.read_body(args.body)
        except OSError as exc:
            return options.cannot_read(CHANNEL, args.body, exc)
        messages = [ErpMessage(f"body:{options.body_name(args.body)}", QUEUES[args.queue], body, args.expect)]
        if args.expect == "stored" and not _has_id(messages[0]):
            return options.usage_error(CHANNEL, ValueError("--expect stored needs a JSON object with an id"))
        bulk = False
    else:
        seed = options.seed_of(args)
        console.info(f"erp -> {args.amqp_url.split('@')[-1]}  scenario={'cases' if args.case else scenario} "
                     f"seed={seed}")
        messages = scenario_messages(scenario, ScenarioOptions(
            seed=seed, customers=args.customers, subscriptions=args.subscriptions, duplicates=args.duplicates,
            messages=args.messages))
        if args.case:
            messages = [sent for sent in messages if sent.name in args.case]
        bulk = SCENARIOS[scenario].bulk
    checker = None
    if args.state_probe and not args.publish_only:
        checker = ProbeChecker(args.state_probe, probe_headers, ca_bundle=options.ca_bundle(args))
    try:
        after = checker.last_erp_delivery() if checker else 0
        with ErpPublisher(args.amqp_url, customer_queue=args.customer_queue,
                          subscription_queue=args.subscription_queue) as publisher:
            publisher.declare_passive()
            started = time.perf_counter()
            results = publish_messages(publisher, messages, bulk=bulk, on_result=console.show,
                                       rate=args.rate, repeat=args.repeat)
            elapsed = time.perf_counter() - started
        confirmed = all(result.ok for result in results)
        console.info(f"{sum(r.items for r in results if r.ok)} message(s) confirmed in {elapsed:.2f} s")
        if checker is not None and confirmed:
            results += checker.check(checks_for(messages), after=after, wait=args.erp_wait,
                                     on_result=console.show)
    except ErpPublishError as exc:
        print(f"erp: {exc}", file=sys.stderr)
        return 1
    except (ProbeError, requests.RequestException) as exc:
        print(f"erp: cannot read the state probe {args.state_probe}: {exc}", file=sys.stderr)
        return 1
    finally:
        if checker is not None:
            checker.close()
    code = console.finish(results, "messages and checks" if checker else "messages")
    if code == 0 and checker is None and not args.publish_only:
        print("erp: the broker confirmed every message, but what the consumer made of them is not checked: "
              "give --state-probe URL (and --state-probe-header) to check it, or --publish-only (exit 3)",
              file=sys.stderr)
        return NOT_CHECKED
    return code


def _has_id(sent: ErpMessage) -> bool:
    try:
        return sent.key() is not None
    except (ValueError, KeyError, TypeError):
        return False
