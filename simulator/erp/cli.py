"""``inventory-simulator erp``: publish a scenario to a broker the way the ERP does and print what the
broker confirmed."""

from __future__ import annotations

import argparse
import time
from typing import Any

from .. import options
from ..runner import Console
from .cases import MALFORMATIONS
from .payload import CHANNEL, CUSTOMER_QUEUE, SUBSCRIPTION_QUEUE
from .publisher import ErpPublisher, ErpPublishError
from .scenarios import LINE, SCENARIOS, ScenarioOptions, run_scenario


def add_cli(subparsers: Any) -> None:
    """The ``erp`` sub-command: publish a scenario to a broker the way the ERP does."""
    parser = options.channel_parser(
        subparsers, CHANNEL,
        help="ERP push notifications over AMQP 0-9-1 (customers and subscriptions)",
        description="Publish customer/subscription notifications like the ERP: persistent JSON, "
        "publisher confirms, mandatory. The queues must exist (the consumer declares them).",
    )
    parser.add_argument("--amqp-url", required=True, help="e.g. amqp://guest:guest@127.0.0.1:5672/%%2F")
    parser.add_argument("--customer-queue", default=CUSTOMER_QUEUE)
    parser.add_argument("--subscription-queue", default=SUBSCRIPTION_QUEUE)
    parser.add_argument("--scenario", choices=list(SCENARIOS), default="conforming")
    parser.add_argument("--customers", type=int, default=3, help="generated customers (conforming)")
    parser.add_argument("--subscriptions", type=int, default=3, help="generated subscriptions (conforming)")
    parser.add_argument("--duplicates", action="store_true", help="publish every message twice in a row")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--messages", type=int, default=10_000, help="backlog size (backlog)")
    options.add_case_options(parser)
    parser.set_defaults(run=run_cli)


def run_cli(args: argparse.Namespace) -> int:
    """Run the ``erp`` sub-command; 1 when the broker is unreachable, a queue is missing, or a
    message was nacked or returned unroutable."""
    if args.list_cases:
        return options.list_cases(MALFORMATIONS)
    if (code := options.unknown_cases(args.case, MALFORMATIONS)) is not None:
        return code
    scenario_options = ScenarioOptions(seed=args.seed, customers=args.customers, subscriptions=args.subscriptions,
                                       duplicates=args.duplicates, messages=args.messages)
    try:
        with ErpPublisher(args.amqp_url, customer_queue=args.customer_queue,
                          subscription_queue=args.subscription_queue) as publisher:
            publisher.declare_passive()
            started = time.perf_counter()
            results = run_scenario(publisher, "malformed" if args.case else args.scenario, scenario_options,
                                   on_result=Console(LINE).show, cases=args.case)
            elapsed = time.perf_counter() - started
    except ErpPublishError as exc:
        print(f"error: {exc}")
        return 1
    items = sum(r.items for r in results if r.ok)
    print(f"{items} message(s) confirmed in {elapsed:.2f} s")
    return 0 if all(r.ok for r in results) else 1
