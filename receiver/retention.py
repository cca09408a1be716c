"""Retention: ``[retention]``, how long each kind of record is kept, and the pruning that holds to it —
in the background of every served worker and by ``inventory-receiver prune``.

Every kind is dated by the delivery that wrote it (its id; the delivery log's ``received_at`` says
when): delivery ids grow with time, so "older than D days" is "below the first delivery received in the
last D days", found by a binary search over the log's primary key — no index on time needed. That is why
the delivery log must be kept at least as long as every other kind it dates.

Pruning works in small batches, each its own short write transaction, so pushes arriving meanwhile
wait at most one batch. Only one process prunes at a time: on PostgreSQL whoever holds the session
advisory lock (``pg_try_advisory_lock``; the others skip that round), on SQLite whoever holds a lock
file beside the database.
"""

from __future__ import annotations

import contextlib
import dataclasses
import fcntl
import logging
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, ClassVar

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from . import storage
from .channels import s360, servicemobility
from .errors import ConfigError

log = logging.getLogger(__name__)

ADVISORY_KEY = (7411, 2)  # pg_try_advisory_lock(int4, int4): apart from create_schema's and lock_channel's keys


@dataclass(frozen=True)
class RetentionConfig:
    """``[retention]``: days each kind is kept (0 keeps it for ever), and how pruning runs."""

    SECRETS: ClassVar[tuple[str, ...]] = ()

    bodies_days: float = 14  # raw bodies in the delivery log (the log entry itself stays)
    deliveries_days: float = 90  # the delivery log; it dates every other kind, so it is kept the longest
    s360_history_days: float = 30  # S-360's per-delivery change rows (new / changed / unchanged)
    servicemobility_events_days: float = 90  # ServiceMobility events: the (source, id) duplicate keys
    digests_days: float = 30  # the stock bodies already applied: replays recognised
    interval_seconds: float = 600  # background pruning in each served worker; 0 turns it off
    batch_size: int = 1000  # rows per write transaction

    KINDS: ClassVar[tuple[str, ...]] = ("bodies", "deliveries", "s360_history", "servicemobility_events",
                                        "digests")

    def days(self, kind: str) -> float:
        return float(getattr(self, f"{kind}_days"))

    def validate(self) -> None:
        for kind in self.KINDS:
            if self.days(kind) < 0:
                raise ConfigError(f"[retention] {kind}_days must be at least 0 (0 keeps for ever)")
        if self.interval_seconds < 0:
            raise ConfigError("[retention] interval_seconds must be at least 0 (0: no background pruning)")
        if self.batch_size < 1:
            raise ConfigError("[retention] batch_size must be at least 1")
        if self.deliveries_days:
            longer = [k for k in self.KINDS if k != "deliveries" and (self.days(k) > self.deliveries_days
                                                                     or (self.days(k) == 0 and k != "bodies"))]
            if longer:
                raise ConfigError(
                    f"[retention] deliveries_days ({self.deliveries_days:g}) must be at least as long as "
                    f"{', '.join(k + '_days' for k in longer)}: the delivery log dates what they keep "
                    "(0 for ever counts as longest)")


@dataclass
class PruneReport:
    """What one run removed, per kind (rows; for bodies, bodies cleared), or why it did not run."""

    removed: dict[str, int] = dataclasses.field(default_factory=dict)
    skipped: str | None = None  # another process holds the pruning lock


# --- dating by delivery id --------------------------------------------------------------------------


def first_delivery_since(conn: Connection, moment: datetime) -> int | None:
    """The smallest delivery id received at or after ``moment`` (one past the newest when none is):
    everything dated by a lower id is older. None when the log is empty (nothing can be dated)."""
    low, high = conn.execute(sa.select(sa.func.min(storage.deliveries.c.id),
                                       sa.func.max(storage.deliveries.c.id))).one()
    if low is None:
        return None
    ids = storage.deliveries.c.id

    def at_or_after(position: int) -> tuple[int, bool]:  # the first stored id ≥ position, and its age
        row = conn.execute(sa.select(ids, storage.deliveries.c.received_at).where(ids >= position)
                           .order_by(ids).limit(1)).one()
        return int(row[0]), _aware(row[1]) >= moment

    if not at_or_after(high)[1]:
        return int(high) + 1
    while low < high:  # the smallest position whose first stored id is recent: high is one
        middle = (low + high) // 2
        if at_or_after(middle)[1]:
            high = middle
        else:
            low = middle + 1
    return at_or_after(low)[0]


def _aware(moment: Any) -> datetime:
    if isinstance(moment, str):  # SQLite may hand back text
        moment = datetime.fromisoformat(moment)
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


# --- the kinds --------------------------------------------------------------------------------------


def _delete_below(table: sa.Table, column: sa.Column[Any], *extra: Any) -> Callable[[Connection, int, int], int]:
    """A batch step: delete rows whose ``column`` is below the bound, the lowest ``batch`` first (rows
    tied on the last value go with it, e.g. all of one delivery's change rows)."""

    def step(conn: Connection, bound: int, batch: int) -> int:
        lowest = (sa.select(column.label("value")).where(column < bound, *extra).order_by(column).limit(batch)
                  .subquery())
        upto = conn.execute(sa.select(sa.func.max(lowest.c.value))).scalar()
        if upto is None:
            return 0
        return int(conn.execute(table.delete().where(column < bound, column <= upto, *extra)).rowcount)

    return step


def _clear_bodies(conn: Connection, bound: int, batch: int) -> int:
    ids = storage.deliveries.c.id
    kept = storage.deliveries.c.raw_body.is_not(None)
    lowest = sa.select(ids.label("value")).where(ids < bound, kept).order_by(ids).limit(batch).subquery()
    upto = conn.execute(sa.select(sa.func.max(lowest.c.value))).scalar()
    if upto is None:
        return 0
    return int(conn.execute(storage.deliveries.update().where(ids < bound, ids <= upto, kept)
                            .values(raw_body=None)).rowcount)


# kind → the batch step that removes its rows dated below a delivery id. Bodies first: a log entry
# that goes later would take its body with it anyway.
STEPS: dict[str, Callable[[Connection, int, int], int]] = {
    "bodies": _clear_bodies,
    "s360_history": _delete_below(s360.change_table, s360.change_table.c.delivery_id),
    "servicemobility_events": _delete_below(servicemobility.event_table, servicemobility.event_table.c.delivery_id),
    "digests": _delete_below(storage.push_digests, storage.push_digests.c.delivery_id),
    "deliveries": _delete_below(storage.deliveries, storage.deliveries.c.id),
}
TABLES = {"bodies": storage.deliveries, "s360_history": s360.change_table,
          "servicemobility_events": servicemobility.event_table, "digests": storage.push_digests,
          "deliveries": storage.deliveries}


# --- a run ------------------------------------------------------------------------------------------


def prune(store: storage.Store, config: RetentionConfig, *, now: datetime | None = None,
          wait: bool = False) -> PruneReport:
    """Remove what ``config`` no longer keeps, kind by kind, in batches. Skips (``report.skipped``) when
    another process is pruning, unless ``wait``."""
    now = now or storage.utcnow()
    report = PruneReport()
    with _pruning_lock(store, wait=wait) as held:
        if not held:
            report.skipped = "another process is pruning"
            return report
        for kind, step in STEPS.items():
            days = config.days(kind)
            removed = 0
            if days:
                with store.read() as conn:
                    bound = first_delivery_since(conn, now - timedelta(days=days))
                while bound is not None:
                    with store.write() as conn:
                        done = step(conn, bound, config.batch_size)
                    removed += done
                    if done == 0:
                        break
            report.removed[kind] = removed
        if store.backend == "postgresql" and any(report.removed.values()):
            _vacuum(store, {TABLES[kind].name for kind, n in report.removed.items() if n})
    if any(report.removed.values()):
        log.info("pruned: %s", ", ".join(f"{kind} {n}" for kind, n in report.removed.items()))
    return report


def _vacuum(store: storage.Store, tables: set[str]) -> None:
    """Make the freed space reusable now (autovacuum would, later): a plain VACUUM takes no lock that
    writers wait for."""
    with store.engine.connect() as conn:
        conn = conn.execution_options(isolation_level="AUTOCOMMIT")
        for name in sorted(tables):
            conn.exec_driver_sql(f'VACUUM "{name}"')


@contextlib.contextmanager
def _pruning_lock(store: storage.Store, *, wait: bool) -> Iterator[bool]:
    if store.backend == "postgresql":
        with store.engine.connect() as conn:
            conn = conn.execution_options(isolation_level="AUTOCOMMIT")
            function = sa.func.pg_advisory_lock if wait else sa.func.pg_try_advisory_lock
            held = conn.execute(sa.select(function(*ADVISORY_KEY))).scalar() is not False
            try:
                yield held
            finally:
                if held:
                    conn.execute(sa.select(sa.func.pg_advisory_unlock(*ADVISORY_KEY)))
        return
    database = store.url.database
    if not database or database == ":memory:":
        yield True
        return
    with open(Path(database).with_name(Path(database).name + ".prune-lock"), "a") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX if wait else fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


# --- in the background --------------------------------------------------------------------------------


def start_background(store: storage.Store, config: RetentionConfig) -> Callable[[], None] | None:
    """Prune every ``interval_seconds`` on a daemon thread (a greenlet under the gevent worker); returns
    the function that stops it (waiting for a round in progress), or None when background pruning is
    off. A failed round is logged and retried at the next interval."""
    if not config.interval_seconds:
        return None
    stop = threading.Event()

    def run() -> None:
        while not stop.wait(config.interval_seconds):
            try:
                prune(store, config)
            except Exception:
                log.exception("pruning failed; retried in %g s", config.interval_seconds)

    thread = threading.Thread(target=run, name="receiver-retention", daemon=True)
    thread.start()

    def stopped() -> None:
        stop.set()
        thread.join()

    return stopped
