"""Failure messages that explain themselves: what was sent, what came back, which sentence broke."""

from __future__ import annotations

import pytest

from simulator.core import Expectation
from simulator.http import Delivery

# The marks every contract test carries: its level, and the sentence (or decision) it checks.
must = pytest.mark.must  # the platform document's own words
should = pytest.mark.should  # our decisions (NOTES.md) and best practice
probe_mark = pytest.mark.probe  # needs the state probe


def spec(text: str) -> pytest.MarkDecorator:
    return pytest.mark.spec(text)


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
