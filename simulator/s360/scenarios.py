"""What S-360 sends in a run: the named cases, then a generated inventory delivered the platform's way
(batches, re-posts), or several runs M minutes apart; one result per request, in order."""

from __future__ import annotations

import json
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass

from ..core import Expectation, Registry, Request, Result
from ..options import Load
from ..runner import HttpDelivery, LineFormat, Runner, case_step
from .auth import Auth
from .cases import GOOD_CASES, MALFORMATIONS, SPEC_200, S360CaseContext
from .generator import ProductGenerator
from .payload import (
    DEFAULT_BATCH_SIZE,
    DEFAULT_INTERVAL_MINUTES,
    DEFAULT_MAX_BODY_BYTES,
    DEFAULT_MAX_REPOSTS,
    SUCCESS_STATUS,
)
from .platform import Attempt, BatchReport, Clock, S360Platform

BATCH_EXPECTATION = Expectation((SUCCESS_STATUS,), SPEC_200)
LINE = LineFormat("{name:<44} {items:>5} products  {answer:<5} expected {expected:<5} {ms:>9.1f} ms  {verdict}")


def count_products(request: Request) -> tuple[int, str]:
    """How many products a request carries (a single object counts as one)."""
    try:
        payload = json.loads(request.body)
    except ValueError:
        return 0, ""
    return (len(payload) if isinstance(payload, list) else int(isinstance(payload, dict))), ""


@dataclass
class _Scenario:
    """What a scenario step needs: the platform, a catalogue, the case context, and the runner."""

    platform: S360Platform
    generator: ProductGenerator
    context: S360CaseContext
    runs: int
    runner: Runner[Request]

    def send_cases(self, registry: Registry[S360CaseContext, Request]) -> None:
        self.runner.run([case_step(case, lambda: self.context) for case in registry])

    def on_attempt(self, batch: BatchReport, total: int, attempt: Attempt) -> None:
        name = f"run {batch.run} batch {batch.index + 1}/{total} attempt {attempt.number}"
        self.runner.record(Result(name, BATCH_EXPECTATION, attempt.status, attempt.error, attempt.elapsed,
                                  batch.products, batch.body_bytes, method="POST", path=self.platform.path,
                                  started=attempt.started, body=attempt.body))


def _conforming(scenario: _Scenario) -> None:
    scenario.send_cases(GOOD_CASES)
    scenario.platform.run(scenario.generator.inventory())


def _malformed(scenario: _Scenario) -> None:
    scenario.send_cases(MALFORMATIONS)


def _cases(scenario: _Scenario) -> None:
    scenario.send_cases(GOOD_CASES)
    scenario.send_cases(MALFORMATIONS)


def _schedule(scenario: _Scenario) -> None:
    scenario.platform.run_every(scenario.generator, scenario.runs)


SCENARIOS: dict[str, tuple[Callable[[_Scenario], None], ...]] = {
    "conforming": (_conforming,),
    "malformed": (_malformed,),
    "all": (_conforming, _malformed),
    "schedule": (_schedule,),
    "cases": (_cases,),  # --case NAME: the named cases alone
}


def run_scenario(
    base_url: str,
    *,
    auth: Auth | None = None,
    scenario: str = "all",
    products: int = 100,
    batch_size: int = DEFAULT_BATCH_SIZE,
    interval_minutes: float = DEFAULT_INTERVAL_MINUTES,
    max_reposts: int = DEFAULT_MAX_REPOSTS,
    runs: int = 3,
    clock: Clock | None = None,
    seed: int = 0,
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
    ca_bundle: str | bool = True,
    timeout: float = 120.0,
    on_result: Callable[[Result], None] | None = None,
    cases: Collection[str] | None = None,
    load: Load | None = None,
    headers: Mapping[str, str] | None = None,
) -> list[Result]:
    """Send a scenario to a receiver the way S-360 would; one :class:`Result` per request, in order.

    ``conforming``: the good cases, then one run of a generated inventory of ``products`` products with
    the platform's batching and re-posts; ``malformed``: every malformation that applies to ``auth``;
    ``all``: both; ``schedule``: ``runs`` runs M minutes apart with some products changing in between.
    ``cases``: only those named cases, no inventory run. ``load`` paces the named cases (the inventory's
    batches and re-posts keep the platform's own timing); ``headers`` go with every request.
    """
    load = load or Load()
    steps = SCENARIOS["cases" if cases else scenario]
    auth = auth or Auth()
    generator = ProductGenerator(seed, products)
    # The cases' products get ids above the whole inventory, so they never overwrite one of its products.
    above = max((product["id"] for product in generator.inventory()), default=None)
    case_products = ProductGenerator(seed, 3, first_id=above).inventory()
    context = S360CaseContext(case_products, auth, max_body_bytes, batch_size)
    with S360Platform(
        base_url, auth=auth, batch_size=batch_size, interval_minutes=interval_minutes,
        max_reposts=max_reposts, clock=clock, ca_bundle=ca_bundle, timeout=timeout,
    ) as platform:
        platform.sender.extra_headers = dict(headers or {})
        runner = Runner(HttpDelivery(platform.sender, measure=count_products), on_result=on_result, only=cases,
                        rate=load.rate, concurrency=load.concurrency, repeat=load.repeat)
        scenario_state = _Scenario(platform, generator, context, runs, runner)
        platform.on_attempt = scenario_state.on_attempt
        for step in steps:
            step(scenario_state)
    return runner.results
