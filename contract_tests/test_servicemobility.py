"""Contract of the ServiceMobility webhooks (servicemobility-inventory-usage.txt; decisions sm-1 … sm-6).

What applies to every path is sent on each of the nine (the simulator's cases do it: a case is a tuple of
requests); a row-level problem is put in the first, a middle and the last row. What was stored is read
back through the state probe (docs/state-probe.md): ``servicemobility/events/{source}/{id}``."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote

import pytest

from inventory_push_kit.contract_tests.report import check, check_accepted, check_refused, check_status
from inventory_push_kit.contract_tests.rules import rule
from inventory_push_kit.contract_tests.targets import Probe, SMTarget
from inventory_push_kit.simulator.core import Case, Request
from inventory_push_kit.simulator.http import Delivery
from inventory_push_kit.simulator.servicemobility import (
    CORRECTS,
    GOOD_CASES,
    MALFORMATIONS,
    OPTIONAL,
    RESENT,
    TOKEN_CASES,
    SMCaseContext,
    applies,
)

OPTIONAL_CASES = [f"missing-{name}" for name in OPTIONAL]
DUPLICATE_CASES = ["duplicate-id", "duplicate-id-other-data"]
SUCCESS_CASES = [name for name in GOOD_CASES.names()
                 if name not in (*OPTIONAL_CASES, *DUPLICATE_CASES, "trailing-slash-omitted", "same-id-other-source")]
TOKEN_ATTACKS = [name for name in MALFORMATIONS.names() if name in TOKEN_CASES]
BODY_CASES = [name for name in MALFORMATIONS.names() if name not in TOKEN_CASES]
# Cases whose events carry no source and id to look up (or no JSON at all).
UNIDENTIFIED = ("missing-id", "missing-source", "not-json")
# The token cases the document's "401 Invalid Logon" covers, and those only the kit's decisions do.
TOKEN_RULES = {"jwt-future-iat": "servicemobility.token-times", "jwt-future-nbf": "servicemobility.token-times",
               "jwt-without-exp": "servicemobility.exp-required"}
MUST_ATTACKS = [name for name in TOKEN_ATTACKS if name not in TOKEN_RULES]
FUTURE_TOKENS = [name for name, found in TOKEN_RULES.items() if found == "servicemobility.token-times"]


def event_of(request: Request) -> dict[str, Any] | None:
    """The event a request carries, when it is a JSON object with a string source and id."""
    try:
        event = json.loads(request.body)
    except ValueError:
        return None
    if isinstance(event, dict) and isinstance(event.get("source"), str) and isinstance(event.get("id"), str):
        return event
    return None


def where(request: Request, event: dict[str, Any] | None = None) -> str:
    """Which request of a case this is: the event's type (or the path), and its id."""
    event = event if event is not None else event_of(request)
    kind = event.get("type") if event and isinstance(event.get("type"), str) else f"path {request.path}"
    return f"{kind} event {event['id']}" if event else f"{kind}"


def stored(probe: Probe, event: dict[str, Any]) -> dict[str, Any] | None:
    """The event the probe holds under the event's (source, id), or None (404)."""
    status, body = probe.get(f"servicemobility/events/{quote(event['source'], safe='')}/"
                             f"{quote(event['id'], safe='')}")
    return body if status == 200 else None


def difference(sent: dict[str, Any], held: dict[str, Any]) -> str | None:
    """How the stored event differs from the one sent in what sm-6 says is kept (type, data), or None."""
    if held.get("type") != sent["type"]:
        return f"type {held.get('type')!r} stored for {sent['type']!r}"
    if held.get("data") == sent["data"]:
        return None
    rows = sent["data"].get("rows") if isinstance(sent["data"], dict) else None
    kept = held["data"].get("rows") if isinstance(held.get("data"), dict) else None
    if isinstance(rows, list) and isinstance(kept, list):
        if len(kept) != len(rows):
            missing = [str(index) for index, row in enumerate(rows) if row not in kept]
            return (f"{len(rows)} rows sent, {len(kept)} stored; not stored: row(s) {', '.join(missing) or 'none'} "
                    "of those sent")
        for index, (row, stored_row) in enumerate(zip(rows, kept, strict=True)):
            if row != stored_row:
                return f"row {index} of {len(rows)} differs: stored {json.dumps(stored_row)[:300]}"
    return f"data differs: stored {json.dumps(held.get('data'))[:300]}"


def sent_case(sm: SMTarget, case: Case[SMCaseContext, Request],
              ctx: SMCaseContext | None = None) -> list[tuple[Request, Delivery]]:
    """Every request of a case, in order, with what came back."""
    return [(request, sm.send(request)) for request in case.build(ctx or sm.context())]


def check_stored_as_sent(probe: Probe, request: Request, delivery: Delivery, case: str, *,
                         sent: dict[str, Any] | None = None, what: str | None = None) -> None:
    """The event is accepted (200) and the probe holds it with its type and data as ``sent`` (default: as
    this request sent it)."""
    event = event_of(request)
    assert event is not None, f"{case}: the case carries no source and id to look up"
    what = f"{what or case}: {where(request, event)}"
    check_accepted(what, delivery, case=case)
    held = stored(probe, event)
    check(held is not None, what, expected=f"the event stored under source {event['source']} and id {event['id']}",
          delivery=delivery, found="the probe does not have it (404)", case=case)
    assert held is not None
    changed = difference(sent or event, held)
    check(changed is None, what, expected="the event stored with its type and every row of its data, in the order "
          "sent" + (" — as first received" if sent is not None else ""), delivery=delivery, found=changed,
          case=case)


def answered_as_its_case_says(sm: SMTarget, case: Case[SMCaseContext, Request],
                              ctx: SMCaseContext | None = None) -> None:
    """Every request of the case gets the status the case gives."""
    for request, delivery in sent_case(sm, case, ctx):
        check_status(f"{case.name}: {where(request)} to {request.path}: {case.description}", delivery, case.expect,
                     case=case.name)


def each_stored_as_sent(sm: SMTarget, probe: Probe, case: Case[SMCaseContext, Request]) -> None:
    for request, delivery in sent_case(sm, case):
        check_stored_as_sent(probe, request, delivery, case.name)


def check_nothing_stored(probe: Probe, request: Request, delivery: Delivery, name: str, why: str) -> None:
    event = event_of(request)
    if event is None:
        return
    check(stored(probe, event) is None, f"{name}: {where(request, event)}, {why}", expected="nothing stored",
          delivery=delivery, found="the probe has the event", case=name)


# --- accepted -----------------------------------------------------------------------------------------


@rule("servicemobility.success")
@pytest.mark.parametrize("name", SUCCESS_CASES)
def test_a_conforming_event_is_answered_200(sm: SMTarget, name: str) -> None:
    answered_as_its_case_says(sm, GOOD_CASES[name])


@rule("servicemobility.stored")
@pytest.mark.probe
@pytest.mark.parametrize("name", SUCCESS_CASES)
def test_a_conforming_event_is_stored_as_sent(sm: SMTarget, probe: Probe, name: str) -> None:
    each_stored_as_sent(sm, probe, GOOD_CASES[name])


@rule("servicemobility.trailing-slash")
def test_each_path_is_answered_without_its_trailing_slash(sm: SMTarget) -> None:
    answered_as_its_case_says(sm, GOOD_CASES["trailing-slash-omitted"])


@rule("servicemobility.trailing-slash")
@pytest.mark.probe
def test_an_event_posted_without_the_trailing_slash_is_stored(sm: SMTarget, probe: Probe) -> None:
    each_stored_as_sent(sm, probe, GOOD_CASES["trailing-slash-omitted"])


@rule("servicemobility.optional-attributes")
@pytest.mark.parametrize("name", OPTIONAL_CASES)
def test_an_event_without_an_optional_attribute_is_accepted(sm: SMTarget, name: str) -> None:
    answered_as_its_case_says(sm, GOOD_CASES[name])


@rule("servicemobility.optional-attributes")
@pytest.mark.probe
@pytest.mark.parametrize("name", OPTIONAL_CASES)
def test_an_event_without_an_optional_attribute_is_stored(sm: SMTarget, probe: Probe, name: str) -> None:
    each_stored_as_sent(sm, probe, GOOD_CASES[name])


# --- tokens -------------------------------------------------------------------------------------------


def token_case(sm: SMTarget, name: str) -> tuple[Case[SMCaseContext, Request], SMCaseContext]:
    """A token attack and the context to build it in; skips when the receiver does not evaluate tokens or
    lacks what the attack needs."""
    ctx = sm.context()
    if not sm.evaluates_tokens:
        pytest.skip("the receiver is not declared to evaluate tokens (--servicemobility-evaluates-jwt)")
    if not applies(name, ctx, evaluates_tokens=True):
        pytest.skip(f"{name} needs {TOKEN_CASES[name]} in the receiver's configuration")
    return MALFORMATIONS[name], ctx


def refused_with_401(sm: SMTarget, name: str) -> None:
    answered_as_its_case_says(sm, *token_case(sm, name))


def nothing_stored_for_the_token(sm: SMTarget, probe: Probe, name: str) -> None:
    case, ctx = token_case(sm, name)
    for request, delivery in sent_case(sm, case, ctx):
        check_refused(f"{name}: {where(request)}", delivery, case=name)
        check_nothing_stored(probe, request, delivery, name, "sent with a bad token")


@rule("servicemobility.invalid-logon")
@pytest.mark.parametrize("name", MUST_ATTACKS)
def test_a_bad_token_is_an_invalid_logon(sm: SMTarget, name: str) -> None:
    refused_with_401(sm, name)


@rule("servicemobility.invalid-logon")
@pytest.mark.probe
@pytest.mark.parametrize("name", MUST_ATTACKS)
def test_nothing_is_stored_for_a_bad_token(sm: SMTarget, probe: Probe, name: str) -> None:
    nothing_stored_for_the_token(sm, probe, name)


@rule("servicemobility.token-times")
@pytest.mark.parametrize("name", FUTURE_TOKENS)
def test_a_token_from_the_future_is_refused(sm: SMTarget, name: str) -> None:
    refused_with_401(sm, name)


@rule("servicemobility.token-times")
@pytest.mark.probe
@pytest.mark.parametrize("name", FUTURE_TOKENS)
def test_nothing_is_stored_for_a_token_from_the_future(sm: SMTarget, probe: Probe, name: str) -> None:
    nothing_stored_for_the_token(sm, probe, name)


@rule("servicemobility.exp-required")
def test_a_token_without_exp_is_refused(sm: SMTarget) -> None:
    refused_with_401(sm, "jwt-without-exp")


@rule("servicemobility.exp-required")
@pytest.mark.probe
def test_nothing_is_stored_for_a_token_without_exp(sm: SMTarget, probe: Probe) -> None:
    nothing_stored_for_the_token(sm, probe, "jwt-without-exp")


# --- malformed ----------------------------------------------------------------------------------------


@rule("servicemobility.malformed")
@pytest.mark.parametrize("name", BODY_CASES)
def test_a_malformed_event_is_refused(sm: SMTarget, name: str) -> None:
    case = MALFORMATIONS[name]
    for request, delivery in sent_case(sm, case):
        what = f"{name}: {where(request)} to {request.path}: {case.description}"
        check_refused(what, delivery, case=name)
        check(delivery.json() is not None, what, expected="a JSON description of the problems", delivery=delivery,
              case=name)


@rule("servicemobility.status-codes")
@pytest.mark.parametrize("name", BODY_CASES)
def test_a_malformed_event_gets_its_status(sm: SMTarget, name: str) -> None:
    answered_as_its_case_says(sm, MALFORMATIONS[name])


@rule("servicemobility.malformed")
@pytest.mark.probe
@pytest.mark.parametrize("name", [name for name in BODY_CASES if name not in UNIDENTIFIED])
def test_nothing_of_a_malformed_event_is_stored(sm: SMTarget, probe: Probe, name: str) -> None:
    for request, delivery in sent_case(sm, MALFORMATIONS[name]):
        check_refused(f"{name}: {where(request)}", delivery, case=name)
        check_nothing_stored(probe, request, delivery, name, "refused")


# --- duplicates ---------------------------------------------------------------------------------------


@rule("servicemobility.duplicate")
@pytest.mark.parametrize("name", DUPLICATE_CASES)
def test_a_duplicate_is_answered_200(sm: SMTarget, name: str) -> None:
    answered_as_its_case_says(sm, GOOD_CASES[name])


@rule("servicemobility.duplicate")
@pytest.mark.probe
@pytest.mark.parametrize("name", DUPLICATE_CASES)
def test_a_duplicate_changes_nothing(sm: SMTarget, probe: Probe, name: str) -> None:
    """Each (source, id) holds what its first request sent, whatever its duplicates carried."""
    first: dict[tuple[str, str], dict[str, Any]] = {}
    for request, delivery in sent_case(sm, GOOD_CASES[name]):
        event = event_of(request)
        assert event is not None, f"{name}: the case carries no source and id"
        original = first.setdefault((event["source"], event["id"]), event)
        check_stored_as_sent(probe, request, delivery, name, sent=original)


@rule("servicemobility.duplicate-key")
@pytest.mark.probe
def test_the_same_id_from_another_source_is_another_event(sm: SMTarget, probe: Probe) -> None:
    sent = sent_case(sm, GOOD_CASES["same-id-other-source"])
    for request, delivery in sent:
        check_accepted(f"same-id-other-source: {where(request)}", delivery, case="same-id-other-source")
    for request, delivery in sent:  # read back once all were sent: a later one must not have replaced an earlier
        check_stored_as_sent(probe, request, delivery, "same-id-other-source")


@rule("servicemobility.refused-not-duplicate")
@pytest.mark.probe
@pytest.mark.parametrize("name", RESENT.names())
def test_a_refused_event_sent_again_correctly_is_stored(sm: SMTarget, probe: Probe, name: str) -> None:
    refusal = CORRECTS[name]
    ctx = sm.context()
    if not applies(refusal, ctx, evaluates_tokens=sm.evaluates_tokens):
        pytest.skip(f"{refusal} applies only to a receiver declared to evaluate tokens "
                    "(--servicemobility-evaluates-jwt)")
    again = f"{refusal} --case {name}"  # the two cases, in this order, with one seed
    for request, delivery in sent_case(sm, MALFORMATIONS[refusal], ctx):
        check_refused(f"{refusal}: {where(request)}, sent first", delivery, case=again)
    for request, delivery in sent_case(sm, RESENT[name], ctx):
        check_stored_as_sent(probe, request, delivery, again, what=f"{name}, after {refusal} was refused")
