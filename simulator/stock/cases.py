"""The stock push's named cases: what a receiver must reject (``MALFORMATIONS``), what it must still
accept (``GOOD_CASES``), and the fixture files built from them. Each builder takes a
:class:`StockCaseContext` and returns the requests to send, in order.

A case that breaks or varies one row (``ROW_CASES``) does it to the row the context names (``row``: the
first by default, as in the fixture files), so a receiver can be tried with the bad row first, in the
middle and last."""

from __future__ import annotations

import itertools
import random
import zlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from inventory_push_kit import fixtures

from .. import fixtures_writer
from ..core import Expectation, Registry, Request, encode_json
from .generator import StockGenerator, change_some, uuid4s
from .payload import (
    CHANNEL,
    COLUMNS,
    DEFAULT_MAX_BODY_BYTES,
    JSON_HEADERS,
    SUCCESS,
    TIMESTAMP_FORMAT,
    StockPush,
    example_request,
)


@dataclass(frozen=True)
class StockCaseContext:
    """What a case is built from: a fresh conforming push, the credentials, the receiver's body limit,
    and the row a one-row case breaks or varies (0 the first, -1 the last)."""

    push: StockPush
    credentials: Mapping[str, str] = field(default_factory=dict)
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
    row: int = 0

    @property
    def index(self) -> int:
        """``row`` as an index into the push's rows."""
        size = len(self.push)
        if not -size <= self.row < size:
            raise ValueError(f"row {self.row} is not a row of a push of {size} rows")
        return self.row % size


KEY = "connectorStockId"
StockCase = Callable[[StockCaseContext], tuple[Request, ...]]
MALFORMATIONS: Registry[StockCaseContext, Request] = Registry(CHANNEL)
GOOD_CASES: Registry[StockCaseContext, Request] = Registry(CHANNEL)

SPEC_JSON = 'stock-push.rst: "The data is provided as a JSON string."'
SPEC_STRUCTURE = (
    'decision stock-4: "A structural error (not an object, `data` missing, arrays of unequal length, a wrong '
    'type, a missing key column, an unknown `dbAction`) rejects the whole push, whichever row it is in: nothing '
    'of the push is applied."'
)
SPEC_CREDENTIALS = (
    'stock-push.rst: "The endpoint should be secured with credentials. These credentials are provided '
    'as header fields."'
)
SPEC_KEY = (
    'stock-push.rst: "connectorStockId | character(36) | Internal platform stock ID"; decision stock-1: '
    '"The stock key is `connectorStockId`"'
)
SPEC_DATES = ("the document's example writes a date as YYYY-MM-DD (2018-01-01) and a dateTime as YYYY-MM-DD "
              "HH:MM:SS (2018-01-01 14:56:23)")
SPEC_ACCEPT = (
    'stock-push.rst: "The endpoint should accept data in format and scope as defined in the following."'
)
SPEC_WARN = (
    'decision stock-3: "Unknown `condition` / `unit` values and a `location` that is not an IATA code are kept '
    'and reported as warnings, not rejected"'
)


def _structural(status: int = 422) -> Expectation:
    return Expectation((status,), SPEC_STRUCTURE, "SHOULD")


ACCEPTED = Expectation(SUCCESS, SPEC_ACCEPT, "SHOULD")

# Cases whose break is in the headers or the size, not in the body's content.
NEEDS_CREDENTIALS = frozenset({"missing-credentials", "wrong-credentials", "one-credential-missing"})
NOT_IN_BODY = NEEDS_CREDENTIALS | {"wrong-content-type", "oversize-body", "large-push"}
# Cases that break or vary the context's row (``StockCaseContext.row``) and leave the others as they were.
ROW_CASES = frozenset({
    "null-connectorStockId", "bad-uuid", "bad-date", "bad-dateOfManufacture", "bad-shelfLife", "bad-timestamp",
    "unknown-dbAction",
    *(f"wrong-type-{column}" for column in ("leadTime", "quantity", "priceUsd", "incidentRelated", "timeRemaining",
                                            "cyclesRemaining", "sn", "tagDate")),
    "add-then-update-same-push", "unknown-condition-code", "unknown-unit-code", "non-iata-location",
    "fractional-length-quantity", "nulls-in-optional-columns", "lowercase-upd-and-del", "update-to-null",
    "non-ascii-text",
})
LARGE_PUSH_BYTES = 2 * 1024 * 1024  # past the 100 kB and 1 MiB body limits common frameworks and proxies default to


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


def _set_one(column: str, value: Callable[[Any], Any]) -> StockCase:
    """A case that sets ``column`` of the context's row to ``value(what it was)``."""

    def build(ctx: StockCaseContext) -> tuple[Request, ...]:
        columns = ctx.push.columns()
        columns[column][ctx.index] = value(columns[column][ctx.index])
        return _send_document(ctx, {"data": columns})

    return build


def _change_one(change: Callable[[dict[str, Any]], None]) -> StockCase:
    """A case that changes (a copy of) the context's row in place."""

    def build(ctx: StockCaseContext) -> tuple[Request, ...]:
        rows = [dict(row) for row in ctx.push.rows]
        change(rows[ctx.index])
        return _send_body(ctx, StockPush(rows).to_bytes())

    return build


def _later(stamp: str, seconds: int) -> str:
    return (datetime.strptime(stamp, TIMESTAMP_FORMAT) + timedelta(seconds=seconds)).strftime(TIMESTAMP_FORMAT)


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
    "null-connectorStockId", "one row's connectorStockId is null",
    Expectation((422,), SPEC_KEY, "SHOULD"),
)(_set_one("connectorStockId", lambda _: None))

MALFORMATIONS.register(
    "bad-uuid", "one row's connectorStockId is a truncated UUID (23 characters, not 36)",
    Expectation((422,), SPEC_KEY, "SHOULD"),
)(_set_one("connectorStockId", lambda stock_id: stock_id[:23]))

MALFORMATIONS.register(
    "bad-date", "one row's tagDate is 2018-13-45 (month 13, day 45)",
    Expectation((422,), 'stock-push.rst: "tagDate | date | Tag date"; ' + SPEC_DATES, "SHOULD"),
)(_set_one("tagDate", lambda _: "2018-13-45"))

for _column in ("dateOfManufacture", "shelfLife"):
    MALFORMATIONS.register(
        f"bad-{_column}", f"one row's {_column} is 2018-02-30 (a February 30th)",
        Expectation((422,), f'stock-push.rst: "{_column} | date"; ' + SPEC_DATES, "SHOULD"),
    )(_set_one(_column, lambda _: "2018-02-30"))

MALFORMATIONS.register(
    "bad-timestamp", "one row's timeStampEntry has the hour 25 and the minute 61",
    Expectation((422,), 'stock-push.rst: "timeStampEntry | dateTime | Time of database entry"; '
                + SPEC_DATES, "SHOULD"),
)(_set_one("timeStampEntry", lambda stamp: f"{stamp[:10]} 25:61:00"))

MALFORMATIONS.register(
    "unknown-dbAction", "one row's dbAction is REMOVE (allowed: ADD, DEL, UPD)",
    Expectation((422,), 'stock-push.rst: "dbAction | character | Action why this entry is considered as '
                'updated. For a specification of allowed values see below." (ADD, DEL, UPD); '
                + SPEC_STRUCTURE, "SHOULD"),
)(_set_one("dbAction", lambda _: "REMOVE"))

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


for _column, _type, _instead, _mistype in WRONG_TYPES:
    MALFORMATIONS.register(
        f"wrong-type-{_column}", f"one row's {_column} (a {_type}) is {_instead}",
        Expectation((422,), f'stock-push.rst: "{_column} | {_type}"; ' + SPEC_STRUCTURE, "SHOULD"),
    )(_set_one(_column, _mistype))


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
    Expectation(SUCCESS, "decision stock-2: \"The document's own example must be accepted exactly as printed\" "
                "(U+2011 hyphens included)", "SHOULD"),
)(lambda ctx: (example_request(ctx.credentials),))


@GOOD_CASES.register(
    "large-push", f"a conforming push of half the receiver's body limit, at most {LARGE_PUSH_BYTES // 1024**2} MiB "
    "(past the 100 kB and 1 MiB limits common frameworks and proxies default to)", ACCEPTED,
)
def _large_push(ctx: StockCaseContext) -> tuple[Request, ...]:
    return _send_body(ctx, _padded(ctx, min(ctx.max_body_bytes // 2, LARGE_PUSH_BYTES)))


@GOOD_CASES.register(
    "add-then-update-same-push", "an entry added by one row, then updated one second after the push's last "
    "change by a row appended at its end",
    Expectation(SUCCESS, 'decision stock-5: "ADD and UPD upsert by the key, DEL removes; an older change (by '
                '`timeStampEntry`) never overwrites a newer one"', "SHOULD"),
)
def _add_then_update(ctx: StockCaseContext) -> tuple[Request, ...]:
    rows = [dict(row) for row in ctx.push.rows]
    update = dict(rows[ctx.index])
    change_some(update, random.Random(update["connectorStockId"]))
    update["timeStampEntry"] = _later(max(row["timeStampEntry"] for row in rows), 1)
    update["dbAction"] = "UPD"
    return _send_body(ctx, StockPush([*rows, update]).to_bytes())


@GOOD_CASES.register(
    "internalStockId-alias", "the key column named internalStockId (the text's name) instead of "
    "connectorStockId",
    Expectation(SUCCESS, 'decision stock-1: "a column named `internalStockId` is accepted as an alias of '
                '`connectorStockId`."', "SHOULD"),
)
def _internal_stock_id(ctx: StockCaseContext) -> tuple[Request, ...]:
    return _send_document(ctx, {"data": _rename_column(ctx.push.columns(), "connectorStockId",
                                                       "internalStockId")})


GOOD_CASES.register(
    "unknown-condition-code", "one row's condition is ZZ, a code no table has (kept with a warning)",
    Expectation(SUCCESS, SPEC_WARN, "SHOULD"),
)(_set_one("condition", lambda _: "ZZ"))

GOOD_CASES.register(
    "unknown-unit-code", "one row's unit is BAG, a unit of measure the document's tables do not list (kept "
    "with a warning)",
    Expectation(SUCCESS, SPEC_WARN, "SHOULD"),
)(_set_one("unit", lambda _: "BAG"))

GOOD_CASES.register(
    "non-iata-location", "one row's location is 'Germany', as in the document's example",
    Expectation(SUCCESS, SPEC_WARN, "SHOULD"),
)(_set_one("location", lambda _: "Germany"))

GOOD_CASES.register(
    "fractional-length-quantity", "one row is 12.5 FT of its part",
    Expectation(SUCCESS, 'stock-push.rst: "quantity | integer | Quantity of parts (used if unit is '
                'length)"; decision stock-7: "a receiver keeps it exactly (12.5 FT is 12.5, not 12 or 13)"',
                "SHOULD"),
)(_change_one(lambda row: row.update(unit="FT", quantity=12.5)))

SPEC_CASE = ('decision stock-2: "Text codes (`condition`, `unit`, `dbAction`) are case-insensitive: a `del` deletes '
             'like a `DEL`."')


def _lowercase(rows: list[dict[str, Any]]) -> None:
    for row in rows:
        for column in ("condition", "unit", "location", "dbAction"):
            row[column] = row[column].lower()


GOOD_CASES.register(
    "lowercase-codes", "condition, unit, location and dbAction in lower case in every row",
    Expectation(SUCCESS, SPEC_CASE, "SHOULD"),
)(_with_rows(_lowercase))


@GOOD_CASES.register(
    "lowercase-upd-and-del", "a push adding entries, then one an hour later that deletes one of them (the "
    "context's row) and updates the others, with dbAction, condition and unit in lower case (del, upd)",
    Expectation(SUCCESS, SPEC_CASE, "SHOULD"),
)
def _lowercase_upd_and_del(ctx: StockCaseContext) -> tuple[Request, ...]:
    later = []
    for i, original in enumerate(ctx.push.rows):
        row = dict(original)
        if i == ctx.index:
            row["dbAction"] = "del"
        else:
            change_some(row, random.Random(row["connectorStockId"]))
            row["dbAction"] = "upd"
        row.update(condition=row["condition"].lower(), unit=row["unit"].lower(),
                   timeStampEntry=_later(row["timeStampEntry"], 3600))
        later.append(row)
    return (*_send_body(ctx, ctx.push.to_bytes()), *_send_body(ctx, StockPush(later).to_bytes()))


OPTIONAL_COLUMNS = (
    "sn", "mroApprovalNo", "mroName", "leadTime", "tagDate", "lastOperator", "lastMsn", "incidentRelated",
    "dateOfManufacture", "timeRemaining", "cyclesRemaining", "shelfLife",
)

GOOD_CASES.register(
    "nulls-in-optional-columns", "one row has null in every descriptive column: " + ", ".join(OPTIONAL_COLUMNS),
    Expectation(SUCCESS, 'stock-push.rst example: "mroApprovalNo":[null] (a column may hold null); '
                + SPEC_ACCEPT, "SHOULD"),
)(_change_one(lambda row: row.update(dict.fromkeys(OPTIONAL_COLUMNS))))


@GOOD_CASES.register(
    "update-to-null", "a push adding entries, then one a minute later updating them: the context's row with null "
    "in every descriptive column (its values cleared, not left as they were), the others with new values",
    Expectation(SUCCESS, 'decision stock-5: "ADD and UPD upsert by the key"', "SHOULD"),
)
def _update_to_null(ctx: StockCaseContext) -> tuple[Request, ...]:
    later = []
    for i, original in enumerate(ctx.push.rows):
        row = dict(original)
        if i == ctx.index:
            row.update(dict.fromkeys(OPTIONAL_COLUMNS))
        else:
            change_some(row, random.Random(row["connectorStockId"]))
        row.update(dbAction="UPD", timeStampEntry=_later(row["timeStampEntry"], 60))
        later.append(row)
    return (*_send_body(ctx, ctx.push.to_bytes()), *_send_body(ctx, StockPush(later).to_bytes()))


# Names as the marketplace's companies and MROs write them: Latin letters beyond ASCII, Turkish ones too.
NON_ASCII_TEXT = {"description": "Pompe à carburant, moteur n° 2", "mroName": "Bosporus Aero Teknik A.Ş.",
                  "lastOperator": "Türk Hava Yolları", "company": "Düsseldorfer Flugzeugteile GmbH"}

GOOD_CASES.register(
    "non-ascii-text", "one row's description, MRO, last operator and company written in French, German and "
    "Turkish letters (à, °, ü, Ş, ı)",
    Expectation(SUCCESS, 'stock-push.rst: "The data is provided as a JSON string." (JSON text is Unicode: RFC 8259 '
                '§8.1)', "SHOULD"),
)(_change_one(lambda row: row.update(NON_ASCII_TEXT)))

DASHED_COLUMNS = ("pn", "tagDate", "dateOfManufacture", "shelfLife", "timeStampEntry")
# The rest of the dash family decision stock-2 names, beside U+2011: hyphen, figure dash, en dash, em dash,
# horizontal bar, minus sign.
OTHER_DASHES = ("\u2010", "\u2012", "\u2013", "\u2014", "\u2015", "\u2212")


def _u2011(rows: list[dict[str, Any]]) -> None:
    for row in rows:
        for column in DASHED_COLUMNS:
            if row[column] is not None:
                row[column] = row[column].replace("-", "\u2011")


GOOD_CASES.register(
    "u2011-hyphens", "every part number and date written with U+2011 non-breaking hyphens, as the "
    "document's example does",
    Expectation(SUCCESS, 'decision stock-2: "it writes part numbers and dates with U+2011 (non-breaking hyphen), '
                'so the Unicode dash family"', "SHOULD"),
)(_with_rows(_u2011))


def _other_dashes(rows: list[dict[str, Any]]) -> None:
    # Each date takes the next dash of the family, and each part number too: a row has two dates at
    # least, so the dates of a push of three rows carry all six.
    for columns in (("tagDate", "dateOfManufacture", "shelfLife", "timeStampEntry"), ("pn",)):
        dashes = itertools.cycle(OTHER_DASHES)
        for row in rows:
            for column in columns:
                if row[column] is not None and "-" in row[column]:
                    row[column] = row[column].replace("-", next(dashes))


GOOD_CASES.register(
    "other-unicode-dashes", "part numbers and dates written with the other dashes of the family in turn: "
    "U+2010 hyphen, U+2012 figure dash, U+2013 en dash, U+2014 em dash, U+2015 horizontal bar, U+2212 minus",
    Expectation(SUCCESS, 'decision stock-2: "is read as `-` in dates and codes before validating; a date is then '
                'held as `YYYY-MM-DD`."', "SHOULD"),
)(_with_rows(_other_dashes))


# -- fixtures: small files of every good case and every case whose break is in the body -------------


def fixture_files(seed: int = 0, rows: int = 2) -> dict[str, bytes]:
    """File name → content of ``fixtures/stock/`` (except the verbatim ``document-example.json``),
    built from the registries, so the files and the cases cannot drift apart. Each case's push comes from a
    generator of its own (seeded by ``seed`` and the case's name), so adding a case changes no other file."""
    files: dict[str, bytes] = {}
    table = {"document-example": fixtures_writer.case_entry(GOOD_CASES["document-example"])}
    for registry in (GOOD_CASES, MALFORMATIONS):
        for case in registry:
            if case.name in NOT_IN_BODY or case.name == "document-example":
                continue
            # A case of several pushes is written as its last one, the one it is about.
            generator = StockGenerator(seed + zlib.crc32(case.name.encode("utf-8")))
            request = case.build(StockCaseContext(generator.sample_push(rows)))[-1]
            name, content = fixtures_writer.body_file(case.name, request.body)
            files[name] = content
            table[case.name] = fixtures_writer.case_entry(case)
    files["cases.json"] = fixtures_writer.pretty(dict(sorted(table.items())))
    return files


def write_fixtures(folder: Path | None = None) -> list[Path]:
    """Regenerate the case fixtures (run after changing a case): writes ``fixture_files()``."""
    return fixtures_writer.write(folder or fixtures.ROOT / CHANNEL, fixture_files())
