"""A batch of 1000 example-sized S-360 products through the running HTTPS receiver (SQLite), against the raw
limit measured in the same run: parse the same body, hash each product's canonical JSON and upsert the
documents with their hashes with one executemany into the same SQLite schema, with nothing in between.

    python -m bench.s360 [--products 1000] [--repeat 3]

Both sides start from an empty database each run; only the work on the body is timed on the raw side
(schema creation is not, and Python's garbage collector is paused), while the kit's time is the
client's: TLS upload, authentication, validation, change tracking, apply, answer. The kit's re-post of
the same batch (every product unchanged: what the platform sends again and again) is timed too,
against the same raw limit.
"""

from __future__ import annotations

import argparse
import gc
import hashlib
import json
import tempfile
import time
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.dialects import sqlite

from bench.common import Timing, raw_sqlite, report
from devtools.serving import make_tls, running_receiver
from receiver.channels import s360 as s360_channel
from simulator.core import Request
from simulator.s360 import Auth, AuthMode, ProductGenerator, S360Platform, encode_json, webhook_headers

AUTH = Auth(AuthMode.BASIC_AUTH, "bench", "bench-password")
COLUMNS = ("id", "code", "state", "document", "content_sha256",
           "first_seen_delivery", "last_changed_delivery", "last_seen_delivery")


def upsert_sql() -> str:
    """The receiver's upsert of a product, compiled for SQLite: every column replaced on conflict."""
    table = s360_channel.product_table
    stmt = sqlite.insert(table).values({name: sa.bindparam(name) for name in COLUMNS})
    stmt = stmt.on_conflict_do_update(index_elements=["id"],
                                      set_={name: stmt.excluded[name] for name in COLUMNS if name != "id"})
    return str(stmt.compile(dialect=sqlite.dialect()))


def raw_run(body: bytes, database: Path, sql: str) -> float:
    """The raw limit: json.loads, canonical JSON + SHA-256 per product, one executemany, commit, with the
    garbage collector off (the receiver keeps it on). Seconds."""
    connection = raw_sqlite(database)
    gc.disable()  # the strictest limit: no garbage collection while ~500,000 JSON containers are built
    try:
        started = time.perf_counter()
        rows = []
        for product in json.loads(body):
            text = json.dumps(product, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
            rows.append((product["id"], product["code"], product.get("state"), text,
                         hashlib.sha256(text.encode("utf-8")).hexdigest(), 1, 1, 1))
        connection.execute("BEGIN IMMEDIATE")
        connection.executemany(sql, rows)
        connection.execute("COMMIT")
        elapsed = time.perf_counter() - started
    finally:
        gc.enable()
    connection.close()
    return elapsed


def kit_run(body: bytes, workdir: Path, tls_dir: Path) -> tuple[float, float]:
    """A fresh receiver on a fresh SQLite file; the client's time for the batch, then for its re-post."""
    tls = make_tls(tls_dir)
    config = {"storage": {"data_dir": str(workdir / "data")}, "server": {"workers": 2, "threads": 4},
              "stock": {"enabled": False},
              "s360": {"enabled": True, "auth": AUTH.mode.value, "login": AUTH.login, "password": AUTH.password}}
    elapsed = []
    with running_receiver(config, workdir, tls=tls) as receiver, S360Platform(
        f"{receiver.url}/s360/inventory", auth=AUTH, ca_bundle=str(tls.ca),
    ) as platform:
        for _ in range(2):
            delivery = platform.sender.send(Request(body, webhook_headers(AUTH)))
            if delivery.status != 200:
                raise SystemExit(f"the receiver refused the benchmark batch: {delivery.summary()}")
            elapsed.append(delivery.elapsed)
    return elapsed[0], elapsed[1]


def main(argv: list[str] | None = None) -> float:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--products", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)

    # The bytes the platform sends (the products themselves are not kept).
    body = encode_json(ProductGenerator(seed=2026, size=args.products).inventory())
    gc.collect()
    print(f"S-360 batch: {args.products:,} products, {len(body) / 2**20:.1f} MiB of JSON")
    work = Path(tempfile.mkdtemp(prefix="bench-s360-"))
    sql = upsert_sql()
    raw = Timing.of([raw_run(body, work / f"raw-{i}.db", sql) for i in range(args.repeat)])
    runs = [kit_run(body, work / f"kit-{i}", work / "tls") for i in range(args.repeat)]
    first = Timing.of([new for new, _ in runs])
    again = Timing.of([repost for _, repost in runs])
    report(f"S-360 re-post of the same {args.products:,} products (all unchanged)",
           "raw: json.loads + hashes + one executemany upsert", raw,
           "kit: HTTPS POST, validate, compare hashes, log", again,
           units=args.products, unit="products", target=0.6)
    return report(f"S-360 batch of {args.products:,} new products",
                  "raw: json.loads + hashes + one executemany upsert", raw,
                  "kit: HTTPS POST, validate, hash, apply (gunicorn, SQLite)", first,
                  units=args.products, unit="products", target=0.6)


if __name__ == "__main__":
    main()
