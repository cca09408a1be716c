"""The stock push channel (stock-push.rst, decisions.md stock-*).

The aviation parts marketplace POSTs the stock entries changed since its last transmission as one
columnar JSON object ``{"data": {column: [values...]}}`` (row i is the i-th value of every column), with
``dbAction`` ADD/UPD/DEL per row. This module is the whole channel: its ``[stock]`` section, the columns
and their types (written once: the validation and the table both come from them), the validation (one
marshmallow field per column, each checking its whole array at once), the warnings, the idempotent
apply, the HTTP endpoint and the read routes. It needs only ``errors``, ``storage`` and ``web``.
"""

from __future__ import annotations

import json
import logging
import re
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from itertools import islice, repeat
from typing import Any, ClassVar

import sqlalchemy as sa
from flask import Blueprint, Flask, Response, abort, jsonify, request
from marshmallow import EXCLUDE, Schema, ValidationError, fields, pre_load, validates_schema

from .. import storage
from ..errors import ConfigError, InvalidPayload, shown
from ..web import (
    HEADER_NAME_CHARS,
    Contract,
    Operation,
    Payload,
    Receipt,
    add_push_endpoint,
    date_pattern,
    int_arg,
    limit_parameter,
    parse_json_sharing,
    path_parameter,
    query_parameter,
    receipt_schema,
    require_headers,
)

log = logging.getLogger(__name__)

NAME = "stock"
MiB = 1024 * 1024


@dataclass(frozen=True)
class Config:
    """``[stock]``: the aviation marketplace's stock push (stock-push.rst)."""

    SECRETS: ClassVar[tuple[str, ...]] = ("credential_headers",)

    # Every channel is off until enabled: a receiver exposes only the endpoints its owner asked for.
    enabled: bool = False
    path: str = "/stock-push"
    # Header name → expected value. All are required; the customer chose them when registering.
    credential_headers: dict[str, str] = field(default_factory=dict)
    # 100,000 generated rows are about 26 MiB of compact JSON (bench.stock measures it).
    max_body_bytes: int = 64 * MiB

    def validate(self) -> None:
        if not self.enabled:
            return
        if not self.path.startswith("/"):
            raise ConfigError("[stock] path must start with '/'")
        if not self.credential_headers:
            raise ConfigError(
                "[stock] credential_headers is empty: the stock-push document requires the endpoint to be "
                "secured with credentials in header fields; set them in the file or in "
                "RECEIVER_STOCK_CREDENTIAL_HEADERS as a JSON object"
            )
        for name, value in self.credential_headers.items():
            if not name.strip() or not value:
                raise ConfigError(f"[stock] credential header {name!r} needs a non-empty name and value")
            if not set(name) <= HEADER_NAME_CHARS:
                raise ConfigError(f"[stock] credential header name {name!r} cannot be sent: use letters, digits "
                                  "and '-' (a '_' makes gunicorn drop the header, so every push would be 401)")
        if self.max_body_bytes < 1024:
            raise ConfigError("[stock] max_body_bytes must be at least 1024")


# --- the values of one column ------------------------------------------------------------------------

# The document's own example writes part numbers and dates with U+2011 (non-breaking hyphen):
# every dash of the Unicode dash family is read as "-" in dates and codes.
DASHES = str.maketrans(dict.fromkeys("\u2010\u2011\u2012\u2013\u2014\u2015\u2212\ufe58\ufe63\uff0d", "-"))
UUID_RE = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
UUIDS_RE = re.compile(r"(?:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\n)*")
DB_ACTIONS = ("ADD", "UPD", "DEL")


def _dashes(value: str) -> str:
    return value if value.isascii() else value.translate(DASHES)


@dataclass(frozen=True)
class Kind:
    """A column type of the document's table: what a valid value is and how it is stored.

    A push can carry 100,000 rows, so a column is checked as a whole: one pass over the Python types,
    then the conversion runs once per distinct value, or not at all when ``canonical`` shows the whole
    column is already in its stored form.
    """

    name: str  # as the error messages say it: "a date (YYYY-MM-DD)"
    types: tuple[type, ...]  # the JSON types accepted (null is decided by the column)
    sql: Any  # the stored column's type
    convert: Callable[[Any], Any] | None = None  # normalise/parse one value; ValueError when invalid
    canonical: Callable[[list[Any]], bool] | None = None  # whole column already stored as is?
    max_length: int | None = None  # a key or indexed text column (storage.KEY_TEXT_MAX)
    # One value as JSON Schema says it (the published documents): what check() accepts, as far as a
    # schema can tell (a real calendar day is beyond it).
    schema: dict[str, Any] = field(default_factory=dict)

    def check(self, values: list[Any], nullable: bool) -> tuple[list[Any], dict[int, list[str]]]:
        """The stored values of a whole column and the problems by row index."""
        allowed = (*self.types, type(None)) if nullable else self.types
        errors: dict[int, list[str]] = {}
        types = set(map(type, values))
        if not types.issubset(allowed):  # the common case costs one pass in C
            errors = {
                i: ["Missing value: required on every row." if v is None else f"Not {self.name}: {shown(v)}."]
                for i, v in enumerate(values) if type(v) not in allowed
            }
        if str in self.types:
            self._storable(values, errors, types)
        if self.convert is None:
            return values, errors
        present = [v for i, v in enumerate(values) if i not in errors] if errors else values
        if self.canonical is not None and not errors and self.canonical(
                [v for v in present if v is not None] if type(None) in types else present):
            return values, errors
        converted: dict[Any, Any] = {}
        for value in set(present) - {None}:
            try:
                converted[value] = self.convert(value)
            except ValueError:
                converted[value] = _INVALID
        if _INVALID in converted.values():
            for i, v in enumerate(values):
                if i not in errors and v is not None and converted[v] is _INVALID:
                    errors[i] = [f"Not {self.name}: {shown(v)}."]
        if all(converted[v] == v for v in converted):
            return values, errors
        return [None if v is None or i in errors else converted[v] for i, v in enumerate(values)], errors

    def _storable(self, values: list[Any], errors: dict[int, list[str]], types: set[type]) -> None:
        """Text the store cannot hold (a NUL; too long for a key or index) is a problem of its row."""
        if types == {str}:
            strings = values
        elif types <= {str, type(None)}:  # strings and nulls: filter in C (an empty string is storable)
            strings = list(filter(None, values))
        else:
            strings = [v for v in values if type(v) is str]
        too_long = self.max_length is not None and bool(strings) and max(map(len, strings)) > self.max_length
        if not too_long and "\x00" not in "".join(strings):  # the common case: two passes in C
            return
        for i, v in enumerate(values):
            if i not in errors and type(v) is str and (problem := storage.text_problem(v, self.max_length)):
                errors[i] = [problem]


_INVALID = object()


def _ascii(values: list[str]) -> bool:
    return "".join(values).isascii()


def _uuids_canonical(values: list[str]) -> bool:
    # One regular-expression match over the whole column instead of one per row.
    return UUIDS_RE.fullmatch("\n".join(values) + "\n") is not None


INT_RANGE = range(-(2**31), 2**31)  # the stored INTEGER columns (int4 on PostgreSQL)
MAX_NUMBER = 1e14  # priceUsd and quantity: NUMERIC(18, 4) on PostgreSQL
DATE_RE = re.compile(r"\d{4}-\d{2}-\d{2}")
TIMESTAMP_RE = re.compile(r"\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}:\d{2}")


def _integer(value: int | float) -> int:
    if type(value) is float and not value.is_integer():
        raise ValueError(value)
    if int(value) not in INT_RANGE:
        raise ValueError(value)
    return int(value)


def _integers_in_range(values: list[Any]) -> bool:
    return set(map(type, values)) <= {int} and (not values or INT_RANGE.start <= min(values)
                                                and max(values) < INT_RANGE.stop)


def _numbers_in_range(values: list[Any]) -> bool:
    return not values or (min(values) > -MAX_NUMBER and max(values) < MAX_NUMBER)


def _number(value: int | float) -> int | float:
    if not -MAX_NUMBER < value < MAX_NUMBER:
        raise ValueError(value)
    return value


def _date(value: str) -> str:
    text = _dashes(value)
    if not DATE_RE.fullmatch(text):
        raise ValueError(value)
    return date.fromisoformat(text).isoformat()


def _timestamp(value: str) -> str:
    text = _dashes(value)
    if not TIMESTAMP_RE.fullmatch(text):  # no zone, no fraction: the document's format
        raise ValueError(value)
    return datetime.fromisoformat(text).strftime("%Y-%m-%d %H:%M:%S")


def _uuid(value: str) -> str:
    text = _dashes(value)
    if not UUID_RE.fullmatch(text):
        raise ValueError(value)
    return text.lower()


def _db_action(value: str) -> str:
    action = value.upper()  # case-insensitive (decision stock-2); nothing else is read as a dbAction
    if action not in DB_ACTIONS:
        raise ValueError(value)
    return action


def _upper_code(value: str) -> str:
    return _dashes(value).strip().upper()


STRING, NUMBERS = (str,), (int, float)
# What JSON Schema can say of the dash family: any of its members where a date or a UUID has "-".
_D = "[-" + "".join(sorted(set("\u2010\u2011\u2012\u2013\u2014\u2015\u2212\ufe58\ufe63\uff0d"))) + "]"
_DAY = date_pattern(_D)  # a calendar day, any dash
_HEX = "[0-9a-fA-F]"
_TEXT = {"type": "string", "pattern": r"^[^\u0000]*$"}  # no NUL: no text column holds one
TEXT = Kind("a string", STRING, sa.Text, schema=_TEXT)
CODE = Kind("a string", STRING, sa.Text, _dashes, _ascii, schema=_TEXT)
INDEXED_CODE = Kind("a string", STRING, sa.Text, _dashes, _ascii, max_length=storage.KEY_TEXT_MAX,
                    schema={**_TEXT, "maxLength": storage.KEY_TEXT_MAX})
UPPER_CODE = Kind("a string", STRING, sa.Text, _upper_code, schema=_TEXT)
INTEGER = Kind("an integer (32-bit)", NUMBERS, sa.Integer, _integer, _integers_in_range,
               schema={"type": "integer", "minimum": INT_RANGE.start, "maximum": INT_RANGE.stop - 1})
NUMBER = Kind("a number (below 10^14)", NUMBERS, storage.Decimal, _number, _numbers_in_range,
              schema={"type": "number", "exclusiveMinimum": -MAX_NUMBER, "exclusiveMaximum": MAX_NUMBER})
BOOLEAN = Kind("a boolean (true or false)", (bool,), sa.Boolean, schema={"type": "boolean"})
DATE = Kind("a date (YYYY-MM-DD)", STRING, storage.Date, _date,
            schema={"type": "string", "pattern": f"^{_DAY}$", "examples": ["2018-01-01"]})
TIMESTAMP = Kind("a date and time (YYYY-MM-DD HH:MM:SS)", STRING, storage.Timestamp, _timestamp,
                 schema={"type": "string", "pattern": f"^{_DAY}[ T]([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9]$",
                         "examples": ["2018-01-01 14:56:23"]})
UUID = Kind("a UUID (character(36))", STRING, sa.String(36), _uuid, _uuids_canonical,
            schema={"type": "string", "pattern": f"^{_HEX}{{8}}{_D}{_HEX}{{4}}{_D}{_HEX}{{4}}{_D}{_HEX}{{4}}{_D}"
                    f"{_HEX}{{12}}$", "examples": ["6f95cd10-c8bb-4381-8b68-a255571aa2f0"]})
DB_ACTION = Kind("ADD, UPD or DEL", STRING, sa.String(3), _db_action,
                 schema={"type": "string", "pattern": "^([Aa][Dd][Dd]|[Uu][Pp][Dd]|[Dd][Ee][Ll])$",
                         "examples": list(DB_ACTIONS)})

# The document's data definition, in its order: column → (kind, required on every row).
# The stored column of each is its snake_case name (connectorStockId → connector_stock_id).
COLUMNS: dict[str, tuple[Kind, bool]] = {
    "connectorStockId": (UUID, True),
    "materialId": (CODE, False),
    "pn": (INDEXED_CODE, False),  # indexed: the read API finds entries by part number
    "description": (TEXT, False),
    "condition": (UPPER_CODE, False),
    "priceUsd": (NUMBER, False),
    "sn": (CODE, False),
    "mfr": (CODE, False),
    "mroApprovalNo": (CODE, False),
    "mroName": (TEXT, False),
    "leadTime": (INTEGER, False),
    "tagDate": (DATE, False),
    "lastOperator": (TEXT, False),
    "lastMsn": (CODE, False),
    "incidentRelated": (BOOLEAN, False),
    # "used if unit is length": fractional for length units, so any number.
    "quantity": (NUMBER, False),
    "unit": (CODE, False),
    "dateOfManufacture": (DATE, False),
    "timeRemaining": (INTEGER, False),
    "cyclesRemaining": (INTEGER, False),
    "shelfLife": (DATE, False),
    "location": (CODE, False),
    "company": (TEXT, False),
    # Required: without it the receiver cannot tell an old change from a new one.
    "timeStampEntry": (TIMESTAMP, True),
    "dbAction": (DB_ACTION, True),
}
KEY = "connectorStockId"
ALIAS = "internalStockId"  # the document's text names the key so; no such column exists

# The document's own description of each column (its data definition, "Description"), for the
# published schema.
DESCRIPTIONS = {
    "connectorStockId": "Internal platform stock ID", "materialId": "Internal platform material ID, i.e., part "
    "number stripped of any special characters", "pn": "Part number", "description": "Part description",
    "condition": 'See chapter "Valid values" section "Condition"', "priceUsd": "Price in USD",
    "sn": "Serial number", "mfr": "Manufacturer", "mroApprovalNo": "MRO approval number", "mroName": "MRO name",
    "leadTime": "Shipping time in days", "tagDate": "Tag date", "lastOperator": "Last Operator",
    "lastMsn": "Last MSN", "incidentRelated": "Was the corresponding aircraft incident related?",
    "quantity": "Quantity of parts (used if unit is length)",
    "unit": 'See chapter "Valid values" section "Unit of Measure"',
    "dateOfManufacture": "Date of manufacture of current part",
    "timeRemaining": "Remaining life time in days for the current part",
    "cyclesRemaining": "Remaining cycles for the current part", "shelfLife": "Shelf life expiration date",
    "location": "IATA 3-letter-code of closest airport to actual material location.",
    "company": "Uploading company", "timeStampEntry": "Time of database entry",
    "dbAction": "Action why this entry is considered as updated. For a specification of allowed values see below.",
}


def snake(name: str) -> str:
    return re.sub(r"(?<=[a-z0-9])([A-Z])", r"_\1", name).lower()


# Stock entries by connectorStockId, one column per document column; DEL leaves a tombstone (db_action
# = 'DEL') so that a late, older ADD or UPD cannot bring a removed entry back.
table = sa.Table(
    "stock",
    storage.metadata,
    *(sa.Column(snake(name), kind.sql, primary_key=name == KEY, nullable=not required)
      for name, (kind, required) in COLUMNS.items()),
    sa.Column("extra", sa.JSON),  # columns the document does not define, kept as received
    sa.Column("delivery_id", storage.Id, nullable=False),  # the delivery that last changed this entry
    sa.Index("ix_stock_pn", "pn"),
)
STORED = [column.name for column in table.columns]  # the order of StockPush.rows()

# Code tables (decisions.md stock-*). Unknown values are kept and reported as warnings, never rejected.
CONDITIONS = {"NE", "NS", "FN", "OH", "SV", "AR", "RP", "IN", "MD", "US", "BER", "SCR", "CR", "INS"}
UNITS = {"EA", "EACH", "KG", "G", "LB", "FT", "IN", "M", "CM", "MM", "YD", "L", "ML", "GAL", "QT", "PT",
         "OZ", "PR", "PC", "PCS", "SET", "KT", "KIT", "RL", "SH", "BX", "CN", "TU", "BT", "CA", "DZ", "HR"}
IATA_RE = re.compile(r"[A-Z]{3}")


def _unit_known(value: str) -> bool:
    return value.upper() in UNITS


def _iata(value: str) -> bool:
    return IATA_RE.fullmatch(value) is not None


MAX_WARNED_VALUES = 100  # per column: a push can carry 100,000 distinct unknown values

WARNINGS: dict[str, tuple[Callable[[str], bool], str]] = {
    "condition": (CONDITIONS.__contains__, "not a known condition code (kept as sent)"),
    "unit": (_unit_known, "not a known unit of measure (kept as sent)"),
    "location": (_iata, "not an IATA 3-letter airport code (kept as sent)"),
}


# --- the body -------------------------------------------------------------------------------------


class Column(fields.Field):
    """One column of the columnar body: an array with one value per row, checked as a whole."""

    def __init__(self, kind: Kind, *, nullable: bool, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.kind = kind
        self.nullable = nullable

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> list[Any]:
        if not isinstance(value, list):
            raise ValidationError(f"Not an array: every column is an array of one value per row, "
                                  f"got {type(value).__name__}.")
        values, errors = self.kind.check(value, self.nullable)
        if errors:
            raise ValidationError(errors)
        return values


EXTRA = "\x00extra"  # where pre_load puts the columns the document does not define (no JSON key clashes)


class _ColumnChecks(Schema):
    """``data``: one array per column, all of the same length; unknown columns kept."""

    class Meta:
        unknown = EXCLUDE  # pre_load has moved every unknown column into EXTRA

    error_messages = {"type": "Not an object: data must map each column name to an array of values."}
    extra = fields.Dict(data_key=EXTRA, load_default=dict)

    @pre_load
    def alias_key_and_extra_columns(self, data: Any, **_: Any) -> Any:
        if not isinstance(data, dict):
            return data
        data = dict(data)
        if ALIAS in data:
            alias = data.pop(ALIAS)
            if KEY not in data:
                data[KEY] = alias
            elif data[KEY] != alias:
                raise ValidationError({ALIAS: [f"Differs from {KEY}: send one of the two, or equal ones."]})
        data[EXTRA] = {name: data.pop(name) for name in list(data) if name not in COLUMNS}
        return data

    @validates_schema(skip_on_field_errors=False, pass_original=True)
    def same_length(self, data: dict[str, Any], original: Any, **_: Any) -> None:
        # Lengths come from the body as sent, so a column with bad values is measured too.
        if not isinstance(original, dict):
            return
        sent = {KEY if name == ALIAS else name: v for name, v in original.items()}
        lengths = {name: len(v) for name, v in sent.items() if isinstance(v, list)}
        errors = {name: ["Not an array: every column is an array of one value per row."]
                  for name, v in sent.items() if name not in COLUMNS and not isinstance(v, list)}
        key_length = lengths.get(KEY)
        if key_length is None:
            key_length = Counter(lengths.values()).most_common(1)[0][0] if lengths else 0
        for name, length in lengths.items():
            if length != key_length:
                errors[name] = [f"Has {length} values where {KEY} has {key_length}: "
                                f"every column needs one value per row."]
        if errors:
            raise ValidationError(errors)


# One field per column of the document's table, written once, from COLUMNS.
ColumnsSchema = _ColumnChecks.from_dict(
    {
        snake(name): Column(kind, nullable=not required, data_key=name, required=required,
                            error_messages={"required": f"Missing column: every push must carry {name}."})
        for name, (kind, required) in COLUMNS.items()
    },
    name="ColumnsSchema",
)


class StockPushSchema(Schema):
    """The whole body: ``{"data": {column: [values...]}}``."""

    error_messages = {"type": 'Not an object: the body must be {"data": {column: [values...]}}.'}
    # marshmallow formats a field's messages: braces are doubled there.
    data = fields.Nested(ColumnsSchema, required=True, error_messages={
        "required": 'Missing "data": the body must be {{"data": {{column: [values...]}}}}.'})


PUSH_SCHEMA = StockPushSchema()


@dataclass
class StockPush:
    """A validated push: stored columns by stored name, unknown columns, and warnings."""

    columns: dict[str, list[Any]]
    extra: dict[str, list[Any]]
    warnings: list[dict[str, Any]] = field(default_factory=list)

    @property
    def size(self) -> int:
        return len(self.columns[snake(KEY)])

    def rows(self, delivery_id: int) -> list[tuple[Any, ...]]:
        """Row tuples in ``STORED`` order, in the push's own order."""
        n = self.size
        stored = [self.columns.get(snake(name)) or list(repeat(None, n)) for name in COLUMNS]
        if self.extra:
            names = list(self.extra)
            extra: Iterable[Any] = (
                json.dumps(dict(zip(names, values, strict=True)), ensure_ascii=False)
                for values in zip(*self.extra.values(), strict=True)
            )
        else:
            extra = repeat(None, n)
        return list(zip(*stored, extra, repeat(delivery_id, n), strict=False))


def validate(document: Any) -> StockPush:
    """Check a parsed body against the document; every problem is reported, by column and row."""
    try:
        loaded = PUSH_SCHEMA.load(document)
    except ValidationError as exc:
        raise InvalidPayload.from_messages(exc.messages, "the push") from None
    data = loaded["data"]
    extra = data.pop("extra")
    push = StockPush(data, extra)
    push.warnings = _warnings(push)
    return push


def _warnings(push: StockPush) -> list[dict[str, Any]]:
    """Codes outside the known tables, grouped by column and value (a push can have 100,000 rows)."""
    found: list[dict[str, Any]] = []
    for name in COLUMNS:
        if snake(name) not in push.columns:
            found.append({"column": name, "message": "column not sent: stored as null on every row"})
    for name, (known, message) in WARNINGS.items():
        values = push.columns.get(name, [])
        unknown = {value for value in set(values) if value is not None and not known(value)}
        rows_by_value: dict[str, list[int]] = {}
        if unknown:
            for i, value in enumerate(values):
                if value in unknown:
                    rows_by_value.setdefault(value, []).append(i)
        for value, rows in list(rows_by_value.items())[:MAX_WARNED_VALUES]:
            found.append({"column": name, "value": value, "message": message,
                          "rows": len(rows), "first_rows": rows[:10]})
        if len(rows_by_value) > MAX_WARNED_VALUES:
            found.append({"column": name, "message": f"{len(rows_by_value) - MAX_WARNED_VALUES} more values "
                          f"{message}", "rows": sum(map(len, list(rows_by_value.values())[MAX_WARNED_VALUES:]))})
    for name in push.extra:
        found.append({"column": name, "message": "column not in the document: kept as sent"})
    return found


# --- applying a push ------------------------------------------------------------------------------


def apply(store: storage.Store, push: StockPush, body: bytes, *, content_type: str | None = None,
          remote_addr: str | None = None, reason: str | None = None,
          headers: list[list[str]] | None = None) -> Receipt:
    """Apply one push in one transaction: ADD/UPD upsert, DEL leaves a tombstone, rows in order, and
    a change older than the stored one (by timeStampEntry) never overwrites it. A body already
    applied is recorded as a duplicate and changes nothing."""
    actions = Counter(push.columns[snake("dbAction")])
    counts = {"received": push.size, "add": actions["ADD"], "upd": actions["UPD"], "del": actions["DEL"]}
    digest = storage.sha256(body)
    with store.write() as conn:
        delivery = storage.record_delivery(
            conn, channel=NAME, outcome="accepted", status=200, reason=reason, body=body,
            body_sha256=digest, content_type=content_type, remote_addr=remote_addr, warnings=push.warnings,
            headers=headers,
        )
        first = storage.claim_digest(conn, NAME, digest, delivery)
        if first is not None:
            counts |= {"applied": 0, "stale": 0}
            storage.update_delivery(conn, delivery, outcome="duplicate", counts=counts,
                                    reason=f"same body as delivery {first}: nothing changed")
            return Receipt("duplicate", delivery, counts, push.warnings, original_delivery=first)
        applied = storage.upsert_rows(conn, table, STORED, push.rows(delivery),
                                      newer_or_equal="time_stamp_entry")
        counts |= {"applied": applied, "stale": push.size - applied}
        storage.update_delivery(conn, delivery, counts=counts)
        storage.record_details(conn, delivery, changes=_changes(conn, push, delivery, counts["stale"]))
    return Receipt("accepted", delivery, counts, push.warnings)


def _changes(conn: sa.Connection, push: StockPush, delivery: int, stale: int) -> dict[str, Any]:
    """What the inspector shows a push changed: the first rows of each dbAction, and the rows skipped as
    older than the stored entry (looked up only when there are some), each ``{"row", "key"}``, capped."""
    cap = storage.MAX_DETAILED
    keys, actions = push.columns[snake(KEY)], push.columns[snake("dbAction")]
    sent = set(actions)
    # Each action's first rows: a scan that stops at the cap, and none for an action the push lacks.
    by_action: dict[str, list[dict[str, Any]]] = {
        action: [{"row": row, "key": keys[row]} for row in islice(
            (i for i, a in enumerate(actions) if a == action), cap)] if action in sent else []
        for action in DB_ACTIONS}
    older: list[dict[str, Any]] = []
    if stale:
        row_of = {key: row for row, key in reversed(list(enumerate(keys)))}
        ordered = list(row_of)
        for start in range(0, len(ordered), 5000):
            chunk = ordered[start:start + 5000]
            query = sa.select(table.c.connector_stock_id).where(
                table.c.connector_stock_id.in_(chunk), table.c.delivery_id != delivery)
            older.extend({"row": row_of[key], "key": key} for key in conn.execute(query).scalars())
            if len(older) >= cap:
                break
        older.sort(key=lambda item: item["row"])
    return {"rows": by_action, "older": older[:cap]}


def receive(store: storage.Store, config: Config, body: bytes, *, content_type: str | None = None,
            remote_addr: str | None = None, reason: str | None = None,
            headers: list[list[str]] | None = None) -> Receipt:
    """Parse, validate and apply one body: the transport-free core of the channel (the endpoint's, and
    ``inventory-receiver reapply``'s). The body is parsed with its columns' equal values shared: a push
    of 100,000 rows then holds a third of the memory (web.parse_json_sharing)."""
    return apply(store, validate(parse_json_sharing(body)), body, content_type=content_type, remote_addr=remote_addr,
                 reason=reason, headers=headers)


# --- HTTP -------------------------------------------------------------------------------------------


def register(app: Flask, api: Blueprint, config: Config, store: storage.Store) -> None:
    """Add the push endpoint and the stock read routes."""
    if not config.enabled:
        return
    add_push_endpoint(
        app, [config.path], "stock_push", channel=NAME, store=store, max_body_bytes=config.max_body_bytes,
        authenticate=lambda: require_headers(config.credential_headers),
        receive=lambda body, **request: receive(store, config, body, **request))

    @api.get("/stock")
    def list_stock() -> Response:
        limit = int_arg("limit", 100, 1, 1000)
        query = sa.select(table).order_by(table.c.connector_stock_id).limit(limit + 1)
        if pn := request.args.get("pn"):
            query = query.where(table.c.pn == _dashes(pn))
        if after := request.args.get("after"):
            query = query.where(table.c.connector_stock_id > after.lower())
        if request.args.get("include_deleted", "").lower() not in {"1", "true", "yes"}:
            query = query.where(table.c.db_action != "DEL")
        with store.read() as conn:
            rows = list(conn.execute(query))
        items = [entry_json(row) for row in rows[:limit]]
        next_after = items[-1][KEY] if len(rows) > limit else None
        return jsonify({"items": items, "next_after": next_after})

    @api.get("/stock/<connector_stock_id>")
    def get_stock(connector_stock_id: str) -> tuple[Response, int]:
        with store.read() as conn:
            row = conn.execute(
                sa.select(table).where(table.c.connector_stock_id == connector_stock_id.lower())
            ).first()
        if row is None:
            abort(404, description=f"no stock entry {connector_stock_id} received")
        if row.db_action == "DEL":
            abort(404, description=f"stock entry {connector_stock_id} was deleted (the list shows it with "
                                   "include_deleted=1)")
        return jsonify(entry_json(row)), 200


def entry_json(row: sa.Row[Any]) -> dict[str, Any]:
    """A stored entry in the document's own field names (plus ``deliveryId``, the last change)."""
    mapping = row._mapping
    entry: dict[str, Any] = {}
    for name in COLUMNS:
        value = mapping[snake(name)]
        if isinstance(value, datetime):
            value = value.strftime("%Y-%m-%d %H:%M:%S")
        elif isinstance(value, date):
            value = value.isoformat()
        entry[name] = value
    entry.update(mapping["extra"] or {})
    entry["deliveryId"] = mapping["delivery_id"]
    return entry


# --- what the channel publishes (receiver/contracts.py builds the documents) ----------------------------


def column_schema(name: str) -> dict[str, Any]:
    """One column of the body: an array of one value per row, of the column's kind (null allowed where
    the column is optional)."""
    kind, required = COLUMNS[name]
    item = dict(kind.schema)
    if not required:
        item["type"] = [item["type"], "null"]
    return {"type": "array", "items": item, "description": DESCRIPTIONS[name]}


def push_schema() -> dict[str, Any]:
    """The body as JSON Schema, from ``COLUMNS``: the document's data definition, columnar."""
    columns = {name: column_schema(name) for name in COLUMNS}
    columns[ALIAS] = {**columns[KEY], "description": f"The document's text calls the key so: an alias of {KEY} "
                      "(decision stock-1)."}
    data = {
        "type": "object",
        "description": "One array per column; row i is the i-th value of every array. Columns the document does "
                       "not define are kept as sent (arrays too).",
        "properties": columns,
        "required": [name for name, (_, required) in COLUMNS.items() if required and name != KEY],
        "anyOf": [{"required": [KEY]}, {"required": [ALIAS]}],
        "additionalProperties": {"type": "array"},
    }
    return {"type": "object", "required": ["data"], "properties": {"data": data}, "additionalProperties": False}


PUSH_PAYLOAD = Payload(
    push_schema(), "Stock push",
    "The stock entries changed on the platform since its last transmission (stock-push.rst, \"Data "
    "definition\"), columnar. Codes outside the known tables (condition, unit, a location that is not an IATA "
    "code) are kept and reported as warnings, never refused (decision stock-3).",
    examples=("document-example",),
    beyond=(
        "every column has as many values as connectorStockId: arrays of unequal length reject the push (stock-4)",
        "internalStockId and connectorStockId, when both are sent, are equal (stock-1)",
        "a dash of the Unicode family (the example's U+2011) is read as \"-\" in dates, UUIDs and codes: the "
        "patterns accept any of them, the receiver stores \"-\" (stock-2)",
        "an older change (by timeStampEntry) never overwrites a newer one, and DEL removes for good (stock-5)",
        "a push received before is recognised and changes nothing (stock-5)",
    ),
)

ROWS = {"type": "object", "required": ["received", "add", "upd", "del", "applied", "stale"],
        "properties": {"received": {"type": "integer"}, "add": {"type": "integer"}, "upd": {"type": "integer"},
                       "del": {"type": "integer"},
                       "applied": {"type": "integer", "description": "rows that changed the stock"},
                       "stale": {"type": "integer", "description": "rows older than what is held: not applied"}}}
STOCK_ENTRY = {
    "type": "object",
    "description": "A stock entry as held: every column of the document by its name, columns the document does "
                   "not define as sent, and deliveryId, the delivery that last changed it.",
    "required": [*COLUMNS, "deliveryId"],
    "properties": {**{name: column_schema(name)["items"] | {"description": DESCRIPTIONS[name]} for name in COLUMNS},
                   "deliveryId": {"type": "integer"}},
}
_ENTRY_EXAMPLE = {"connectorStockId": "6f95cd10-c8bb-4381-8b68-a255571aa2f0", "materialId": "PN1234",
                  "pn": "PN-1234", "description": "Fuel pump", "condition": "OH", "priceUsd": 1000.0, "sn": "SN001",
                  "mfr": "MFR001", "mroApprovalNo": None, "mroName": "OPREMIC SOLUTIONS", "leadTime": 1,
                  "tagDate": "2018-01-01", "lastOperator": "TEST AIR", "lastMsn": "MSN001", "incidentRelated": False,
                  "quantity": 1.0, "unit": "each", "dateOfManufacture": "2017-01-01", "timeRemaining": 100,
                  "cyclesRemaining": 2000, "shelfLife": "2020-01-01", "location": "Germany",
                  "company": "OPREMIC SOLUTIONS", "timeStampEntry": "2018-01-01 14:56:23", "dbAction": "ADD",
                  "deliveryId": 17}


def contract(config: Config | None) -> Contract:
    """The stock push and the stock read routes, for this configuration (credential header names as
    configured; the values are secrets and appear nowhere). ``config`` None: the published document."""
    headers = list(config.credential_headers) if config is not None else ["X-Stock-Key"]
    schemes = {f"stock-{name}": {
        "type": "apiKey", "in": "header", "name": name,
        "description": "A credential header of the stock push: the names and values are chosen when the endpoint "
                       "is registered with the platform; when there are several, every one is required "
                       "(stock-push.rst: \"These credentials are provided as header fields.\", decision stock-6)."}
        for name in headers}
    push = Operation(
        "post", config.path if config is not None else Config.path, "stock_push", "Receive a stock push",
        "The platform POSTs the stock entries changed since its last transmission. The whole push is applied in "
        "one transaction, or nothing of it (decision stock-4): ADD and UPD upsert by connectorStockId, DEL removes, "
        "and an older change never overwrites a newer one (stock-5).",
        receipt_schema("rows", ROWS),
        {"outcome": "accepted", "delivery": 17, "rows": {"received": 1, "add": 1, "upd": 0, "del": 0, "applied": 1,
                                                         "stale": 0},
         "warnings": [{"column": "location", "value": "Germany", "rows": 1, "first_rows": [0],
                       "message": "not an IATA 3-letter airport code (kept as sent)"}]},
        (400, 401, 408, 413, 415, 422, 500), body="stock-push",
        security=[dict.fromkeys(schemes, [])],
        links={"GetStockEntry": {"operationId": "get_stock_entry",
                                 "parameters": {"connectorStockId": "$request.body#/data/connectorStockId/0"},
                                 "description": "the entry of the push's first row, as now held"}},
    )
    listing = Operation(
        "get", "/stock", "list_stock", "List the stock held",
        "Entries by connectorStockId, paged: the next page starts after next_after.",
        {"type": "object", "required": ["items", "next_after"],
         "properties": {"items": {"type": "array", "items": STOCK_ENTRY},
                        "next_after": {"type": ["string", "null"]}}},
        {"items": [_ENTRY_EXAMPLE], "next_after": None}, (400, 401), read=True,
        links={"GetStockEntry": {"operationId": "get_stock_entry",
                                 "parameters": {"connectorStockId": "$response.body#/items/0/connectorStockId"}}},
        parameters=(limit_parameter(100, 1000), query_parameter("pn", {"type": "string"}, "only this part number"),
                    query_parameter("after", {"type": "string"}, "the next_after of the previous page"),
                    query_parameter("include_deleted", {"type": "string"}, "1 (or true, yes): removed entries too")),
    )
    entry = Operation(
        "get", "/stock/{connectorStockId}", "get_stock_entry", "One stock entry (state probe)",
        "The entry currently in stock; 404 when it was never received or a DEL removed it (docs/state-probe.md).",
        STOCK_ENTRY, _ENTRY_EXAMPLE, (401, 404), read=True, probe=True,
        parameters=(path_parameter("connectorStockId", {"type": "string"}, "the entry's key (case-insensitive)"),),
    )
    return Contract("stock push", "The aviation parts marketplace's stock push (stock-push.rst).",
                    [push, listing, entry], schemes, {"stock-push": PUSH_PAYLOAD})
