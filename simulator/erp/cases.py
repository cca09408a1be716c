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

_NOT_PROCESSABLE = ("decision erp-3: a message that can never be processed (not JSON, not UTF-8, not an object, "
                    "no usable `id`) is dead-lettered, not re-queued forever and not dropped.")
_PROCESSABLE = ("decision erp-3: anything else is processed and stored, however odd: an `id` sent as a JSON "
                "number is the id of its digits, and a documented property that is missing, null or of another "
                "JSON type does not make a message poison.")
_UPSERT = ("decision erp-1: each message is a full-state upsert keyed on (queue, `id`); "
           "unknown properties are kept.")
_BAG = "Consumers should parse this bag defensively."
_VALUE_TYPES = "decision erp-2: parse `valueType` case-insensitively, keep the raw string when a value does not parse."
_DEACTIVATED = ("Emitted when a customer is created/updated/deactivated in ERP. `status` can be `Active` or "
                "`Passive`; decision erp-1: a deactivated object is a state like any other, held, not removed.")
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
    "`id` corresponds to customerId/subscriptionId in the ERP; " + _PROCESSABLE,
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
    # … and inside the documented objects too
    if ctx.queue == CUSTOMER_QUEUE:
        obj["contactMedium"][0]["characteristic"] |= {"district": "ATAŞEHİR", "postCode": "34752"}
        obj["contactMedium"][0]["mediumType"] = "PostalAddress"
    else:
        obj["completionDate"]["@type"] = "TimePeriod"
        obj["engagedParty"][0] |= {"@referredType": "Customer", "role": "Abone"}
    return encode(obj)


# A single-element array mapped from XML to a bare object: the bag is broken, the message is not.
@_malformation(
    "characteristic-not-a-list",
    "`characteristic` is one {name, valueType, value} object instead of a list of them",
    "stored",
    _BAG,
    level="MUST",
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
    obj = _mixed_case(ctx.valid())
    obj["properties"] = obj.pop("characteristic")
    return encode(obj)


@_malformation(
    "properties-beside-characteristic",
    "`characteristic` with the usual triplets, and more triplets under `properties` beside it",
    "stored",
    "The ERP may send additional key/value tuples inside `properties`; "
    "decision erp-2: the bag may come as `properties`, instead of or beside `characteristic`.",
    queues=(SUBSCRIPTION_QUEUE,),
)
def _properties_beside(ctx: ErpCaseContext) -> bytes:
    obj = ctx.valid()
    obj["properties"] = [{"name": "CONTRACT_CHANNEL", "valueType": "String", "value": "Bayi"},
                         {"name": "MONTHLY_FEE", "valueType": "Float", "value": "449.9"},
                         {"name": "CONTRACT_SIGNED", "valueType": "Date", "value": "2021-08-12"}]
    return encode(obj)


# How the ERP's free-text valueType varies: every type in another case than the document's.
MIXED_CASE = {"String": ("string", "STRING"), "Date": ("DATE",), "Float": ("float",), "Integer": ("INTEGER",),
              "Boolean": ("boolean",)}


def _mixed_case(obj: dict[str, Any]) -> dict[str, Any]:
    seen: dict[str, int] = {}
    for triplet in obj["characteristic"]:
        spellings = MIXED_CASE[triplet["valueType"].capitalize()]
        index = seen[triplet["valueType"].lower()] = seen.get(triplet["valueType"].lower(), -1) + 1
        triplet["valueType"] = spellings[index % len(spellings)]
    return obj


@_malformation(
    "subscription-valuetype-mixed-case",
    "valueType written in varied case (string, DATE, float, INTEGER, boolean)",
    "stored",
    _VALUE_TYPES,
    queues=(SUBSCRIPTION_QUEUE,),
)
def _valuetype_mixed_case(ctx: ErpCaseContext) -> bytes:
    return encode(_mixed_case(ctx.valid()))


# Values that are not of their valueType in any reading: the raw string is all there is.
UNPARSABLE = {"MONTAGE_DATE": ("Date", "not a date"), "TOTAL_PAST_DUE_INSTALMENT": ("Float", "bilinmiyor"),
              "INSTALMENT_COUNT": ("Integer", "yirmi dört"), "E_INVOICE": ("Boolean", "belki")}


@_malformation(
    "value-does-not-parse",
    'values that are not of their valueType (a Date "not a date", a Float, an Integer and a Boolean in words): '
    "stored, the raw strings kept",
    "stored",
    _VALUE_TYPES,
    queues=(SUBSCRIPTION_QUEUE,),
)
def _value_does_not_parse(ctx: ErpCaseContext) -> bytes:
    obj = ctx.valid()
    for name, (value_type, value) in UNPARSABLE.items():
        triplet = characteristic(obj, name)
        assert triplet is not None
        triplet.update(valueType=value_type, value=value)
    return encode(obj)


@_malformation(
    "bag-odd-triplets",
    "triplets without valueType, of an unknown valueType, with a number, a null or an extra key, one without a "
    "name, among the usual ones",
    "stored",
    "The ERP may send additional key/value tuples inside `properties` (triplets of `name`, `valueType`, "
    "`value`). " + _BAG,
    level="MUST",
    queues=(SUBSCRIPTION_QUEUE,),
)
def _bag_odd_triplets(ctx: ErpCaseContext) -> bytes:
    obj = ctx.valid()
    obj["characteristic"] += [
        {"name": "NOTE", "value": "arka kapıdan girilecek"},
        {"name": "DEPOSIT", "valueType": "Money", "value": "1.500,00 TL"},
        {"name": "ZONE_COUNT", "valueType": "Integer", "value": 8},
        {"name": "REMOTE_CODE", "valueType": "String", "value": None},
        {"name": "CABLE_LENGTH", "valueType": "Float", "value": "12.5", "unit": "m"},
        {"valueType": "String", "value": "adı olmayan"},
    ]
    return encode(obj)


@_malformation(
    "document-number-number",
    "`documentNumber` as a JSON number (TM Forum's TMF651 has it an integer) instead of a string",
    "stored",
    _PROCESSABLE,
    queues=(SUBSCRIPTION_QUEUE,),
)
def _document_number_number(ctx: ErpCaseContext) -> bytes:
    obj = ctx.valid()
    obj["documentNumber"] = int(obj["documentNumber"])
    return encode(obj)


@_malformation("only-id", "an object with its `id` and nothing else", "stored", _PROCESSABLE)
def _only_id(ctx: ErpCaseContext) -> bytes:
    return encode({"id": ctx.valid()["id"]})


@_malformation(
    "null-properties", "every documented property but `id` sent as null", "stored", _PROCESSABLE
)
def _null_properties(ctx: ErpCaseContext) -> bytes:
    obj = ctx.valid()
    return encode({key: obj["id"] if key == "id" else None for key in obj})


@_malformation(
    "engaged-party-several",
    "a subscription naming three customers in `engagedParty`, the entries with extra keys, none of the customers "
    "published",
    "stored",
    "`engagedParty` corresponds to `customerId` in the ERP; decision erp-2: a subscription's `engagedParty` ids are "
    "the customers it belongs to, every one of them.",
    queues=(SUBSCRIPTION_QUEUE,),
)
def _engaged_party_several(ctx: ErpCaseContext) -> bytes:
    obj = ctx.valid()
    owner = obj["engagedParty"][0]["id"]
    obj["engagedParty"] = [{"id": owner, "@referredType": "Customer"}, {"id": str(int(owner) + 1), "role": "Kefil"},
                           {"id": str(int(owner) + 2)}]
    return encode(obj)


@_malformation(
    "customer-passive", "a deactivated customer (status Passive): a full state like any other", "stored",
    _DEACTIVATED, queues=(CUSTOMER_QUEUE,),
)
def _customer_passive(ctx: ErpCaseContext) -> bytes:
    return encode(ctx.valid() | {"status": "Passive"})


@_malformation(
    "subscription-passive", "a subscription whose status is Passive: a full state like any other", "stored",
    _DEACTIVATED, queues=(SUBSCRIPTION_QUEUE,),
)
def _subscription_passive(ctx: ErpCaseContext) -> bytes:
    return encode(ctx.valid() | {"status": "Passive"})


# Every Turkish letter, the characters where Windows-1254 and ISO-8859-9 differ from Latin-1 and from UTF-8 read
# as either (€, ’, “ ”, ş, ğ, ı), and one beyond the Basic Multilingual Plane (four bytes in UTF-8).
TURKISH_TEXT = "ÇĞİÖŞÜ çğıöşü — Iı İi “ŞÜKRÜ’NÜN” 1.250 € 🌷"


@_malformation(
    "turkish-text",
    "Turkish letters in every text (every one of them, the dotted and dotless i, typographic quotes, €, an emoji)",
    "stored",
    "Content-Type: `application/json` (JSON text is UTF-8, RFC 8259 §8.1); decision erp-1: the object is held as "
    "received, its text exactly as sent.",
    level="MUST",
)
def _turkish_text(ctx: ErpCaseContext) -> bytes:
    obj = ctx.valid()
    obj["name"] = f"ÖZGÜR ŞİMŞEK — {TURKISH_TEXT}"
    if ctx.queue == CUSTOMER_QUEUE:
        obj["contactMedium"][0]["characteristic"] |= {"city": "ÇANAKKALE", "street1": f"ığdır sk. {TURKISH_TEXT}"}
    else:
        obj["characteristic"].append({"name": "NOTE", "valueType": "String", "value": TURKISH_TEXT})
        obj["agreementType"] = "Satış"
    return encode(obj)


MALFORMED_ID_OFFSET = 700_000  # ids of their own: the malformed scenario's objects are no one's updates


def malformed_messages(seed: int = 0) -> list[ErpMessage]:
    """Every malformation on every queue it applies to; one generator, so every stored case has an
    id of its own."""
    generator = ErpGenerator(seed, id_offset=MALFORMED_ID_OFFSET)
    return [message for case in MALFORMATIONS for message in case_messages(case, generator)]
