"""Stock push receivers that each break one rule."""

from __future__ import annotations

from flask import Flask

from receiver import storage, web
from receiver.channels import stock
from receiver.config import Config
from receiver.storage import Store
from receiver.web import Receipt
from tests.mutants import NOT_COVERED, mutant


def replace_push(app: Flask, store: Store, config: Config, receive: web.Receive, *,
                 authenticate: bool = True) -> None:
    """The stock push endpoint with another ``receive`` (and, optionally, no credential check)."""
    credentials = config.stock.credential_headers
    app.view_functions["stock_push"] = web.push_view(
        "stock_push", channel="stock", store=store, max_body_bytes=config.stock.max_body_bytes, receive=receive,
        authenticate=(lambda: web.require_headers(credentials)) if authenticate else (lambda: None))


@mutant("accepts-without-credentials", "stock.credentials", "never checks the credential headers")
def _accepts_without_credentials(app: Flask, store: Store, config: Config) -> None:
    replace_push(app, store, config, lambda body, **sent: stock.receive(store, config.stock, body, **sent),
                 authenticate=False)


@mutant("older-change-wins", "stock.older-never-wins", "applies every change, whatever its timeStampEntry")
def _older_change_wins(app: Flask, store: Store, config: Config) -> None:
    def receive(body: bytes, *, content_type: str | None, remote_addr: str | None) -> Receipt:
        push = stock.validate(web.parse_json(body))
        with store.write() as conn:
            delivery = storage.record_delivery(conn, channel="stock", outcome="accepted", status=200, body=body)
            storage.upsert_rows(conn, stock.table, stock.STORED, push.rows(delivery))  # no newer-or-equal
        return Receipt("accepted", delivery, {"received": push.size}, push.warnings)

    replace_push(app, store, config, receive)


NOT_COVERED.update(dict.fromkeys((
    "stock.ssl",
    "stock.post",
    "stock.format",
    "stock.replay-accepted",
    "stock.credentials-401",
    "stock.credentials-store-nothing",
    "stock.db-action",
    "stock.structural",
    "stock.status-codes",
    "stock.alias",
    "stock.dashes",
    "stock.case",
    "stock.codes-kept",
    "stock.length-quantity",
    "stock.replay-changes-nothing",
), "no mutant written yet"))
