"""ServiceMobility webhooks under concurrent load, against the trivial endpoint of the same server.

Starts the real receiver (gunicorn, HTTPS; on SQLite, then on PostgreSQL) with HS256 tokens evaluated,
plus one endpoint of the benchmark's own (``bench/trivial_server.py``), then sends the same number of requests, from the
same client threads, to ``POST /bench/trivial`` (parse the JSON, answer 200) and to
``POST /servicemobility/InventoryUsage/`` (one InventoryUsage event of 3 rows, token verified,
validated, de-duplicated and stored; every event a new id), in alternating rounds of 500. Prints both
throughputs (median round), their ratio (target >= 0.6) and p50/p99 latencies over all rounds, and
checks that every event was answered 200 and stored once.

    python -m bench.servicemobility [--requests 3000] [--threads 16] [--rows 3] [--workers N --server-threads N]
                                    [--store sqlite|postgresql|both] [--quick]
"""

from __future__ import annotations

import argparse
import os
import secrets
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import sqlalchemy as sa

from bench.common import Timing, add_common_arguments, backends, fresh_store_url, quick, report
from devtools.serving import make_tls, running_receiver
from inventory_push_kit.receiver.channels import servicemobility as sm_channel
from inventory_push_kit.receiver.storage import Store
from inventory_push_kit.simulator.core import Request
from inventory_push_kit.simulator.http import Sender
from inventory_push_kit.simulator.servicemobility import EventFactory, TokenSigner, event_request

TARGET_RATIO = 0.6
ROUND = 500  # requests per endpoint per round
BASE = "servicemobility"


@dataclass
class Load:
    """What one endpoint got: the time of each round, every request's latency, every status."""

    name: str
    rounds: list[float] = field(default_factory=list)  # seconds
    latencies: list[float] = field(default_factory=list)  # seconds
    statuses: dict[int, int] = field(default_factory=dict)  # status → how many

    def percentile(self, p: float) -> float:
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))]

    def line(self) -> str:
        return (f"  {self.name:<48} p50 {self.percentile(50) * 1000:6.1f} ms   p99 {self.percentile(99) * 1000:6.1f} ms"
                f"   statuses {dict(sorted(self.statuses.items()))}")


def send_round(url: str, ca: Path, requests_: Sequence[Request], threads: int, load: Load) -> None:
    """Send every request once from ``threads`` client threads (one keep-alive session each)."""
    lock = threading.Lock()
    queue = iter(requests_)

    def client() -> None:
        sender = Sender(url, ca_bundle=str(ca), timeout=60)
        try:
            while True:
                with lock:
                    request = next(queue, None)
                if request is None:
                    return
                delivery = sender.send(request)
                with lock:
                    load.latencies.append(delivery.elapsed)
                    load.statuses[delivery.status] = load.statuses.get(delivery.status, 0) + 1
        finally:
            sender.close()

    started = time.perf_counter()
    with ThreadPoolExecutor(threads) as pool:
        for future in [pool.submit(client) for _ in range(threads)]:
            future.result()
    load.rounds.append(time.perf_counter() - started)


def inventory_usage_requests(factory: EventFactory, signer: TokenSigner, count: int, rows: int) -> list[Request]:
    """InventoryUsage events, each a new id, signed as the platform signs (HS256, exp/iat/name/email)."""
    token = signer.token()  # the platform sends the token of the triggering API call: one for many events
    built = []
    for _ in range(count):
        request = event_request(factory.inventory_usage(rows=rows), token)
        built.append(Request(request.body, request.headers, f"{BASE}/{request.path}"))
    return built


def stored(url: str) -> tuple[int, int]:
    """How many events and usage rows the store holds."""
    store = Store(url)
    try:
        with store.read() as conn:
            events = conn.execute(sa.select(sa.func.count()).select_from(sm_channel.event_table)).scalar_one()
            usage = conn.execute(sa.select(sa.func.count()).select_from(sm_channel.usage_table)).scalar_one()
    finally:
        store.dispose()
    return int(events), int(usage)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.servicemobility", description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=None, help="per endpoint (default 3000; quick 200)")
    parser.add_argument("--threads", type=int, default=16, help="client threads (default 16)")
    parser.add_argument("--rows", type=int, default=3, help="InventoryUsage rows per event (default 3)")
    # Validating and storing is CPU work under the GIL: processes, not threads, spread it over the CPUs.
    workers = 2 * (os.cpu_count() or 1)
    parser.add_argument("--workers", type=int, default=workers, help=f"gunicorn workers (default 2 x CPUs = {workers})")
    parser.add_argument("--server-threads", type=int, default=1, help="threads per worker (default 1)")
    parser.add_argument("--seed", type=int, default=0)
    add_common_arguments(parser)
    args = parser.parse_args(argv)
    smoke = args.quick or quick()
    count = args.requests or (200 if smoke else 3000)
    failures = 0
    for backend in backends(args.store):
        failures += run(backend, args, count, smoke)
    return 1 if failures else 0


def run(backend: str, args: argparse.Namespace, count: int, smoke: bool) -> int:
    secret = secrets.token_hex(32)
    factory, signer = EventFactory(args.seed), TokenSigner(secret)
    size = min(100 if smoke else ROUND, count)
    warmup = min(50 if smoke else 200, count)
    real = inventory_usage_requests(factory, signer, warmup + count // size * size, args.rows)
    trivial = [Request(r.body, r.headers, "bench/trivial") for r in real]

    with tempfile.TemporaryDirectory(prefix="bench-servicemobility-") as tmp, \
            fresh_store_url(backend, Path(tmp) / "store") as url:
        workdir = Path(tmp)
        config = {
            "server": {"workers": args.workers, "threads": args.server_threads},
            "storage": {"url": url},
            "stock": {"enabled": False},
            "servicemobility": {"enabled": True, "jwt": "hs256"},
        }
        env = {"RECEIVER_SERVICEMOBILITY_SECRET": secret}
        print(f"\nservicemobility bench: {count} requests per endpoint after {warmup} warm-up, "
              f"{args.threads} client threads; gunicorn {args.workers} workers x {args.server_threads} threads, "
              f"HTTPS, {backend}; InventoryUsage events of {args.rows} rows, HS256 verified")
        with running_receiver(config, workdir, tls=make_tls(workdir / "tls"), env=env,
                              module="bench.trivial_server") as receiver:
            assert receiver.ca is not None
            for requests_ in (trivial[:warmup], real[:warmup]):
                send_round(receiver.url, receiver.ca, requests_, args.threads, Load("warm-up"))
            # Alternating rounds, so that a change of load on the machine weighs on both alike.
            baseline = Load("trivial endpoint (parse JSON, answer 200)")
            channel = Load(f"InventoryUsage/ ({args.rows} rows, HS256, stored)")
            for start in range(warmup, len(real), size):
                for load, requests_ in ((baseline, trivial), (channel, real)):
                    send_round(receiver.url, receiver.ca, requests_[start:start + size], args.threads, load)
        events, usage = stored(url)

    ratio = report(f"servicemobility, {backend}: {size} requests per round, {len(baseline.rounds)} rounds per endpoint",
                   baseline.name, Timing.of(baseline.rounds), channel.name, Timing.of(channel.rounds),
                   units=size, unit="req", target=TARGET_RATIO)
    for load in (baseline, channel):
        print(load.line())
    expected = warmup + len(baseline.latencies)
    print(f"  stored {events} events (expected {expected}), {usage} usage rows; ratio {ratio:.2f}")
    failed = [load.name for load in (baseline, channel) if set(load.statuses) != {200}]
    if failed or events != expected:
        print(f"FAILED: non-200 answers in {failed or 'none'}; {events} of {expected} events stored", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
