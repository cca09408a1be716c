"""The ERP's named cases (``MALFORMATIONS``): messages that break the document's shape, each with what a
correct consumer does with it (AMQP has no status: store it, or dead-letter it). Each builder takes an
:class:`ErpCaseContext` and returns the messages to publish; a case applies to the queues it names."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, cast

from ..core import Case, Expectation, Registry
from .generator import ErpGenerator, characteristic
from .payload import CHANNEL, CUSTOMER_QUEUE, QUEUES, SUBSCRIPTION_QUEUE, ErpMessage, Message, Outcome, encode


@dataclass(frozen=True)
class ErpCaseContext:
    """What a malformation builds from: a generator and the documented queue the body is for."""

    generator: ErpGenerator
    queue: str = CUSTOMER_QUEUE

    def valid(self) -> dict[str, Any]:
        """A conforming object for this queue."""
        if self.queue == SUBSCRIPTION_QUEUE:
            return self.generator.subscription(self.generator.customer()["id"])
        return self.generator.customer()


CaseBuilder = Callable[[ErpCaseContext], tuple[Message, ...]]
MALFORMATIONS: Registry[ErpCaseContext, Message] = Registry(CHANNEL)

_NOT_PROCESSABLE = ("decision erp-3: a message that can never be processed (not JSON, no `id`) is "
                    "dead-lettered, not re-queued forever.")
_UPSERT = ("decision erp-1: each message is a full-state upsert keyed on (queue, `id`); "
           "unknown properties are kept.")
_BAG = "Consumers should parse this bag defensively."
STORED = Expectation((), _UPSERT, "MUST", outcome="stored")
DEAD_LETTER = Expectation((), _NOT_PROCESSABLE, "SHOULD", outcome="dead-letter")


def _malformation(
    name: str,
    description: str,
    outcome: Outcome,
    spec_text: str,
    *,
    level: str = "SHOULD",
    queues: tuple[str, ...] = QUEUES,
) -> Callable[[Callable[[ErpCaseContext], bytes]], CaseBuilder]:
    """Register a case from the function that makes its body: it applies to ``queues``, and the outcome
    a correct consumer gives it is its expectation (``statuses`` stays empty)."""

    def decorator(make: Callable[[ErpCaseContext], bytes]) -> CaseBuilder:
        def build(ctx: ErpCaseContext) -> tuple[Message, ...]:
            return (Message(ctx.queue, make(ctx)),)

        expect = Expectation(statuses=(), spec=spec_text, level=level, outcome=outcome)
        MALFORMATIONS.register(name, description, expect, applies=lambda ctx: ctx.queue in queues)(build)
        return build

    return decorator


def outcome(case: Case[ErpCaseContext, Message]) -> Outcome:
    """What a correct consumer does with a case's message: store it, or dead-letter it."""
    return cast(Outcome, case.expect.outcome)


def case_messages(case: Case[ErpCaseContext, Message], generator: ErpGenerator) -> list[ErpMessage]:
    """Every message ``case`` publishes, on each queue it applies to, named after it and carrying the
    outcome a correct consumer gives it."""
    contexts = (ErpCaseContext(generator, queue) for queue in QUEUES)
    return [ErpMessage(case.name, sent.queue, sent.body, outcome(case))
            for ctx in contexts if case.applies(ctx) for sent in case.build(ctx)]


@_malformation("empty-body", "a message with no body at all", "dead-letter", _NOT_PROCESSABLE)
def _empty_body(ctx: ErpCaseContext) -> bytes:
    return b""


@_malformation("not-json", "a JSON object cut off half-way (truncated body)", "dead-letter", _NOT_PROCESSABLE)
def _not_json(ctx: ErpCaseContext) -> bytes:
    body = encode(ctx.valid())
    return body[: len(body) // 2]


@_malformation(
    "not-utf8",
    "a well-formed JSON object encoded in ISO-8859-9 (Turkish Latin-5) while the message says UTF-8",
    "dead-letter",
    "RFC 8259 §8.1: JSON text exchanged between systems MUST be encoded using UTF-8; " + _NOT_PROCESSABLE,
)
def _not_utf8(ctx: ErpCaseContext) -> bytes:
    obj = ctx.valid()
    obj["name"] = "ŞÜKRÜ ÖZEKİNCİ"  # letters Latin-5 has and that are not valid UTF-8 there
    return json.dumps(obj, ensure_ascii=False, indent=2).encode("iso-8859-9")


@_malformation(
    "json-array",
    "the object wrapped in a JSON array",
    "dead-letter",
    "Notifications are published as domain payloads (no extra wrapper); " + _NOT_PROCESSABLE,
)
def _json_array(ctx: ErpCaseContext) -> bytes:
    return encode([ctx.valid()])


@_malformation(
    "json-string", "a JSON string (the id alone) instead of an object", "dead-letter", _NOT_PROCESSABLE
)
def _json_string(ctx: ErpCaseContext) -> bytes:
    return encode(ctx.valid()["id"])


@_malformation("no-id", "an object without `id`", "dead-letter", _NOT_PROCESSABLE)
def _no_id(ctx: ErpCaseContext) -> bytes:
    obj = ctx.valid()
    del obj["id"]
    return encode(obj)


@_malformation("id-empty-string", "an object whose `id` is the empty string", "dead-letter", _NOT_PROCESSABLE)
def _id_empty_string(ctx: ErpCaseContext) -> bytes:
    obj = ctx.valid()
    obj["id"] = ""
    return encode(obj)


@_malformation(
    "id-not-a-string-or-number", "an object whose `id` is itself an object", "dead-letter", _NOT_PROCESSABLE
)
def _id_object(ctx: ErpCaseContext) -> bytes:
    obj = ctx.valid()
    obj["id"] = {"value": obj["id"]}
    return encode(obj)


# The documented ids are digits in strings; the same digits as a JSON number identify the same object.
@_malformation(
    "numeric-id",
    "`id` as a JSON number (134719) instead of a string: stored under its string form",
    "stored",
    "`id` corresponds to customerId/subscriptionId in the ERP; " + _UPSERT,
)
def _numeric_id(ctx: ErpCaseContext) -> bytes:
    obj = ctx.valid()
    obj["id"] = int(obj["id"])
    return encode(obj)


@_malformation(
    "unknown-properties",
    "extra attributes and arrays the example does not show",
    "stored",
    "The object MAY include additional customer attributes and arrays (e.g., addresses, contacts) depending "
    "on ERP mapping. Treat unknown properties as forward-compatible.",
    level="MUST",
)
def _unknown_properties(ctx: ErpCaseContext) -> bytes:
    obj = ctx.valid()
    obj["addresses"] = [{"type": "fatura", "city": "ANKARA", "street1": "çankaya"}]
    obj["contacts"] = [{"name": "GÜLŞEN ÇELİK", "role": "Yetkili"}]
    obj["@type"] = "Customer" if ctx.queue == CUSTOMER_QUEUE else "Agreement"
    return encode(obj)


# A single-element array mapped from XML to a bare object: the bag is broken, the message is not.
@_malformation(
    "characteristic-not-a-list",
    "`characteristic` is one {name, valueType, value} object instead of a list of them",
    "stored",
    _BAG + " " + _UPSERT,
    queues=(SUBSCRIPTION_QUEUE,),
)
def _characteristic_not_a_list(ctx: ErpCaseContext) -> bytes:
    obj = ctx.valid()
    obj["characteristic"] = obj["characteristic"][0]
    return encode(obj)


@_malformation(
    "properties-instead-of-characteristic",
    "the property bag sent under the name `properties` (as the document's warning calls it)",
    "stored",
    "The ERP may send additional key/value tuples inside `properties`; "
    "decision erp-2: accept `properties` as an alias of `characteristic`.",
    queues=(SUBSCRIPTION_QUEUE,),
)
def _properties_alias(ctx: ErpCaseContext) -> bytes:
    obj = ctx.valid()
    obj["properties"] = obj.pop("characteristic")
    return encode(obj)


@_malformation(
    "value-does-not-parse",
    'MONTAGE_DATE with valueType Date and value "not a date": stored, the raw string kept',
    "stored",
    "decision erp-2: parse `valueType` case-insensitively, keep the raw string when a value does not parse.",
    queues=(SUBSCRIPTION_QUEUE,),
)
def _value_does_not_parse(ctx: ErpCaseContext) -> bytes:
    obj = ctx.valid()
    triplet = characteristic(obj, "MONTAGE_DATE")
    assert triplet is not None
    triplet.update(valueType="Date", value="not a date")
    return encode(obj)


MALFORMED_ID_OFFSET = 700_000  # ids of their own: the malformed scenario's objects are no one's updates


def malformed_messages(seed: int = 0) -> list[ErpMessage]:
    """Every malformation on every queue it applies to; one generator, so every stored case has an
    id of its own."""
    generator = ErpGenerator(seed, id_offset=MALFORMED_ID_OFFSET)
    return [message for case in MALFORMATIONS for message in case_messages(case, generator)]
