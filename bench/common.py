"""What every benchmark shares: repeated timing and one way of printing a comparison."""

from __future__ import annotations

import argparse
import functools
import os
import sqlite3
import statistics
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa

from inventory_push_kit.receiver import storage


@dataclass(frozen=True)
class Timing:
    best: float
    median: float
    runs: int

    @classmethod
    def of(cls, seconds: list[float]) -> Timing:
        return cls(min(seconds), statistics.median(seconds), len(seconds))


def timed(run: Callable[[int], object], repeat: int) -> Timing:
    """Time ``run(i)`` for i in range(repeat); each run gets fresh inputs from its index."""
    times = []
    for i in range(repeat):
        started = time.perf_counter()
        run(i)
        times.append(time.perf_counter() - started)
    return Timing.of(times)


def report(title: str, baseline_name: str, baseline: Timing, subject_name: str, subject: Timing, *,
           units: float, unit: str, target: float) -> float:
    """Print both times, both rates and the ratio baseline/subject of the medians; return the ratio."""
    ratio = baseline.median / subject.median
    verdict = "meets" if ratio >= target else "BELOW"
    print(f"\n== {title}")
    for name, timing in ((baseline_name, baseline), (subject_name, subject)):
        print(f"  {name:<48} best {timing.best:8.3f} s  median {timing.median:8.3f} s  "
              f"{units / timing.median:>12,.0f} {unit}/s (median)  ({timing.runs} runs)")
    print(f"  ratio (median time, first / second) = {ratio:.2f}   target >= {target}  -> {verdict} target")
    return ratio


def raw_sqlite(database: Path) -> sqlite3.Connection:
    """A bare sqlite3 connection to a new file holding the receiver's own schema (same tables, keys and
    indexes), set up like the receiver's (WAL, synchronous NORMAL): the raw side of a comparison."""
    engine = sa.create_engine(f"sqlite:///{database}")
    storage.metadata.create_all(engine)
    engine.dispose()
    connection = sqlite3.connect(database, isolation_level=None)
    connection.execute("PRAGMA journal_mode=WAL")
    connection.execute("PRAGMA synchronous=NORMAL")
    return connection


# --- both backends: which to run, a PostgreSQL store of the benchmark's own, interleaved medians -------

BACKENDS = ("sqlite", "postgresql")
# The server the benchmarks use on PostgreSQL: a database of their own ("bench", created when missing),
# in which each run makes schemas of its own and drops them at the end.
POSTGRES_URL = os.environ.get("BENCH_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/bench")


def quick() -> bool:
    """``--quick`` or ``BENCH_QUICK=1``: a smoke run (small sizes, few rounds), figures not meaningful."""
    return os.environ.get("BENCH_QUICK", "") not in ("", "0")


def add_common_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--store", choices=(*BACKENDS, "both"), default="both",
                        help="backend(s) to measure (default both; PostgreSQL only when its server is reachable)")
    parser.add_argument("--quick", action="store_true", help="a smoke run: small sizes, few rounds")


def backends(choice: str) -> list[str]:
    """The backends to run: both by default, PostgreSQL only when reachable (said when it is not)."""
    if choice != "both":
        if choice == "postgresql" and not postgres_reachable():
            raise SystemExit(f"PostgreSQL is not reachable at {storage.masked_url(POSTGRES_URL)}")
        return [choice]
    if postgres_reachable():
        return list(BACKENDS)
    print(f"(PostgreSQL not reachable at {storage.masked_url(POSTGRES_URL)}: SQLite only)")
    return ["sqlite"]


@functools.cache
def postgres_reachable() -> bool:
    url = sa.make_url(POSTGRES_URL)
    admin = sa.create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            exists = conn.execute(sa.text("SELECT 1 FROM pg_database WHERE datname = :name"),
                                  {"name": url.database}).first()
            if exists is None:
                conn.exec_driver_sql(f'CREATE DATABASE "{url.database}"')
    except sa.exc.SQLAlchemyError:
        return False
    finally:
        admin.dispose()
    return True


@contextmanager
def postgres_schema() -> Iterator[str]:
    """A new, empty schema in the benchmark database: yields a URL whose search_path is that schema;
    dropped at the end."""
    name = f"bench_{uuid.uuid4().hex[:10]}"
    engine = sa.create_engine(POSTGRES_URL)
    with engine.begin() as conn:
        conn.exec_driver_sql(f"CREATE SCHEMA {name}")
    try:
        yield f"{POSTGRES_URL}?options=-csearch_path%3D{name}"
    finally:
        with engine.begin() as conn:
            conn.exec_driver_sql(f"DROP SCHEMA {name} CASCADE")
        engine.dispose()


@contextmanager
def fresh_store_url(backend: str, folder: Path) -> Iterator[str]:
    """An empty store on the backend: a new SQLite file in ``folder``, or a new PostgreSQL schema."""
    if backend == "sqlite":
        folder.mkdir(parents=True, exist_ok=True)
        yield f"sqlite:///{folder / f'store-{uuid.uuid4().hex[:8]}.db'}"
    else:
        with postgres_schema() as url:
            yield url


def empty_tables(url: str, *tables: str) -> None:
    """Delete every row of ``tables`` in the store at ``url`` (a running receiver's store): its next push
    goes into an empty store, without a new receiver and its cold first request."""
    engine = sa.create_engine(url)
    try:
        with engine.begin() as conn:
            for table in tables:
                conn.execute(sa.text(f"TRUNCATE {table}" if engine.dialect.name == "postgresql"
                                     else f"DELETE FROM {table}"))
    finally:
        engine.dispose()


def interleaved(raw: Callable[[int], float], kit: Callable[[int], float], rounds: int) -> tuple[Timing, Timing]:
    """raw, kit, raw, kit … ``rounds`` times each; each call returns its own seconds."""
    raw_times, kit_times = [], []
    for i in range(rounds):
        raw_times.append(raw(i))
        kit_times.append(kit(i))
    return Timing.of(raw_times), Timing.of(kit_times)


def worker_peak_rss(pid: int) -> int:
    """The largest peak resident set (VmHWM, bytes) among the descendants of a process (its workers)."""
    peak = 0
    pending = [pid]
    while pending:
        current = pending.pop()
        try:
            children = Path(f"/proc/{current}/task/{current}/children").read_text().split()
        except OSError:
            continue
        for child in map(int, children):
            pending.append(child)
            try:
                status = Path(f"/proc/{child}/status").read_text()
            except OSError:
                continue
            for line in status.splitlines():
                if line.startswith("VmHWM:"):
                    peak = max(peak, int(line.split()[1]) * 1024)
    return peak
