"""ERP consumer benchmark: a backlog of customer messages consumed into the store (SQLite, then
PostgreSQL) by the receiver's consumer, against raw pika consume+ack of the same backlog, in the same run.

    python -m bench.erp [--amqp-url URL] [--messages 10000] [--prefetch 500] [--batch-size 200]
                        [--rounds 5] [--store sqlite|postgresql|both] [--quick]

Both start from the same full, confirmed backlog and are timed from opening the connection to the
last acknowledgement; they alternate (raw, kit, raw, kit …) for ``--rounds`` rounds and the medians are
compared, so that one lucky round cannot decide the ratio. The queues and exchange it declares
are its own (``bench-erp-<random>``) and are deleted at the end.
"""

from __future__ import annotations

import argparse
import logging
import os
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pika
import sqlalchemy as sa

from bench.common import Timing, add_common_arguments, backends, fresh_store_url, quick, report
from inventory_push_kit.receiver import amqp, storage
from inventory_push_kit.receiver.channels import erp
from inventory_push_kit.receiver.config import from_mapping
from inventory_push_kit.simulator.erp import ErpPublisher, ScenarioOptions, backlog_messages

DEFAULT_URL = os.environ.get("RECEIVER_ERP_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/%2F")
TARGET_RATIO = 0.6


def own_queues(prefix: str) -> dict[str, str]:
    """``[erp]`` queue and exchange names of the benchmark's own (``PREFIX-<random>``)."""
    name = f"{prefix}-{uuid.uuid4().hex[:8]}"
    return {"customer_queue": f"{name}-customers", "subscription_queue": f"{name}-subscriptions",
            "dead_letter_exchange": f"{name}.dead-letter"}


@contextmanager
def declared(config: erp.Config) -> Iterator[None]:
    """The consumer's topology declared for the block, its queues and exchange deleted after it."""
    topology = amqp.Topology.from_config(config)
    connection = pika.BlockingConnection(pika.URLParameters(config.amqp_url))
    try:
        topology.declare(connection.channel())
        yield
    finally:
        channel = connection.channel()
        for name in (*topology.queues, *map(topology.dead_letter_queue, topology.queues)):
            channel.queue_delete(name)
        channel.exchange_delete(topology.dead_letter_exchange)
        connection.close()


def publish_backlog(url: str, queue: str, bodies: list[bytes]) -> None:
    with ErpPublisher(url, customer_queue=queue) as publisher:
        publisher.publish_many(bodies, queue)


def raw_consume(url: str, queue: str, expected: int, prefetch: int) -> float:
    """pika alone: consume and ack every message, one ack each; returns the seconds it took."""
    started = time.perf_counter()
    connection = pika.BlockingConnection(pika.URLParameters(url))
    channel = connection.channel()
    channel.basic_qos(prefetch_count=prefetch)
    seen = 0

    def on_message(ch: pika.adapters.blocking_connection.BlockingChannel, method: pika.spec.Basic.Deliver,
                   _properties: pika.BasicProperties, _body: bytes) -> None:
        nonlocal seen
        ch.basic_ack(method.delivery_tag)
        seen += 1
        if seen == expected:
            ch.stop_consuming()

    channel.basic_consume(queue, on_message)
    channel.start_consuming()
    elapsed = time.perf_counter() - started
    connection.close()
    return elapsed


def receiver_consume(config: amqp.ErpConfig, store: storage.Store, expected: int) -> float:
    """The receiver's consumer into the store; returns the seconds until the last message was acked."""
    consumer = amqp.Consumer(config, store)
    started = time.perf_counter()
    thread = threading.Thread(target=consumer.run, name="erp-consumer")
    thread.start()
    try:
        while consumer.stats.acked < expected and thread.is_alive():
            time.sleep(0.005)
        elapsed = time.perf_counter() - started
    finally:
        consumer.stop("benchmark done")
        thread.join()
    if consumer.stats.acked != expected:
        raise SystemExit(f"the consumer acknowledged {consumer.stats.acked} of {expected} messages")
    return elapsed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.erp", description=__doc__.splitlines()[0])
    parser.add_argument("--amqp-url", default=DEFAULT_URL)
    parser.add_argument("--messages", type=int, default=None, help="backlog size (default 10,000; quick 500)")
    parser.add_argument("--prefetch", type=int, default=500)
    parser.add_argument("--batch-size", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=None, help="rounds of each side (default 5; quick 1)")
    add_common_arguments(parser)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    smoke = args.quick or quick()
    messages = args.messages or (500 if smoke else 10_000)
    rounds = args.rounds or (1 if smoke else 5)
    failed = 0
    for backend in backends(args.store):
        ratio = run(backend, args, messages, rounds)
        failed += ratio < TARGET_RATIO
    return 1 if failed else 0


def run(backend: str, args: argparse.Namespace, messages: int, rounds: int) -> float:
    queues = own_queues("bench-erp")
    queue = queues["customer_queue"]
    bodies = [message.body for message in backlog_messages(ScenarioOptions(messages=messages))]
    with tempfile.TemporaryDirectory() as folder:
        config = from_mapping({
            "stock": {"enabled": False},
            "erp": {"enabled": True, "amqp_url": args.amqp_url, **queues, "prefetch": args.prefetch,
                    "batch_size": args.batch_size},
        })
        raw_times, our_times = [], []
        with declared(config.erp):
            for round_number in range(1, rounds + 1):
                publish_backlog(args.amqp_url, queue, bodies)
                raw_times.append(raw_consume(args.amqp_url, queue, len(bodies), args.prefetch))
                publish_backlog(args.amqp_url, queue, bodies)
                with fresh_store_url(backend, Path(folder)) as url:  # empty: every message new
                    store = storage.Store(url)
                    store.create_schema()
                    our_times.append(receiver_consume(config.erp, store, len(bodies)))
                    with store.read() as conn:
                        stored = conn.execute(sa.select(sa.func.count()).select_from(erp.customer_table)).scalar_one()
                    store.dispose()
                if stored != len(bodies):
                    raise SystemExit(f"round {round_number}: {stored} customers stored of {len(bodies)}")
                print(f"round {round_number}: raw {len(bodies) / raw_times[-1]:,.0f} msg/s, "
                      f"receiver {len(bodies) / our_times[-1]:,.0f} msg/s")
    size = sum(map(len, bodies)) / len(bodies)
    return report(f"ERP backlog, {backend}: {len(bodies):,} customer messages ({size:.0f} bytes each), prefetch "
                  f"{args.prefetch}, batches of {args.batch_size}", "raw: pika consume + ack",
                  Timing.of(raw_times), f"kit: consume into {backend}, every message stored, ack",
                  Timing.of(our_times), units=len(bodies), unit="msg", target=TARGET_RATIO)


if __name__ == "__main__":
    raise SystemExit(main())
