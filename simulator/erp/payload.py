"""What the ERP puts on its queues (``erp-amqp-push.md``): bare JSON customer and subscription objects
(no envelope), each message the full state of one object keyed on its ``id``, and what a correct consumer
ends up holding after a sequence of them."""

from __future__ import annotations

import json
import random
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

