"""What became of published messages, read from the receiver's state probe (docs/state-probe.md): a
message to be stored must be held under its id with the last state published for it; a message that can
never succeed must be in the delivery log as rejected (matched by its bytes), received after the run
started. The broker's confirm says only that the broker has a message, not what the consumer made of it."""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from ..core import Expectation, Result
from ..http import Sender
from .cases import DEAD_LETTER, STORED
from .payload import SUBSCRIPTION_QUEUE, ErpMessage


@dataclass(frozen=True)
class Check:
    """One outcome to see through the probe."""

    name: str
    expect: Expectation
    path: str  # the probe's GET of a stored object, or "" for a dead-letter
    document: Any = None  # the last state published for that id
    sha256: str = ""  # of the body, for a dead-letter
    body: bytes = b""


def checks_for(messages: Sequence[ErpMessage]) -> list[Check]:
    """One check per stored id (its last published state) and per message to be dead-lettered."""
    stored: dict[tuple[str, str], Check] = {}
    dead: list[Check] = []
    for sent in messages:
        if sent.outcome == "stored":
            key = sent.key()
            if key is None:
                continue
            queue, ident = key
            kind = "subscriptions" if queue == SUBSCRIPTION_QUEUE else "customers"
            stored[key] = Check(f"check {sent.name}", STORED, f"erp/{kind}/{quote(ident, safe='')}",
                                json.loads(sent.body))
        else:
            dead.append(Check(f"check {sent.name}", DEAD_LETTER, "", sha256=hashlib.sha256(sent.body).hexdigest(),
                              body=sent.body))
    return [*stored.values(), *dead]


class ProbeChecker:
    """Reads a state probe at ``base`` (e.g. https://host:8443/api) with ``headers``."""

    def __init__(self, base: str, headers: Mapping[str, str], *, ca_bundle: str | bool = True) -> None:
        self.base = base.rstrip("/") + "/"
        self.headers = dict(headers)
        self.sender = Sender(self.base, ca_bundle=ca_bundle, timeout=30)

    def close(self) -> None:
        self.sender.close()

    def _get(self, path: str) -> tuple[int, Any]:
        return self.sender.get_json(self.sender.url_for(path), self.headers)

    def last_erp_delivery(self) -> int:
        """The newest delivery of the ERP channel now (0 for none): what comes after it is this run's."""
        status, answer = self._get("deliveries?channel=erp&limit=1")
        if status != 200 or not isinstance(answer, dict):
            raise ProbeError(f"the state probe answered {status} to GET {self.base}deliveries?channel=erp")
        items = answer.get("items") or []
        return int(items[0]["id"]) if items else 0

    def _rejected_since(self, after: int) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = []
        before = ""
        while True:
            status, answer = self._get(f"deliveries?channel=erp&outcome=rejected&limit=500{before}")
            if status != 200 or not isinstance(answer, dict):
                return found
            items = [item for item in answer.get("items") or [] if int(item["id"]) > after]
            found += items
            next_before = answer.get("next_before")
            if not next_before or len(items) < len(answer.get("items") or []):
                return found
            before = f"&before={next_before}"

    def _dead_lettered(self, check: Check, rejected: list[dict[str, Any]], used: set[int]) -> bool:
        for item in rejected:
            if item["id"] in used:
                continue
            same = item.get("body_sha256") == check.sha256
            if not same and not item.get("body_sha256") and item.get("body_kept", True):
                response = self.sender.session.get(self.sender.url_for(f"deliveries/{item['id']}/body"),
                                                   headers=self.headers, timeout=30, verify=self.sender.verify)
                same = response.status_code == 200 and response.content == check.body
            if same:
                used.add(item["id"])
                return True
        return False

    def _stored(self, check: Check) -> str | None:
        """None when the probe holds the last state published; else what it found."""
        status, answer = self._get(check.path)
        if status == 404:
            return f"not stored: GET {check.path} answered 404"
        if status != 200 or not isinstance(answer, dict):
            return f"GET {check.path} answered {status}"
        if answer.get("document") != check.document:
            return f"stored, but not as last published: {json.dumps(answer.get('document'))[:200]}"
        return None

    def check(self, checks: Sequence[Check], *, after: int, wait: float,
              on_result: Callable[[Result], None] | None = None) -> list[Result]:
        """Poll until every outcome is seen or ``wait`` seconds pass; one Result per check."""
        deadline = time.monotonic() + wait
        pending = list(checks)
        results: dict[str, Result] = {}
        problems: dict[str, str] = {}
        started = time.monotonic()
        used: set[int] = set()  # deliveries already matched to a dead-letter check
        while True:
            rejected = self._rejected_since(after) if any(not c.path for c in pending) else []
            still = []
            for check in pending:
                problem = (None if self._dead_lettered(check, rejected, used) else "not in the delivery log as "
                           "rejected (dead-lettered)") if not check.path else self._stored(check)
                if problem is None:
                    results[check.name] = Result(check.name, check.expect, elapsed=time.monotonic() - started,
                                                 method="GET", path=check.path or "deliveries", started=time.time())
                    if on_result:
                        on_result(results[check.name])
                else:
                    problems[check.name] = problem
                    still.append(check)
            pending = still
            if not pending or time.monotonic() >= deadline:
                break
            time.sleep(0.2)
        for check in pending:
            result = Result(check.name, check.expect, error=f"after {wait:g} s: {problems[check.name]}",
                            elapsed=time.monotonic() - started, method="GET", path=check.path or "deliveries",
                            started=time.time())
            results[check.name] = result
            if on_result:
                on_result(result)
        return [results[check.name] for check in checks]


class ProbeError(Exception):
    """The state probe cannot be read at all."""
