"""What every benchmark shares: repeated timing and one way of printing a comparison."""

from __future__ import annotations

import sqlite3
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa

from receiver import storage


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
    """Print both times, both rates and the ratio baseline/subject; return the ratio."""
    ratio = baseline.best / subject.best
    verdict = "meets" if ratio >= target else "BELOW"
    print(f"\n== {title}")
    for name, timing in ((baseline_name, baseline), (subject_name, subject)):
        print(f"  {name:<48} best {timing.best:8.3f} s  median {timing.median:8.3f} s  "
              f"{units / timing.best:>12,.0f} {unit}/s  ({timing.runs} runs)")
    print(f"  ratio (raw time / kit time) = {ratio:.2f}   target >= {target}  -> {verdict} target")
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
