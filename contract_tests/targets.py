"""What the plugin's fixtures give a test: the receiver under test, its state probe, and each channel's
platform (from ``simulator``) pointed at it."""

from __future__ import annotations

import random
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urljoin

import pytest

from simulator.core import Request
from simulator.erp import BrokerInspector, ErpMessage, ErpPublisher
from simulator.http import Delivery, Sender
from simulator.s360 import Auth, S360Platform
from simulator.servicemobility import ServiceMobilityPlatform, SMCaseContext, TokenSigner
from simulator.stock import StockPlatform

from .report import check


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


@dataclass
class ErpTarget:
    """The ERP's publisher on the receiver's broker, and a look into its queues. ``wait`` bounds every
    wait for the consumer (``--erp-wait``); a check that has clearly failed stops waiting at once."""

    publisher: ErpPublisher
    broker: BrokerInspector
    queues: dict[str, str]  # documented name → the receiver's queue
    dead_letter_suffix: str
    wait: float = 20.0
    dead_letter_may_skip: bool = False  # --allow-skip dead-letter

    def publish(self, messages: list[ErpMessage]) -> None:
        for msg in messages:
            self.publisher.publish(self.publisher.queue_for(msg.queue), msg.body)

    def wait_drained(self, what: str) -> None:
        """Both queues back to no ready message: the consumer took and acknowledged what was sent."""
        deadline = time.monotonic() + self.wait
        counts = self.publisher.declare_passive()
        while any(counts.values()) and time.monotonic() < deadline:
            time.sleep(0.1)
            counts = self.publisher.declare_passive()
        check(not any(counts.values()), what, expected=f"the queues drained within {self.wait:g} s (--erp-wait)",
              found=f"messages still waiting: {counts} — is the consumer running and acknowledging?")

    def dead_letter_queue(self, queue: str) -> str:
        return self.queues[queue] + self.dead_letter_suffix

    def dead_lettered(self, queue: str, body: bytes) -> bool | None:
        """Whether ``body`` reached the queue's dead-letter queue within the wait (None: there is none)."""
        return self.broker.take(self.dead_letter_queue(queue), body, self.wait)
