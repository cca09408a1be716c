"""Failure messages that explain themselves: what was sent, what came back, which sentence broke."""

from __future__ import annotations

from simulator.core import Expectation
from simulator.http import Delivery


def explain(what: str, delivery: Delivery, expected: str, spec: str) -> str:
    return (f"{what}\n  expected: {expected}\n  got:      {delivery.summary(400)}\n"
            f"  requirement: {spec}")


def check_status(what: str, delivery: Delivery, expectation: Expectation) -> None:
    """Fail unless the status is one the expectation allows."""
    assert expectation.accepts(delivery.status), explain(
        what, delivery, f"status {expectation.describe()}", expectation.spec)


def check_refused(what: str, delivery: Delivery, spec: str) -> None:
    """Fail unless the receiver refused with a 4xx (not success, not its own failure)."""
    assert 400 <= delivery.status < 500, explain(what, delivery, "a 4xx refusal", spec)
