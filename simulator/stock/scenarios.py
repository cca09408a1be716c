"""What the marketplace sends in a run: a first push, deltas, a late stale copy, then every named case;
each answer checked against what a correct receiver gives."""

from __future__ import annotations

from collections.abc import Callable, Collection

from ..core import Expectation, Request, Result
from ..options import Load
from ..runner import HttpDelivery, LineFormat, Runner, Step, case_step
from .cases import ACCEPTED, GOOD_CASES, MALFORMATIONS, StockCaseContext
from .generator import StockGenerator
from .payload import DEFAULT_MAX_BODY_BYTES, StockPush
from .platform import StockPlatform

SCENARIOS = ("conforming", "malformed", "all")
CASE_ROWS = 3  # rows of the push a named case is built from: a first, a middle and a last one
STALE_COPY = Expectation(
    (200,), 'decision stock-5: "an older change (by `timeStampEntry`) never overwrites a newer one, so a replayed '
    'or late push cannot roll stock back." (accepted, not applied)', "SHOULD")
# One line per push: case, rows, body size, status, expected, elapsed, verdict (and why, when unexpected).
# The rows are those of the conforming push a case was built from.
LINE = LineFormat("{name:<28} {items:>7} rows {kb:>10.1f} kB  status {status:>3}  expected {expected:<5} "
                  "{ms:>9.1f} ms  {verdict}{detail}")


def plan(
    scenario: str,
    generator: StockGenerator,
    platform: StockPlatform,
    *,
    rows: int,
    deltas: int,
    delta_rows: int,
    case_rows: int,
    max_body_bytes: int,
    case_row: int = 0,
) -> list[Step[Request]]:
    """The pushes of a scenario, built lazily (in order) so only one large body exists at a time."""
    credentials = platform.credentials
    steps: list[Step[Request]] = []
    last: list[StockPush] = []

    def pushed(make: Callable[[], StockPush]) -> Callable[[], tuple[Request, ...]]:
        def build() -> tuple[Request, ...]:
            last[:] = [make()]
            return (last[0].to_request(credentials),)

        return build

    def context() -> StockCaseContext:
        return StockCaseContext(generator.sample_push(case_rows), credentials, max_body_bytes, case_row)

    if scenario in ("conforming", "all"):
        steps.append(Step("first-push", ACCEPTED, pushed(lambda: generator.first_push(rows)), rows))
        for k in range(1, deltas + 1):
            steps.append(Step(f"delta-{k}", ACCEPTED, pushed(lambda: generator.delta(delta_rows)), delta_rows))
        steps.append(Step("stale-copy", STALE_COPY, lambda: (generator.stale_copy(last[0]).to_request(credentials),),
                          delta_rows if deltas else rows))
        steps += [case_step(good, context, items=1 if good.name == "document-example" else case_rows)
                  for good in GOOD_CASES]
    if scenario in ("malformed", "all"):
        steps += [case_step(bad, context, items=case_rows) for bad in MALFORMATIONS]
    return steps


def run_scenario(
    platform: StockPlatform,
    scenario: str = "all",
    *,
    rows: int = 1000,
    deltas: int = 3,
    delta_rows: int | None = None,
    seed: int = 0,
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
    case_rows: int = CASE_ROWS,
    case_row: int = 0,
    on_result: Callable[[Result], None] | None = None,
    cases: Collection[str] | None = None,
    load: Load | None = None,
) -> list[Result]:
    """Send a scenario's pushes in order and collect each answer; ``on_result`` sees each as it comes."""
    if scenario not in SCENARIOS:
        raise ValueError(f"unknown scenario {scenario!r} (known: {', '.join(SCENARIOS)})")
    delta_rows = delta_rows or max(1, rows // 10)
    steps = plan(scenario, StockGenerator(seed), platform, rows=rows, deltas=deltas, delta_rows=delta_rows,
                 case_rows=case_rows, max_body_bytes=max_body_bytes, case_row=case_row)
    large = len(steps) > 20 or max(rows, delta_rows) >= 10_000
    load = load or Load()
    runner = Runner(HttpDelivery(platform.sender), on_result=on_result, progress="push" if large else None,
                    only=cases, rate=load.rate, concurrency=load.concurrency, repeat=load.repeat)
    return runner.run(steps)
