"""Scale-out on PostgreSQL: ServiceMobility events and S-360 batches through two receiver instances on one
database against one instance, in the same run, printed as throughput per instance. Every answer must
be 200 and the store must hold exactly what was sent (events once each, every product of every batch).

    python -m bench.scaleout [--events 2000] [--batches 6] [--products 200] [--rounds 2] [--quick]

On a machine of few cores both instances share the same CPUs: the figure is information, not a target.
"""

from __future__ import annotations

import argparse
import json
import secrets
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from pathlib import Path

import sqlalchemy as sa

from bench import s360 as s360_bench
from bench.common import add_common_arguments, backends, fresh_store_url, quick
from bench.servicemobility import Load, inventory_usage_requests, send_round
from devtools.serving import RunningReceiver, make_tls, running_receiver
from inventory_push_kit.receiver.channels import s360 as s360_channel
from inventory_push_kit.receiver.channels import servicemobility as sm_channel
from inventory_push_kit.receiver.storage import Store
from inventory_push_kit.simulator.core import Request
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
    return 0 if good else 1


if __name__ == "__main__":
    sys.exit(main())


