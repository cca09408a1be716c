"""Scale-out on PostgreSQL: ServiceMobility events and S-360 batches through two receiver instances on one
database against one instance, in the same run, printed as throughput per instance. Every answer must
be 200 and the store must hold exactly what was sent (events once each, every product of every batch).
With RabbitMQ reachable, the ERP queue too: a backlog published to one queue that one, then two
``inventory-receiver consume`` processes compete for, timed from the first publish to the last message
stored (each message stored once, both consumers given a share).

    python -m bench.scaleout [--events 2000] [--batches 6] [--products 200] [--messages 10000]
                             [--amqp-url URL] [--rounds 2] [--quick]

On a machine of few cores both instances share the same CPUs: the figure is information, not a target.
"""

from __future__ import annotations

import argparse
import json
import re
import secrets
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from pathlib import Path

import sqlalchemy as sa

from bench import erp as erp_bench
from bench import s360 as s360_bench
from bench.common import add_common_arguments, backends, empty_tables, fresh_store_url, quick
from bench.servicemobility import Load, inventory_usage_requests, send_round
from devtools.serving import (
    RunningReceiver,
    broker_reachable,
    make_tls,
    running_consumer,
    running_receiver,
    write_toml,
)
from inventory_push_kit.receiver import storage
from inventory_push_kit.receiver.channels import erp as erp_channel
from inventory_push_kit.receiver.channels import s360 as s360_channel
from inventory_push_kit.receiver.channels import servicemobility as sm_channel
from inventory_push_kit.receiver.config import from_mapping
from inventory_push_kit.receiver.storage import Store
from inventory_push_kit.simulator.core import Request
from inventory_push_kit.simulator.erp import ScenarioOptions, backlog_messages
from inventory_push_kit.simulator.s360 import ProductGenerator, encode_json
from inventory_push_kit.simulator.servicemobility import EventFactory, TokenSigner

WORKERS = 2  # gunicorn workers per instance


def count(url: str, table: sa.Table) -> int:
    store = Store(url)
    try:
        with store.read() as conn:
            return int(conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one())
    finally:
        store.dispose()


def servicemobility(url: str, work: Path, events: int, rounds: int) -> bool:
    secret = secrets.token_hex(32)
    factory, signer = EventFactory(7), TokenSigner(secret)
    config = {"server": {"workers": WORKERS, "threads": 1}, "storage": {"url": url}, "stock": {"enabled": False},
              "servicemobility": {"enabled": True, "jwt": "hs256"}}
    env = {"RECEIVER_SERVICEMOBILITY_SECRET": secret}
    tls = make_tls(work / "tls")
    sent, ok = 0, True
    with ExitStack() as stack:
        instances: list[RunningReceiver] = [
            stack.enter_context(running_receiver(config, work / f"sm-{i}", tls=tls, env=env)) for i in range(2)]
        warm = inventory_usage_requests(factory, signer, 20, 3)
        for instance in instances:
            assert instance.ca is not None
            send_round(instance.url, instance.ca, warm[:10] if instance is instances[0] else warm[10:], 4, Load("warm"))
        sent += len(warm)
        rates: dict[int, list[float]] = {1: [], 2: []}
        for _ in range(rounds):
            for n in (1, 2):
                loads = [Load(f"instance {i}") for i in range(n)]
                batches = [inventory_usage_requests(factory, signer, events, 3) for _ in range(n)]

                def client(i: int, batches: list[list[Request]] = batches, loads: list[Load] = loads) -> None:
                    ca = instances[i].ca
                    assert ca is not None
                    send_round(instances[i].url, ca, batches[i], 8, loads[i])

                started = time.perf_counter()
                with ThreadPoolExecutor(n) as pool:
                    list(pool.map(client, range(n)))
                elapsed = time.perf_counter() - started
                sent += n * events
                rates[n].append(events / elapsed)  # per instance: each got `events`
                ok &= all(set(load.statuses) == {200} for load in loads)
    stored = count(url, sm_channel.event_table)
    print_rates("ServiceMobility InventoryUsage events", "events", rates)
    print(f"  all answers 200: {ok}; events stored {stored} (expected {sent}): "
          f"{'exact' if stored == sent else 'WRONG'}")
    return ok and stored == sent


def s360(url: str, work: Path, batches: int, products: int, rounds: int) -> bool:
    seeds = iter(range(10_000, 1_000_000))
    expected: set[int] = set()
    ok = True
    rates: dict[int, list[float]] = {1: [], 2: []}

    def bodies(n: int) -> list[bytes]:
        made = [encode_json(ProductGenerator(seed=next(seeds), size=products).inventory()) for _ in range(n)]
        for body in made:
            expected.update(int(p["id"]) for p in json.loads(body))
        return made

    with ExitStack() as stack:
        posts: list[Callable[[bytes], float]] = [
            stack.enter_context(s360_bench.receiver_on(url, work / f"s360-{i}", work / "tls")) for i in range(2)]
        for post in posts:
            post(bodies(1)[0])  # warm-up
        for _ in range(rounds):
            for n in (1, 2):
                work_lists = [bodies(batches) for _ in range(n)]

                def client(i: int, work_lists: Sequence[list[bytes]] = work_lists) -> None:
                    for body in work_lists[i]:
                        posts[i](body)

                started = time.perf_counter()
                try:
                    with ThreadPoolExecutor(n) as pool:
                        list(pool.map(client, range(n)))
                except SystemExit as exc:  # a refused batch
                    print(f"  {exc}", file=sys.stderr)
                    ok = False
                rates[n].append(batches * products / (time.perf_counter() - started))
    stored = count(url, s360_channel.product_table)
    print_rates(f"S-360 batches of {products} products", "products", rates)
    print(f"  all answers 200: {ok}; products stored {stored} (expected {len(expected)}): "
          f"{'exact' if stored == len(expected) else 'WRONG'}")
    return ok and stored == len(expected)


def erp(url: str, work: Path, amqp_url: str, messages: int, rounds: int) -> bool:
    section = {"enabled": True, "amqp_url": amqp_url, **erp_bench.own_queues("bench-scaleout")}
    config = write_toml(work / "erp.toml", {"storage": {"url": url}, "stock": {"enabled": False}, "erp": section})
    bodies = [m.body for m in backlog_messages(ScenarioOptions(messages=messages))]
    rates: dict[int, list[float]] = {1: [], 2: []}
    ok = True
    store = Store(url)
    store.create_schema()  # before the consumers start, so that the first round's tables can be emptied
    store.dispose()
    with erp_bench.declared(from_mapping({"stock": {"enabled": False}, "erp": section}).erp):
        for round_number in range(rounds):
            for n in (1, 2):
                empty_tables(url, "erp_customers", "delivery_details", "deliveries")
                with ExitStack() as stack:
                    logs = []
                    for i in range(n):
                        (work / f"erp-{round_number}-{n}-{i}").mkdir()
                        logs.append(stack.enter_context(running_consumer(config, work / f"erp-{round_number}-{n}-{i}")))
                    started = time.perf_counter()
                    # Two publishing connections, so that publishing is not what limits two consumers.
                    halves = [bodies[: len(bodies) // 2], bodies[len(bodies) // 2:]]
                    publishers = [threading.Thread(target=erp_bench.publish_backlog,
                                                   args=(amqp_url, section["customer_queue"], half))
                                  for half in halves]
                    for publisher in publishers:
                        publisher.start()
                    stored = _wait_stored(url, len(bodies), deadline=time.monotonic() + 120)
                    elapsed = time.perf_counter() - started
                    for publisher in publishers:
                        publisher.join()
                # The consumers have stopped (SIGTERM): each one's total is in its last log line.
                shares = [_acknowledged(log.read_text()) for log in logs]
                logged = count(url, storage.deliveries)
                if stored != len(bodies) or logged != len(bodies) or sum(shares) != len(bodies) or min(shares) <= 0:
                    print(f"  round {round_number + 1}, {n} consumer(s): {stored} stored, {logged} logged, shares "
                          f"{shares} of {len(bodies)}", file=sys.stderr)
                    ok = False
                rates[n].append(len(bodies) / elapsed / n)
    print_rates(f"ERP backlog of {len(bodies):,} customer messages, competing consumers on one queue", "msg", rates)
    print(f"  each message stored once, every consumer given a share: {ok}")
    return ok


def _wait_stored(url: str, expected: int, deadline: float) -> int:
    while True:
        stored = count(url, erp_channel.customer_table)
        if stored >= expected or time.monotonic() > deadline:
            return stored
        time.sleep(0.05)


def _acknowledged(log: str) -> int:
    found = re.search(r"consumer stopped \(.*?\): (\d+) message\(s\) stored and acknowledged", log)
    return int(found.group(1)) if found else -1


def print_rates(title: str, unit: str, rates: dict[int, list[float]]) -> None:

    one, two = statistics.median(rates[1]), statistics.median(rates[2])
    print(f"\n== scale-out, postgresql: {title}")
    print(f"  one instance:  {one:10,.0f} {unit}/s per instance (median of {len(rates[1])})")
    print(f"  two instances: {two:10,.0f} {unit}/s per instance, {2 * two:,.0f} in all (median of {len(rates[2])})")
    print(f"  ratio (per instance, two / one) = {two / one:.2f}   (information, not a target)")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=None, help="events per instance per round (default 2000)")
    parser.add_argument("--batches", type=int, default=None, help="S-360 batches per instance per round (default 6)")
    parser.add_argument("--products", type=int, default=None, help="products per batch (default 200)")
    parser.add_argument("--messages", type=int, default=None, help="ERP backlog per round (default 10,000)")
    parser.add_argument("--amqp-url", default=erp_bench.DEFAULT_URL)
    parser.add_argument("--rounds", type=int, default=None, help="rounds (default 2; quick 1)")
    add_common_arguments(parser)
    args = parser.parse_args(argv)
    smoke = args.quick or quick()
    if "postgresql" not in backends("both" if args.store == "both" else args.store):
        print("(scale-out: PostgreSQL only, skipped)")
        return 0
    events = args.events or (100 if smoke else 2000)
    batches = args.batches or (1 if smoke else 6)
    products = args.products or (50 if smoke else 200)
    rounds = args.rounds or (1 if smoke else 2)
    with tempfile.TemporaryDirectory(prefix="bench-scaleout-") as tmp:
        work = Path(tmp)
        with fresh_store_url("postgresql", work) as url:
            good = servicemobility(url, work, events, rounds)
        with fresh_store_url("postgresql", work) as url:
            good &= s360(url, work, batches, products, rounds)
        if broker_reachable(args.amqp_url):
            with fresh_store_url("postgresql", work) as url:
                good &= erp(url, work, args.amqp_url, args.messages or (500 if smoke else 10_000), rounds)
        else:
            print(f"(scale-out, ERP: no broker at {args.amqp_url}, skipped)")
    return 0 if good else 1


if __name__ == "__main__":
    sys.exit(main())


