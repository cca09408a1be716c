"""Contract of the ServiceMobility webhooks (servicemobility-inventory-usage.txt; decisions sm-1 … sm-6)."""

from __future__ import annotations

import copy
import json
import random
from typing import Any

import pytest

from contract_tests.report import check, check_accepted, check_refused, check_status
from contract_tests.rules import rule
from contract_tests.targets import Probe, SMTarget
from simulator.core import Request
from simulator.servicemobility import (
    GOOD_CASES,
    MALFORMATIONS,
    OPTIONAL,
    TOKEN_CASES,
    EventFactory,
    applies,
    event_request,
)

OPTIONAL_CASES = [case.name for case in GOOD_CASES if case.name.removeprefix("missing-") in OPTIONAL]


@rule("servicemobility.success")
@pytest.mark.parametrize("name", [name for name in GOOD_CASES.names() if name not in OPTIONAL_CASES])
def test_a_conforming_event_is_answered_200(sm: SMTarget, name: str) -> None:
    case = GOOD_CASES[name]
    for number, request in enumerate(case.build(sm.context()), start=1):
        check_status(f"{name} (request {number}): {case.description}", sm.send(request), case.expect, case=name)


@rule("servicemobility.optional-attributes")
@pytest.mark.parametrize("name", OPTIONAL_CASES)
def test_an_event_without_an_optional_attribute_is_accepted(sm: SMTarget, name: str) -> None:
    case = GOOD_CASES[name]
    (request,) = case.build(sm.context())
    check_status(f"{name}: {case.description}", sm.send(request), case.expect, case=name)


TOKEN_ATTACKS = [name for name in MALFORMATIONS.names() if name in TOKEN_CASES]
BODY_CASES = [name for name in MALFORMATIONS.names() if name not in TOKEN_CASES]
# The token cases the document's "401 Invalid Logon" covers, and those only the kit's decisions do.
TOKEN_RULES = {"jwt-future-iat": "servicemobility.token-times", "jwt-future-nbf": "servicemobility.token-times",
               "jwt-without-exp": "servicemobility.exp-required"}
MUST_ATTACKS = [name for name in TOKEN_ATTACKS if name not in TOKEN_RULES]


def _token_case(sm: SMTarget, name: str) -> tuple[Request, Any]:
    ctx = sm.context()
    if not sm.evaluates_tokens:
        pytest.skip("the receiver is not declared to evaluate tokens (--servicemobility-evaluates-jwt)")
    if not applies(name, ctx, evaluates_tokens=True):
        pytest.skip(f"{name} needs {TOKEN_CASES[name]} in the receiver's configuration")
    case = MALFORMATIONS[name]
    (request,) = case.build(ctx)
    return request, case


def _refused_as_invalid_logon(sm: SMTarget, name: str) -> None:
    request, case = _token_case(sm, name)
    delivery = sm.send(request)
    check_status(f"{name}: {case.description}", delivery, case.expect, case=name)
    check("Invalid Logon" in delivery.body.decode("utf-8", "replace"), f"{name}: {case.description}",
          expected='a body saying "Invalid Logon"', delivery=delivery, case=name)


@rule("servicemobility.invalid-logon")
@pytest.mark.parametrize("name", MUST_ATTACKS)
def test_a_bad_token_is_an_invalid_logon(sm: SMTarget, name: str) -> None:
    _refused_as_invalid_logon(sm, name)


@rule("servicemobility.token-times")
@pytest.mark.parametrize("name", [n for n, r in TOKEN_RULES.items() if r == "servicemobility.token-times"])
def test_a_token_from_the_future_is_refused(sm: SMTarget, name: str) -> None:
    _refused_as_invalid_logon(sm, name)


@rule("servicemobility.exp-required")
def test_a_token_without_exp_is_refused(sm: SMTarget) -> None:
    _refused_as_invalid_logon(sm, "jwt-without-exp")


@rule("servicemobility.malformed")
@pytest.mark.parametrize("name", BODY_CASES)
def test_a_malformed_event_is_refused(sm: SMTarget, name: str) -> None:
    case = MALFORMATIONS[name]
    (request,) = case.build(sm.context())
    delivery = sm.send(request)
    check_refused(f"{name}: {case.description}", delivery, case=name)
    check(delivery.json() is not None, f"{name}: {case.description}", expected="a JSON description of the problems",
          delivery=delivery, case=name)


@rule("servicemobility.malformed")
@pytest.mark.parametrize("name", BODY_CASES)
def test_a_malformed_event_gets_its_status(sm: SMTarget, name: str) -> None:
    case = MALFORMATIONS[name]
    (request,) = case.build(sm.context())
    check_status(f"{name}: {case.description}", sm.send(request), case.expect, case=name)


# --- what was stored (state probe) --------------------------------------------------------------------


def stored(probe: Probe, event: dict[str, Any]) -> dict[str, Any] | None:
    status, body = probe.get(f"servicemobility/events/{event['source']}/{event['id']}")
    return body if status == 200 else None


@rule("servicemobility.duplicate")
@pytest.mark.probe
def test_a_duplicate_is_disregarded(sm: SMTarget, probe: Probe) -> None:
    factory = EventFactory(random.SystemRandom().randrange(2**32))
    first = factory.inventory_usage(rows=2)
    again = copy.deepcopy(first)
    again["data"]["rows"][0]["InventoryUsage"]["RefObjID"] = "CHANGED-IN-THE-DUPLICATE"
    for what, event in (("the event", first), ("an event with the same source and id", again)):
        check_accepted(what, sm.send(event_request(event, sm.signer.token())))
    held = stored(probe, first)
    check(held is not None, "an event, then one with the same source and id", expected=f"event {first['id']} stored",
          found="the probe does not have it")
    assert held is not None
    check(held["data"] == first["data"], "an event, then one with the same source and id and other data",
          expected="the first event's data held", found=f"stored: {json.dumps(held['data'])[:300]}")


def _identity(request: Request) -> dict[str, Any] | None:
    """source and id of the event a request carries, when it carries both."""
    try:
        event = json.loads(request.body)
    except ValueError:
        return None
    if isinstance(event, dict) and isinstance(event.get("source"), str) and isinstance(event.get("id"), str):
        return event
    return None


@rule("servicemobility.malformed")
@pytest.mark.probe
@pytest.mark.parametrize("name", [n for n in BODY_CASES if n not in ("missing-id", "missing-source", "not-json")])
def test_nothing_of_a_malformed_event_is_stored(sm: SMTarget, probe: Probe, name: str) -> None:
    (request,) = MALFORMATIONS[name].build(sm.context())
    check_refused(name, sm.send(request), case=name)
    event = _identity(request)
    assert event is not None, f"{name}: the case carries no source and id to look up"
    check(stored(probe, event) is None, f"{name}: a refused event", expected="nothing stored",
          found="the probe has the event", case=name)


@rule("servicemobility.invalid-logon")
@pytest.mark.probe
@pytest.mark.parametrize("name", MUST_ATTACKS)
def test_nothing_is_stored_for_a_bad_token(sm: SMTarget, probe: Probe, name: str) -> None:
    request, _ = _token_case(sm, name)
    check_refused(name, sm.send(request), case=name)
    check(stored(probe, json.loads(request.body)) is None, f"{name}: an event with a bad token",
          expected="nothing stored", found="the probe has the event", case=name)
