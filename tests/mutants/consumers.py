"""Run every ERP mutant's consumer (and the reference consumer), each on queues of its own
(``<prefix>-<name>-customers`` / ``-subscriptions``) and on the store its read API is served from:

    python -m tests.mutants.consumers --config receiver.toml --prefix power-1a2b

Each consumer runs on a thread of its own until SIGTERM; "erp: consuming" is logged once per consumer."""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import threading
from types import FrameType

from inventory_push_kit.receiver.amqp import Consumer
from inventory_push_kit.receiver.config import Config, load_config
from inventory_push_kit.receiver.storage import Store
from tests.mutants import REFERENCE, Mutant, load_all
from tests.mutants.http_server import store_url


def queues(prefix: str, mutant: Mutant) -> dict[str, str]:
    return {"customer_queue": f"{prefix}-{mutant.name}-customers",
            "subscription_queue": f"{prefix}-{mutant.name}-subscriptions"}


def erp_mutants() -> list[Mutant]:
    return [REFERENCE, *(m for m in load_all().values() if m.channel == "erp")]


def consumer_for(config: Config, prefix: str, mutant: Mutant) -> Consumer:
    erp = config.replace(erp=queues(prefix, mutant)).erp
    store = Store(store_url(config, mutant))
    store.create_schema()
    return (mutant.consumer or Consumer)(erp, store)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.mutants.consumers")
    parser.add_argument("--config", required=True)
    parser.add_argument("--prefix", required=True)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("pika").setLevel(logging.WARNING)
    config = load_config(args.config, os.environ)
    consumers = [consumer_for(config, args.prefix, mutant) for mutant in erp_mutants()]

    def stop(signum: int, _frame: FrameType | None) -> None:
        for consumer in consumers:
            consumer.stop(f"received {signal.Signals(signum).name}")

    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, stop)
    threads = [threading.Thread(target=consumer.run, name=f"consumer-{i}") for i, consumer in enumerate(consumers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return 0


if __name__ == "__main__":
    sys.exit(main())
