"""The inspector with a large log: the delivery list's answer time with 1,000,000 deliveries stored (goal:
under 100 ms), and the time and peak memory of opening pages of a 100,000-row stock push's body, against
the first page's (its page map is recorded the first time a page past the first is asked for; a deep page
then reads from its own offset, not from the start).

``python -m bench.inspector [--deliveries N]``; SQLite in a temporary folder, the real app's pages.
"""

from __future__ import annotations

import argparse
import itertools
import json
import re
import sqlite3
import tempfile
import time
import tracemalloc
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bench.common import add_common_arguments
from inventory_push_kit.receiver import create_app, storage
from inventory_push_kit.receiver.config import from_mapping
from inventory_push_kit.receiver.inspector import BODY_LINES, body_stream, json_lines, page_map

TOKEN = "bench-token"
BASE = "https://localhost"


def fill(db: Path, count: int) -> None:
    """``count`` deliveries in one executemany (one in 50 rejected), as the log holds them."""
    start = datetime(2026, 1, 1, tzinfo=UTC)
    raw = sqlite3.connect(db)
    rows = ((i, ["stock", "s360", "servicemobility", "erp"][i % 4],
             (start + timedelta(seconds=i)).strftime("%Y-%m-%d %H:%M:%S.000000"),
             "rejected" if i % 50 == 0 else "accepted", 422 if i % 50 == 0 else 200,
             "invalid payload: 1 problem(s)" if i % 50 == 0 else None, '{"received": 1}', 64 * "0", 2048,
             "application/json", "192.0.2.1") for i in range(1, count + 1))
    with raw:
        raw.executemany("INSERT INTO deliveries (id, channel, received_at, outcome, status, reason, counts, "
                        "body_sha256, body_bytes, content_type, remote_addr) VALUES (?,?,?,?,?,?,?,?,?,?,?)", rows)
    raw.close()


def big_push(rows: int) -> bytes:
    columns = {"connectorStockId": [f"6f95cd10-c8bb-4381-8b68-{n:012d}" for n in range(rows)],
               "pn": ["2117-6130-101"] * rows, "description": ["Fuel pump, overhauled"] * rows,
               "leadTime": ["three"] + [3] * (rows - 1), "timeStampEntry": ["2026-01-01 10:00:00"] * rows,
               "dbAction": ["ADD"] * rows}
    return json.dumps({"data": columns}).encode()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--deliveries", type=int, default=None, help="deliveries stored (default 1,000,000)")
    parser.add_argument("--rows", type=int, default=None, help="rows of the large push (default 100,000)")
    add_common_arguments(parser)
    args = parser.parse_args(argv)
    if args.store == "postgresql":
        print("(the inspector benchmark runs on SQLite only)")
        return 0
    args.deliveries = args.deliveries or (20_000 if args.quick else 1_000_000)
    args.rows = args.rows or (2_000 if args.quick else 100_000)
    with tempfile.TemporaryDirectory() as folder:
        db = Path(folder) / "receiver.db"
        config = from_mapping({"storage": {"url": f"sqlite:///{db}"}, "api": {"token": TOKEN},
                               "stock": {"enabled": True, "credential_headers": {"X-Key": "k"}}})
        store = storage.Store(config.storage_url)
        store.create_schema()
        started = time.perf_counter()
        fill(db, args.deliveries)
        print(f"filled {args.deliveries:,} deliveries in {time.perf_counter() - started:.1f} s")
        client = create_app(config, store=store).test_client()
        page = client.get("/inspect/login", base_url=BASE)
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)  # type: ignore[union-attr]
        client.post("/inspect/login", data={"token": TOKEN, "csrf_token": csrf}, base_url=BASE,
                    headers={"Referer": BASE + "/inspect/login"})
        for name, query in [("newest", ""), ("rejected", "?outcome=rejected"), ("channel erp", "?channel=erp"),
                            ("status 422, 2nd page", f"?status=422&before={args.deliveries // 2}"),
                            ("a time range", "?since=2026-01-05T00:00&until=2026-01-06T00:00")]:
            times = []
            for _ in range(7):
                t = time.perf_counter()
                answer = client.get("/inspect/" + query, base_url=BASE)
                times.append(time.perf_counter() - t)
                assert answer.status_code == 200, answer.text[:300]
            print(f"list {name:<22} median {sorted(times)[3] * 1000:7.1f} ms  (goal < 100 ms)")
        answer = client.post("/stock-push", data=big_push(args.rows),
                             headers={"X-Key": "k", "Content-Type": "application/json"})
        body_bytes = len(big_push(args.rows))
        delivery = client.get("/api/deliveries?outcome=rejected&limit=1",
                              headers={"Authorization": f"Bearer {TOKEN}"}).get_json()["items"][0]["id"]
        middle = args.rows // 2
        deep = (6 * args.rows) // BODY_LINES - 2  # a page near the end of the pretty-printed body (6 columns)
        t = time.perf_counter()  # the baseline: page ``deep`` read from the body's start, as without a map
        with body_stream(store, delivery) as stream:
            for _ in itertools.islice(json_lines(stream), deep * BODY_LINES, (deep + 1) * BODY_LINES):
                pass
        from_start = time.perf_counter() - t
        print(f"open a {args.rows:,}-row delivery, page {deep + 1:,} parsed from the start (no page map): "
              f"{from_start * 1000:.0f} ms")
        first_page = 0.0
        for label, query in [("first page", ""), ("page map, recorded (first deep page)", f"?page={deep}"),
                             (f"page {deep + 1:,}", f"?page={deep}"), (f"page {deep // 2 + 1:,}", f"?page={deep // 2}"),
                             (f"page of row {middle:,}", f'?at=["data","pn",{middle}]'),
                             (f"page of row {middle:,} of the last column", f'?at=["data","dbAction",{middle}]')]:
            t = time.perf_counter()
            page = client.get(f"/inspect/deliveries/{delivery}{query}", base_url=BASE)
            took = time.perf_counter() - t
            assert page.status_code == 200 and 'class="lines"' in page.text, page.text[:300]
            tracemalloc.start()  # the same page again, for its memory (tracing slows it down: not timed)
            if "recorded" in label:
                with body_stream(store, delivery) as stream:
                    page_map(stream, BODY_LINES)
            else:
                client.get(f"/inspect/deliveries/{delivery}{query}", base_url=BASE)
            _, peak = tracemalloc.get_traced_memory()
            tracemalloc.stop()
            first_page = first_page or took
            print(f"open a {args.rows:,}-row delivery, {label}: {took * 1000:.0f} ms ({took / first_page:.1f}× the "
                  f"first page, {took / from_start:.2f}× parsing from the start), peak Python memory "
                  f"{peak / 2**20:.1f} MiB for a {body_bytes / 2**20:.1f} MiB body ({peak / body_bytes:.2f}×)")
        store.dispose()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
