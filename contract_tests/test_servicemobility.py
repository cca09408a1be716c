"""Contract of the ServiceMobility webhooks (servicemobility-inventory-usage.txt, NOTES.md §3)."""

from __future__ import annotations

import copy
import json
import random
from typing import Any

import pytest

from contract_tests.report import check_refused, check_status, explain, must, probe_mark, should, spec
from contract_tests.targets import Probe, SMTarget
from simulator.core import Request
from simulator.servicemobility import (
    GOOD_CASES,
    MALFORMATIONS,
    TOKEN_CASES,
    EventFactory,
    applies,
    event_request,
)

SUCCESS = 'servicemobility-inventory-usage.txt: "On success, an HTTP response code of 200 must be returned."'
DUPLICATE = ('servicemobility-inventory-usage.txt: "Subsequent requests with duplicate IDs should be disregarded." '
             '— NOTES.md §3: duplicate key (source, id), answered 200, changes nothing')
LOGON = ('servicemobility-inventory-usage.txt: "401 Invalid Logon." / "Implementations of this interface may '
         'evaluate the JWT supplied" — NOTES.md §3: algorithms pinned, exp required')
MALFORMED = ("NOTES.md §3 Decision: Malformed bodies get a 4xx with a JSON description of every problem "
             "(the document lists only 200/401/500).")


@must
@spec(SUCCESS)
@pytest.mark.parametrize("name", GOOD_CASES.names())
def test_a_conforming_event_is_answered_200(sm: SMTarget, name: str) -> None:
    case = GOOD_CASES[name]
    for number, request in enumerate(case.build(sm.context()), start=1):
        check_status(f"{name} (request {number}): {case.description}", sm.send(request), case.expect)


TOKEN_ATTACKS = [name for name in MALFORMATIONS.names() if name in TOKEN_CASES]
BODY_CASES = [name for name in MALFORMATIONS.names() if name not in TOKEN_CASES]


@must
@spec(LOGON)
@pytest.mark.parametrize("name", TOKEN_ATTACKS)
def test_a_bad_token_is_an_invalid_logon(sm: SMTarget, name: str) -> None:
    ctx = sm.context()
    if not sm.evaluates_tokens:
        pytest.skip("the receiver is not declared to evaluate tokens (--servicemobility-evaluates-jwt)")
    if not applies(name, ctx, evaluates_tokens=True):
        pytest.skip(f"{name} needs {TOKEN_CASES[name]} in the receiver's configuration")
    case = MALFORMATIONS[name]
    (request,) = case.build(ctx)
    delivery = sm.send(request)
    check_status(f"{name}: {case.description}", delivery, case.expect)
    assert "Invalid Logon" in delivery.body.decode("utf-8", "replace"), explain(
        name, delivery, 'a body saying "Invalid Logon"', LOGON)


@should
@spec(MALFORMED)
@pytest.mark.parametrize("name", BODY_CASES)
def test_a_malformed_event_is_refused(sm: SMTarget, name: str) -> None:
    case = MALFORMATIONS[name]
    (request,) = case.build(sm.context())
    delivery = sm.send(request)
    check_refused(f"{name}: {case.description}", delivery, MALFORMED)
    assert delivery.json() is not None, explain(name, delivery, "a JSON description of the problems", MALFORMED)


@should
@spec(MALFORMED)
@pytest.mark.parametrize("name", BODY_CASES)
def test_a_malformed_event_gets_its_status(sm: SMTarget, name: str) -> None:
    case = MALFORMATIONS[name]
    (request,) = case.build(sm.context())
    check_status(f"{name}: {case.description}", sm.send(request), case.expect)


# --- what was stored (state probe) --------------------------------------------------------------------


def stored(probe: Probe, event: dict[str, Any]) -> dict[str, Any] | None:
    status, body = probe.get(f"servicemobility/events/{event['source']}/{event['id']}")
    return body if status == 200 else None


@must
@spec(DUPLICATE)
@probe_mark
def test_a_duplicate_is_disregarded(sm: SMTarget, probe: Probe) -> None:
    factory = EventFactory(random.SystemRandom().randrange(2**32))
    first = factory.inventory_usage(rows=2)
    again = copy.deepcopy(first)
    again["data"]["rows"][0]["InventoryUsage"]["RefObjID"] = "CHANGED-IN-THE-DUPLICATE"
    for what, event in (("the event", first), ("an event with the same source and id", again)):
        delivery = sm.send(event_request(event, sm.signer.token()))
        assert delivery.status == 200, explain(what, delivery, "200", DUPLICATE)
    held = stored(probe, first)
    assert held is not None, f"event {first['id']} not stored\n  requirement: {SUCCESS}"
    assert held["data"] == first["data"], (
        f"the duplicate replaced the first event's data\n  stored: {json.dumps(held['data'])[:300]}\n"
        f"  requirement: {DUPLICATE}")


def _identity(request: Request) -> dict[str, Any] | None:
    """source and id of the event a request carries, when it carries both."""
    try:
        event = json.loads(request.body)
    except ValueError:
        return None
    if isinstance(event, dict) and isinstance(event.get("source"), str) and isinstance(event.get("id"), str):
        return event
    return None


@should
@spec(MALFORMED)
@probe_mark
@pytest.mark.parametrize("name", [n for n in BODY_CASES if n not in ("missing-id", "missing-source", "not-json")])
def test_nothing_of_a_malformed_event_is_stored(sm: SMTarget, probe: Probe, name: str) -> None:
    (request,) = MALFORMATIONS[name].build(sm.context())
    check_refused(name, sm.send(request), MALFORMED)
    event = _identity(request)
    assert event is not None, f"{name}: the case carries no source and id to look up"
    assert stored(probe, event) is None, f"{name}: a refused event was stored\n  requirement: {MALFORMED}"


@must
@spec(LOGON)
@probe_mark
@pytest.mark.parametrize("name", TOKEN_ATTACKS)
def test_nothing_is_stored_for_a_bad_token(sm: SMTarget, probe: Probe, name: str) -> None:
    ctx = sm.context()
    if not sm.evaluates_tokens:
        pytest.skip("the receiver is not declared to evaluate tokens (--servicemobility-evaluates-jwt)")
    if not applies(name, ctx, evaluates_tokens=True):
        pytest.skip(f"{name} needs {TOKEN_CASES[name]} in the receiver's configuration")
    (request,) = MALFORMATIONS[name].build(ctx)
    check_refused(name, sm.send(request), LOGON)
    assert stored(probe, json.loads(request.body)) is None, (
        f"{name}: stored despite a bad token\n  requirement: {LOGON}")
