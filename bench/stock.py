"""A 100,000-row stock push through the running HTTPS receiver (SQLite), against the raw limit measured
in the same run: parse the same body and upsert the same rows with one executemany into the same SQLite
schema, with nothing in between.

    python -m bench.stock [--rows 100000] [--repeat 3]

Both sides start from an empty database each run; only the work on the body is timed on the raw side
(schema creation is not), while the kit's time is the client's: TLS upload, validation, apply, answer.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from itertools import repeat
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.dialects import sqlite

from bench.common import Timing, raw_sqlite, report
from devtools.serving import make_tls, running_receiver
from receiver.channels import stock as stock_channel
from simulator.core import Request
from simulator.stock import COLUMNS, StockGenerator, StockPlatform

CREDENTIALS = {"X-Bench-Key": "bench"}


def upsert_sql() -> str:
    """The statement the receiver runs, compiled for SQLite: a newer-or-equal upsert of every column."""
    names = [c.name for c in stock_channel.table.columns]
    stmt = sqlite.insert(stock_channel.table).values({n: sa.bindparam(n) for n in names})
    stmt = stmt.on_conflict_do_update(
        index_elements=["connector_stock_id"],
        set_={n: stmt.excluded[n] for n in names if n != "connector_stock_id"},
        where=stmt.excluded.time_stamp_entry >= stock_channel.table.c.time_stamp_entry)
    return str(stmt.compile(dialect=sqlite.dialect()))


def raw_run(body: bytes, database: Path, sql: str) -> float:
    """The raw limit: json.loads, columns → row tuples, one executemany, commit. Returns seconds."""
    connection = raw_sqlite(database)
    started = time.perf_counter()
    data = json.loads(body)["data"]
    n = len(data["connectorStockId"])
    rows = list(zip(*(data[name] for name in COLUMNS), repeat(None, n), repeat(1, n), strict=False))
    connection.execute("BEGIN IMMEDIATE")
    connection.executemany(sql, rows)
    connection.execute("COMMIT")
    elapsed = time.perf_counter() - started
    connection.close()
    return elapsed


def kit_run(body: bytes, workdir: Path, tls_dir: Path) -> float:
    """A fresh receiver on a fresh SQLite file; the client's time for one push. Returns seconds."""
    tls = make_tls(tls_dir)
    config = {"storage": {"data_dir": str(workdir / "data")}, "server": {"workers": 2, "threads": 4},
              "stock": {"enabled": True, "credential_headers": CREDENTIALS, "max_body_bytes": 256 * 2**20}}
    with running_receiver(config, workdir, tls=tls) as receiver:
        platform = StockPlatform(f"{receiver.url}/stock-push", credentials=CREDENTIALS, ca_bundle=str(tls.ca))
        try:
            delivery = platform.send(Request(body, {**CREDENTIALS, "Content-Type": "application/json"}))
        finally:
            platform.close()
    if delivery.status != 200:
        raise SystemExit(f"the receiver refused the benchmark push: {delivery.summary()}")
    return delivery.elapsed


def main(argv: list[str] | None = None) -> float:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)

    body = StockGenerator(seed=2026).first_push(args.rows).to_bytes()
    print(f"stock push: {args.rows:,} rows, {len(body) / 2**20:.1f} MiB of JSON")
    work = Path(tempfile.mkdtemp(prefix="bench-stock-"))
    sql = upsert_sql()
    raw = Timing.of([raw_run(body, work / f"raw-{i}.db", sql) for i in range(args.repeat)])
    kit = Timing.of([kit_run(body, work / f"kit-{i}", work / "tls") for i in range(args.repeat)])
    return report(f"stock push of {args.rows:,} rows", "raw: json.loads + one executemany upsert (sqlite3)", raw,
                  "kit: HTTPS POST, validate, apply (gunicorn, SQLite)", kit,
                  units=args.rows, unit="rows", target=0.6)


if __name__ == "__main__":
    main()
