"""A batch of 1000 example-sized S-360 products through the running HTTPS receiver, on SQLite and on
PostgreSQL, each against the raw limit of the same backend measured in the same run: parse the same body,
hash each product's canonical JSON and write the documents with their hashes — one executemany upsert on
SQLite; COPY into a temporary table and one set-based upsert on PostgreSQL — with nothing in between.
Then growth: the same batch into a store already holding 100,000 products against an empty store.

    python -m bench.s360 [--products 1000] [--rounds 3] [--store sqlite|postgresql|both] [--quick]

Rounds interleave raw, kit, raw, kit …; ratios are medians' ratios. Every round starts from an empty store
(raw: a new one; kit: its products deleted); only the work on the body is timed on the raw side (schema
creation is not, and Python's garbage collector is paused), while the kit's time is the client's: TLS upload,
authentication, validation, change tracking, apply, answer. The kit is a running receiver, as in production:
one worker (batches come one at a time), warmed by one untimed batch whose time is printed as the first
batch of a fresh worker. The kit's re-post of the same batch (every product unchanged: what the platform
sends again and again) is timed too, against the same raw limit.
"""

from __future__ import annotations

import argparse
import gc
import hashlib
import json
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import sqlite

from bench.common import (
    Timing,
    add_common_arguments,
    backends,
    empty_tables,
    fresh_store_url,
    quick,
    raw_sqlite,
    report,
)
from devtools.serving import make_tls, running_receiver
from inventory_push_kit.receiver import storage
from inventory_push_kit.receiver.channels import s360 as s360_channel
from inventory_push_kit.simulator.core import Request
from inventory_push_kit.simulator.s360 import (
    Auth,
    AuthMode,
    ProductGenerator,
    S360Platform,
    encode_json,
    webhook_headers,
)

AUTH = Auth(AuthMode.BASIC_AUTH, "bench", "bench-password")
COLUMNS = ("id", "code", "state", "document", "content_sha256",
           "first_seen_delivery", "last_changed_delivery", "last_seen_delivery")
RAW_NAMES = {"sqlite": "json.loads + hashes + one executemany upsert",
             "postgresql": "json.loads + hashes + COPY + set-based upsert"}


def upsert_sql() -> str:
    """The receiver's upsert of a product, compiled for SQLite: every column replaced on conflict."""
    table = s360_channel.product_table
    stmt = sqlite.insert(table).values({name: sa.bindparam(name) for name in COLUMNS})
    stmt = stmt.on_conflict_do_update(index_elements=["id"],
                                      set_={name: stmt.excluded[name] for name in COLUMNS if name != "id"})
    return str(stmt.compile(dialect=sqlite.dialect()))


def body_rows(body: bytes) -> list[tuple[Any, ...]]:
    rows = []
    for product in json.loads(body):
        text = json.dumps(product, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        rows.append((product["id"], product["code"], product.get("state"), text,
                     hashlib.sha256(text.encode("utf-8")).hexdigest(), 1, 1, 1))
    return rows


def raw_run(backend: str, body: bytes, folder: Path) -> float:
    """The raw limit of the backend, with the garbage collector off (the receiver keeps it on). Seconds."""
    if backend == "sqlite":
        connection = raw_sqlite(folder / f"raw-{time.monotonic_ns()}.db")
        sql = upsert_sql()
        gc.disable()  # the strictest limit: no garbage collection while ~500,000 JSON containers are built
        try:
            started = time.perf_counter()
            rows = body_rows(body)
            connection.execute("BEGIN IMMEDIATE")
            connection.executemany(sql, rows)
            connection.execute("COMMIT")
            elapsed = time.perf_counter() - started
        finally:
            gc.enable()
        connection.close()
        return elapsed
    cols = ", ".join(COLUMNS)
    updated = ", ".join(f"{c} = excluded.{c}" for c in COLUMNS if c != "id")
    with fresh_store_url(backend, folder) as url:
        store = storage.Store(url)
        store.create_schema()
        raw = store.engine.raw_connection()
        try:
            driver: Any = raw.driver_connection
            gc.disable()
            try:
                started = time.perf_counter()
                rows = body_rows(body)
                with driver.cursor() as cursor:
                    cursor.execute(f"CREATE TEMPORARY TABLE raw_products ON COMMIT DROP AS SELECT {cols} "
                                   "FROM s360_products WITH NO DATA")
                    with cursor.copy(f"COPY raw_products ({cols}) FROM STDIN") as copy:
                        for row in rows:
                            copy.write_row(row)
                    cursor.execute(f"INSERT INTO s360_products ({cols}) SELECT {cols} FROM raw_products ORDER BY id "
                                   f"ON CONFLICT (id) DO UPDATE SET {updated}")
                driver.commit()
                elapsed = time.perf_counter() - started
            finally:
                gc.enable()
        finally:
            raw.close()
            store.dispose()
        return elapsed


@contextmanager
def receiver_on(url: str, workdir: Path, tls_dir: Path) -> Iterator[Callable[[bytes], float]]:
    """A receiver on the store at ``url``; yields ``post(body)``: the client's time for one batch."""
    tls = make_tls(tls_dir)
    # One worker: every timed batch reaches the worker the untimed first batch warmed.
    config = {"storage": {"url": url}, "server": {"workers": 1, "threads": 4},
              "stock": {"enabled": False},
              "s360": {"enabled": True, "auth": AUTH.mode.value, "login": AUTH.login, "password": AUTH.password}}
    with running_receiver(config, workdir, tls=tls) as receiver, S360Platform(
        f"{receiver.url}/s360/inventory", auth=AUTH, ca_bundle=str(tls.ca),
    ) as platform:

        def post(body: bytes) -> float:
            delivery = platform.sender.send(Request(body, webhook_headers(AUTH)))
            if delivery.status != 200:
                raise SystemExit(f"the receiver refused the benchmark batch: {delivery.summary()}")
            return delivery.elapsed

        yield post


def seed(url: str, products: int, body: bytes) -> None:
    """Fill a store with ``products`` generated products (copies of the batch's first under negative ids,
    which the generator never uses), fast: COPY on PostgreSQL, one executemany on SQLite."""
    store = storage.Store(url)
    store.create_schema()
    template = body_rows(body)[0]
    generated = ((-1 - i, *template[1:]) for i in range(products))
    raw = store.engine.raw_connection()
    try:
        driver: Any = raw.driver_connection
        if store.backend == "postgresql":
            copy_sql = f"COPY s360_products ({', '.join(COLUMNS)}) FROM STDIN"
            with driver.cursor() as cursor, cursor.copy(copy_sql) as copy:
                for row in generated:
                    copy.write_row(row)
        else:
            driver.execute("BEGIN")  # the receiver's connections are in autocommit mode
            driver.executemany(f"INSERT INTO s360_products ({', '.join(COLUMNS)}) VALUES ({', '.join('?' * 8)})",
                               generated)
        driver.commit()
    finally:
        raw.close()
        store.dispose()


def main(argv: list[str] | None = None) -> float:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--products", type=int, default=None, help="products per batch (default 1000; quick 100)")
    parser.add_argument("--rounds", type=int, default=None, help="rounds of each side (default 3; quick 1)")
    parser.add_argument("--stored", type=int, default=None,
                        help="products already stored for the growth benchmark (default 100,000; quick 2,000)")
    add_common_arguments(parser)
    args = parser.parse_args(argv)
    smoke = args.quick or quick()
    products = args.products or (100 if smoke else 1000)
    rounds = args.rounds or (1 if smoke else 3)
    stored = args.stored if args.stored is not None else (2_000 if smoke else 100_000)

    # The bytes the platform sends (the products themselves are not kept); new products each round.
    warm_up, *bodies = [encode_json(ProductGenerator(seed=2026 + i, size=products).inventory())
                        for i in range(rounds + 1)]
    gc.collect()
    print(f"S-360 batch: {products:,} products, {len(bodies[0]) / 2**20:.1f} MiB of JSON; growth: into a store "
          f"of {stored:,} products")
    work = Path(tempfile.mkdtemp(prefix="bench-s360-"))
    tls_dir = work / "tls"
    ratio = 0.0
    for backend in backends(args.store):
        raw_times: list[float] = []
        first_times: list[float] = []
        repost_times: list[float] = []
        big_times: list[float] = []
        with fresh_store_url(backend, work / "big") as big_url, fresh_store_url(backend, work / "kit") as url:
            seed(big_url, stored, bodies[0])
            with receiver_on(big_url, work / f"big-{backend}", tls_dir) as into_big, \
                    receiver_on(url, work / f"kit-{backend}", tls_dir) as into_empty:
                cold = into_empty(warm_up)
                into_big(warm_up)
                # Interleaved: raw, kit into an empty store (and its re-post), kit into the big store; again.
                for body in bodies:
                    raw_times.append(raw_run(backend, body, work))
                    empty_tables(url, "s360_products")
                    first_times.append(into_empty(body))
                    repost_times.append(into_empty(body))
                    big_times.append(into_big(body))
        raw, new = Timing.of(raw_times), Timing.of(first_times)
        report(f"S-360 re-post of the same {products:,} products (all unchanged), {backend}",
               f"raw: {RAW_NAMES[backend]}", raw, "kit: HTTPS POST, validate, compare hashes, log",
               Timing.of(repost_times), units=products, unit="products", target=0.7)
        ratio = report(f"S-360 batch of {products:,} new products, {backend}", f"raw: {RAW_NAMES[backend]}", raw,
                       f"kit: HTTPS POST, validate, hash, apply (gunicorn, {backend})", new,
                       units=products, unit="products", target=0.7)
        print(f"  first batch of a fresh worker (untimed warm-up, into an empty store): {cold:.3f} s")
        report(f"growth, {backend}: a batch of {products:,} new products into a store of {stored:,} products "
               "vs into an empty store", "kit, into an empty store", new,
               f"kit, into a store of {stored:,} products", Timing.of(big_times),
               units=products, unit="products", target=0.8)
    return ratio


if __name__ == "__main__":
    main()
