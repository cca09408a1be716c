"""The rules the contract suite checks, each once: its id, its channel, its level, and the sentence it
rests on — quoted from the platform's document (MUST) or from the kit's decisions (SHOULD; the text is
``contract_tests/decisions.md``, shipped with the suite). Every check names exactly one rule with
``@rule("stock.older-never-wins")``; a failure quotes it, and ``--rules ID,…`` runs only those checks."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any, TypeVar

import pytest

MUST, SHOULD = "MUST", "SHOULD"
CHANNELS = ("stock", "s360", "servicemobility", "erp")
DOCUMENTS = {"stock": "stock-push.rst", "s360": "s360-inventory-webhook.txt",
             "servicemobility": "servicemobility-inventory-usage.txt", "erp": "erp-amqp-push.md"}


@dataclass(frozen=True)
class Rule:
    """One requirement a receiver must meet. ``document`` is the platform document's own sentence (for a
    MUST), ``decision`` the id of a decision in decisions.md (for a SHOULD, or for what a MUST's sentence
    leaves open); either or both."""

    id: str
    level: str
    summary: str  # what a correct receiver does, in a line
    document: str = ""
    decision: str = ""

    @property
    def channel(self) -> str:
        return self.id.split(".", 1)[0]

    def quote(self) -> str:
        """The sentences this rule rests on, as a failure quotes them."""
        parts = []
        if self.document:
            parts.append(f'{DOCUMENTS[self.channel]}: "{self.document}"')
        if self.decision:
            parts.append(f'decision {self.decision} (decisions.md): "{decision_text(self.decision)}"')
        return "\n    ".join(parts)


def decisions_path() -> str:
    """Where the installed decisions.md is, for a person to read."""
    return str(resources.files(__package__) / "decisions.md")


@cache
def decisions() -> dict[str, str]:
    """decision id → its text, read from decisions.md."""
    text = (resources.files(__package__) / "decisions.md").read_text(encoding="utf-8")
    found = {}
    for match in re.finditer(r"^- \*\*([a-z0-9]+-\d+)\*\* — (.*?)(?=^- \*\*|^## |\Z)", text, re.M | re.S):
        found[match[1]] = " ".join(match[2].split())
    return found


def decision_text(decision_id: str) -> str:
    return decisions()[decision_id]


RULES: dict[str, Rule] = {}


def _rule(id: str, level: str, summary: str, *, document: str = "", decision: str = "") -> None:
    if id in RULES:
        raise ValueError(f"rule {id} defined twice")
    RULES[id] = Rule(id, level, summary, document, decision)


# --- stock push ---------------------------------------------------------------------------------------
ACCEPT_FORMAT = "The endpoint should accept data in format and scope as defined in the following."
_rule("stock.ssl", MUST, "the endpoint is served over HTTPS", document="The connection should be SSL encrypted.")
_rule("stock.post", MUST, "a conforming push is accepted with a 2xx, a large one too (half the body limit given to "
      "the suite, at most 2 MiB)", document="The endpoint should accept HTTP POST requests.", decision="stock-8")
_rule("stock.format", MUST, "the document's own example is accepted and stored as printed, and so are a null in "
      "any descriptive column and text beyond ASCII", document=ACCEPT_FORMAT, decision="stock-2")
_rule("stock.replay-accepted", MUST, "a push received again is accepted with a 2xx", document=ACCEPT_FORMAT,
      decision="stock-5")
_rule("stock.credentials", MUST, "missing or wrong credential headers are refused",
      document="The endpoint should be secured with credentials. These credentials are provided as header fields.")
_rule("stock.credentials-401", SHOULD, "missing or wrong credentials are answered 401", decision="stock-6")
_rule("stock.credentials-store-nothing", SHOULD, "nothing of a push with missing or wrong credentials is stored",
      decision="stock-6")
_rule("stock.db-action", MUST, "ADD adds, UPD updates, DEL removes the entry by its key, each row as sent and in "
      "the order sent",
      document="The field dbAction contains the specification what has been changed: ADD Entry has been added "
               "to the database, DEL Entry has been removed from the database, UPD Entry has been updated in the "
               "database", decision="stock-5")
_rule("stock.structural", SHOULD, "a push with a structural error in any row, first, middle or last, is refused "
      "whole: nothing of it is applied", decision="stock-4")
_rule("stock.status-codes", SHOULD, "a refusal has its status: 400, 413, 415 or 422", decision="stock-4")
_rule("stock.alias", SHOULD, "a push keyed by internalStockId is stored under those ids, as connectorStockId",
      decision="stock-1")
_rule("stock.dashes", SHOULD, "part numbers and dates written with U+2011 or another dash of the family are read "
      "with '-', dates held as YYYY-MM-DD", decision="stock-2")
_rule("stock.case", SHOULD, "condition, unit and dbAction are read case-insensitively: a lower-case upd updates, "
      "a del deletes", decision="stock-2")
_rule("stock.codes-kept", SHOULD, "unknown condition and unit codes and non-IATA locations are stored as sent",
      decision="stock-3")
_rule("stock.length-quantity", SHOULD, "a fractional quantity of a length unit is stored exactly",
      decision="stock-7")
_rule("stock.older-never-wins", SHOULD, "an older change never overwrites a newer one: no late ADD or UPD brings "
      "back a deleted entry, no late DEL removes a newer one", decision="stock-5")
_rule("stock.replay-changes-nothing", SHOULD, "a push received again, the latest or an older one, changes nothing",
      decision="stock-5")

# --- S-360 inventory webhook ------------------------------------------------------------------------
S360_REPOST = ("If the remove system answers a value different than 200, the data will be reposted N times "
               "(By default, N=12) before giving up.")
S360_WHOLE = "This webhook publishes the whole inventory, whatever the state of the product."
_rule("s360.exactly-200", MUST, "every batch it accepts is answered exactly 200, never 201, 202 or 204, whether or "
      "not the batch changed anything", document=S360_REPOST, decision="s360-2")
_rule("s360.full-batch", MUST, "a full batch, P=1000 products the size of the document's example, is accepted and "
      "every product of it stored", document="Enter P into the Batch size field. (default value: 1000)",
      decision="s360-1")
_rule("s360.any-state", MUST, "products are accepted and stored whatever their state", document=S360_WHOLE)
_rule("s360.nothing-removed", MUST, "a product stays held when a later batch does not carry it",
      document="This webhook publishes JSON data describing the products of the catalog which changed since last "
               "synchronization.", decision="s360-1")
_rule("s360.auth", MUST, "wrong credentials for the interface's mode are refused, and nothing of their batch stored",
      document="Choose the authentication mode : NONE, BASIC_AUTH, API_KEY", decision="s360-6")
_rule("s360.auth-401", SHOULD, "wrong credentials are 401", decision="s360-6")
_rule("s360.api-key-hyphen", SHOULD, "with API_KEY, -x-api-key and x-api-key name the same header", decision="s360-6")
_rule("s360.refused-then-accepted", SHOULD, "a batch refused for its credentials is applied when posted again with "
      "the right ones", decision="s360-6")
_rule("s360.invalid-batch", SHOULD, "a batch with an invalid product, first, middle or last, is refused whole: "
      "nothing of it applied", decision="s360-5")
_rule("s360.status-codes", SHOULD, "a refusal has its status: 400, 413, 415 or 422", decision="s360-5")
_rule("s360.batches-accepted", SHOULD, "an empty batch, and a batch sent as application/json; charset=UTF-8, are "
      "accepted", decision="s360-1")
_rule("s360.minimal-products", SHOULD, "products with fewer fields than the example, down to id and code alone, are "
      "accepted and stored as sent", decision="s360-4")
_rule("s360.unknown-fields-kept", SHOULD, "unknown fields, at the top of a product and nested, are in the stored "
      "document", decision="s360-4")
_rule("s360.id-64-bit", SHOULD, "ids from -2^63 to 2^63-1 are accepted and stored exactly, each apart from its "
      "neighbour", decision="s360-3")
_rule("s360.stored-by-id", SHOULD, "each product is stored by id, not by code, with its full document as sent",
      decision="s360-3")
_rule("s360.latest-document", SHOULD, "the stored document is the one the latest post sent, wherever the product "
      "sits in its batch", decision="s360-3")
_rule("s360.change-tracked", SHOULD, "a product is recorded changed exactly when its document changed as JSON (key "
      "order and whitespace are no change)", decision="s360-3")
_rule("s360.repost-changes-nothing", SHOULD, "a re-posted batch changes nothing", document=S360_WHOLE,
      decision="s360-2")

# --- ServiceMobility webhooks -----------------------------------------------------------------------
_rule("servicemobility.success", MUST, "a conforming event of each of the nine types, on its own path, is "
      "answered 200", document="On success, an HTTP response code of 200 must be returned.")
_rule("servicemobility.stored", MUST, "an accepted event of each of the nine types is stored under its (source, "
      "id): its type, and every row of data in the order sent",
      document="200 OK. The Inventory Usage request was received successfully.", decision="sm-6")
_rule("servicemobility.trailing-slash", SHOULD, "each path without its trailing slash is answered 200 too (not "
      "redirected), and the event stored", decision="sm-6")
_rule("servicemobility.invalid-logon", MUST, "a bad token is refused with 401 on every path, and nothing is "
      "stored (when tokens are evaluated)", document="401 Invalid Logon.", decision="sm-2")
_rule("servicemobility.token-times", SHOULD, "a token issued or valid only in the future is refused (401), "
      "nothing stored", decision="sm-5")
_rule("servicemobility.exp-required", SHOULD, "a token without exp is refused (401), nothing stored",
      decision="sm-2")
_rule("servicemobility.optional-attributes", SHOULD, "an event without time, datacontenttype, action or subject is "
      "accepted and stored, on every path", decision="sm-4")
_rule("servicemobility.malformed", SHOULD, "a malformed event is refused with a 4xx and a JSON description, on "
      "every path and whichever row is broken; nothing of it is stored", decision="sm-3")
_rule("servicemobility.status-codes", SHOULD, "a refusal has its status: 400 not JSON, 422 a JSON body that "
      "breaks the envelope or its data", decision="sm-3")
_rule("servicemobility.duplicate", MUST, "an event with a (source, id) already received is disregarded: 200, "
      "the stored event unchanged, on every path", document="ID representing this unique payload. Subsequent "
      "requests with duplicate IDs should be disregarded.", decision="sm-1")
_rule("servicemobility.duplicate-key", SHOULD, "the same id from another source is another event: accepted and "
      "stored beside the first", decision="sm-1")
_rule("servicemobility.refused-not-duplicate", SHOULD, "an event refused (401, 422) and sent again correctly is "
      "accepted and stored, not disregarded as a duplicate", decision="sm-1")

# --- ERP over AMQP ----------------------------------------------------------------------------------
_rule("erp.ack-after-processing", MUST, "conforming messages are consumed and acknowledged",
      document="Delivery: at-least-once (consumer should ack after successful processing)")
_rule("erp.idempotent", MUST, "a re-delivered message changes nothing; the last state per id is held",
      document="if your app crashes before ack, the message will be re-delivered. Make handlers idempotent.",
      decision="erp-1")
_rule("erp.poison-dead-lettered", SHOULD, "a message that can never be processed is dead-lettered",
      decision="erp-3")
_rule("erp.forward-compatible", SHOULD, "odd but processable messages are stored, unknown properties kept",
      document="Treat unknown properties as forward-compatible.", decision="erp-2")

F = TypeVar("F", bound=Callable[..., Any])


def rule(rule_id: str) -> Callable[[F], F]:
    """Mark a check with its rule: its level (must/should), the sentence (spec), the rule and its channel."""
    found = RULES[rule_id]

    def decorate(test: F) -> F:
        for mark in (pytest.mark.must if found.level == MUST else pytest.mark.should, pytest.mark.spec(found.quote()),
                     pytest.mark.rule(found.id), pytest.mark.channel(found.channel)):
            test = mark(test)
        return test

    return decorate
