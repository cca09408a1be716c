"""What the plugin's fixtures give a test: the receiver under test, its state probe, and each channel's
platform (from ``simulator``) pointed at it."""

from __future__ import annotations

import random
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, TypeVar, cast
from urllib.parse import urljoin

import pytest

from inventory_push_kit.simulator.core import Request
from inventory_push_kit.simulator.erp import (
    CUSTOMER_QUEUE,
    SUBSCRIPTION_QUEUE,
    BrokerInspector,
    ErpGenerator,
    ErpMessage,
    ErpPublisher,
    encode,
)
from inventory_push_kit.simulator.http import Delivery, Sender
from inventory_push_kit.simulator.s360 import Auth, S360Platform
from inventory_push_kit.simulator.servicemobility import ServiceMobilityPlatform, SMCaseContext, TokenSigner
from inventory_push_kit.simulator.stock import StockPlatform

from .report import check, fail

T = TypeVar("T")


@dataclass(frozen=True)
class Target:
    """The receiver under test: its base URL, and what to verify its certificate with."""

    receiver_url: str
    ca_bundle: str | bool


class Probe:
    """The receiver's state probe (docs/state-probe.md): read-only GETs answering 200 or 404."""

    def __init__(self, base_url: str, headers: dict[str, str], ca_bundle: str | bool) -> None:
        self.base_url = base_url.rstrip("/") + "/"
        self.headers = headers
        self.sender = Sender(self.base_url, ca_bundle=ca_bundle, timeout=30)

    def get(self, path: str) -> tuple[int, Any]:
        status, body = self.sender.get_json(urljoin(self.base_url, path.lstrip("/")), self.headers)
        if status not in (200, 404):
            pytest.fail(f"the state probe answered {status} to GET {path}: {body!r} (docs/state-probe.md: "
                        f"200 with the object, or 404)")
        return status, body


@dataclass(frozen=True)
class StockTarget:
    """The stock push platform pointed at the receiver's endpoint, with the credentials it expects."""

    platform: StockPlatform
    credentials: dict[str, str]
    max_body_bytes: int


@dataclass
class S360Target:
    """The S-360 platform pointed at the receiver's webhook, with the interface's authentication."""

    platform: S360Platform
    auth: Auth
    max_body_bytes: int

    def send(self, request: Request) -> Delivery:
        return self.platform.sender.send(request)


@dataclass
class SMTarget:
    """The ServiceMobility platform pointed at the receiver's REST Endpoint URI, with its signer."""

    platform: ServiceMobilityPlatform
    signer: TokenSigner
    evaluates_tokens: bool

    def context(self) -> SMCaseContext:
        return SMCaseContext.for_signer(self.signer, seed=random.SystemRandom().randrange(2**32))

    def send(self, request: Request) -> Delivery:
        return self.platform.send(request)


# Where the probe shows what each documented queue carries (docs/state-probe.md).
PROBE_PATHS = {CUSTOMER_QUEUE: "erp/customers", SUBSCRIPTION_QUEUE: "erp/subscriptions"}


@dataclass(frozen=True)
class Sent:
    """One message the suite published, with the AMQP ``message_id`` it carried: how that very message is
    found again in a dead-letter queue (bodies repeat: an empty body is always the same)."""

    message: ErpMessage
    message_id: str

    @property
    def queue(self) -> str:
        return self.message.queue


@dataclass(frozen=True)
class Settled:
    """What :meth:`ErpTarget.settle` established. ``confirmed``: the probe showed a conforming marker stored on
    each queue, so the consumer had taken everything published there before it; otherwise the queues drained.
    ``until``: how long a check still waits for what it expects (``time.monotonic()``). ``barriers``: per queue,
    the message id of the poison marker published after the messages under test, if any."""

    confirmed: bool
    until: float
    barriers: dict[str, str]


@dataclass
class ErpTarget:
    """The ERP's publisher on the receiver's broker, and a look into its queues. ``wait`` bounds every
    wait for the consumer (``--erp-wait``); once a marker published after the messages under test is
    stored, a check waits only a little more (``grace``, or thrice the time the consumer took to store the
    marker), so a check that has clearly failed fails fast."""

    publisher: ErpPublisher
    broker: BrokerInspector
    queues: dict[str, str]  # documented name → the receiver's queue
    dead_letter_suffix: str
    wait: float = 20.0
    dead_letter_may_skip: bool = False  # --allow-skip dead-letter
    grace: float = 0.5
    _memo: dict[str, Any] = field(default_factory=dict)

    def generator(self) -> ErpGenerator:
        """Customers and subscriptions with ids no other check (nor an earlier run) uses."""
        rng = random.SystemRandom()
        return ErpGenerator(rng.randrange(2**32), id_offset=rng.randrange(10**6, 10**9))

    def publish(self, messages: Iterable[ErpMessage]) -> list[Sent]:
        """Publish in order, each with a message id of its own."""
        sent = []
        for msg in messages:
            message_id = f"contract-{uuid.uuid4().hex}"
            self.publisher.publish(self.publisher.queue_for(msg.queue), msg.body, message_id=message_id)
            sent.append(Sent(msg, message_id))
        return sent

    def wait_drained(self, what: str, *, case: str | None = None) -> None:
        """Both queues back to no ready message: the consumer took what was sent."""
        deadline = time.monotonic() + self.wait
        counts = self.publisher.declare_passive()
        while any(counts.values()) and time.monotonic() < deadline:
            time.sleep(0.05)
            counts = self.publisher.declare_passive()
        check(not any(counts.values()), what, expected=f"the queues drained within {self.wait:g} s (--erp-wait)",
              found=f"messages still waiting: {counts} — is the consumer running and acknowledging?", case=case)

    def settle(self, probe: Probe | None, queues: Iterable[str], what: str, *, dead_letters: bool = False,
               case: str | None = None) -> Settled:
        """Publish, after what a check published, a conforming marker on each of ``queues`` — after a poison
        one when the check looks into ``dead_letters`` — and wait until the consumer has taken them: with a
        probe until it shows every marker stored (fails when it does not within ``wait``), without one until
        the queues drained."""
        started = time.monotonic()
        generator = self.generator()
        markers: dict[str, str] = {}
        barriers: dict[str, str] = {}
        for queue in dict.fromkeys(queues):
            if dead_letters:
                poison = ErpMessage("dead-letter marker", queue, encode({"contractMarker": uuid.uuid4().hex}),
                                    "dead-letter")
                barriers[queue] = self.publish([poison])[0].message_id
            marker = generator.customer() | {"status": "Active"}
            if queue == SUBSCRIPTION_QUEUE:
                marker = generator.subscription(marker["id"]) | {"status": "Active"}
            self.publish([ErpMessage("marker", queue, encode(marker))])
            markers[queue] = marker["id"]
        if probe is None:
            self.wait_drained(what, case=case)
            return Settled(False, started + self.wait, barriers)
        while markers:
            for queue, marker_id in list(markers.items()):
                if probe.get(f"{PROBE_PATHS[queue]}/{marker_id}")[0] == 200:
                    del markers[queue]
            if markers and time.monotonic() >= started + self.wait:
                queue, marker_id = next(iter(markers.items()))
                fail(what, case=case, expected=f"a conforming message published after it on {queue} (id "
                     f"{marker_id}) stored within {self.wait:g} s (--erp-wait)",
                     found="the probe does not show it: the consumer is not taking that queue any more — stuck on "
                     "a message before it (re-queueing it forever?), or not storing at all")
            if markers:
                time.sleep(0.05)
        # What came before the markers is settled by now, on a consumer that keeps the order of a queue; one
        # that works on several messages at once may still be finishing one: give it thrice the time it took
        # to reach the markers, at least ``grace``.
        took = time.monotonic() - started
        return Settled(True, time.monotonic() + min(self.wait, max(self.grace, 3 * took)), barriers)

    def dead_letter_queue(self, queue: str) -> str:
        return self.queues[queue] + self.dead_letter_suffix

    def dead_lettered(self, sent: Iterable[Sent], settled: Settled) -> dict[str, set[str] | None]:
        """Per documented queue, the message ids of ``sent`` found in (and taken out of) its dead-letter
        queue — the poison marker's among them when it came —, None for a queue that has none. Looks until
        every one is found, or the poison marker behind them was, at the latest until ``settled.until``."""
        by_queue: dict[str, list[str]] = {queue: [] for queue in settled.barriers}
        for one in sent:
            by_queue.setdefault(one.queue, []).append(one.message_id)
        return {queue: self.broker.take(self.dead_letter_queue(queue), ids, barrier=settled.barriers.get(queue),
                                        until=settled.until)
                for queue, ids in by_queue.items()}

    def memo(self, key: str, make: Callable[[], T]) -> T:
        """``make()`` once per run (what several checks read, e.g. every poison case published at once); a
        failure is kept and raised again for each of them."""
        if key not in self._memo:
            try:
                self._memo[key] = (make(), None)
            except pytest.fail.Exception as exc:
                self._memo[key] = (None, exc)
        value, failure = self._memo[key]
        if failure is not None:
            raise failure
        return cast(T, value)
