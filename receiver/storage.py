"""Storage: the ``[storage]`` section, the store, the delivery log, and the few idempotent writes every
channel uses. Each channel defines its own tables on :data:`metadata`.

SQLite by default (one file, WAL, a busy timeout, writes in ``BEGIN IMMEDIATE`` transactions so that
concurrent writers queue instead of failing with "database is locked"); PostgreSQL by URL (psycopg 3),
where the unique constraints hold idempotency across any number of receiver instances. Both take the
same statements: ``INSERT … ON CONFLICT``.
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
import operator
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, ClassVar
from urllib.parse import parse_qsl, urlencode, urlsplit

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, Engine

from .errors import ConfigError, StorageFailure, StoreRefused

log = logging.getLogger(__name__)

metadata = sa.MetaData()

# Types that are text on SQLite (ISO-8601 strings sort and compare correctly there) and real
# date/time/number types on PostgreSQL. Values are bound as the validated strings/numbers on both.
Date = sa.String(10).with_variant(sa.Date(), "postgresql")
Timestamp = sa.String(19).with_variant(sa.DateTime(), "postgresql")
Decimal = sa.Float().with_variant(sa.Numeric(18, 4, asdecimal=False), "postgresql")  # |value| < 10^14
Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")  # SQLite's rowid alias must be INTEGER

# What every text column can hold, on both backends alike, so that SQLite and PostgreSQL accept and
# refuse the same bodies: no U+0000 (PostgreSQL text cannot hold it), and at most KEY_TEXT_MAX
# characters in a key or an indexed column (a PostgreSQL index row holds at most ~2,700 bytes; 255
# characters of up to 4 UTF-8 bytes, two such columns in one index, stay below it).
KEY_TEXT_MAX = 255


def text_problem(value: str, max_length: int | None = None) -> str | None:
    """Why the store cannot hold this text (for a validation problem), or None."""
    if "\x00" in value:
        return "Contains U+0000 (NUL), which no text column can hold."
    if max_length is not None and len(value) > max_length:
        return f"Longer than {max_length} characters ({len(value)}), the most this key or indexed field holds."
    return None

# Every delivery on every channel: when, what came of it, why, counts; the raw body of those that
# ``[deliveries] keep_bodies`` keeps (rejected ones by default).
deliveries = sa.Table(
    "deliveries",
    metadata,
    sa.Column("id", Id, primary_key=True, autoincrement=True),
    sa.Column("channel", sa.String(32), nullable=False),
    sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("outcome", sa.String(16), nullable=False),  # accepted | duplicate | rejected
    sa.Column("status", sa.Integer),  # HTTP status answered (None on AMQP)
    sa.Column("reason", sa.Text),
    sa.Column("counts", sa.JSON),
    sa.Column("warnings", sa.JSON),
    sa.Column("body_sha256", sa.String(64)),
    sa.Column("body_bytes", sa.Integer),
    sa.Column("content_type", sa.String(255)),
    sa.Column("remote_addr", sa.String(64)),
    sa.Column("raw_body", sa.LargeBinary),  # kept as [deliveries] keep_bodies says (default: rejected ones)
    sa.Index("ix_deliveries_channel_id", "channel", "id"),
    # The inspector's filters, newest first (keyset on id): by outcome, by status, by time.
    sa.Index("ix_deliveries_outcome_id", "outcome", "id"),
    sa.Index("ix_deliveries_status_id", "status", "id"),
    sa.Index("ix_deliveries_received_at", "received_at"),
)

# What the inspector shows of one delivery beyond its log line, each part capped: the request's headers
# (credentials masked), the problems of a rejection by path, and what an accepted delivery changed in
# its channel's terms (written by the channel's apply).
delivery_details = sa.Table(
    "delivery_details",
    metadata,
    sa.Column("delivery_id", Id, primary_key=True, autoincrement=False),
    sa.Column("headers", sa.JSON),
    sa.Column("problems", sa.JSON),
    sa.Column("changes", sa.JSON),
    # Where each page of the kept body's pretty-printed lines starts (receiver/inspector.py's page map).
    sa.Column("body_pages", sa.JSON),
)
MAX_DETAILED = 200  # problems, keys, diffs: how many of each a delivery's details keep

# Every re-send of a stored delivery to another receiver (``inventory-receiver resend``): when, where
# (the URL with its password masked), and what came back (the status, or why nothing did).
resends = sa.Table(
    "resends",
    metadata,
    sa.Column("id", Id, primary_key=True, autoincrement=True),
    sa.Column("delivery_id", Id, nullable=False),
    sa.Column("sent_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("target", sa.Text, nullable=False),
    sa.Column("status", sa.Integer),  # None: no answer (see error)
    sa.Column("error", sa.Text),
    sa.Index("ix_resends_delivery", "delivery_id"),
)

# The bodies already applied, per channel: a replayed push is recognised and changes nothing.
push_digests = sa.Table(
    "push_digests",
    metadata,
    sa.Column("channel", sa.String(32), primary_key=True),
    sa.Column("body_sha256", sa.String(64), primary_key=True),
    sa.Column("delivery_id", Id, nullable=False),
)

@dataclass(frozen=True)
class StorageConfig:
    """``[storage]``: where everything received is kept."""

    SECRETS: ClassVar[tuple[str, ...]] = ("url",)  # it may hold the database password

    # SQLAlchemy URL; empty means the embedded SQLite file <data_dir>/receiver.db.
    url: str = ""
    data_dir: str = "data"
    busy_timeout_ms: int = 30_000
    # PostgreSQL: seconds to wait for the server to answer a new connection (libpq's connect_timeout;
    # a connect_timeout in the URL wins). Without one, a host that never answers hangs the caller.
    connect_timeout: int = 5
    # serve and consume upgrade a database behind this release's schema; false: they refuse to start and
    # say to run `inventory-receiver migrate` (for operators who migrate as a step of their own).
    migrate_on_start: bool = True

    def validate(self) -> None:
        if self.busy_timeout_ms < 0:
            raise ConfigError("[storage] busy_timeout_ms must be at least 0")
        if self.connect_timeout < 2:
            raise ConfigError("[storage] connect_timeout must be at least 2 seconds (libpq's least)")

    @property
    def effective_url(self) -> str:
        if self.url:
            return self.url
        return f"sqlite:///{Path(self.data_dir).resolve() / 'receiver.db'}"


KEEP_BODIES = ("rejected", "all", "none")


@dataclass(frozen=True)
class DeliveriesConfig:
    """``[deliveries]``: what the delivery log keeps of each delivery."""

    SECRETS: ClassVar[tuple[str, ...]] = ()

    # Whose raw body is stored with its log entry: "rejected" (so it can be re-applied after a fix),
    # "all" (also accepted and duplicate deliveries: each can be re-sent elsewhere), "none".
    keep_bodies: str = "rejected"

    def validate(self) -> None:
        if self.keep_bodies not in KEEP_BODIES:
            raise ConfigError(f"[deliveries] keep_bodies must be one of {', '.join(map(repr, KEEP_BODIES))}, "
                              f"not {self.keep_bodies!r}")


def keeps_body(keep_bodies: str, outcome: str) -> bool:
    """Whether a delivery of this outcome keeps its raw body under this ``keep_bodies`` setting."""
    return keep_bodies == "all" or (keep_bodies == "rejected" and outcome == "rejected")


# Query parameters that carry a credential (libpq's password and sslpassword, tokens and keys).
SECRET_QUERY_KEYS = ("password", "sslpassword", "token", "key", "secret", "apikey", "api_key", "access_token")


def masked_url(url: str) -> str:
    """A URL as logs and ``check-config`` show it: the password of its user part and the values of its
    credential-bearing query parameters replaced by ``***``."""
    try:
        parts = urlsplit(url)
        password = parts.password
    except ValueError:
        return "(not a URL)"
    netloc = parts.netloc
    if password is not None:
        user_part, _, host_part = netloc.rpartition("@")
        netloc = f"{user_part.split(':', 1)[0]}:***@{host_part}"
    query = parts.query
    if query:
        pairs = parse_qsl(query, keep_blank_values=True)
        query = urlencode([(k, "***" if any(s in k.lower() for s in SECRET_QUERY_KEYS) else v) for k, v in pairs],
                          safe="*")
    if netloc == parts.netloc and query == parts.query:
        return url
    # Built by hand: urlunsplit drops the "//" of an empty authority (sqlite:////abs/path).
    masked = f"{parts.scheme}://{netloc}{parts.path}"
    masked += f"?{query}" if query else ""
    return masked + (f"#{parts.fragment}" if parts.fragment else "")


class Store:
    """An engine plus the transaction discipline of its backend."""

    @classmethod
    def from_config(cls, config: StorageConfig, deliveries: DeliveriesConfig | None = None) -> Store:
        return cls(config.effective_url, busy_timeout_ms=config.busy_timeout_ms,
                   keep_bodies=(deliveries or DeliveriesConfig()).keep_bodies, connect_timeout=config.connect_timeout)

    def __init__(self, url: str, *, busy_timeout_ms: int = 30_000, keep_bodies: str = "rejected",
                 connect_timeout: int = 5) -> None:
        if keep_bodies not in KEEP_BODIES:
            raise ConfigError(f"keep_bodies must be one of {KEEP_BODIES}, not {keep_bodies!r}")
        self.keep_bodies = keep_bodies
        try:
            self.url = sa.make_url(url)
        except sa.exc.ArgumentError:
            raise ConfigError("[storage] url is not a database URL: use sqlite:///FILE or "
                              "postgresql://user:password@host:5432/dbname") from None
        if self.url.drivername in ("postgres", "postgresql"):  # "postgres://" is a common spelling
            self.url = self.url.set(drivername="postgresql+psycopg")
        if self.url.get_backend_name() == "sqlite":
            self.engine = _sqlite_engine(self.url, busy_timeout_ms)
        elif self.url.get_backend_name() == "postgresql":
            # Positional parameters let bulk writes pass row tuples straight to the driver.
            connect_args = {} if "connect_timeout" in self.url.query else {"connect_timeout": connect_timeout}
            self.engine = sa.create_engine(self.url, paramstyle="format", connect_args=connect_args)
            _ping_when_idle(self.engine)
        else:
            raise ConfigError(f"[storage] url {self.describe()!r} is not supported: use sqlite:///FILE or "
                              "postgresql://…")

    @property
    def backend(self) -> str:
        return self.url.get_backend_name()

    def describe(self) -> str:
        return masked_url(self.url.render_as_string(hide_password=False))

    @contextmanager
    def write(self) -> Iterator[Connection]:
        """One write transaction: committed on success, rolled back on any error.

        On SQLite it starts with BEGIN IMMEDIATE, taking the write lock up front, so two writers
        never deadlock on a lock upgrade; the busy timeout makes the second one wait its turn.
        """
        try:
            with self.engine.connect() as conn:
                # keep_bodies: read by record_deliveries, whichever channel writes through this store.
                conn.execution_options(sqlite_begin="IMMEDIATE", keep_bodies=self.keep_bodies)
                with conn.begin():
                    yield conn
        except sa.exc.DBAPIError as exc:
            raise self._classified(exc) from exc

    @contextmanager
    def read(self) -> Iterator[Connection]:
        try:
            with self.engine.connect() as conn, conn.begin():
                yield conn
        except sa.exc.DBAPIError as exc:
            raise self._classified(exc) from exc

    def _classified(self, exc: sa.exc.DBAPIError) -> StorageFailure | StoreRefused:
        """A database error as the receiver answers it: what the store refuses in the data itself is
        permanent (422, dead-lettered); everything else — unreachable, locked, full, misconfigured — is
        an outage the sender should retry (500)."""
        if refuses_data(exc):
            return StoreRefused(f"the store refused the data ({self.backend}: {_first_line(exc)}); nothing was "
                                "applied")
        return StorageFailure(f"storage unavailable ({self.backend}): {_first_line(exc)}")

    def create_schema(self) -> tuple[str | None, str]:
        """Create or upgrade the schema to this release's revision (see :mod:`receiver.migrations`);
        safe when several receiver instances start at once. Returns (revision before, after)."""
        from .migrations import upgrade

        try:
            return upgrade(self.engine)
        except sa.exc.DBAPIError as exc:
            raise self._classified(exc) from exc

    def dispose(self) -> None:
        self.engine.dispose()


# A pooled PostgreSQL connection idle this long is pinged before use (SQLAlchemy's pre-ping, for it alone):
# a restart or a network timeout in between would have closed it. One in steady use is not: its round
# trip would be a sixth of a small push's; if the server goes away under it, that one transaction fails
# (an outage: 500, re-sent; the batch goes back to the queue) and the pool reconnects.
PING_AFTER_IDLE_S = 1.0


def _ping_when_idle(engine: Engine) -> None:
    @event.listens_for(engine, "checkin")
    def _checked_in(_dbapi_connection: Any, record: Any) -> None:
        record.info["idle_since"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _checked_out(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        idle_since = record.info.get("idle_since")
        if idle_since is None or time.monotonic() - idle_since < PING_AFTER_IDLE_S:
            return  # new, or in steady use
        try:
            alive = engine.dialect.do_ping(dbapi_connection)
        except engine.dialect.loaded_dbapi.Error:
            alive = False
        if not alive:
            raise sa.exc.DisconnectionError("the pooled connection was closed while idle")  # the pool reconnects


def _sqlite_engine(url: sa.URL, busy_timeout_ms: int) -> Engine:
    if url.database and url.database != ":memory:" and not url.query.get("uri"):  # a file: URI is left as is
        Path(url.database).parent.mkdir(parents=True, exist_ok=True)
    engine = sa.create_engine(url, connect_args={"timeout": busy_timeout_ms / 1000})

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy, not the sqlite3 module, say when a transaction begins (see write()).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        mode = conn.get_execution_options().get("sqlite_begin", "DEFERRED")
        conn.exec_driver_sql(f"BEGIN {mode}")

    return engine


# PostgreSQL SQLSTATE classes of an unavailable or misconfigured store: connection (08), a transaction
# to retry (40: serialization, deadlock), resources (53: disk full, too many connections), lock not
# available (55), operator intervention (57: shutdown, timeouts), system (58), internal (XX), and the
# configuration's own faults — a missing table or privilege (42), database (3D), login (28), role (0P),
# config file (F0), transaction state (25). Any other class is about the data sent: 22 (a NUL, a value
# out of range), 23 (a constraint), 54 (an index row too large), P0 (a rule of the database raising).
OUTAGE_SQLSTATE_CLASSES = frozenset({"08", "40", "53", "55", "57", "58", "XX", "42", "3D", "28", "0P", "F0", "25"})
# SQLite's result codes that are about the data: too big, a constraint (or a trigger's RAISE), a mismatch.
DATA_SQLITE_ERRORS = ("SQLITE_TOOBIG", "SQLITE_CONSTRAINT", "SQLITE_MISMATCH")


def refuses_data(exc: sa.exc.DBAPIError) -> bool:
    """Whether a database error is about the data itself (permanent), not the store's availability."""
    sqlstate = getattr(exc.orig, "sqlstate", None)
    if isinstance(sqlstate, str) and sqlstate:
        return sqlstate[:2] not in OUTAGE_SQLSTATE_CLASSES
    name = getattr(exc.orig, "sqlite_errorname", None)
    if isinstance(name, str):
        return name.startswith(DATA_SQLITE_ERRORS)
    return isinstance(exc, sa.exc.IntegrityError | sa.exc.DataError)


def _first_line(exc: BaseException) -> str:
    text = str(getattr(exc, "orig", exc) or exc)
    return text.strip().splitlines()[0] if text.strip() else type(exc).__name__


def utcnow() -> datetime:
    return datetime.now(UTC)


def sha256(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()


def canonical_json(document: Any) -> str:
    """A document's canonical JSON: sorted keys, no spaces, UTF-8 text. Its SHA-256 tells a real change
    of content from a re-delivery, whatever the key order the sender used."""
    return json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


# --- the few writes everything uses -------------------------------------------------------------


def record_delivery(conn: Connection, **item: Any) -> int:
    """Append one delivery to the log and return its id; the fields are those of
    :func:`record_deliveries`."""
    return record_deliveries(conn, [item])[0]


def record_deliveries(conn: Connection, items: Sequence[dict[str, Any]], *,
                      ids: Sequence[int] | None = None) -> list[int]:
    """Append deliveries to the log in one statement and return their ids, in order (a batch of AMQP
    messages costs one insert). Each item: ``channel``, ``outcome`` (accepted | duplicate | rejected),
    and optionally ``status``, ``reason``, ``counts``, ``warnings``, ``body`` (its size and SHA-256 are
    recorded; ``body_sha256`` saves hashing it again), ``content_type``, ``remote_addr``, and the parts of
    the delivery's details the inspector shows, written in the same transaction: ``headers`` (the
    request's) and ``changes`` (what the delivery changed). The raw bytes are stored as the store's
    ``keep_bodies`` says for the outcome (:func:`keeps_body`; a delivery whose outcome changes later keeps
    what its first outcome decided). ``ids``: on PostgreSQL, ids drawn beforehand from the log's sequence
    (:func:`next_delivery_ids`, e.g. in the same round trip as a read), ascending, one per item."""
    if not items:
        return []
    ids = _insert_deliveries(conn, _delivery_rows(conn, items), ids)
    parts = [part for part in DETAIL_PARTS if any(item.get(part) is not None for item in items)]
    if parts:
        dumps = [_to_driver(conn.dialect, delivery_details.c[part]) for part in parts]
        rows = [(delivery, *(dump(item.get(part)) for dump, part in zip(dumps, parts, strict=True)))
                for delivery, item in zip(ids, items, strict=True) if any(item.get(part) is not None for part in parts)]
        if conn.dialect.name == "postgresql":  # ids fresh from the sequence: no details row can exist yet
            _insert_new(conn, delivery_details, ("delivery_id", *parts), rows)
        else:  # a rowid can be taken again once the row that had it is gone: keep what is not written here
            upsert_rows(conn, delivery_details, ("delivery_id", *parts), rows)
    return ids


# The parts of a delivery's details record_deliveries writes with it.
DETAIL_PARTS = ("headers", "changes")


# The delivery log's columns as record_deliveries writes them (``id`` aside), in order.
DELIVERY_COLUMNS = tuple(c.name for c in deliveries.columns if c.name != "id")


def _delivery_rows(conn: Connection, items: Sequence[dict[str, Any]]) -> list[tuple[Any, ...]]:
    """record_deliveries' items as row tuples in DELIVERY_COLUMNS order, ready for the driver."""
    keep_bodies = conn.get_execution_options().get("keep_bodies", "rejected")
    received_at = _to_driver(conn.dialect, deliveries.c.received_at)(utcnow())
    counts, warnings = _to_driver(conn.dialect, deliveries.c.counts), _to_driver(conn.dialect, deliveries.c.warnings)
    rows = []
    for item in items:
        body = item.get("body")
        rows.append((
            item["channel"], received_at, item["outcome"], item.get("status"), item.get("reason"),
            counts(item.get("counts")), warnings(item.get("warnings") or None),
            item.get("body_sha256") or (sha256(body) if body is not None else None),
            len(body) if body is not None else None, item.get("content_type"), item.get("remote_addr"),
            body if keeps_body(keep_bodies, item["outcome"]) else None,
        ))
    return rows


@functools.lru_cache(maxsize=64)
def _to_driver(dialect: Any, column: sa.Column[Any]) -> Any:
    """The column type's own conversion of a value for the driver (JSON text, SQLite's date-time text), or
    the value as it is: applied once per value rather than through SQLAlchemy's per-statement parameter
    processing. A JSON value for PostgreSQL is its JSON text (psycopg sends a text of unknown type, which
    the server reads as the column's type): SQLAlchemy's own conversion wraps it for psycopg to serialise
    value by value, which made about a quarter of the Python time of a batch's COPY into the delivery log."""
    if dialect.name == "postgresql" and isinstance(column.type, sa.JSON):
        return _json_text
    return column.type.dialect_impl(dialect).bind_processor(dialect) or _unchanged


def _json_text(value: Any) -> str:
    return json.dumps(value)  # what SQLAlchemy's JSON type sends (None as JSON null), as text


def _unchanged(value: Any) -> Any:
    return value


def _insert_deliveries(conn: Connection, rows: list[tuple[Any, ...]], ids: Sequence[int] | None = None) -> list[int]:
    """Insert delivery rows (tuples in DELIVERY_COLUMNS order) and return their ids, in order, through the
    driver: SQLAlchemy's multi-row ``INSERT … RETURNING`` costs more than the database's work for a batch
    of AMQP messages (psycopg re-parses its thousands of placeholders at every batch).

    PostgreSQL: one row (ids not drawn) is one ``INSERT … RETURNING``; more take their ids from the
    column's sequence first (ascending, so the log keeps the rows' order) and go with them — by COPY
    from BULK_MIN_ROWS rows. SQLite: one executemany; the write transaction holds the database's write
    lock, so the rows took consecutive rowids ending at ``last_insert_rowid()``."""
    if conn.dialect.name == "postgresql":
        if ids is None and len(rows) == 1:  # one push: one round trip
            compiled = _compiled_plain_insert(conn.dialect, deliveries, DELIVERY_COLUMNS, returning=True)
            assert tuple(compiled.positiontup) == DELIVERY_COLUMNS  # the row's own order
            return [int(conn.exec_driver_sql(compiled.string, rows[0]).scalar_one())]
        if ids is None:
            ids = [int(row[0]) for row in conn.exec_driver_sql(*next_delivery_ids(len(rows)))]
        if len(ids) != len(rows):
            raise ValueError(f"{len(ids)} delivery ids drawn for {len(rows)} deliveries")
        _insert_new(conn, deliveries, ("id", *DELIVERY_COLUMNS),
                    [(delivery, *row) for delivery, row in zip(ids, rows, strict=True)])
        return list(ids)
    if ids is not None:
        raise ValueError("delivery ids are drawn beforehand on PostgreSQL only: SQLite numbers the rows as it inserts")
    _executemany(conn, _compiled_plain_insert(conn.dialect, deliveries, DELIVERY_COLUMNS), DELIVERY_COLUMNS, rows)
    last = int(conn.exec_driver_sql("SELECT last_insert_rowid()").scalar_one())
    return list(range(last - len(rows) + 1, last + 1))


def _insert_new(conn: Connection, table: sa.Table, columns: tuple[str, ...], rows: list[tuple[Any, ...]]) -> None:
    """PostgreSQL: rows no conflict can meet (keys just drawn from a sequence), by COPY from
    BULK_MIN_ROWS rows, else one plain executemany (pipelined by psycopg)."""
    if len(rows) >= BULK_MIN_ROWS:
        _pg_copy(conn, table, columns, rows)
    else:
        _executemany(conn, _compiled_plain_insert(conn.dialect, table, columns), columns, rows)


def next_delivery_ids(count: int) -> tuple[str, tuple[int]]:
    """PostgreSQL: the statement (driver SQL, parameters) drawing ``count`` ids from the delivery log's
    sequence, ascending."""
    return _NEXT_DELIVERY_IDS, (count,)


def pg_read_at_once(conn: Connection, statements: Sequence[tuple[str, Sequence[Any]]]) -> list[list[tuple[Any, ...]]]:
    """PostgreSQL: several reads (driver SQL with ``%s`` placeholders, parameters) in one round trip —
    psycopg's pipeline mode; the first statement of a transaction takes its BEGIN along. Returns each
    statement's rows, in order."""
    with _driver(conn, statements[0][0]) as driver:
        cursors = [driver.cursor() for _ in statements]
        try:
            with driver.pipeline():
                for cursor, (sql, parameters) in zip(cursors, statements, strict=True):
                    cursor.execute(sql, parameters)
            return [cursor.fetchall() for cursor in cursors]
        finally:
            for cursor in cursors:
                cursor.close()


@contextmanager
def _driver(conn: Connection, sql: str) -> Iterator[Any]:
    """The connection's psycopg connection, in its transaction; a driver error is raised as SQLAlchemy's,
    so that the store classifies it like any other."""
    import psycopg  # the PostgreSQL driver, present whenever the dialect is

    try:
        yield conn.connection.dbapi_connection
    except psycopg.Error as exc:
        raise sa.exc.DBAPIError.instance(sql, None, exc, psycopg.Error, dialect=conn.dialect) from exc


_NEXT_DELIVERY_IDS = ("SELECT nextval(pg_get_serial_sequence('deliveries', 'id')) AS id "
                      "FROM generate_series(1, %s) ORDER BY id")


def update_delivery(conn: Connection, delivery_id: int, **values: Any) -> None:
    conn.execute(deliveries.update().where(deliveries.c.id == delivery_id).values(**values))


def record_details(conn: Connection, delivery_id: int, **values: Any) -> None:
    """Set parts of a delivery's details (``headers``, ``problems``, ``changes``), keeping the others."""
    stmt = _insert(conn, delivery_details).values(delivery_id=delivery_id, **values)
    conn.execute(stmt.on_conflict_do_update(index_elements=["delivery_id"], set_=values))


def get_details(conn: Connection, delivery_id: int) -> sa.Row[Any] | None:
    return conn.execute(sa.select(delivery_details).where(delivery_details.c.delivery_id == delivery_id)).first()


def read_body_slice(conn: Connection, delivery_id: int, offset: int, length: int) -> bytes:
    """``length`` bytes of a kept body from ``offset``, read in the database: a large body is never
    loaded whole into the process."""
    piece = sa.func.substr(deliveries.c.raw_body, offset + 1, length)  # substr counts from 1 on both
    value = conn.execute(sa.select(piece).where(deliveries.c.id == delivery_id)).scalar()
    return bytes(value or b"")


def field_diff(before: Any, after: Any, path: tuple[Any, ...] = (), limit: int = 50) -> list[dict[str, Any]]:
    """What changed between two JSON documents, field by field: ``{"path", "before", "after"}`` for each
    leaf added, removed or changed (a field absent on one side is ``None`` there), at most ``limit``."""
    found: list[dict[str, Any]] = []

    def walk(a: Any, b: Any, where: tuple[Any, ...]) -> None:
        if len(found) >= limit or a == b:
            return
        if isinstance(a, dict) and isinstance(b, dict):
            for key in sorted(set(a) | set(b), key=str):
                walk(a.get(key), b.get(key), (*where, key))
        elif isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
            for index, (x, y) in enumerate(zip(a, b, strict=True)):
                walk(x, y, (*where, index))
        else:
            found.append({"path": list(where), "before": a, "after": b})

    walk(before, after, path)
    return found


def claim_digest(conn: Connection, channel: str, body_sha256: str, delivery_id: int) -> int | None:
    """Record that this body is being applied. Returns None when it is new, else the delivery id that
    applied it first (the body is a replay). Concurrent claims of one body serialise on the key."""
    inserted = conn.execute(
        _insert(conn, push_digests)
        .values(channel=channel, body_sha256=body_sha256, delivery_id=delivery_id)
        .on_conflict_do_nothing()
        .returning(push_digests.c.delivery_id)
    ).first()
    if inserted is not None:
        return None
    return int(
        conn.execute(
            sa.select(push_digests.c.delivery_id).where(
                push_digests.c.channel == channel, push_digests.c.body_sha256 == body_sha256
            )
        ).scalar_one()
    )


def upsert_rows(
    conn: Connection,
    table: sa.Table,
    columns: Sequence[str],
    rows: Iterable[Sequence[Any]],
    *,
    newer_or_equal: str | None = None,
) -> int:
    """Insert rows (tuples in ``columns`` order) or update the stored row with the same key, in order.

    With ``newer_or_equal``, a stored row is only overwritten by a row whose value in that column is
    at least as new, so a late or replayed change can never roll it back. Returns the number of rows
    written (inserted or updated); the rest were older than what is stored.
    """
    rows = rows if isinstance(rows, list) else list(rows)
    if conn.dialect.name == "postgresql" and len(rows) >= BULK_MIN_ROWS:
        return _pg_bulk(conn, table, tuple(columns), rows, "update", newer_or_equal)
    compiled = _compiled_insert(conn.dialect, table, tuple(columns), "update", newer_or_equal)
    return _executemany(conn, compiled, columns, _in_key_order(table, columns, rows))


def insert_ignore(conn: Connection, table: sa.Table, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> int:
    """Insert rows (tuples in ``columns`` order) whose key is not stored yet; returns how many were
    new. A row whose key exists (a duplicate delivery) changes nothing."""
    rows = rows if isinstance(rows, list) else list(rows)
    if conn.dialect.name == "postgresql" and len(rows) >= BULK_MIN_ROWS:
        return _pg_bulk(conn, table, tuple(columns), rows, "nothing", None)
    compiled = _compiled_insert(conn.dialect, table, tuple(columns), "nothing", None)
    return _executemany(conn, compiled, columns, _in_key_order(table, columns, rows))


@dataclass(frozen=True)
class Rows:
    """Rows for :func:`record_delivery_inserting`: tuples in ``columns`` order, the table's ``delivery_id``
    column aside (it is the new delivery's id)."""

    table: sa.Table
    columns: tuple[str, ...]
    rows: list[tuple[Any, ...]]


def record_delivery_inserting(conn: Connection, item: dict[str, Any], first: Rows, then: Rows) -> tuple[int, int]:
    """Append one delivery (an item of :func:`record_deliveries`), insert ``first``'s rows with its id unless
    their key is stored, and ``then``'s only if some of ``first``'s were new (a ServiceMobility event, then
    its usage rows); returns the delivery's id and how many of ``first``'s rows were new.

    The same writes as record_delivery and insert_ignore, one after the other. On PostgreSQL, when the
    rows are fewer than BULK_MIN_ROWS, one statement does them all (data-modifying CTEs, each taking the
    delivery's id from the first): a small push costs one round trip and one statement's work on the
    server instead of four."""
    if conn.dialect.name != "postgresql" or not first.rows or len(first.rows) + len(then.rows) >= BULK_MIN_ROWS:
        delivery = record_delivery(conn, **item)
        new = insert_ignore(conn, first.table, (*first.columns, "delivery_id"),
                            [(*row, delivery) for row in first.rows])
        if new and then.rows:
            insert_ignore(conn, then.table, (*then.columns, "delivery_id"), [(*row, delivery) for row in then.rows])
        return delivery, new
    headers = item.get("headers")
    sql = _delivery_inserting_sql(conn.dialect, headers is not None, first.table, first.columns,
                                  then.table, then.columns if then.rows else None)
    params: list[Any] = list(_delivery_rows(conn, [item])[0])
    if headers is not None:
        params.append(_to_driver(conn.dialect, delivery_details.c.headers)(headers))
    params.append(_as_recordset(first))
    if then.rows:
        params.append(_as_recordset(then))
    delivery, new = conn.exec_driver_sql(sql, tuple(params)).one()
    return int(delivery), int(new)


def _as_recordset(rows: Rows) -> str:
    """Rows as one JSON parameter for json_to_recordset: an array of objects by column name."""
    return json.dumps([dict(zip(rows.columns, row, strict=True)) for row in rows.rows],
                      ensure_ascii=False, separators=(",", ":"), allow_nan=False)


@functools.lru_cache(maxsize=64)
def _delivery_inserting_sql(dialect: Any, headers: bool, first: sa.Table, first_columns: tuple[str, ...],
                            then: sa.Table, then_columns: tuple[str, ...] | None) -> str:
    """record_delivery_inserting's one statement on PostgreSQL. The sub-statements run in the order their
    results are needed: the delivery, then its details and ``first``'s rows, then ``then``'s, only if
    ``first`` inserted one; each table's rows go in key order, as insert_ignore inserts them.

    Each table's rows are one JSON parameter read by ``json_to_recordset``, so the statement is the same
    text for any number of rows, with a handful of parameters: psycopg parses it once and the server
    prepares it (psycopg caches only statements of at most 50 parameters)."""
    preparer = dialect.identifier_preparer
    quote = preparer.quote

    def rows_cte(name: str, table: sa.Table, columns: tuple[str, ...], guard: str) -> str:
        # A JSON column's value is JSON text already: read as text, then parsed as the column's type. (Not
        # spliced in as JSON: json_to_recordset refuses a \u0000 escape anywhere in what it parses, while
        # the column itself holds one.)
        json_typed = {c for c in columns if isinstance(table.c[c].type, sa.JSON)}
        declared = ", ".join(f"{quote(c)} {'text' if c in json_typed else table.c[c].type.compile(dialect=dialect)}"
                             for c in columns)
        selected = ", ".join(f"CAST(v.{quote(c)} AS JSON)" if c in json_typed else f"v.{quote(c)}" for c in columns)
        names = ", ".join(quote(c) for c in columns)
        key = ", ".join(f"v.{quote(c.name)}" for c in table.primary_key.columns)
        return (f"{name} AS (INSERT INTO {preparer.format_table(table)} ({names}, delivery_id) "  # noqa: S608
                f"SELECT {selected}, d.id FROM json_to_recordset(CAST(%s AS JSON)) AS v ({declared}) "
                f"CROSS JOIN d{guard} ORDER BY {key} ON CONFLICT DO NOTHING RETURNING 1)")

    # Every name is the table definition's own, quoted by the dialect: no value is spliced in.
    placeholders = ", ".join(["%s"] * len(DELIVERY_COLUMNS))
    ctes = [f"d AS (INSERT INTO {preparer.format_table(deliveries)} ({', '.join(map(quote, DELIVERY_COLUMNS))}) "  # noqa: S608
            f"VALUES ({placeholders}) RETURNING id)"]
    if headers:
        ctes.append(f"h AS (INSERT INTO {preparer.format_table(delivery_details)} (delivery_id, headers) "  # noqa: S608
                    "SELECT id, CAST(%s AS JSON) FROM d)")
    ctes.append(rows_cte("f", first, first_columns, ""))
    if then_columns is not None:
        ctes.append(rows_cte("t", then, then_columns, " WHERE EXISTS (SELECT FROM f)"))
    return f"WITH {', '.join(ctes)} SELECT d.id, (SELECT count(*) FROM f) FROM d"  # noqa: S608


# On PostgreSQL a write of fewer rows than this goes as the row-by-row statement in one pipelined
# executemany: COPY's three statements cost more round trips than they save on a handful of rows (one
# ServiceMobility event and its usage rows, the changes of a small batch).
BULK_MIN_ROWS = 64


def _in_key_order(table: sa.Table, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> list[Sequence[Any]]:
    """The rows sorted by key, stably: rows of one key keep their order (so "in order" still holds),
    and concurrent transactions on PostgreSQL lock the rows they share in the same order, so two
    deliveries touching the same keys queue instead of deadlocking."""
    return sorted(rows, key=_key_of(table, columns))


def _key_of(table: sa.Table, columns: Sequence[str]) -> Any:
    """A row tuple's key, as ``sorted`` and ``set`` take it: an ``itemgetter`` (a plain value for a
    one-column key, a tuple otherwise), which costs a fraction of a Python function per row."""
    return operator.itemgetter(*(columns.index(c.name) for c in table.primary_key.columns))


@functools.lru_cache(maxsize=256)
def _compiled_insert(dialect: Any, table: sa.Table, columns: tuple[str, ...], on_conflict: str,
                     newer_or_equal: str | None) -> Any:
    """``INSERT … ON CONFLICT DO NOTHING | DO UPDATE`` of these columns, compiled once per dialect:
    compiling costs more than a small write, and it would be done inside the write transaction."""
    stmt = (postgresql.insert if dialect.name == "postgresql" else sqlite.insert)(table)
    if on_conflict == "nothing":
        stmt = stmt.on_conflict_do_nothing()
    else:
        key = [c.name for c in table.primary_key.columns]
        updated = {c: stmt.excluded[c] for c in columns if c not in key}
        where = stmt.excluded[newer_or_equal] >= table.c[newer_or_equal] if newer_or_equal else None
        stmt = stmt.on_conflict_do_update(index_elements=key, set_=updated, where=where)
    return stmt.values({c: sa.bindparam(c) for c in columns}).compile(dialect=dialect)


@functools.lru_cache(maxsize=64)
def _compiled_plain_insert(dialect: Any, table: sa.Table, columns: tuple[str, ...], returning: bool = False) -> Any:
    """A plain ``INSERT`` of these columns (``RETURNING`` the key with ``returning``), compiled once per
    dialect."""
    stmt = table.insert().values({c: sa.bindparam(c) for c in columns})
    return (stmt.returning(*table.primary_key.columns) if returning else stmt).compile(dialect=dialect)


def _executemany(conn: Connection, compiled: Any, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> int:
    # Executed through the driver's executemany with plain tuples: SQLAlchemy's per-row parameter
    # processing costs more than the database's own work for large pushes.
    if compiled.positiontup is None:  # psycopg's named parameters
        params: Any = [dict(zip(columns, row, strict=True)) for row in rows]
    elif (order := [columns.index(name) for name in compiled.positiontup]) == list(range(len(columns))):
        params = rows if isinstance(rows, list) else list(rows)
    else:
        params = [tuple(row[i] for i in order) for row in rows]
    if not params:
        return 0
    # One row is one statement: the driver's executemany would open a pipeline around it (psycopg).
    return int(conn.exec_driver_sql(compiled.string, params[0] if len(params) == 1 else params).rowcount)


# --- PostgreSQL: COPY into a temporary table, then one set-based statement -----------------------
#
# A write of BULK_MIN_ROWS rows or more goes through psycopg's COPY into a temporary table of the
# connection (created once per connection, emptied at each commit), then one ``INSERT … SELECT DISTINCT
# ON (key) … ORDER BY key ON CONFLICT …`` applies them. The guarantees of the row-by-row upsert hold:
# - one transaction: the COPY runs on the same connection, inside the caller's transaction;
# - rows in order, for rows of one key within a write: DISTINCT ON keeps the row the row-by-row
#   statements would have left (the last for a plain upsert; the last of the newest for
#   ``newer_or_equal``, since a row only replaces one at most as new; the first for insert_ignore);
# - newer-or-equal wins: the same ``WHERE excluded.c >= stored.c`` on conflict;
# - key-order locking: the rows are inserted in key order, so two writes sharing keys take their row
#   locks in the same order and queue instead of deadlocking.

SEQ = "_bulk_seq"  # the temporary table's extra column: the row's position in the write


@dataclass(frozen=True)
class _BulkSql:
    temp: str
    create: str
    copy: str
    copy_unique: str  # the rows alone: their position is only needed when a key repeats
    apply: str
    apply_unique: str  # the same when no key repeats in the write: no DISTINCT ON, no sort by position
    repeats: str | None  # newer_or_equal only: rows of a repeated key that the row-by-row upsert writes too


@functools.lru_cache(maxsize=256)
def _bulk_sql(dialect: Any, table: sa.Table, columns: tuple[str, ...], on_conflict: str,
              newer_or_equal: str | None) -> _BulkSql:
    quote = dialect.identifier_preparer.quote
    target = dialect.identifier_preparer.format_table(table)
    digest = hashlib.sha256(repr((table.schema, table.name, columns)).encode()).hexdigest()[:10]
    temp = quote(f"_bulk_{table.name[:40]}_{digest}")
    cols = ", ".join(quote(c) for c in columns)
    key_names = [c.name for c in table.primary_key.columns]
    key = ", ".join(quote(c) for c in key_names)
    # Every name below is the table definition's own, quoted by the dialect: no value is spliced in.
    create = (f"CREATE TEMPORARY TABLE IF NOT EXISTS {temp} ON COMMIT DELETE ROWS AS "  # noqa: S608
              f"SELECT {cols}, 0::bigint AS {SEQ} FROM {target} WITH NO DATA")
    copy = f"COPY {temp} ({cols}, {SEQ}) FROM STDIN"
    if on_conflict == "nothing":
        pick, conflict = f"{SEQ}", "DO NOTHING"
    else:
        pick = f"{quote(newer_or_equal)} DESC NULLS LAST, {SEQ} DESC" if newer_or_equal else f"{SEQ} DESC"
        updated = ", ".join(f"{quote(c)} = excluded.{quote(c)}" for c in columns if c not in key_names)
        conflict = f"DO UPDATE SET {updated}" if updated else "DO NOTHING"
        if newer_or_equal and updated:
            ts = quote(newer_or_equal)
            conflict += f" WHERE excluded.{ts} >= {target}.{ts}"
    apply = (f"INSERT INTO {target} ({cols}) SELECT {cols} FROM "  # noqa: S608
             f"(SELECT DISTINCT ON ({key}) {cols} FROM {temp} ORDER BY {key}, {pick}) AS bulk "
             f"ORDER BY {key} ON CONFLICT ({key}) {conflict}")
    apply_unique = (f"INSERT INTO {target} ({cols}) SELECT {cols} FROM {temp} "  # noqa: S608
                    f"ORDER BY {key} ON CONFLICT ({key}) {conflict}")
    copy_unique = f"COPY {temp} ({cols}) FROM STDIN"
    repeats = None
    if newer_or_equal:
        ts = quote(newer_or_equal)
        keyed = ", ".join(f"r.{quote(c)}" for c in key_names)
        joined = " AND ".join(f"s.{quote(c)} = r.{quote(c)}" for c in key_names)
        # A row of the write is written row by row when it is at least as new as the stored row and as
        # every row of its key before it; the set-based statement writes one row per key instead.
        repeats = (f"SELECT count(*) - count(DISTINCT ({keyed})) FROM ("  # noqa: S608
                   f"SELECT {key}, {ts}, max({ts}) OVER (PARTITION BY {key} ORDER BY {SEQ} "
                   f"ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS before FROM {temp} "
                   f"WHERE ({key}) IN (SELECT {key} FROM {temp} GROUP BY {key} HAVING count(*) > 1)) AS r "
                   f"LEFT JOIN {target} AS s ON {joined} "
                   f"WHERE (r.before IS NULL OR r.{ts} >= r.before) AND (s.{ts} IS NULL OR r.{ts} >= s.{ts})")
    return _BulkSql(temp, create, copy, copy_unique, apply, apply_unique, repeats)


def _pg_bulk(conn: Connection, table: sa.Table, columns: tuple[str, ...], rows: Iterable[Sequence[Any]],
             on_conflict: str, newer_or_equal: str | None) -> int:
    """:func:`upsert_rows` and :func:`insert_ignore` on PostgreSQL: returns the same counts as the
    row-by-row statements (see the note above)."""
    rows = rows if isinstance(rows, list) else list(rows)
    if not rows:
        return 0
    sql = _bulk_sql(conn.dialect, table, columns, on_conflict, newer_or_equal)
    conn.exec_driver_sql(sql.create)
    # Emptied at commit; a second write to the same table in one transaction empties it first.
    used = conn.info.setdefault("bulk_tables", {})
    transaction = conn.get_transaction()
    if used.get(sql.temp) is transaction:
        conn.exec_driver_sql(f"DELETE FROM {sql.temp}")  # noqa: S608
    used[sql.temp] = transaction
    # Most writes name each key once: then the rows go as they are and one plain INSERT … SELECT applies
    # them (the raw limit's own statement); the position column and DISTINCT ON serve repeated keys only.
    unique = len(set(map(_key_of(table, columns), rows))) == len(rows)
    _copy_in(conn, sql.copy_unique if unique else sql.copy,
             rows if unique else [(*row, position) for position, row in enumerate(rows)])
    extra = 0
    if sql.repeats is not None and not unique:
        extra = int(conn.exec_driver_sql(sql.repeats).scalar_one())
    written = int(conn.exec_driver_sql(sql.apply_unique if unique else sql.apply).rowcount)
    if on_conflict == "update" and newer_or_equal is None:
        return len(rows)  # row by row, every row of a plain upsert writes
    return written + extra


def _pg_copy(conn: Connection, table: sa.Table, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
    """COPY rows (tuples in ``columns`` order) straight into ``table``: for rows no conflict can meet."""
    quote = conn.dialect.identifier_preparer.quote
    target = conn.dialect.identifier_preparer.format_table(table)
    _copy_in(conn, f"COPY {target} ({', '.join(quote(c) for c in columns)}) FROM STDIN", rows)


def _copy_in(conn: Connection, copy_sql: str, rows: Iterable[Sequence[Any]]) -> None:
    """psycopg's COPY … FROM STDIN of rows on the connection, in its transaction."""
    with _driver(conn, copy_sql) as driver, driver.cursor() as cursor, cursor.copy(copy_sql) as copy:
        write_row = copy.write_row
        for row in rows:
            write_row(row)


def _insert(conn: Connection, table: sa.Table) -> Any:
    if conn.dialect.name == "postgresql":
        return postgresql.insert(table)
    return sqlite.insert(table)


# --- reads -----------------------------------------------------------------------------------------


def get_delivery(conn: Connection, delivery_id: int) -> sa.Row[Any] | None:
    query = sa.select(deliveries, deliveries.c.raw_body.is_not(None).label("body_kept"))
    return conn.execute(query.where(deliveries.c.id == delivery_id)).first()


def list_deliveries(
    conn: Connection, *, channel: str | None, outcome: str | None, before: int | None, limit: int
) -> list[sa.Row[Any]]:
    columns = [c for c in deliveries.c if c.name != "raw_body"]
    body_kept = deliveries.c.raw_body.is_not(None).label("body_kept")
    query = sa.select(*columns, body_kept).order_by(deliveries.c.id.desc()).limit(limit)
    if channel:
        query = query.where(deliveries.c.channel == channel)
    if outcome:
        query = query.where(deliveries.c.outcome == outcome)
    if before:
        query = query.where(deliveries.c.id < before)
    return list(conn.execute(query))


def lock_channel(conn: Connection, channel: str) -> None:
    """Serialise one channel's write transactions: on PostgreSQL a transaction-scoped advisory lock (released
    at commit or rollback); on SQLite nothing to do, ``Store.write()`` already holds the database's write
    lock. For channels whose apply reads state and writes from what it read."""
    if conn.dialect.name == "postgresql":
        # Two int4 keys: a key space apart from create_schema's single bigint key.
        conn.execute(sa.select(sa.func.pg_advisory_xact_lock(7411, sa.func.hashtext(channel))))
