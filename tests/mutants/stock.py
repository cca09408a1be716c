"""Stock push receivers that each break one rule: the reference receiver's endpoint with another
``receive`` (or another credential check), each a mistake a receiver written from the document could make."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import sqlalchemy as sa
from flask import Flask, request

from inventory_push_kit.receiver import storage, web
from inventory_push_kit.receiver.channels import stock
from inventory_push_kit.receiver.config import Config
from inventory_push_kit.receiver.errors import InvalidPayload, MalformedBody, ReceiverError, Unauthenticated
from inventory_push_kit.receiver.storage import Store
from inventory_push_kit.receiver.web import Receipt
from tests.mutants import NOT_COVERED, mutant

DATE_COLUMNS = ("tagDate", "dateOfManufacture", "shelfLife", "timeStampEntry")
TEXT_COLUMNS = ("materialId", "pn", "description", "condition", "sn", "mfr", "mroApprovalNo", "mroName",
                "lastOperator", "lastMsn", "unit", "location", "company")
KEY, ACTION, QUANTITY = (stock.STORED.index(name) for name in ("connector_stock_id", "db_action", "quantity"))


def replace_push(app: Flask, store: Store, config: Config, receive: web.Receive, *,
                 authenticate: Callable[[], object] | None = None) -> None:
    """The stock push endpoint with another ``receive`` (and, when given, another credential check)."""
    credentials = config.stock.credential_headers
    app.view_functions["stock_push"] = web.push_view(
        "stock_push", channel="stock", store=store, max_body_bytes=config.stock.max_body_bytes, receive=receive,
        authenticate=authenticate or (lambda: web.require_headers(credentials)))


def reference(store: Store, config: Config) -> web.Receive:
    return lambda body, **sent: stock.receive(store, config.stock, body, **sent)


def changing(store: Store, change: Callable[[stock.StockPush, Any], stock.StockPush | None]) -> web.Receive:
    """The reference's receive with ``change(validated push, parsed body)`` before the push is applied."""

    def receive(body: bytes, **sent: Any) -> Receipt:
        document = web.parse_json(body)
        push = stock.validate(document)
        push = change(push, document) or push
        return stock.apply(store, push, body, **sent)

    return receive


def refusing(store: Store, config: Config, problems_in: Callable[[dict[str, Any]], list[dict[str, Any]]]
             ) -> web.Receive:
    """The reference's receive after a check of the mutant's own: a push whose columns have any of
    ``problems_in(columns)`` is refused (422)."""

    def receive(body: bytes, **sent: Any) -> Receipt:
        if problems := problems_in(columns_sent(web.parse_json(body)) or {}):
            raise InvalidPayload(f"the push was rejected: {len(problems)} problem(s)", problems=problems)
        return stock.receive(store, config.stock, body, **sent)

    return receive


def each_text(convert: Callable[[Any], Any]) -> Callable[[stock.StockPush, Any], None]:
    """A change of every value of the text columns."""

    def change(push: stock.StockPush, document: Any) -> None:
        for name in TEXT_COLUMNS:
            if (values := push.columns.get(stock.snake(name))) is not None:
                push.columns[stock.snake(name)] = [convert(value) for value in values]

    return change


def columns_sent(document: Any) -> dict[str, Any] | None:
    """The body's ``data`` when it is an object of arrays (what a receiver can walk row by row), else None."""
    data = document.get("data") if isinstance(document, dict) else None
    if isinstance(data, dict) and data and all(isinstance(values, list) for values in data.values()):
        return data
    return None


def only_rows(push: stock.StockPush, keep: Callable[[int], bool]) -> stock.StockPush:
    def kept(columns: dict[str, list[Any]]) -> dict[str, list[Any]]:
        return {name: [v for i, v in enumerate(values) if keep(i)] for name, values in columns.items()}

    return stock.StockPush(kept(push.columns), kept(push.extra), push.warnings)


Rows = list[tuple[Any, ...]]


def writing(store: Store, write: Callable[[Any, Rows], object]) -> web.Receive:
    """A receive that validates like the reference, then logs the delivery and hands the rows (in
    ``stock.STORED`` order) to ``write(conn, rows)`` in one transaction, instead of the reference's apply
    (and its check for a body already applied)."""

    def receive(body: bytes, **sent: Any) -> Receipt:
        push = stock.validate(web.parse_json(body))
        with store.write() as conn:
            delivery = storage.record_delivery(conn, channel="stock", outcome="accepted", status=200, body=body)
            write(conn, push.rows(delivery))
        return Receipt("accepted", delivery, {"received": push.size}, push.warnings)

    return receive


class Forbidden(ReceiverError):
    status = 403
    reason = "forbidden"


class Conflict(ReceiverError):
    status = 409
    reason = "conflict"


# --- the document's words ------------------------------------------------------------------------------


@mutant("accepts-without-credentials", "stock.credentials", "never checks the credential headers")
def _accepts_without_credentials(app: Flask, store: Store, config: Config) -> None:
    replace_push(app, store, config, reference(store, config), authenticate=lambda: None)


@mutant("body-limit-1mib", "stock.post", "refuses bodies over 1 MiB (nginx's default client_max_body_size in front "
        "of it), though the suite was given the default limit, 64 MiB",
        config={"stock": {"max_body_bytes": 1024 * 1024}})
def _body_limit_1mib(app: Flask, store: Store, config: Config) -> None:
    """Nothing else changes: the limit is this mutant's configuration."""


@mutant("integer-price-refused", "stock.format", "reads priceUsd as a number with a fraction only: the document "
        "example's integer price (1000) is refused")
def _integer_price_refused(app: Flask, store: Store, config: Config) -> None:
    replace_push(app, store, config, refusing(store, config, lambda columns: [
        {"path": ["data", "priceUsd", i], "message": "Not a float."}
        for i, price in enumerate(columns.get("priceUsd", [])) if type(price) is int]))


@mutant("null-stored-as-text", "stock.format", "writes every text value with str(), so a null serial number, MRO "
        "or part number is held as the text 'None'")
def _null_stored_as_text(app: Flask, store: Store, config: Config) -> None:
    replace_push(app, store, config, changing(store, each_text(str)))


@mutant("text-stored-as-latin-1", "stock.format", "keeps text in a Latin-1 column (a database's old default "
        "character set): letters beyond it, like the Turkish Ş and ı, are held as '?'")
def _text_stored_as_latin_1(app: Flask, store: Store, config: Config) -> None:
    def latin_1(value: Any) -> Any:
        return value.encode("latin-1", "replace").decode("latin-1") if isinstance(value, str) else value

    replace_push(app, store, config, changing(store, each_text(latin_1)))


@mutant("replay-answered-409", "stock.replay-accepted", "answers 409 Conflict to a push it has already received")
def _replay_answered_409(app: Flask, store: Store, config: Config) -> None:
    def receive(body: bytes, **sent: Any) -> Receipt:
        receipt = stock.receive(store, config.stock, body, **sent)
        if receipt.outcome == "duplicate":
            raise Conflict(f"this push was already received (delivery {receipt.original_delivery})")
        return receipt

    replace_push(app, store, config, receive)


@mutant("wrong-credentials-403", "stock.credentials-401", "answers 403 Forbidden to wrong credentials (401 only "
        "when they are missing)")
def _wrong_credentials_403(app: Flask, store: Store, config: Config) -> None:
    credentials = config.stock.credential_headers

    def authenticate() -> None:
        if any(name not in request.headers for name in credentials):
            raise Unauthenticated("credentials missing")
        if not all(web.secrets_equal(request.headers.get(name), value) for name, value in credentials.items()):
            raise Forbidden("wrong credentials")

    replace_push(app, store, config, reference(store, config), authenticate=authenticate)


@mutant("stores-before-authenticating", "stock.credentials-store-nothing", "applies the push, then checks the "
        "credentials: the answer is 401, but the push is stored")
def _stores_before_authenticating(app: Flask, store: Store, config: Config) -> None:
    def receive(body: bytes, **sent: Any) -> Receipt:
        receipt = stock.receive(store, config.stock, body, **sent)
        web.require_headers(config.stock.credential_headers)
        return receipt

    replace_push(app, store, config, receive, authenticate=lambda: None)


@mutant("delete-ignored", "stock.db-action", "writes ADD and UPD rows and skips DEL rows: a deleted entry stays "
        "in stock")
def _delete_ignored(app: Flask, store: Store, config: Config) -> None:
    def change(push: stock.StockPush, document: Any) -> stock.StockPush:
        actions = push.columns["db_action"]
        return only_rows(push, lambda i: actions[i] != "DEL")

    replace_push(app, store, config, changing(store, change))


@mutant("null-leaves-the-value", "stock.db-action", "updates only the columns an UPD has values for, reading a "
        "null as 'unchanged': a value the platform cleared stays stored")
def _null_leaves_the_value(app: Flask, store: Store, config: Config) -> None:
    columns = stock.STORED  # the table's own column names: no input reaches this text
    upsert = (f"INSERT INTO stock ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))}) "  # noqa: S608
              "ON CONFLICT (connector_stock_id) DO UPDATE SET "
              + ", ".join(f"{c} = COALESCE(excluded.{c}, {c})" for c in columns if c != "connector_stock_id")
              + " WHERE excluded.time_stamp_entry >= stock.time_stamp_entry")

    replace_push(app, store, config, writing(store, lambda conn, rows: conn.exec_driver_sql(upsert, rows)))


# --- refusals ---------------------------------------------------------------------------------------


@mutant("stores-rows-until-the-bad-one", "stock.structural", "validates and stores row by row, each in its own "
        "transaction, and stops at the first bad row with 422: the rows before it stay stored")
def _stores_rows_until_the_bad_one(app: Flask, store: Store, config: Config) -> None:
    def receive(body: bytes, **sent: Any) -> Receipt:
        data = columns_sent(web.parse_json(body))
        if data is None:  # not columns at all: refused as the reference refuses it
            return stock.receive(store, config.stock, body, **sent)
        size = max(map(len, data.values()))
        for i in range(size):
            row = {"data": {name: values[i:i + 1] for name, values in data.items()}}
            stock.apply(store, stock.validate(row), json.dumps(row).encode(), **sent)
        return Receipt("accepted", 0, {"received": size}, [])

    replace_push(app, store, config, receive)


@mutant("validates-the-first-row-only", "stock.structural", "validates the first row and stores the others as sent: "
        "a bad value anywhere else is accepted")
def _validates_the_first_row_only(app: Flask, store: Store, config: Config) -> None:
    def receive(body: bytes, **sent: Any) -> Receipt:
        data = columns_sent(web.parse_json(body))
        if data is None:
            return stock.receive(store, config.stock, body, **sent)
        first = stock.validate({"data": {name: values[:1] for name, values in data.items()}})
        trusted = {stock.snake(name): [*first.columns[stock.snake(name)], *values[1:]]
                   for name, values in data.items() if name in stock.COLUMNS}
        return stock.apply(store, stock.StockPush(trusted, {}), body, **sent)

    replace_push(app, store, config, receive)


@mutant("schema-errors-400", "stock.status-codes", "answers 400 Bad Request to a push that is JSON but not a valid "
        "push (decision stock-4: 422)")
def _schema_errors_400(app: Flask, store: Store, config: Config) -> None:
    def receive(body: bytes, **sent: Any) -> Receipt:
        try:
            return stock.receive(store, config.stock, body, **sent)
        except InvalidPayload as exc:
            raise MalformedBody(exc.message, problems=exc.problems) from None

    replace_push(app, store, config, receive)


# --- variants ---------------------------------------------------------------------------------------


@mutant("alias-rows-skipped", "stock.alias", "reads the key from connectorStockId only: the rows of a push keyed by "
        "internalStockId are skipped as keyless (200, nothing stored)")
def _alias_rows_skipped(app: Flask, store: Store, config: Config) -> None:
    def receive(body: bytes, **sent: Any) -> Receipt:
        data = columns_sent(web.parse_json(body))
        if data is not None and stock.KEY not in data and stock.ALIAS in data:
            return writing(store, lambda conn, rows: None)(body, **sent)
        return stock.receive(store, config.stock, body, **sent)

    replace_push(app, store, config, receive)


@mutant("only-u2011-read-as-hyphen", "stock.dashes", "reads U+2011, the example's dash, as '-' in dates, and no other "
        "dash: a date with an en dash or a minus sign is refused")
def _only_u2011_read_as_hyphen(app: Flask, store: Store, config: Config) -> None:
    replace_push(app, store, config, refusing(store, config, lambda columns: [
        {"path": ["data", name, i], "message": f"Not a date: {value!r}."}
        for name in DATE_COLUMNS for i, value in enumerate(columns.get(name, []))
        if isinstance(value, str) and not value.replace("\u2011", "-").isascii()]))


@mutant("dates-stored-as-sent", "stock.dashes", "reads every dash as '-' to validate a date, then stores the date "
        "as sent: one written with U+2011 is held with U+2011")
def _dates_stored_as_sent(app: Flask, store: Store, config: Config) -> None:
    def change(push: stock.StockPush, document: Any) -> None:
        for name in DATE_COLUMNS:
            if name in document["data"]:
                push.columns[stock.snake(name)] = list(document["data"][name])

    replace_push(app, store, config, changing(store, change))


@mutant("lower-case-del-kept", "stock.case", "checks dbAction case-insensitively but stores it as sent, and only "
        "'DEL' marks a deletion: a lower-case del leaves the entry in stock")
def _lower_case_del_kept(app: Flask, store: Store, config: Config) -> None:
    def change(push: stock.StockPush, document: Any) -> None:
        push.columns["db_action"] = list(document["data"]["dbAction"])

    replace_push(app, store, config, changing(store, change))


@mutant("unknown-codes-stored-as-null", "stock.codes-kept", "looks condition, unit and location up in its code "
        "tables and stores null for a code they lack")
def _unknown_codes_stored_as_null(app: Flask, store: Store, config: Config) -> None:
    known: dict[str, Callable[[str], bool]] = {
        "condition": lambda code: code in stock.CONDITIONS, "unit": lambda code: code.upper() in stock.UNITS,
        "location": lambda code: stock.IATA_RE.fullmatch(code) is not None}

    def change(push: stock.StockPush, document: Any) -> None:
        for name, is_known in known.items():
            if (values := push.columns.get(name)) is not None:
                push.columns[name] = [v if v is None or is_known(v) else None for v in values]

    replace_push(app, store, config, changing(store, change))


@mutant("quantity-truncated", "stock.length-quantity", "stores quantity in an integer column, the document's type: "
        "12.5 FT is held as 12")
def _quantity_truncated(app: Flask, store: Store, config: Config) -> None:
    def change(push: stock.StockPush, document: Any) -> None:
        if (values := push.columns.get("quantity")) is not None:
            push.columns["quantity"] = [None if v is None else int(v) for v in values]

    replace_push(app, store, config, changing(store, change))


# --- late and repeated pushes ----------------------------------------------------------------------------


@mutant("older-change-wins", "stock.older-never-wins", "applies every change, whatever its timeStampEntry")
def _older_change_wins(app: Flask, store: Store, config: Config) -> None:
    replace_push(app, store, config, writing(store, lambda conn, rows: storage.upsert_rows(  # no newer-or-equal
        conn, stock.table, stock.STORED, rows)))


@mutant("delete-whatever-its-time", "stock.older-never-wins", "compares timeStampEntry for ADD and UPD only: a "
        "DEL removes the entry however old it is")
def _delete_whatever_its_time(app: Flask, store: Store, config: Config) -> None:
    def write(conn: Any, rows: Rows) -> None:
        storage.upsert_rows(conn, stock.table, stock.STORED, [r for r in rows if r[ACTION] != "DEL"],
                            newer_or_equal="time_stamp_entry")
        storage.upsert_rows(conn, stock.table, stock.STORED, [r for r in rows if r[ACTION] == "DEL"])

    replace_push(app, store, config, writing(store, write))


@mutant("delete-of-an-unknown-entry-dropped", "stock.older-never-wins", "drops a DEL of an entry it does not hold "
        "(nothing to delete), so the older ADD of that entry, arriving after it, is stored")
def _delete_of_an_unknown_entry_dropped(app: Flask, store: Store, config: Config) -> None:
    def change(push: stock.StockPush, document: Any) -> stock.StockPush:
        ids, actions = push.columns["connector_stock_id"], push.columns["db_action"]
        with store.read() as conn:
            held = set(conn.execute(sa.select(stock.table.c.connector_stock_id)
                                    .where(stock.table.c.connector_stock_id.in_(set(ids)))).scalars())
        return only_rows(push, lambda i: actions[i] != "DEL" or ids[i] in held)

    replace_push(app, store, config, changing(store, change))


@mutant("add-adds-to-the-quantity", "stock.replay-changes-nothing", "reads an ADD of an entry it already holds as "
        "more of it and adds the quantities, without telling a push it has already applied")
def _add_adds_to_the_quantity(app: Flask, store: Store, config: Config) -> None:
    table = stock.table

    def write(conn: Any, rows: Rows) -> None:
        added = {r[KEY] for r in rows if r[ACTION] == "ADD"}
        held = dict(conn.execute(sa.select(table.c.connector_stock_id, table.c.quantity).where(
            table.c.connector_stock_id.in_(added), table.c.db_action != "DEL")).tuples().all())
        more = [(*r[:QUANTITY], (held[r[KEY]] or 0) + (r[QUANTITY] or 0), *r[QUANTITY + 1:])
                if r[ACTION] == "ADD" and r[KEY] in held else r for r in rows]
        storage.upsert_rows(conn, table, stock.STORED, more, newer_or_equal="time_stamp_entry")

    replace_push(app, store, config, writing(store, write))


NOT_COVERED.update({
    "stock.ssl": "the mutant harness serves every mutant over HTTPS from one server; the receiver that breaks "
                 "this rule, the reference served over plain HTTP, is run by tests/test_contract_power.py::"
                 "test_the_contract_suite_fails_a_stock_receiver_served_over_plain_http instead",
})
