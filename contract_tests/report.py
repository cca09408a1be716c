"""Failures a person can act on: what was sent (method, URL, headers with secrets masked, the case and a
body excerpt), what came back, what a correct receiver does and what was found instead, the rule's
sentence quoted, and a command that sends the same case again. Reported without pytest's assertion
rewriting around it (``pytest.fail(..., pytrace=False)``)."""

from __future__ import annotations

import contextvars
from typing import Any, NoReturn

import pytest

from inventory_push_kit.simulator.core import Expectation
from inventory_push_kit.simulator.http import Delivery

from .rules import RULES, decisions_path

CURRENT: contextvars.ContextVar[pytest.Item | None] = contextvars.ContextVar("current_check", default=None)
RESEND: dict[str, str] = {}  # channel → the start of a command that sends one of its cases again

# Header values shown as sent; every other header is a credential or may be one.
SHOWN_HEADERS = {"content-type", "content-length", "accept", "user-agent", "transfer-encoding"}
EXCERPT = 300


def resend_command(channel: str, url: str, ca_bundle: str | bool, credentials: list[str]) -> str:
    """``inventory-simulator CHANNEL --url … [--ca-bundle …] <credentials>``, ready for ``--case NAME``."""
    parts = ["inventory-simulator", channel, f"--amqp-url '{url}'" if channel == "erp" else f"--url {url}"]
    if isinstance(ca_bundle, str):
        parts.append(f"--ca-bundle {ca_bundle}")
    elif ca_bundle is False:
        parts.append("--insecure")
    return " ".join([*parts, *credentials])


def _item() -> pytest.Item | None:
    return CURRENT.get()


def _rule_lines() -> list[str]:
    item = _item()
    mark = item.get_closest_marker("rule") if item is not None else None
    if mark is None:
        return []
    found = RULES[mark.args[0]]
    lines = [f"  rule:     {found.id} [{found.level}]: {found.summary}", f"    {found.quote()}"]
    if found.decision:
        lines.append(f"    (the decisions: {decisions_path()})")
    return lines


def _excerpt(data: bytes) -> str:
    text = data.decode("utf-8", "replace")
    return text if len(text) <= EXCERPT else f"{text[:EXCERPT]}… ({len(data)} bytes)"


def sent_lines(delivery: Delivery, case: str | None = None) -> list[str]:
    """What was sent, as a failure shows it."""
    lines = [f"  sent:     {delivery.method} {delivery.url}" + (f"  (case {case})" if case else "")]
    request = delivery.request
    if request is not None:
        headers = ", ".join(f"{name}: {value if name.lower() in SHOWN_HEADERS else '***'}"
                            for name, value in request.headers.items())
        lines += [f"            headers: {headers or '(none)'}", f"            body: {_excerpt(request.body)}"]
    return lines


def fail(what: str, *, expected: str, delivery: Delivery | None = None, found: str | None = None,
         case: str | None = None) -> NoReturn:
    """Fail the current check with everything a person needs to see why and to try again."""
    lines = [what]
    if delivery is not None:
        lines += sent_lines(delivery, case)
        lines.append(f"  got:      {delivery.status} {_excerpt(delivery.body)}")
    lines.append(f"  expected: {expected}")
    if found:
        lines.append(f"  found:    {found}")
    lines += _rule_lines()
    item = _item()
    channel = item.get_closest_marker("channel") if item is not None else None
    if case and channel is not None and channel.args[0] in RESEND:
        lines.append(f"  again:    {RESEND[channel.args[0]]} --case {case}")
    pytest.fail("\n".join(lines), pytrace=False)


def check(condition: Any, what: str, *, expected: str, delivery: Delivery | None = None,
          found: str | None = None, case: str | None = None) -> None:
    """Fail (see :func:`fail`) unless ``condition`` holds."""
    if not condition:
        fail(what, expected=expected, delivery=delivery, found=found, case=case)


def check_status(what: str, delivery: Delivery, expectation: Expectation, *, case: str | None = None) -> None:
    """Fail unless the status is one the expectation allows."""
    check(expectation.accepts(delivery.status), what, expected=f"status {expectation.describe()}",
          delivery=delivery, case=case)


def check_refused(what: str, delivery: Delivery, *, case: str | None = None) -> None:
    """Fail unless the receiver refused with a 4xx (not success, not its own failure)."""
    check(400 <= delivery.status < 500, what, expected="a 4xx refusal", delivery=delivery, case=case)


def check_success(what: str, delivery: Delivery, *, case: str | None = None) -> None:
    """Fail unless the receiver answered with a 2xx (where the document names no success status)."""
    check(200 <= delivery.status < 300, what, expected="a 2xx success", delivery=delivery, case=case)


def check_accepted(what: str, delivery: Delivery, *, case: str | None = None) -> None:
    """Fail unless the receiver answered exactly 200."""
    check(delivery.status == 200, what, expected="200", delivery=delivery, case=case)
