"""What the ERP puts on its queues (``erp-amqp-push.md``): bare JSON customer and subscription objects
(no envelope), each message the full state of one object keyed on its ``id``, and what a correct consumer
ends up holding after a sequence of them."""

from __future__ import annotations

import datetime as dt
import json
import random
import re
from collections import OrderedDict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

CHANNEL = "erp"
CUSTOMER_QUEUE = "secom-customer-queue"
SUBSCRIPTION_QUEUE = "secom-subscriptions-queue"
QUEUES = (CUSTOMER_QUEUE, SUBSCRIPTION_QUEUE)

Outcome = Literal["stored", "dead-letter"]


def encode(obj: Any) -> bytes:
    """A payload as the ERP publishes it: JSON, Turkish letters as UTF-8 (not ``\\u`` escapes)."""
    return json.dumps(obj, ensure_ascii=False, indent=2).encode("utf-8")


@dataclass(frozen=True)
class Message:
    """What the ERP publishes once: a body for one of its documented queues (the publisher maps the
    documented name to the queue it is configured with)."""

    queue: str  # CUSTOMER_QUEUE or SUBSCRIPTION_QUEUE
    body: bytes


@dataclass(frozen=True)
class ErpMessage:
    """One message the ERP publishes: to which documented queue, its bytes, and what a correct
    consumer does with it."""

    name: str
    queue: str  # CUSTOMER_QUEUE or SUBSCRIPTION_QUEUE; the publisher maps it to its configured queue
    body: bytes
    outcome: Outcome = "stored"

    def key(self) -> tuple[str, str] | None:
        """(queue, id) of a message a consumer stores; ids normalised to their string form."""
        if self.outcome != "stored":
            return None
        obj = json.loads(self.body)
        return self.queue, _normalised_id(obj["id"])


def _normalised_id(value: Any) -> str:
    return str(value)


def message(obj: dict[str, Any], queue: str, name: str | None = None) -> ErpMessage:
    """A conforming message for ``obj`` (named after its queue kind and id unless ``name`` is given)."""
    kind = "customer" if queue == CUSTOMER_QUEUE else "subscription"
    return ErpMessage(name or f"{kind} {obj['id']}", queue, encode(obj))


def out_of_order(messages: Sequence[ErpMessage], seed: int = 0) -> list[ErpMessage]:
    """Interleave messages of different objects and of both queues at random (a subscription may
    come before its customer) while keeping each object's own states in publication order.

    Within one queue the broker keeps publication order, and a full state carries no version, so
    reordering one object's states would change what a correct consumer ends with.
    """
    rng = random.Random(seed)
    lanes: OrderedDict[object, list[ErpMessage]] = OrderedDict()
    for index, msg in enumerate(messages):
        lanes.setdefault(msg.key() or index, []).append(msg)
    heads = [lane[::-1] for lane in lanes.values()]
    mixed: list[ErpMessage] = []
    while heads:
        lane = heads[rng.randrange(len(heads))]
        mixed.append(lane.pop())
        heads = [h for h in heads if h]
    return mixed


def duplicates(messages: Sequence[ErpMessage]) -> list[ErpMessage]:
    """Every message published twice in a row, as an at-least-once re-delivery does."""
    doubled: list[ErpMessage] = []
    for msg in messages:
        doubled += [msg, ErpMessage(f"{msg.name} (duplicate)", msg.queue, msg.body, msg.outcome)]
    return doubled


def expected_state(messages: Iterable[ErpMessage]) -> dict[tuple[str, str], Any]:
    """What a correct consumer holds afterwards: per (queue, id) the last stored message's object,
    as published (a numeric ``id`` is keyed by its string form)."""
    state: dict[tuple[str, str], Any] = {}
    for msg in messages:
        key = msg.key()
        if key is not None:
            state[key] = json.loads(msg.body)
    return state



# -- what a correct consumer's state probe shows besides the document (docs/state-probe.md) ------------

BAGS = ("characteristic", "properties")  # the document's two names for a subscription's property bag
_NUMBER = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")
_INTEGER = re.compile(r"[+-]?\d+")


def triplets(obj: dict[str, Any]) -> list[dict[str, Any]] | None:
    """The subscription's bag as published: the ``{name, valueType, value}`` triplets of ``characteristic``
    then ``properties``, each as sent. None when a bag is anything but a list of such triplets with string
    parts (an odd bag: what a consumer reads from it is its own choice, only the document is compared)."""
    found: list[dict[str, Any]] = []
    for name in BAGS:
        bag = obj.get(name)
        if bag is None:
            continue
        if not isinstance(bag, list):
            return None
        for triplet in bag:
            if not (isinstance(triplet, dict) and set(triplet) == {"name", "valueType", "value"}
                    and all(isinstance(part, str) for part in triplet.values())):
                return None
            found.append(dict(triplet))
    return found


def read_value(value_type: str, value: str) -> tuple[str | None, Any]:
    """(type, parsed) of one triplet as the probe shows it: ``valueType`` read case-insensitively (decision
    erp-2) into string, date, datetime, float, integer or boolean (None: another type, the value as sent);
    ``parsed`` None when the value does not parse as that type (its raw string is kept beside it)."""
    kind = value_type.strip().lower()
    text = value.strip()
    try:
        if kind == "string":
            return kind, value
        if kind == "date":
            return kind, dt.date.fromisoformat(text).isoformat() if len(text) == 10 else None
        if kind == "datetime":
            return kind, dt.datetime.fromisoformat(text).isoformat() if text else None
        if kind == "float":
            return kind, float(text) if _NUMBER.fullmatch(text) else None
        if kind == "integer":
            return kind, int(text) if _INTEGER.fullmatch(text) else None
        if kind == "boolean":
            return kind, {"true": True, "false": False}.get(text.lower())
    except ValueError:
        return kind, None
    return None, value


def engaged_party(obj: dict[str, Any]) -> list[str] | None:
    """The customer ids a subscription names in ``engagedParty`` (string form), or None when the list is
    not one of ``{id}`` objects with a string or integer id."""
    parties = obj.get("engagedParty")
    if parties is None:
        return []
    if not isinstance(parties, list):
        return None
    ids = []
    for party in parties:
        value = party.get("id") if isinstance(party, dict) else None
        if isinstance(value, bool) or not isinstance(value, str | int) or value == "":
            return None
        ids.append(str(value))
    return ids
