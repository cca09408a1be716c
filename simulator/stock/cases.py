"""The stock push's named cases: what a receiver must reject (``MALFORMATIONS``), what it must still
accept (``GOOD_CASES``), and the fixture files built from them. Each builder takes a
:class:`StockCaseContext` and returns the requests to send."""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import fixtures

from .. import fixtures_writer
from ..core import Expectation, Registry, Request, encode_json
from .generator import StockGenerator, change_some, uuid4s
from .payload import (
    CHANNEL,
    COLUMNS,
    DEFAULT_MAX_BODY_BYTES,
    JSON_HEADERS,
    TIMESTAMP_FORMAT,
    StockPush,
    example_request,
)


@dataclass(frozen=True)
class StockCaseContext:
    """What a case is built from: a fresh conforming push, the credentials, the receiver's body limit."""

    push: StockPush
    credentials: Mapping[str, str] = field(default_factory=dict)
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES


KEY = "connectorStockId"
StockCase = Callable[[StockCaseContext], tuple[Request, ...]]
MALFORMATIONS: Registry[StockCaseContext, Request] = Registry(CHANNEL)
GOOD_CASES: Registry[StockCaseContext, Request] = Registry(CHANNEL)

SPEC_JSON = 'stock-push.rst: "The data is provided as a JSON string."'
SPEC_STRUCTURE = (
    'decision stock-4: "A structural error (not an object, `data` missing, arrays of unequal length, a wrong '
    'type, a missing key column, an unknown `dbAction`) rejects the whole push: nothing of it is applied."'
)
SPEC_CREDENTIALS = (
    'stock-push.rst: "The endpoint should be secured with credentials. These credentials are provided '
    'as header fields."'
)
SPEC_KEY = (
    'stock-push.rst: "connectorStockId | character(36) | Internal platform stock ID"; decision stock-1: '
    '"`connectorStockId` is the stock key"'
)
SPEC_DATES = ('the data definition (decision stock-4): "Dates are `YYYY-MM-DD`; `timeStampEntry` is '
              '`YYYY-MM-DD HH:MM:SS`"')
SPEC_ACCEPT = (
    'stock-push.rst: "The endpoint should accept data in format and scope as defined in the following."'
)
SPEC_WARN = (
    'decision stock-3: "Unknown `condition` / `unit` values and a non-IATA `location` are kept and reported '
    'as warnings, not rejected"'
)


def _structural(status: int = 422) -> Expectation:
    return Expectation((status,), SPEC_STRUCTURE, "SHOULD")


ACCEPTED = Expectation((200,), SPEC_ACCEPT, "SHOULD")

# Cases whose break is in the headers or the size, not in the body's content.
NEEDS_CREDENTIALS = frozenset({"missing-credentials", "wrong-credentials", "one-credential-missing"})
NOT_IN_BODY = NEEDS_CREDENTIALS | {"wrong-content-type", "oversize-body"}


def _has_credentials(ctx: StockCaseContext) -> bool:
    return bool(ctx.credentials)  # an endpoint without credentials cannot refuse missing ones


def _send_body(ctx: StockCaseContext, body: bytes, content_type: str = "application/json") -> tuple[Request]:
    return (Request(body, {"Content-Type": content_type, **ctx.credentials}),)


def _send_document(ctx: StockCaseContext, document: Any) -> tuple[Request]:
    return _send_body(ctx, encode_json(document))


def _with_columns(change: Callable[[dict[str, list[Any]]], object]) -> StockCase:
    """A case that changes the columns of the context's push and sends them as ``{"data": ...}``."""

    def build(ctx: StockCaseContext) -> tuple[Request, ...]:
        columns = ctx.push.columns()
        change(columns)
        return _send_document(ctx, {"data": columns})

    return build


def _with_rows(change: Callable[[list[dict[str, Any]]], list[dict[str, Any]] | None]) -> StockCase:
    """A case that changes copies of the context's rows (returning new rows, or None when in place)."""

    def build(ctx: StockCaseContext) -> tuple[Request, ...]:
        rows = [dict(row) for row in ctx.push.rows]
        rows = change(rows) or rows
        return _send_body(ctx, StockPush(rows).to_bytes())

    return build


def _set_first(column: str, value: Any) -> Callable[[dict[str, list[Any]]], None]:
    def change(columns: dict[str, list[Any]]) -> None:
        columns[column][0] = value

    return change


def _rename_column(columns: dict[str, list[Any]], old: str, new: str) -> dict[str, list[Any]]:
    return {new if name == old else name: values for name, values in columns.items()}


def _credentials_of(ctx: StockCaseContext) -> Mapping[str, str]:
    if not ctx.credentials:
        raise ValueError("this case needs the receiver's credential headers (none were given)")
    return ctx.credentials


def _altered(value: str) -> str:
    """Another value of the same length: every character replaced."""
    return "".join("B" if c == "A" else "A" for c in value) or "x"


# -- malformations ---------------------------------------------------------------------------------

MALFORMATIONS.register(
    "not-json", "the JSON body cut short by one byte (the closing brace is missing)",
    Expectation((400,), SPEC_JSON, "SHOULD"),
)(lambda ctx: _send_body(ctx, ctx.push.to_bytes()[:-1]))

MALFORMATIONS.register(
    "empty-body", "an empty body", Expectation((400,), SPEC_JSON, "SHOULD"),
)(lambda ctx: _send_body(ctx, b""))

MALFORMATIONS.register(
    "wrong-content-type", "a conforming JSON body declared as text/plain",
    Expectation((415,), SPEC_JSON + "; RFC 9110 §15.5.16: 415 for a media type the endpoint does not "
                "accept", "SHOULD"),
)(lambda ctx: _send_body(ctx, ctx.push.to_bytes(), "text/plain"))

MALFORMATIONS.register(
    "body-not-object", "the push object wrapped in a JSON array", _structural(),
)(lambda ctx: _send_document(ctx, [ctx.push.body()]))

MALFORMATIONS.register(
    "data-missing", "the columns under the key \"stock\" instead of \"data\"", _structural(),
)(lambda ctx: _send_document(ctx, {"stock": ctx.push.columns()}))

MALFORMATIONS.register(
    "data-not-object", "\"data\" is a list of row objects instead of an object of columns", _structural(),
)(lambda ctx: _send_document(ctx, {"data": ctx.push.rows}))

MALFORMATIONS.register(
    "column-not-array", "the description column is a single string instead of an array", _structural(),
)(_with_columns(lambda columns: columns.__setitem__("description", columns["description"][0])))

MALFORMATIONS.register(
    "length-mismatch", "the priceUsd array is one element shorter than the others", _structural(),
)(_with_columns(lambda columns: columns["priceUsd"].pop()))

MALFORMATIONS.register(
    "no-connectorStockId", "the key column connectorStockId is absent", _structural(),
)(_with_columns(lambda columns: columns.pop("connectorStockId")))

MALFORMATIONS.register(
    "null-connectorStockId", "the first row's connectorStockId is null",
    Expectation((422,), SPEC_KEY, "SHOULD"),
)(_with_columns(_set_first("connectorStockId", None)))


@MALFORMATIONS.register(
    "bad-uuid", "the first row's connectorStockId is a truncated UUID (23 characters, not 36)",
    Expectation((422,), SPEC_KEY, "SHOULD"),
)
def _bad_uuid(ctx: StockCaseContext) -> tuple[Request, ...]:
    return _with_columns(_set_first("connectorStockId", ctx.push.rows[0]["connectorStockId"][:23]))(ctx)


MALFORMATIONS.register(
    "bad-date", "the first row's tagDate is 2018-13-45 (month 13, day 45)",
    Expectation((422,), 'stock-push.rst: "tagDate | date | Tag date"; ' + SPEC_DATES, "SHOULD"),
)(_with_columns(_set_first("tagDate", "2018-13-45")))


@MALFORMATIONS.register(
    "bad-timestamp", "the first row's timeStampEntry has the hour 25 and the minute 61",
    Expectation((422,), 'stock-push.rst: "timeStampEntry | dateTime | Time of database entry"; '
                + SPEC_DATES, "SHOULD"),
)
def _bad_timestamp(ctx: StockCaseContext) -> tuple[Request, ...]:
    day = ctx.push.rows[0]["timeStampEntry"][:10]
    return _with_columns(_set_first("timeStampEntry", f"{day} 25:61:00"))(ctx)


MALFORMATIONS.register(
    "unknown-dbAction", "the first row's dbAction is REMOVE (allowed: ADD, DEL, UPD)",
    Expectation((422,), 'stock-push.rst: "dbAction | character | Action why this entry is considered as '
                'updated. For a specification of allowed values see below." (ADD, DEL, UPD); '
                + SPEC_STRUCTURE, "SHOULD"),
)(_with_columns(_set_first("dbAction", "REMOVE")))

# One wrong type per typed column: (column, its type in the document, what is sent instead, how).
WRONG_TYPES: tuple[tuple[str, str, str, Callable[[Any], Any]], ...] = (
    ("leadTime", "integer", "its digits as a string", lambda v: str(v if v is not None else 3)),
    ("quantity", "integer", "its digits as a string", lambda v: str(v)),
    ("priceUsd", "numeric", "a string like \"1234.50\"", lambda v: f"{v or 0:.2f}"),
    ("incidentRelated", "boolean", "the string \"true\" or \"false\"", lambda v: "true" if v else "false"),
    ("timeRemaining", "integer", "its digits as a string", lambda v: str(v if v is not None else 100)),
    ("cyclesRemaining", "integer", "its digits as a string", lambda v: str(v if v is not None else 2000)),
    ("sn", "character", "the number 123456", lambda v: 123456),
    ("tagDate", "date", "the number 20180101", lambda v: 20180101),
)


def _wrong_type(column: str, mistype: Callable[[Any], Any]) -> StockCase:
    return lambda ctx: _with_columns(_set_first(column, mistype(ctx.push.rows[0][column])))(ctx)


for _column, _type, _instead, _mistype in WRONG_TYPES:
    MALFORMATIONS.register(
        f"wrong-type-{_column}", f"the first row's {_column} (a {_type}) is {_instead}",
        Expectation((422,), f'stock-push.rst: "{_column} | {_type}"; ' + SPEC_STRUCTURE, "SHOULD"),
    )(_wrong_type(_column, _mistype))


def _padded(ctx: StockCaseContext, size: int) -> bytes:
    """The context's push with more rows — copies of its own rows under new ids — until its body exceeds
    ``size`` bytes, by less than a row. Written column by column from each value's JSON, so a body near a
    64 MiB limit takes a fraction of a second."""
    base = ctx.push.rows
    cells = {column: [encode_json(row[column]).decode("utf-8") for row in base] for column in COLUMNS}
    key_cell = len(cells[KEY][0]) + 1  # a UUID in quotes, and its comma
    per_row = [key_cell + sum(len(cells[c][i].encode("utf-8")) + 1 for c in COLUMNS if c != KEY)
               for i in range(len(base))]
    length, extra = len(ctx.push.to_bytes()), 0
    while length <= size:
        length += per_row[extra % len(base)]
        extra += 1
    ids = [*(row[KEY] for row in base), *uuid4s(random.Random(base[0][KEY]), extra)]
    repeats, rest = divmod(len(ids), len(base))
    arrays = {column: ",".join(values * repeats + values[:rest]) for column, values in cells.items() if column != KEY}
    arrays[KEY] = ",".join(f'"{stock_id}"' for stock_id in ids)
    return ('{"data":{' + ",".join(f'"{column}":[{arrays[column]}]' for column in COLUMNS) + "}}").encode("utf-8")


MALFORMATIONS.register(
    "oversize-body", "a conforming push padded with more rows until the body exceeds the receiver's limit",
    Expectation((413,), "RFC 9110 §15.5.14: 413 Content Too Large for a body over the receiver's "
                "configured limit (the document sets none)", "SHOULD"),
)(lambda ctx: _send_body(ctx, _padded(ctx, ctx.max_body_bytes)))


@MALFORMATIONS.register(
    "missing-credentials", "a conforming push without any credential header",
    Expectation((401,), SPEC_CREDENTIALS, "SHOULD"), applies=_has_credentials,
)
def _missing_credentials(ctx: StockCaseContext) -> tuple[Request, ...]:
    _credentials_of(ctx)
    return (Request(ctx.push.to_bytes(), dict(JSON_HEADERS)),)


@MALFORMATIONS.register(
    "wrong-credentials", "a conforming push with every credential value altered (same length)",
    Expectation((401,), SPEC_CREDENTIALS, "SHOULD"), applies=_has_credentials,
)
def _wrong_credentials(ctx: StockCaseContext) -> tuple[Request, ...]:
    altered = {name: _altered(value) for name, value in _credentials_of(ctx).items()}
    return (Request(ctx.push.to_bytes(), {**JSON_HEADERS, **altered}),)


@MALFORMATIONS.register(
    "one-credential-missing", "a conforming push lacking the last credential header (all of them when "
    "there is only one)", Expectation((401,), SPEC_CREDENTIALS, "SHOULD"), applies=_has_credentials,
)
def _one_credential_missing(ctx: StockCaseContext) -> tuple[Request, ...]:
    kept = dict(list(_credentials_of(ctx).items())[:-1])
    return (Request(ctx.push.to_bytes(), {**JSON_HEADERS, **kept}),)


# -- good cases ------------------------------------------------------------------------------------

GOOD_CASES.register(
    "document-example", "the document's example body, verbatim (tabs, U+2011 hyphens, unit 'each', "
    "location 'Germany')",
    Expectation((200,), "decision stock-2: \"The document's own example must be accepted exactly as printed "
                "(U+2011 hyphens included)\"", "SHOULD"),
)(lambda ctx: (example_request(ctx.credentials),))


def _add_then_update(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The first entry added, then updated later in the same push (rows are applied in order)."""
    update = dict(rows[0])
    change_some(update, random.Random(update["connectorStockId"]))
    last = datetime.strptime(rows[-1]["timeStampEntry"], TIMESTAMP_FORMAT)
    update["timeStampEntry"] = (last + timedelta(seconds=1)).strftime(TIMESTAMP_FORMAT)
    update["dbAction"] = "UPD"
    return [*rows, update]


GOOD_CASES.register(
    "add-then-update-same-push", "an entry added, then updated one second later by the push's last row",
    Expectation((200,), 'decision stock-5: "ADD/UPD upsert, DEL removes; an older change (by `timeStampEntry`) '
                'never overwrites a newer one"', "SHOULD"),
)(_with_rows(_add_then_update))


@GOOD_CASES.register(
    "internalStockId-alias", "the key column named internalStockId (the text's name) instead of "
    "connectorStockId",
    Expectation((200,), 'decision stock-1: "a column named `internalStockId` is accepted as its alias."',
                "SHOULD"),
)
def _internal_stock_id(ctx: StockCaseContext) -> tuple[Request, ...]:
    return _send_document(ctx, {"data": _rename_column(ctx.push.columns(), "connectorStockId",
                                                       "internalStockId")})


GOOD_CASES.register(
    "unknown-condition-code", "the first row's condition is ZZ, a code no table has (kept with a warning)",
    Expectation((200,), SPEC_WARN, "SHOULD"),
)(_with_columns(_set_first("condition", "ZZ")))

GOOD_CASES.register(
    "non-iata-location", "the first row's location is 'Germany', as in the document's example",
    Expectation((200,), SPEC_WARN, "SHOULD"),
)(_with_columns(_set_first("location", "Germany")))


def _length_item(rows: list[dict[str, Any]]) -> None:
    rows[0].update(unit="FT", quantity=12.5)


GOOD_CASES.register(
    "fractional-length-quantity", "the first row is 12.5 FT of its part",
    Expectation((200,), 'stock-push.rst: "quantity | integer | Quantity of parts (used if unit is '
                'length)"; so "so it may be fractional for length units."', "SHOULD"),
)(_with_rows(_length_item))


def _lowercase(rows: list[dict[str, Any]]) -> None:
    for row in rows:
        for column in ("condition", "unit", "location", "dbAction"):
            row[column] = row[column].lower()


GOOD_CASES.register(
    "lowercase-codes", "condition, unit, location and dbAction in lower case in every row",
    Expectation((200,), 'decision stock-2: "Text values are case-insensitive on this platform."', "SHOULD"),
)(_with_rows(_lowercase))

OPTIONAL_COLUMNS = (
    "sn", "mroApprovalNo", "mroName", "leadTime", "tagDate", "lastOperator", "lastMsn", "incidentRelated",
    "dateOfManufacture", "timeRemaining", "cyclesRemaining", "shelfLife",
)


def _nulls(rows: list[dict[str, Any]]) -> None:
    rows[0].update(dict.fromkeys(OPTIONAL_COLUMNS))


GOOD_CASES.register(
    "nulls-in-optional-columns", "the first row has null in every descriptive column: "
    + ", ".join(OPTIONAL_COLUMNS),
    Expectation((200,), 'stock-push.rst example: "mroApprovalNo":[null] (a column may hold null); '
                + SPEC_ACCEPT, "SHOULD"),
)(_with_rows(_nulls))

DASHED_COLUMNS = ("pn", "tagDate", "dateOfManufacture", "shelfLife", "timeStampEntry")


def _u2011(rows: list[dict[str, Any]]) -> None:
    for row in rows:
        for column in DASHED_COLUMNS:
            if row[column] is not None:
                row[column] = row[column].replace("-", "\u2011")


GOOD_CASES.register(
    "u2011-hyphens", "every part number and date written with U+2011 non-breaking hyphens, as the "
    "document's example does",
    Expectation((200,), 'decision stock-2: "normalise the Unicode dash family to `-` in dates and codes before '
                'validating."', "SHOULD"),
)(_with_rows(_u2011))




# -- fixtures: small files of every good case and every case whose break is in the body -------------


def fixture_files(seed: int = 0, rows: int = 2) -> dict[str, bytes]:
    """File name → content of ``fixtures/stock/`` (except the verbatim ``document-example.json``),
    built from the registries, so the files and the cases cannot drift apart."""
    generator = StockGenerator(seed)
    files: dict[str, bytes] = {}
    table = {"document-example": fixtures_writer.case_entry(GOOD_CASES["document-example"])}
    for registry in (GOOD_CASES, MALFORMATIONS):
        for case in registry:
            if case.name in NOT_IN_BODY or case.name == "document-example":
                continue
            (request,) = case.build(StockCaseContext(generator.sample_push(rows)))
            name, content = fixtures_writer.body_file(case.name, request.body)
            files[name] = content
            table[case.name] = fixtures_writer.case_entry(case)
    files["cases.json"] = fixtures_writer.pretty(dict(sorted(table.items())))
    return files


def write_fixtures(folder: Path | None = None) -> list[Path]:
    """Regenerate the case fixtures (run after changing a case): writes ``fixture_files()``."""
    return fixtures_writer.write(folder or fixtures.ROOT / CHANNEL, fixture_files())
