"""The ERP push notifications (erp-amqp-push.md, decisions.md erp-*): customers and subscriptions over AMQP.

The ERP publishes bare JSON domain objects, at-least-once, to ``secom-customer-queue`` and
``secom-subscriptions-queue``. Each message is the full state of one object: it is stored under
(queue, ``id``) as received, unknown properties included, replacing the previous state; the same state
again is a harmless duplicate. A subscription's property bag (``characteristic``, alias ``properties``)
is parsed by ``valueType`` into its own table, and its ``engagedParty`` ids link it to customers.

This module is the channel: its ``[erp]`` section, its tables, the logic and its read routes; it needs
only ``errors``, ``storage`` and ``web``. ``receiver/amqp.py`` is the thin transport that hands it each
batch of messages and acknowledges them once :func:`receive_batch` has committed.
"""

from __future__ import annotations

import functools
import json
import math
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, ClassVar, NamedTuple

import sqlalchemy as sa
from flask import Blueprint, Flask, Response, abort, jsonify, request
from sqlalchemy.dialects import postgresql
from sqlalchemy.engine import Connection

from .. import storage
from ..errors import ConfigError, InvalidPayload, ReceiverError, shown
from ..web import (
    Contract,
    Operation,
    Payload,
    Receipt,
    int_arg,
    limit_parameter,
    parse_json,
    path_parameter,
    query_parameter,
)

NAME = "erp"


@dataclass(frozen=True)
class Config:
    """``[erp]``: the ERP's push notifications over AMQP (erp-amqp-push.md), consumed by
    ``inventory-receiver consume``."""

    SECRETS: ClassVar[tuple[str, ...]] = ("amqp_url",)  # the broker credentials

    enabled: bool = False  # the read API routes; the consumer runs only as its own command
    amqp_url: str = ""  # holds the broker credentials: prefer RECEIVER_ERP_AMQP_URL
    customer_queue: str = "secom-customer-queue"
    subscription_queue: str = "secom-subscriptions-queue"
    # Declare the queues (durable, dead-lettering to <queue><dead_letter_suffix> through
    # dead_letter_exchange) and the dead-letter exchange and queues; false = only check they exist.
    declare_topology: bool = True
    # Several consumer processes on the same queues: by default they compete (each message goes to one
    # of them; two states of one id may then be applied out of order). true declares the queues with
    # x-single-active-consumer: one consumes, the others take over if it goes — order kept.
    single_active_consumer: bool = False
    dead_letter_exchange: str = "secom.dead-letter"
    dead_letter_suffix: str = ".dead-letter"
    prefetch: int = 500  # unacknowledged messages the broker may hand the consumer at once
    batch_size: int = 200  # messages committed in one transaction, then acknowledged together
    batch_wait_ms: int = 20  # how long a partial batch waits for more messages before it is committed
    heartbeat_seconds: int = 30
    # Capped exponential back-off, for reconnecting to the broker and for retrying the store.
    backoff_min_seconds: float = 0.5
    backoff_max_seconds: float = 30.0
    # `consume` answers /healthz, /readyz and /metrics on this port (0: off), at health_host.
    health_port: int = 0
    health_host: str = "127.0.0.1"

    def validate(self) -> None:
        if not self.customer_queue or not self.subscription_queue or self.customer_queue == self.subscription_queue:
            raise ConfigError("[erp] customer_queue and subscription_queue must be two different, non-empty names")
        if not self.dead_letter_exchange or not self.dead_letter_suffix:
            raise ConfigError("[erp] dead_letter_exchange and dead_letter_suffix must not be empty")
        if not 1 <= self.prefetch <= 65535:
            raise ConfigError("[erp] prefetch must be between 1 and 65535")
        if not 1 <= self.batch_size <= min(self.prefetch, 1000):
            raise ConfigError(f"[erp] batch_size must be between 1 and prefetch ({self.prefetch}), at most 1000: "
                              "a batch larger than prefetch would never fill")
        if self.batch_wait_ms < 0 or self.heartbeat_seconds < 1:
            raise ConfigError("[erp] batch_wait_ms must be at least 0 and heartbeat_seconds at least 1")
        if not 0 <= self.health_port <= 65535:
            raise ConfigError("[erp] health_port must be between 0 (off) and 65535")
        if not 0 < self.backoff_min_seconds <= self.backoff_max_seconds:
            raise ConfigError("[erp] backoff_min_seconds must be above 0 and at most backoff_max_seconds")


# --- the tables: customers and subscriptions, each the last full state received -------------------------

# One row per (queue, id): the customers of secom-customer-queue and the subscriptions of
# secom-subscriptions-queue. ``document`` is the object exactly as last received (unknown properties
# included); the other columns are taken out of it for queries. ``content_sha256`` (of the canonical
# JSON) tells a re-delivery of the same state from a change.
customer_table = sa.Table(
    "erp_customers",
    storage.metadata,
    sa.Column("id", sa.Text, primary_key=True),  # customerId, numbers in their string form
    sa.Column("status", sa.Text),
    sa.Column("name", sa.Text),
    sa.Column("document", sa.JSON, nullable=False),
    sa.Column("content_sha256", sa.String(64), nullable=False),
    sa.Column("delivery_id", storage.Id, nullable=False),  # the delivery that last changed it
)

subscription_table = sa.Table(
    "erp_subscriptions",
    storage.metadata,
    sa.Column("id", sa.Text, primary_key=True),  # subscriptionId
    sa.Column("status", sa.Text),
    sa.Column("name", sa.Text),
    sa.Column("agreement_type", sa.Text),
    sa.Column("document_number", sa.Text),
    sa.Column("document", sa.JSON, nullable=False),
    sa.Column("content_sha256", sa.String(64), nullable=False),
    sa.Column("delivery_id", storage.Id, nullable=False),
)

# The subscription's property bag (``characteristic``, alias ``properties``), one row per triplet in
# the order sent: the raw value and valueType as sent, the type read from valueType, the parsed value
# (null when it does not parse, with the problem saying why).
characteristic_table = sa.Table(
    "erp_characteristics",
    storage.metadata,
    sa.Column("subscription_id", sa.Text, primary_key=True),
    sa.Column("position", sa.Integer, primary_key=True),
    sa.Column("name", sa.Text, nullable=False),
    sa.Column("value_type", sa.Text),
    sa.Column("value", sa.Text),
    sa.Column("type", sa.String(16)),  # string | date | datetime | float | integer | boolean; null: unknown
    sa.Column("parsed", sa.JSON),
    sa.Column("problem", sa.Text),
    sa.Index("ix_erp_characteristics_name", "name"),
)

# ``engagedParty[].id`` of each subscription: the customers it belongs to. No foreign key: a
# subscription may arrive before its customer (no ordering across queues).
engaged_party_table = sa.Table(
    "erp_engaged_parties",
    storage.metadata,
    sa.Column("subscription_id", sa.Text, primary_key=True),
    sa.Column("position", sa.Integer, primary_key=True),
    sa.Column("customer_id", sa.Text, nullable=False),
    sa.Index("ix_erp_engaged_parties_customer_id", "customer_id", "subscription_id"),
)


# --- the two domain objects ---------------------------------------------------------------------------


@dataclass(frozen=True)
class ObjectKind:
    """A customer or a subscription: its documented queue, its table, the properties copied into columns."""

    name: str
    queue: str  # as the document names it; the consumer's queues are configurable
    table: sa.Table
    columns: dict[str, str]  # stored column → document property


CUSTOMER = ObjectKind("customer", "secom-customer-queue", customer_table,
                      {"status": "status", "name": "name"})
SUBSCRIPTION = ObjectKind("subscription", "secom-subscriptions-queue", subscription_table,
                          {"status": "status", "name": "name", "agreement_type": "agreementType",
                           "document_number": "documentNumber"})
KINDS = {kind.name: kind for kind in (CUSTOMER, SUBSCRIPTION)}


# --- the property bag: valueType → how a value is read -------------------------------------------------

NUMBER_RE = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")
INTEGER_RE = re.compile(r"[+-]?\d+")
BOOLEANS = {"true": True, "false": False, "1": True, "0": False, "yes": True, "no": False}


def _string(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        return json.dumps(value)
    raise ValueError(value)


def _date(value: Any) -> str:
    text = value.strip() if isinstance(value, str) else None
    if not text:
        raise ValueError(value)
    if len(text) == 10:
        return date.fromisoformat(text).isoformat()
    return datetime.fromisoformat(text).date().isoformat()  # a Date sent with a time of day


def _datetime(value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValueError(value)
    return datetime.fromisoformat(value.strip()).isoformat()


def _float(value: Any) -> float:
    if isinstance(value, bool):
        raise ValueError(value)
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str) and NUMBER_RE.fullmatch(value.strip()):
        number = float(value)
        if math.isfinite(number):
            return number
    raise ValueError(value)


def _integer(value: Any) -> int:
    if isinstance(value, bool):
        raise ValueError(value)
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and INTEGER_RE.fullmatch(value.strip()):
        return int(value)
    raise ValueError(value)


def _boolean(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in BOOLEANS:
        return BOOLEANS[value.strip().lower()]
    raise ValueError(value)


@dataclass(frozen=True)
class ValueType:
    """A ``valueType`` the receiver understands: its canonical name and how its values are read."""

    name: str
    parse: Callable[[Any], Any]  # raises ValueError when the value is not of this type
    described: str  # for the problem when a value does not parse


# valueType is free text on the ERP side ("String", "DATE", "float", …): looked up in lower case.
# Any other valueType is kept as sent with the value as sent (type null).
VALUE_TYPES: dict[str, ValueType] = {}
for _value_type, _aliases in (
    (ValueType("string", _string, "text"), ("string", "text", "str")),
    (ValueType("date", _date, "a date (YYYY-MM-DD)"), ("date",)),
    (ValueType("datetime", _datetime, "an ISO 8601 date and time"), ("datetime", "date-time", "timestamp")),
    (ValueType("float", _float, "a number"), ("float", "double", "decimal", "number", "numeric", "real")),
    (ValueType("integer", _integer, "an integer"), ("integer", "int", "long", "short")),
    (ValueType("boolean", _boolean, "true or false"), ("boolean", "bool")),
):
    VALUE_TYPES.update(dict.fromkeys(_aliases, _value_type))


@dataclass(frozen=True)
class Characteristic:
    """One {name, valueType, value} triplet: as sent, and as read."""

    name: str
    value_type: str | None
    value: str | None  # the raw value: the string as sent, other JSON values as JSON text
    type: str | None
    parsed: Any
    problem: str | None

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "valueType": self.value_type, "value": self.value, "type": self.type,
                "parsed": self.parsed, "problem": self.problem}


def read_characteristic(name: str, value_type: Any, value: Any) -> Characteristic:
    """Read one triplet by its valueType (case-insensitive); a value that does not parse keeps its raw
    string, with the problem saying why."""
    raw = value if isinstance(value, str) or value is None else json.dumps(value, ensure_ascii=False)
    sent_type = value_type if isinstance(value_type, str) else None
    known = VALUE_TYPES.get(sent_type.strip().lower()) if sent_type else None
    if known is None:
        return Characteristic(name, sent_type, raw, None, value, None)
    if value is None:
        return Characteristic(name, sent_type, None, known.name, None, None)
    try:
        return Characteristic(name, sent_type, raw, known.name, known.parse(value), None)
    except ValueError:
        problem = f"valueType {sent_type} but {shown(value)} is not {known.described}: the raw value is kept"
        return Characteristic(name, sent_type, raw, known.name, None, problem)


# --- one message ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Notification:
    """One AMQP message as the transport hands it over."""

    kind: ObjectKind
    queue: str  # the queue it was consumed from
    body: bytes
    content_type: str | None = None
    redelivered: bool = False


@dataclass
class ErpObject:
    """A message that can be stored: its key, its document, and what was read out of it."""

    kind: ObjectKind
    id: str
    document: dict[str, Any]
    text: str  # the JSON text as received: stored as the document, byte for byte (less a BOM)
    digest: str  # SHA-256 of the canonical JSON: the same state sent again has the same digest
    characteristics: list[Characteristic] = field(default_factory=list)
    engaged_party: list[str] = field(default_factory=list)
    warnings: list[dict[str, Any]] = field(default_factory=list)

    def row(self, delivery_id: int) -> tuple[Any, ...]:
        """The object's row in ``stored_columns(kind)`` order."""
        values = [_text(self.document.get(prop)) for prop in self.kind.columns.values()]
        return (self.id, *values, self.text, self.digest, delivery_id)


def stored_columns(kind: ObjectKind) -> list[str]:
    return [column.name for column in kind.table.columns]


def _text(value: Any) -> str | None:
    # PostgreSQL text cannot hold NUL; the document keeps the value exactly as sent.
    if isinstance(value, str):
        return value.replace("\x00", "")
    if isinstance(value, int | float) and not isinstance(value, bool):
        return json.dumps(value)
    return None


def parse(kind: ObjectKind, body: bytes) -> ErpObject:
    """Read one message: a UTF-8 JSON object with a usable ``id``. Anything else can never be stored and
    raises :class:`MalformedBody` / :class:`InvalidPayload` (the consumer dead-letters it)."""
    document = parse_json(body)
    if not isinstance(document, dict):
        raise InvalidPayload(f"the message must be one JSON object (a {kind.name}), not {_json_type(document)}",
                             problems=[{"path": [], "message": f"Not an object: {_json_type(document)}."}])
    object_id = _object_id(document)
    digest = storage.sha256(storage.canonical_json(document).encode("utf-8"))
    obj = ErpObject(kind, object_id, document, body.decode("utf-8-sig"), digest)
    if kind is SUBSCRIPTION:
        _read_bag(obj)
        _read_engaged_party(obj)
    return obj


def _json_type(value: Any) -> str:
    names = {dict: "an object", list: "an array", str: "a string", bool: "a boolean", type(None): "null"}
    return names.get(type(value), "a number")


def _object_id(document: dict[str, Any]) -> str:
    """``id`` normalised to a string: numbers in their string form (134719 is "134719")."""
    if "id" not in document:
        raise InvalidPayload("the object has no id (the customerId or subscriptionId it is stored under)",
                             problems=[{"path": ["id"], "message": "Missing: every object needs an id."}])
    value = document["id"]
    if isinstance(value, str):
        if not value.strip():
            raise InvalidPayload("the object's id is empty", problems=[{"path": ["id"], "message": "The id is empty."}])
        if problem := storage.text_problem(value, storage.KEY_TEXT_MAX):  # the id is the table's key
            raise InvalidPayload(f"the object's id cannot be stored: {problem}",
                                 problems=[{"path": ["id"], "message": problem}])
        return value
    if isinstance(value, int) and not isinstance(value, bool) or isinstance(value, float) and math.isfinite(value):
        text = str(value) if isinstance(value, int) else str(int(value)) if value.is_integer() else repr(value)
        # A number of hundreds of digits is as long a key as such a text: refused alike on both backends.
        if problem := storage.text_problem(text, storage.KEY_TEXT_MAX):
            raise InvalidPayload(f"the object's id cannot be stored: as a number, {problem[0].lower()}{problem[1:]}",
                                 problems=[{"path": ["id"], "message": problem}])
        return text
    raise InvalidPayload(f"the object's id must be a string or a number, not {_json_type(value)}",
                         problems=[{"path": ["id"], "message": f"Not a string or number: {_json_type(value)}."}])


def _as_list(value: Any, is_single: Callable[[dict[str, Any]], bool]) -> list[Any] | None:
    """A list as sent, or one object standing for a one-element list; None for anything else."""
    if isinstance(value, list):
        return value
    if isinstance(value, dict) and is_single(value):
        return [value]
    return None


def _read_bag(obj: ErpObject) -> None:
    """``characteristic`` then ``properties`` (the document's other name for the same bag), parsed
    defensively: a single triplet, or a plain {name: value} object, is read too."""
    for prop in ("characteristic", "properties"):
        if prop not in obj.document or obj.document[prop] is None:
            continue
        bag = obj.document[prop]
        items = _as_list(bag, lambda one: "name" in one)
        if items is None and isinstance(bag, dict):
            items = [{"name": name, "value": value} for name, value in bag.items()]
        if items is None:
            obj.warnings.append({"path": [prop], "message": f"not a list of {{name, valueType, value}} but "
                                 f"{_json_type(bag)}: kept in the document only"})
            continue
        for index, item in enumerate(items):
            if not isinstance(item, dict) or not isinstance(item.get("name"), str):
                obj.warnings.append({"path": [prop, index], "message": "not a {name, valueType, value} object "
                                     "with a string name: kept in the document only"})
                continue
            if len(item["name"]) > storage.KEY_TEXT_MAX:  # the name is indexed
                obj.warnings.append({"path": [prop, index, "name"], "message": f"a name longer than "
                                     f"{storage.KEY_TEXT_MAX} characters: kept in the document only"})
                continue
            triplet = read_characteristic(item["name"], item.get("valueType"), item.get("value"))
            obj.characteristics.append(triplet)
            if triplet.problem:
                obj.warnings.append({"path": [prop, index], "message": triplet.problem})


def _read_engaged_party(obj: ErpObject) -> None:
    """``engagedParty[].id``: the customers (customerId) this subscription belongs to."""
    sent = obj.document.get("engagedParty")
    if sent is None:
        return
    parties = _as_list(sent, lambda one: "id" in one)
    if parties is None:
        obj.warnings.append({"path": ["engagedParty"], "message": f"not a list of {{id}} but {_json_type(sent)}"})
        return
    for index, party in enumerate(parties):
        try:
            if not isinstance(party, dict):
                raise InvalidPayload(f"it is {_json_type(party)}, not an object")
            obj.engaged_party.append(_object_id(party))
        except InvalidPayload as exc:
            obj.warnings.append({"path": ["engagedParty", index],
                                 "message": f"no usable customer id ({exc.message}): not linked"})


# --- storing a batch ------------------------------------------------------------------------------------


def receive_batch(store: storage.Store, notifications: Sequence[Notification], *,
                  before_commit: Callable[[], None] | None = None) -> list[Receipt]:
    """Store a batch of messages in ONE transaction, in order, and record each in the delivery log.

    Per (queue, id) the last state wins; a state identical to the stored one is a duplicate and
    changes nothing; a message that can never be stored is recorded as rejected with its raw body.
    Raises :class:`StorageFailure` when the store is unreachable: then nothing of the batch is stored.
    """
    read: list[ErpObject | ReceiverError] = []
    for notification in notifications:
        try:
            read.append(parse(notification.kind, notification.body))
        except ReceiverError as exc:
            read.append(exc)
    if not notifications:
        return []
    with store.write() as conn:
        stored, reserved = _stored_states(conn, [obj for obj in read if isinstance(obj, ErpObject)],
                                          deliveries=len(notifications))
        items: list[dict[str, Any]] = []
        latest: dict[tuple[str, str], tuple[int, str]] = {}  # key → (index, digest) of its last accepted state
        repeats: dict[int, int] = {}  # index of a duplicate → index of the state it repeats, in this batch
        for index, (notification, obj) in enumerate(zip(notifications, read, strict=True)):
            counts: dict[str, Any] = {"queue": notification.queue, "kind": notification.kind.name,
                                      "redelivered": notification.redelivered}
            item: dict[str, Any] = {"channel": NAME, "counts": counts, "body": notification.body,
                                    "content_type": _text(notification.content_type)}
            items.append(item)
            if isinstance(obj, ReceiverError):
                item |= {"outcome": "rejected", "reason": f"{obj.reason}: {obj.message}"}
                continue
            key = (obj.kind.name, obj.id)
            counts["id"] = obj.id
            if obj.kind is SUBSCRIPTION:
                counts |= {"characteristics": len(obj.characteristics), "engagedParty": obj.engaged_party}
            item |= {"warnings": obj.warnings, "outcome": "duplicate"}
            if key in latest:
                if latest[key][1] == obj.digest:
                    repeats[index] = latest[key][0]
                    continue
            elif key in stored and stored[key].content_sha256 == obj.digest:
                item["reason"] = f"same content as delivery {stored[key].delivery_id}: nothing changed"
                continue
            if key in latest:  # a newer state of the same object in this batch: only the last one is written
                del items[latest[key][0]]["changes"]
            item |= {"outcome": "accepted", "changes": _changes(obj, stored.get(key))}
            latest[key] = (index, obj.digest)
        ids = storage.record_deliveries(conn, items, ids=reserved)
        for index, origin in repeats.items():
            items[index]["reason"] = f"same content as delivery {ids[origin]}: nothing changed"
        if repeats:
            conn.execute(storage.deliveries.update().where(storage.deliveries.c.id == sa.bindparam("delivery"))
                         .values(reason=sa.bindparam("reason")),
                         [{"delivery": ids[i], "reason": items[i]["reason"]} for i in repeats])
        _write_objects(conn, [(read[index], ids[index]) for index, _ in latest.values()])
        if before_commit is not None:
            before_commit()
    return [Receipt(item["outcome"], delivery, item["counts"], reason=item.get("reason"))
            for item, delivery in zip(items, ids, strict=True)]


def record_unstorable(store: storage.Store, notification: Notification, reason: str) -> int:
    """Log a message the store refused for a reason of its own (not an outage): rejected, raw body kept,
    so that it can be looked at and re-published after a fix. Returns its delivery id."""
    with store.write() as conn:
        return storage.record_delivery(
            conn, channel=NAME, outcome="rejected", reason=reason, body=notification.body,
            content_type=_text(notification.content_type),
            counts={"queue": notification.queue, "kind": notification.kind.name,
                    "redelivered": notification.redelivered})


def receive_message(store: storage.Store, notification: Notification) -> Receipt:
    """Store one message (see :func:`receive_batch`)."""
    return receive_batch(store, [notification])[0]


class StoredState(NamedTuple):
    """What a batch reads of an object's stored state: it decides a duplicate, and the diff compares with it."""

    id: str
    content_sha256: str | None
    delivery_id: int
    document: Any


def _stored_states(conn: Connection, objects: Iterable[ErpObject], *,
                   deliveries: int) -> tuple[dict[tuple[str, str], StoredState], list[int] | None]:
    """(kind, id) → the stored state of each of these objects, read once per kind; and on PostgreSQL the
    ids of the batch's ``deliveries`` drawn from the log's sequence, in the same round trip as the reads
    and the transaction's BEGIN (psycopg's pipeline mode). On SQLite the ids come with the insert."""
    wanted = {name: sorted({obj.id for obj in objects if obj.kind is kind}) for name, kind in KINDS.items()}
    wanted = {name: ids for name, ids in wanted.items() if ids}
    if conn.dialect.name == "postgresql":
        # One array parameter, whatever the batch's size: psycopg prepares the statement once, while
        # IN (…) would be a new statement of one placeholder per id for every batch.
        results = storage.pg_read_at_once(conn, [*((_states_sql(conn.dialect, name), (ids,))
                                                   for name, ids in wanted.items()),
                                                 storage.next_delivery_ids(deliveries)])
        found = {(name, row[0]): StoredState(*row) for name, rows in zip(wanted, results, strict=False)
                 for row in rows}
        return found, [int(row[0]) for row in results[-1]]
    found = {}
    for name, ids in wanted.items():
        table = KINDS[name].table
        query = sa.select(table.c.id, table.c.content_sha256, table.c.delivery_id, table.c.document)
        found.update({(name, row.id): StoredState(*row) for row in conn.execute(query.where(table.c.id.in_(ids)))})
    return found, None


@functools.lru_cache(maxsize=8)
def _states_sql(dialect: Any, kind: str) -> str:
    table = KINDS[kind].table
    matches = table.c.id == sa.any_(sa.bindparam("ids", type_=postgresql.ARRAY(table.c.id.type)))
    query = sa.select(table.c.id, table.c.content_sha256, table.c.delivery_id, table.c.document).where(matches)
    return str(query.compile(dialect=dialect))


def _changes(obj: ErpObject, previous: StoredState | None) -> dict[str, Any]:
    """For the inspector, in the delivery's details: the object's diff against the state it replaces (read
    before it is overwritten) and its parsed characteristic bag."""
    return {
        "kind": obj.kind.name, "id": obj.id, "new": previous is None,
        "previous_delivery": None if previous is None else previous.delivery_id,
        "diff": [] if previous is None else storage.field_diff(previous.document, obj.document),
        "characteristics": [c.to_json() for c in obj.characteristics[:storage.MAX_DETAILED]],
    }


def _write_objects(conn: Connection, latest: Sequence[tuple[Any, int]]) -> None:
    """Upsert the last state of each object with the delivery that brought it; a subscription's
    characteristics and engagedParty links are replaced whole (full state)."""
    for kind in KINDS.values():
        rows = [obj.row(delivery) for obj, delivery in latest if obj.kind is kind]
        if rows:
            storage.upsert_rows(conn, kind.table, stored_columns(kind), rows)
    subscriptions = [obj for obj, _ in latest if obj.kind is SUBSCRIPTION]
    if not subscriptions:
        return
    ids = [obj.id for obj in subscriptions]
    for table in (characteristic_table, engaged_party_table):
        conn.execute(table.delete().where(table.c.subscription_id.in_(ids)))
    storage.insert_ignore(
        conn, characteristic_table, [column.name for column in characteristic_table.columns],
        [(obj.id, position, _text(c.name), _text(c.value_type), _text(c.value), c.type,
          json.dumps(c.parsed, ensure_ascii=False), c.problem)
         for obj in subscriptions for position, c in enumerate(obj.characteristics)],
    )
    storage.insert_ignore(
        conn, engaged_party_table, [column.name for column in engaged_party_table.columns],
        [(obj.id, position, customer) for obj in subscriptions for position, customer in enumerate(obj.engaged_party)],
    )


def receive(store: storage.Store, config: Config, body: bytes, *, content_type: str | None = None,
            remote_addr: str | None = None, reason: str | None = None,
            headers: list[list[str]] | None = None) -> Receipt:
    """``inventory-receiver reapply``: ERP messages are re-applied the AMQP way, from their dead-letter queue."""
    raise InvalidPayload(
        "an ERP message is re-applied by moving it from its dead-letter queue "
        f"(<queue>{config.dead_letter_suffix}) back to its queue once the cause is fixed; its body is also "
        "kept at GET /api/deliveries/<id>/body"
    )


# --- read API -----------------------------------------------------------------------------------------


def register(app: Flask, api: Blueprint, config: Config, store: storage.Store) -> None:
    """Add the customers and subscriptions read API (the state probe of docs/state-probe.md)."""
    if not config.enabled:
        return
    customers, subscriptions, links = customer_table, subscription_table, engaged_party_table

    @api.get("/erp/customers")
    def list_customers() -> Response:
        return _page(store, CUSTOMER, sa.select(customers))

    @api.get("/erp/customers/<customer_id>")
    def get_customer(customer_id: str) -> tuple[Response, int]:
        return _one(store, CUSTOMER, customer_id)

    @api.get("/erp/customers/<customer_id>/subscriptions")
    def list_customer_subscriptions(customer_id: str) -> tuple[Response, int]:
        linked = sa.select(links.c.subscription_id).where(links.c.customer_id == customer_id)
        with store.read() as conn:
            known = conn.execute(sa.select(customers.c.id).where(customers.c.id == customer_id)).first()
            named = conn.execute(linked.limit(1)).first()
        if known is None and named is None:
            abort(404, description=f"no customer {customer_id} and no subscription naming it in engagedParty")
        return _page(store, SUBSCRIPTION, sa.select(subscriptions).where(subscriptions.c.id.in_(linked))), 200

    @api.get("/erp/subscriptions")
    def list_subscriptions() -> Response:
        return _page(store, SUBSCRIPTION, sa.select(subscriptions))

    @api.get("/erp/subscriptions/<subscription_id>")
    def get_subscription(subscription_id: str) -> tuple[Response, int]:
        return _one(store, SUBSCRIPTION, subscription_id)


def _one(store: storage.Store, kind: ObjectKind, object_id: str) -> tuple[Response, int]:
    with store.read() as conn:
        row = conn.execute(sa.select(kind.table).where(kind.table.c.id == object_id)).first()
        if row is None:
            abort(404, description=f"no {kind.name} {object_id} received")
        return jsonify(_objects_json(conn, kind, [row])[0]), 200


def _page(store: storage.Store, kind: ObjectKind, query: sa.Select[Any]) -> Response:
    limit = int_arg("limit", 100, 1, 1000)
    query = query.order_by(kind.table.c.id).limit(limit + 1)
    if after := request.args.get("after"):
        query = query.where(kind.table.c.id > after)
    with store.read() as conn:
        rows = list(conn.execute(query))
        items = _objects_json(conn, kind, rows[:limit])
    return jsonify({"items": items, "next_after": items[-1]["id"] if len(rows) > limit else None})


def _objects_json(conn: Connection, kind: ObjectKind, rows: Sequence[sa.Row[Any]]) -> list[dict[str, Any]]:
    """Stored objects as the API shows them: the document as last received, plus what was read from it."""
    items = [{"id": row.id, "document": row.document, "deliveryId": row.delivery_id} for row in rows]
    if kind is not SUBSCRIPTION or not items:
        return items
    ids = [item["id"] for item in items]
    bag, parties = characteristic_table, engaged_party_table
    triplets: dict[str, list[dict[str, Any]]] = {i: [] for i in ids}
    for t in conn.execute(sa.select(bag).where(bag.c.subscription_id.in_(ids)).order_by(bag.c.position)):
        triplets[t.subscription_id].append(Characteristic(t.name, t.value_type, t.value, t.type, t.parsed,
                                                          t.problem).to_json())
    linked: dict[str, list[str]] = {i: [] for i in ids}
    for p in conn.execute(sa.select(parties).where(parties.c.subscription_id.in_(ids)).order_by(parties.c.position)):
        linked[p.subscription_id].append(p.customer_id)
    for item in items:
        item |= {"characteristics": triplets[item["id"]], "engagedParty": linked[item["id"]]}
    return items


# --- what the channel publishes (receiver/contracts.py builds the documents) ----------------------------

# What parse() refuses, and so dead-letters: a JSON object without a usable id. Everything else is kept
# (decision erp-1), so the documented properties are described, not constrained.
_ID = {
    "description": "The object's id (customerId or subscriptionId in the ERP); a number is stored by its string "
                   "form (134719 is \"134719\").",
    "anyOf": [{"type": "string", "minLength": 1, "maxLength": storage.KEY_TEXT_MAX,
               "pattern": "^[^\\u0000]*\\S[^\\u0000]*$"}, {"type": "number"}],
}
_BEYOND = (
    "the message is UTF-8 JSON: anything else is dead-lettered (erp-3)",
    "each message is the full state of its object: the last one received for (queue, id) is held, the same state "
    "again changes nothing (erp-1)",
)
CUSTOMER_SCHEMA: dict[str, Any] = {
    "type": "object", "required": ["id"],
    "properties": {
        "id": _ID,
        "status": {"description": "`status` can be `Active` or `Passive`.", "examples": ["Active", "Passive"]},
        "name": {"description": "The customer's name (UTF-8, Turkish letters included)."},
        "contactMedium": {"description": "Contact media, each with a `characteristic` object (city, country, "
                          "phoneNumber, socialNetworkId, street1, …)."},
    },
}
SUBSCRIPTION_SCHEMA: dict[str, Any] = {
    "type": "object", "required": ["id"],
    "properties": {
        "id": _ID,
        "agreementType": {"examples": ["Kiralama"]},
        "documentNumber": {"description": "A string in the example; an integer in TM Forum's TMF651.",
                           "examples": ["108999"]},
        "name": {}, "status": {"examples": ["Active"]},
        "characteristic": {"description": "The ERP property bag: {name, valueType, value} triplets; valueType is "
                           "free text (String, Date, Float, …), read case-insensitively, and a value that does not "
                           "parse keeps its raw string (decision erp-2). Parsed defensively: a bag of another shape "
                           "is kept in the document with a warning."},
        "properties": {"description": "The document's other name for the characteristic bag (decision erp-2)."},
        "completionDate": {"description": "{startDateTime, endDateTime}"},
        "engagedParty": {"description": "[{id}]: the customerIds this subscription belongs to (decision erp-2)."},
    },
}
PAYLOADS: dict[str, Payload] = {
    "erp-customer": Payload(CUSTOMER_SCHEMA, "ERP customer change",
                            "Emitted when a customer is created/updated/deactivated in ERP (queue "
                            "secom-customer-queue). The object MAY include additional customer attributes: they are "
                            "kept (decision erp-1).",
                            examples=("document-customer-example",), beyond=_BEYOND),
    "erp-subscription": Payload(SUBSCRIPTION_SCHEMA, "ERP subscription change",
                                "Emitted when a subscription/agreement changes state or details in ERP (queue "
                                "secom-subscriptions-queue). Unknown properties are kept (decision erp-1).",
                                examples=("document-subscription-example",), beyond=_BEYOND),
}

_HELD: dict[str, Any] = {"type": "object", "required": ["id", "document", "deliveryId"],
         "properties": {"id": {"type": "string"}, "document": {"type": "object", "description": "the object "
                                                               "exactly as last received"},
                        "deliveryId": {"type": "integer"}}}
_CHARACTERISTIC = {"type": "object", "required": ["name", "valueType", "value", "type", "parsed", "problem"],
                   "properties": {"name": {"type": "string"}, "valueType": {"type": ["string", "null"]},
                                  "value": {"type": ["string", "null"]},
                                  "type": {"enum": [*sorted({v.name for v in VALUE_TYPES.values()}), None]},
                                  "parsed": {}, "problem": {"type": ["string", "null"]}}}
HELD_SUBSCRIPTION = {**_HELD, "required": [*_HELD["required"], "characteristics", "engagedParty"],
                     "properties": {**_HELD["properties"],
                                    "characteristics": {"type": "array", "items": _CHARACTERISTIC},
                                    "engagedParty": {"type": "array", "items": {"type": "string"}}}}
_CUSTOMER_EXAMPLE = {"id": "134719", "document": {"id": "134719", "status": "Active", "name": "Customer Name Here"},
                     "deliveryId": 41}
_SUBSCRIPTION_EXAMPLE = {"id": "123462", "document": {"id": "123462", "agreementType": "Kiralama"}, "deliveryId": 42,
                         "characteristics": [{"name": "MONTAGE_DATE", "valueType": "Date", "value": "2021-08-16",
                                              "type": "date", "parsed": "2021-08-16", "problem": None}],
                         "engagedParty": ["134719"]}


def _list(items: dict[str, Any]) -> dict[str, Any]:
    return {"type": "object", "required": ["items", "next_after"],
            "properties": {"items": {"type": "array", "items": items}, "next_after": {"type": ["string", "null"]}}}


def _first(operation_id: str) -> dict[str, dict[str, Any]]:
    return {"GetFirst": {"operationId": operation_id, "parameters": {"id": "$response.body#/items/0/id"},
                         "description": "the page's first object"}}


def contract(config: Config | None) -> Contract:
    """The ERP's read routes (its messages are in the AsyncAPI document, receiver/contracts.py)."""
    page = (limit_parameter(100, 1000),
            query_parameter("after", {"type": "string"}, "the last id of the previous page"))
    customer_id = path_parameter("id", {"type": "string"}, "the customerId (a number by its string form)")
    subscription_id = path_parameter("id", {"type": "string"}, "the subscriptionId")
    return Contract("ERP push notifications", "What the ERP consumer stored from the two queues (erp-amqp-push.md).", [
        Operation("get", "/erp/customers", "list_erp_customers", "List the customers held", "Paged by id.",
                  _list(_HELD), {"items": [_CUSTOMER_EXAMPLE], "next_after": None}, (400, 401), read=True,
                  parameters=page, links=_first("get_erp_customer")),
        Operation("get", "/erp/customers/{id}", "get_erp_customer", "One customer (state probe)",
                  "The last full state received for this id; 404 when it was never received.",
                  _HELD, _CUSTOMER_EXAMPLE, (401, 404), read=True, probe=True, parameters=(customer_id,)),
        Operation("get", "/erp/customers/{id}/subscriptions", "list_erp_customer_subscriptions",
                  "The subscriptions naming a customer", "404 when neither the customer nor a subscription naming it "
                  "in engagedParty was received.", _list(HELD_SUBSCRIPTION),
                  {"items": [_SUBSCRIPTION_EXAMPLE], "next_after": None}, (400, 401, 404), read=True,
                  parameters=(customer_id, *page)),
        Operation("get", "/erp/subscriptions", "list_erp_subscriptions", "List the subscriptions held",
                  "Paged by id.", _list(HELD_SUBSCRIPTION), {"items": [_SUBSCRIPTION_EXAMPLE], "next_after": None},
                  (400, 401), read=True, parameters=page, links=_first("get_erp_subscription")),
        Operation("get", "/erp/subscriptions/{id}", "get_erp_subscription", "One subscription (state probe)",
                  "The last full state received, its characteristic bag as read, and the customers it names; 404 "
                  "when it was never received.", HELD_SUBSCRIPTION, _SUBSCRIPTION_EXAMPLE, (401, 404), read=True,
                  probe=True, parameters=(subscription_id,)),
    ], payloads=PAYLOADS)
