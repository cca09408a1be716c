"""The one runner of the simulator: a scenario is a list of steps (a name, what a correct receiver does,
and how to build what to send); the runner builds each step right before sending it, hands each thing
to the channel's delivery, collects one :class:`Result` per thing sent, and shows them as they come."""

from __future__ import annotations

import sys
from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import dataclass, replace
from typing import Any, Generic, TypeVar

from tqdm import tqdm

from .core import Case, Expectation, Request, Result
from .http import Delivery, NoAnswer, Sender

C = TypeVar("C")  # a channel's case context
S = TypeVar("S")  # one thing a channel sends: an HTTP request, an ERP message


@dataclass(frozen=True)
class Step(Generic[S]):
    """One named step of a scenario. ``build`` runs right before sending (tokens are fresh, one large
    body exists at a time) and returns what to send, in order: nothing when the step's case does not
    apply. ``items`` overrides what the channel counts in each thing; ``bulk`` delivers all the things
    of the step as one (the ERP's pipelined publish)."""

    name: str
    expect: Expectation
    build: Callable[[], tuple[S, ...]]
    items: int | None = None
    bulk: bool = False


Deliver = Callable[[Step[S], str, S], Result]  # (step, name of this sending, thing) -> what became of it
DeliverAll = Callable[[Step[S], tuple[S, ...]], Result]


def case_step(case: Case[C, S], context: Callable[[], C], *, items: int | None = None) -> Step[S]:
    """The step that sends a registered case, built from ``context()`` when the case applies to it."""

    def build() -> tuple[S, ...]:
        made = context()
        return case.build(made) if case.applies(made) else ()

    return Step(case.name, case.expect, build, items)


class Runner(Generic[S]):
    """Runs steps through one channel's ``deliver``; ``on_result`` sees each result as it comes.

    ``progress`` names the unit of a progress bar on stderr (one tick per step; shown on a terminal only);
    ``stop_on_failure`` ends the run at the first result that is not ok (the ERP stops at a refused publish);
    ``only`` sends just the steps of those names (``inventory-simulator … --case NAME``). Results the
    platform produces on its own (S-360's re-posts) join the run through :meth:`record`.
    """

    def __init__(
        self,
        deliver: Deliver[S],
        *,
        deliver_all: DeliverAll[S] | None = None,
        on_result: Callable[[Result], None] | None = None,
        progress: str | None = None,
        stop_on_failure: bool = False,
        only: Collection[str] | None = None,
    ) -> None:
        self.only = set(only) if only else None
        self.deliver = deliver
        self.deliver_all = deliver_all
        self.on_result = on_result
        self.progress = progress
        self.stop_on_failure = stop_on_failure
        self.results: list[Result] = []
        self.stopped = False

    def run(self, steps: Sequence[Step[S]]) -> list[Result]:
        """Send every step in order; the results of this run and of the earlier ones."""
        if self.only is not None:
            steps = [step for step in steps if step.name in self.only]
        with tqdm(total=len(steps), unit=self.progress or "step", file=sys.stderr,
                  disable=None if self.progress else True) as bar:
            for step in steps:
                if self.stopped:
                    break
                self._send(step)
                bar.update()
        return self.results

    def _send(self, step: Step[S]) -> None:
        things = step.build()
        if step.bulk and things:
            if self.deliver_all is None:
                raise ValueError(f"{step.name}: this channel has no bulk delivery")
            self.record(self.deliver_all(step, things))
            return
        for number, thing in enumerate(things, start=1):
            if self.stopped:
                return
            name = step.name if len(things) == 1 else f"{step.name} [{number}/{len(things)}]"
            self.record(self.deliver(step, name, thing))

    def record(self, result: Result) -> None:
        self.results.append(result)
        if self.on_result is not None:
            self.on_result(result)
        if self.stop_on_failure and not result.ok:
            self.stopped = True


class HttpDelivery:
    """A channel's HTTP delivery: each request through one :class:`Sender`, the answer as a Result.

    ``measure(request)`` gives (items, label) of what a request carries (a step's own ``items`` wins);
    ``remarks(expected, delivery)`` what else is wrong with an answer whose status is right.
    """

    def __init__(
        self,
        sender: Sender,
        *,
        measure: Callable[[Request], tuple[int, str]] | None = None,
        remarks: Callable[[Expectation, Delivery], Iterable[str]] | None = None,
    ) -> None:
        self.sender = sender
        self.measure = measure or (lambda request: (0, ""))
        self.remarks = remarks or (lambda expected, delivery: ())

    def __call__(self, step: Step[Request], name: str, request: Request) -> Result:
        items, label = self.measure(request)
        items = items if step.items is None else step.items
        sent = Result(name, step.expect, items=items, size=len(request.body), label=label)
        answer = self.sender.attempt(request)
        if isinstance(answer, NoAnswer):
            return replace(sent, error=answer.error, elapsed=answer.elapsed)
        return replace(sent, status=answer.status, elapsed=answer.elapsed, answer=answer.summary(200),
                        remarks=tuple(self.remarks(step.expect, answer)))


# -- what a person sees --------------------------------------------------------------------------


@dataclass(frozen=True)
class LineFormat:
    """How a channel's command prints one result: a ``str.format`` template over the fields of
    :func:`line_fields`, and its words for a result that is ok and one that is not (which may name
    ``{error}``)."""

    template: str
    ok: str = "OK"
    failed: str = "UNEXPECTED"

    def __call__(self, result: Result) -> str:
        fields = line_fields(result)
        verdict = self.ok if result.ok else self.failed.format(**fields)
        return self.template.format(verdict=verdict, **fields)


def line_fields(result: Result) -> dict[str, Any]:
    """Everything a result line may show, each in its printed form."""
    no_answer = f"no answer ({result.error})"
    return {
        "name": result.name,
        "items": result.items,
        "kb": result.size / 1000,
        "ms": result.elapsed * 1000,
        "status": "-" if result.status is None else result.status,
        "answer": no_answer if result.status is None else str(result.status),
        "expected": result.expected.describe(),
        "level": result.expected.level,
        "label": result.label or "-",
        "error": result.error,
        # why an unexpected result is unexpected: the answer's start, or that there was none
        "detail": "" if result.ok else "  " + (f"no answer: {result.error}" if result.error else result.answer),
        "remarks": f" ({'; '.join(result.remarks)})" if result.remarks else "",
        "rate": f" ({result.items / result.elapsed:,.0f} msg/s)" if result.items > 1 and result.elapsed > 0 else "",
    }


class Console:
    """A command's output: one line per result as it comes (above the progress bar, if any)."""

    def __init__(self, line: LineFormat) -> None:
        self.line = line

    def show(self, result: Result) -> None:
        tqdm.write(self.line(result), file=sys.stdout)
        sys.stdout.flush()

    @staticmethod
    def summary(results: Sequence[Result], noun: str) -> int:
        """Print how many were sent and how many were unexpected; the command's exit code (1: any)."""
        unexpected = [result for result in results if not result.ok]
        print(f"{len(results)} {noun}, {len(unexpected)} unexpected")
        return 1 if unexpected else 0
