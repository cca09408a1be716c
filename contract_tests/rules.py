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
_rule("stock.post", MUST, "a conforming push is accepted with 200, a large one too (half the body limit given to "
      "the suite, at most 2 MiB)", document="The endpoint should accept HTTP POST requests.")
_rule("stock.format", MUST, "the document's own example is accepted and stored as printed, and so are a null in "
      "any descriptive column and text beyond ASCII", document=ACCEPT_FORMAT, decision="stock-2")
_rule("stock.replay-accepted", MUST, "a push received again is accepted with 200", document=ACCEPT_FORMAT,
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
_rule("s360.exactly-200", MUST, "a batch is accepted with exactly 200 (anything else makes the platform re-post)",
      document="If the remove system answers a value different than 200, the data will be reposted N times "
               "(By default, N=12) before giving up.", decision="s360-2")
_rule("s360.auth", MUST, "wrong credentials for the interface's mode are refused",
      document="Choose the authentication mode : NONE, BASIC_AUTH, API_KEY", decision="s360-6")
_rule("s360.auth-401", SHOULD, "wrong credentials are 401", decision="s360-6")
_rule("s360.invalid-batch", SHOULD, "a batch with an invalid product is refused whole: nothing applied",
      decision="s360-5")
_rule("s360.status-codes", SHOULD, "a refusal has its status: 400, 413, 415 or 422", decision="s360-5")
_rule("s360.batches-accepted", SHOULD, "empty, minimal, full and odd batches the platform may send are accepted",
      decision="s360-1")
_rule("s360.repost-changes-nothing", SHOULD, "a re-posted batch changes nothing",
      document="This webhook publishes the whole inventory, whatever the state of the product.", decision="s360-2")
_rule("s360.stored-by-id", SHOULD, "each product is stored by id with the full document the latest post sent",
      decision="s360-3")
_rule("s360.unknown-fields-kept", SHOULD, "unknown fields are in the stored document", decision="s360-4")

# --- ServiceMobility webhooks -----------------------------------------------------------------------
_rule("servicemobility.success", MUST, "a conforming event is answered 200",
      document="On success, an HTTP response code of 200 must be returned.")
_rule("servicemobility.invalid-logon", MUST, "a bad token is 401 Invalid Logon (when tokens are evaluated)",
      document="401 Invalid Logon.", decision="sm-2")
_rule("servicemobility.token-times", SHOULD, "a token issued or valid only in the future is refused",
      decision="sm-5")
_rule("servicemobility.exp-required", SHOULD, "a token without exp is refused", decision="sm-2")
_rule("servicemobility.optional-attributes", SHOULD, "an event without time, datacontenttype, action or subject is "
      "accepted and stored", decision="sm-4")
_rule("servicemobility.malformed", SHOULD, "a malformed event is refused with a JSON description, nothing stored",
      decision="sm-3")
_rule("servicemobility.duplicate", MUST, "an event with a (source, id) already received is disregarded: 200, "
      "nothing changed", document="ID representing this unique payload. Subsequent requests with duplicate IDs "
      "should be disregarded.", decision="sm-1")

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
