"""What ServiceMobility sends in a run: the good cases and generated Inventory Usage events, then the
malformations that apply to the receiver; one result per request, in order."""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable, Collection, Mapping, Sequence
from typing import Final

from ..core import Request, Result
from ..options import Load
from ..runner import HttpDelivery, LineFormat, Runner, Step, case_step
from .cases import GOOD_CASES, MALFORMATIONS, OK_200, RESENT, SMCaseContext, answer_problems
from .payload import event_request
from .platform import ServiceMobilityPlatform
from .tokens import TokenSigner

LINE = LineFormat("{name:<38} {label:<24} {status:>3}  expected {expected:<3} {level:<6} {items:>3} rows "
                  "{ms:>8.1f} ms  {verdict}{remarks}")


def _good(ctx: SMCaseContext, events: int) -> list[Step[Request]]:
    steps = [case_step(case, lambda: ctx) for case in GOOD_CASES]
    factory = ctx.factory("events")
    for number in range(1, events + 1):
        steps.append(Step(f"inventory-usage-{number}", OK_200,
                          lambda: (event_request(factory.inventory_usage(rows=factory.rng.randint(1, 6)),
                                                 ctx.signer.token(), paths=ctx.paths),)))
    return steps


def _bad(ctx: SMCaseContext, events: int) -> list[Step[Request]]:
    return [case_step(case, lambda: ctx) for case in MALFORMATIONS]


def _resent(ctx: SMCaseContext, events: int) -> list[Step[Request]]:
    """After the refusals: the refused events sent again correctly (same source and id)."""
    return [case_step(case, lambda: ctx) for case in RESENT]


SCENARIOS: Final[Mapping[str, Sequence[Callable[[SMCaseContext, int], list[Step[Request]]]]]] = {
    "conforming": (_good,),
    "malformed": (_bad,),
    "all": (_good, _bad, _resent),
}


def event_shape(request: Request) -> tuple[int, str]:
    """(number of rows, type) of the event a request carries, as far as it can be read."""
    try:
        event = json.loads(request.body)
    except ValueError:
        return 0, "-"
    if not isinstance(event, dict):
        return 0, "-"
    data = event.get("data")
    rows = data.get("rows") if isinstance(data, dict) else data
    count = len(rows) if isinstance(rows, list) else int(isinstance(rows, dict))
    return count, str(event.get("type", "-"))


def run_scenario(
    platform: ServiceMobilityPlatform,
    scenario: str = "all",
    *,
    events: int = 3,
    seed: int = 0,
    evaluates_tokens: bool | None = None,
    signer: TokenSigner | None = None,
    on_result: Callable[[Result], None] | None = None,
    cases: Collection[str] | None = None,
    load: Load | None = None,
) -> list[Result]:
    """Send a scenario (``conforming``, ``malformed`` or ``all``) and return one Result per request.

    Token attacks run only when the receiver evaluates tokens (default: when the platform signs with a
    key the receiver knows, i.e. ``platform.signer`` is set); ``signer`` overrides the one the cases use.
    """
    if scenario not in SCENARIOS:
        raise ValueError(f"unknown scenario {scenario!r} (known: {', '.join(SCENARIOS)})")
    case_signer = signer or platform.signer or TokenSigner(secrets.token_hex(32))
    if evaluates_tokens is None:
        evaluates_tokens = platform.signer is not None
    ctx = SMCaseContext.for_signer(case_signer, seed=seed, paths=platform.paths, evaluates_tokens=evaluates_tokens)
    load = load or Load()
    runner = Runner(HttpDelivery(platform.sender, measure=event_shape, remarks=answer_problems),
                    on_result=on_result, only=cases, rate=load.rate, concurrency=load.concurrency,
                    repeat=load.repeat)
    for plan in SCENARIOS[scenario]:
        runner.run(plan(ctx, events))
    return runner.results
