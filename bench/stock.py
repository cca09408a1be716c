"""A 100,000-row stock push through the running HTTPS receiver, on SQLite and on PostgreSQL, each against
the raw limit of the same backend measured in the same run, then growth and memory:

- raw limit, SQLite: json.loads, columns → row tuples, one executemany of the receiver's upsert, commit;
- raw limit, PostgreSQL: json.loads, row tuples, COPY into a temporary table, one
  ``INSERT … SELECT … ON CONFLICT DO UPDATE … WHERE excluded.time_stamp_entry >= stock.time_stamp_entry``,
  commit;
- growth: the same number of new rows pushed into a store already holding 1,000,000 stock rows (seeded
  with executemany / COPY of generated rows, not through the endpoint), against the push into an empty
  store (goal >= 0.8: the cost grows with the push, not with the store);
- memory: the receiver worker's peak RSS (VmHWM) for the push, and for the largest body the default
  ``max_body_bytes`` allows (goal <= 6 x the body size).

    python -m bench.stock [--rows 100000] [--rounds 3] [--store sqlite|postgresql|both] [--quick]

Rounds interleave raw, kit, raw, kit …; ratios are medians' ratios. Every round starts from an empty store
(raw: a new SQLite file, a new PostgreSQL schema in the benchmark's own database; kit: its stock table
emptied); only the work on the body is timed on the raw side, while the kit's time is the client's: TLS
upload, validation, apply, answer. The kit is a running receiver, as in production: one worker (pushes come
one at a time), warmed by one untimed push whose time is printed as the first push of a fresh worker.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from itertools import repeat
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
    worker_peak_rss,
)
from devtools.serving import make_tls, running_receiver
from inventory_push_kit.receiver import storage
from inventory_push_kit.receiver.channels import stock as stock_channel
from inventory_push_kit.simulator.core import Request
from inventory_push_kit.simulator.stock import COLUMNS, StockGenerator, StockPlatform

CREDENTIALS = {"X-Bench-Key": "bench"}
KEY = stock_channel.STORED.index("connector_stock_id")
MiB = 2**20


def upsert_sql() -> str:
    """The statement the receiver runs on SQLite: a newer-or-equal upsert of every column."""
    names = [c.name for c in stock_channel.table.columns]
    stmt = sqlite.insert(stock_channel.table).values({n: sa.bindparam(n) for n in names})
    stmt = stmt.on_conflict_do_update(
        index_elements=["connector_stock_id"],
        set_={n: stmt.excluded[n] for n in names if n != "connector_stock_id"},
        where=stmt.excluded.time_stamp_entry >= stock_channel.table.c.time_stamp_entry)
    return str(stmt.compile(dialect=sqlite.dialect()))


def body_rows(body: bytes) -> list[tuple[Any, ...]]:
    data = json.loads(body)["data"]
    n = len(data["connectorStockId"])
    return list(zip(*(data[name] for name in COLUMNS), repeat(None, n), repeat(1, n), strict=False))


def pg_statements() -> tuple[str, str, str]:
    cols = ", ".join(stock_channel.STORED)
    updated = ", ".join(f"{c} = excluded.{c}" for c in stock_channel.STORED if c != "connector_stock_id")
    return (f"CREATE TEMPORARY TABLE raw_stock ON COMMIT DROP AS SELECT {cols} FROM stock WITH NO DATA",
            f"COPY raw_stock ({cols}) FROM STDIN",
            f"INSERT INTO stock ({cols}) SELECT {cols} FROM raw_stock ORDER BY connector_stock_id "
            f"ON CONFLICT (connector_stock_id) DO UPDATE SET {updated} "
            "WHERE excluded.time_stamp_entry >= stock.time_stamp_entry")


def raw_run(backend: str, body: bytes, folder: Path) -> float:
    """The raw limit of the backend on an empty store of the receiver's schema. Returns seconds."""
    if backend == "sqlite":
        connection = raw_sqlite(folder / f"raw-{time.monotonic_ns()}.db")
        sql = upsert_sql()
        started = time.perf_counter()
        rows = body_rows(body)
        connection.execute("BEGIN IMMEDIATE")
        connection.executemany(sql, rows)
        connection.execute("COMMIT")
        elapsed = time.perf_counter() - started
        connection.close()
        return elapsed
    with fresh_store_url(backend, folder) as url:
        store = storage.Store(url)
        store.create_schema()
        create, copy_sql, apply = pg_statements()
        raw = store.engine.raw_connection()
        try:
            driver: Any = raw.driver_connection
            started = time.perf_counter()
            rows = body_rows(body)
            with driver.cursor() as cursor:
                cursor.execute(create)
                with cursor.copy(copy_sql) as copy:
                    for row in rows:
                        copy.write_row(row)
                cursor.execute(apply)
            driver.commit()
            elapsed = time.perf_counter() - started
        finally:
            raw.close()
            store.dispose()
        return elapsed


def receiver_config(url: str, max_body_bytes: int | None = None) -> dict[str, Any]:
    stock: dict[str, Any] = {"enabled": True, "credential_headers": CREDENTIALS}
    if max_body_bytes is not None:
        stock["max_body_bytes"] = max_body_bytes
    # One worker: every timed push reaches the worker the untimed first push warmed.
    return {"storage": {"url": url}, "server": {"workers": 1, "threads": 4}, "stock": stock}



@contextmanager
def receiver_on(url: str, workdir: Path, tls_dir: Path) -> Iterator[Callable[[bytes], tuple[float, int, int]]]:
    """A receiver on the store at ``url``; yields ``push(body)``: the client's time for one push, the
    workers' peak RSS before it and after it, in bytes."""
    tls = make_tls(tls_dir)
    with running_receiver(receiver_config(url), workdir, tls=tls) as receiver:
        platform = StockPlatform(f"{receiver.url}/stock-push", credentials=CREDENTIALS, ca_bundle=str(tls.ca))

        def push(body: bytes) -> tuple[float, int, int]:
            before = worker_peak_rss(receiver.process.pid)
            delivery = platform.send(Request(body, {**CREDENTIALS, "Content-Type": "application/json"}))
            if delivery.status != 200:
                raise SystemExit(f"the receiver refused the benchmark push: {delivery.summary()}")
            return delivery.elapsed, before, worker_peak_rss(receiver.process.pid)

        try:
            yield push
        finally:
            platform.close()


def push(url: str, body: bytes, workdir: Path, tls_dir: Path) -> tuple[float, int, int]:
    """A fresh receiver on the store at ``url`` and one push: see :func:`receiver_on`."""
    with receiver_on(url, workdir, tls_dir) as send:
        return send(body)


def seed(url: str, rows: int, template: Sequence[tuple[Any, ...]]) -> None:
    """Fill a store with ``rows`` generated stock rows (copies of the template under new keys), fast:
    COPY on PostgreSQL, one executemany on SQLite."""
    store = storage.Store(url)
    store.create_schema()
    generated = ((*row[:KEY], f"seed-{i:09d}", *row[KEY + 1:]) for i, row in
                 ((i, template[i % len(template)]) for i in range(rows)))
    raw = store.engine.raw_connection()
    try:
        driver: Any = raw.driver_connection
        if store.backend == "postgresql":
            with driver.cursor() as cursor, cursor.copy(
                    f"COPY stock ({', '.join(stock_channel.STORED)}) FROM STDIN") as copy:
                for row in generated:
                    copy.write_row(row)
        else:
            marks = ", ".join("?" for _ in stock_channel.STORED)
            driver.execute("BEGIN")  # the receiver's connections are in autocommit mode
            driver.executemany(f"INSERT INTO stock VALUES ({marks})", generated)
        driver.commit()
    finally:
        raw.close()
        store.dispose()


def main(argv: list[str] | None = None) -> float:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=None, help="rows per push (default 100,000; quick 2,000)")
    parser.add_argument("--rounds", type=int, default=None, help="rounds of each side (default 3; quick 1)")
    parser.add_argument("--stored", type=int, default=None,
                        help="rows already stored for the growth benchmark (default 1,000,000; quick 20,000)")
    add_common_arguments(parser)
    args = parser.parse_args(argv)
    smoke = args.quick or quick()
    rows = args.rows or (2_000 if smoke else 100_000)
    rounds = args.rounds or (1 if smoke else 3)
    stored = args.stored if args.stored is not None else (20_000 if smoke else 1_000_000)

    generator = StockGenerator(seed=2026)
    warm_up, *bodies = [generator.first_push(rows).to_bytes() for _ in range(rounds + 1)]  # new keys each
    template = stock_channel.validate(json.loads(generator.first_push(1000).to_bytes())).rows(1)
    size = len(bodies[0])
    print(f"stock push: {rows:,} rows, {size / MiB:.1f} MiB of JSON; growth: into a store of {stored:,} rows")
    work = Path(tempfile.mkdtemp(prefix="bench-stock-"))
    tls_dir = work / "tls"
    ratio = 0.0
    for backend in backends(args.store):
        raw_times: list[float] = []
        kit_times: list[float] = []
        big_times: list[float] = []
        idle, peak = 0, 0
        with fresh_store_url(backend, work / "big") as big_url, fresh_store_url(backend, work / "kit") as url:
            started = time.perf_counter()
            seed(big_url, stored, template)
            print(f"\n({backend}: seeded {stored:,} rows for the growth benchmark in "
                  f"{time.perf_counter() - started:.1f} s)")
            with receiver_on(big_url, work / f"big-{backend}", tls_dir) as into_big, \
                    receiver_on(url, work / f"kit-{backend}", tls_dir) as into_empty:
                cold, idle, peak = into_empty(warm_up)
                into_big(warm_up)
                # Interleaved: raw, kit into an empty store, kit into the big store; again.
                for body in bodies:
                    raw_times.append(raw_run(backend, body, work))
                    empty_tables(url, "stock")
                    elapsed, _, after = into_empty(body)
                    kit_times.append(elapsed)
                    peak = max(peak, after)
                    big_times.append(into_big(body)[0])
        raw, ours, big = Timing.of(raw_times), Timing.of(kit_times), Timing.of(big_times)
        ratio = report(f"stock push of {rows:,} rows, {backend}", f"raw: {RAW_NAMES[backend]}", raw,
                       f"kit: HTTPS POST, validate, apply (gunicorn, {backend})", ours,
                       units=rows, unit="rows", target=0.7)
        print(f"  first push of a fresh worker (untimed warm-up, into an empty store): {cold:.3f} s")
        print(memory_line(size, idle, peak))
        report(f"growth, {backend}: {rows:,} new rows into a store of {stored:,} rows vs into an empty store",
               "kit, into an empty store", ours, f"kit, into a store of {stored:,} rows", big,
               units=rows, unit="rows", target=0.8)
        if not smoke:
            largest(backend, work)
    return ratio


RAW_NAMES = {"sqlite": "json.loads + one executemany upsert (sqlite3)",
             "postgresql": "json.loads + COPY + one set-based upsert"}


def largest(backend: str, work: Path) -> None:
    """The largest push the default body limit takes — a push carries at most 100,000 rows, so those
    rows with a column the document does not define (kept as sent) filling the body up to the limit —:
    the worker's peak RSS against its size."""
    limit = stock_channel.Config().max_body_bytes
    document = json.loads(StockGenerator(seed=7).first_push(100_000).to_bytes())
    base = len(json.dumps(document).encode())
    pad = int((limit * 0.98 - base) / 100_000) - 12  # "x…x", per row with its comma and quotes
    document["data"]["benchNote"] = ["x" * pad] * 100_000
    body = json.dumps(document).encode()
    assert len(body) <= limit, len(body)
    with fresh_store_url(backend, work / "largest") as url:
        elapsed, idle, peak = push(url, body, work / f"largest-{backend}", work / "tls")
    print(f"  largest body the default limit ({limit / MiB:.0f} MiB) allows, pushed in {elapsed:.1f} s:")
    print(memory_line(len(body), idle, peak))


def memory_line(size: int, idle: int, peak: int) -> str:
    return (f"  memory: worker peak RSS {peak / MiB:.0f} MiB (idle worker {idle / MiB:.0f} MiB) for a "
            f"{size / MiB:.1f} MiB body = {peak / size:.1f} x the body, {(peak - idle) / size:.1f} x above idle "
            "(goal <= 6)")


if __name__ == "__main__":
    main()


__all__ = ["Timing", "main"]
