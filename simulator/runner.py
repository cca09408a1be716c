"""The one runner of the simulator: a scenario is a list of steps (a name, what a correct receiver does,
and how to build what to send); the runner builds each step right before sending it, hands each thing
to the channel's delivery, collects one :class:`Result` per thing sent, and shows them as they come."""

from __future__ import annotations

import json
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Collection, Iterable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, replace
from typing import Any, Generic, TypeVar
from urllib.parse import urlsplit

from tqdm import tqdm

from .core import ANSWER_LIMIT, Case, Expectation, Request, Result
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
    ``rate`` caps the sendings started per second (evenly spaced); ``concurrency`` sends that many at
    once from their own threads (things are still built in order, on the calling thread), results
    recorded as they complete; ``repeat`` runs the (selected) steps that many times.
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
        rate: float | None = None,
        concurrency: int = 1,
        repeat: int = 1,
    ) -> None:
        if rate is not None and rate <= 0:
            raise ValueError("rate must be > 0")
        if concurrency < 1:
            raise ValueError("concurrency must be >= 1")
        self.rate = rate
        self.concurrency = concurrency
        self.repeat = repeat
        self._next_start: float | None = None
        self._lock = threading.Lock()
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
        steps = [step for _ in range(self.repeat) for step in steps]
        pool = ThreadPoolExecutor(self.concurrency) if self.concurrency > 1 else None
        in_flight = threading.BoundedSemaphore(self.concurrency)
        pending: list[Future[None]] = []
        try:
            with tqdm(total=len(steps), unit=self.progress or "step", file=sys.stderr,
                      disable=None if self.progress else True) as bar:
                for step in steps:
                    if self.stopped:
                        break
                    self._send(step, pool, in_flight, pending)
                    bar.update()
                for future in pending:
                    future.result()
        finally:
            if pool is not None:
                pool.shutdown(wait=True)
        return self.results

    def _send(self, step: Step[S], pool: ThreadPoolExecutor | None, in_flight: threading.BoundedSemaphore,
              pending: list[Future[None]]) -> None:
        things = step.build()
        if step.bulk and things:
            if self.deliver_all is None:
                raise ValueError(f"{step.name}: this channel has no bulk delivery")
            deliver_all = self.deliver_all
            self._dispatch(lambda: deliver_all(step, things), pool, in_flight, pending)
            return
        for number, thing in enumerate(things, start=1):
            if self.stopped:
                return
            name = step.name if len(things) == 1 else f"{step.name} [{number}/{len(things)}]"
            self._dispatch(lambda name=name, thing=thing: self.deliver(step, name, thing),  # type: ignore[misc]
                           pool, in_flight, pending)

    def _pace(self) -> None:
        """Wait until the next sending may start under ``rate``."""
        if self.rate is None:
            return
        now = time.monotonic()
        if self._next_start is None:
            self._next_start = now
        if self._next_start > now:
            time.sleep(self._next_start - now)
        self._next_start = max(self._next_start, now) + 1 / self.rate

    def _dispatch(self, send: Callable[[], Result], pool: ThreadPoolExecutor | None,
                  in_flight: threading.BoundedSemaphore, pending: list[Future[None]]) -> None:
        if pool is None:
            self._pace()
            self.record(send())
            return
        in_flight.acquire()
        self._pace()

        def task() -> None:
            try:
                self.record(send())
            finally:
                in_flight.release()

        pending.append(pool.submit(task))

    def record(self, result: Result) -> None:
        with self._lock:
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
        sent = Result(name, step.expect, items=items, size=len(request.body), label=label, method="POST",
                      path=urlsplit(self.sender.url_for(request.path)).path, started=time.time())
        answer = self.sender.attempt(request)
        if isinstance(answer, NoAnswer):
            return replace(sent, error=answer.error, elapsed=answer.elapsed)
        return replace(sent, status=answer.status, elapsed=answer.elapsed, answer=answer.summary(200),
                       body=answer_text(answer.body), remarks=tuple(self.remarks(step.expect, answer)))


def answer_text(body: bytes, limit: int = ANSWER_LIMIT) -> str:
    """An answer's body as text, cut to ``limit`` characters (with an ellipsis)."""
    text = body.decode("utf-8", "replace")
    return text if len(text) <= limit else text[:limit] + "…"


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
        line = self.template.format(verdict=verdict, **fields)
        if not result.ok and "{detail}" not in self.template:
            line += fields["detail"]
        return line


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
        "detail": "" if result.ok else "  " + unexpected_detail(result),
        "remarks": f" ({'; '.join(result.remarks)})" if result.remarks else "",
        "rate": f" ({result.items / result.elapsed:,.0f} msg/s)" if result.items > 1 and result.elapsed > 0 else "",
    }


LINE_BODY_LIMIT = 300  # characters of an answer's body an UNEXPECTED line shows
JSON_BODY_LIMIT = 1000  # characters of an answer's body a --json line carries


def unexpected_detail(result: Result) -> str:
    """Why a result is unexpected, for its line: that nothing answered, or the answer's body."""
    if result.error:
        return f"no answer: {result.error}"
    if result.status is None:
        return ""
    body = result.body if len(result.body) <= LINE_BODY_LIMIT else result.body[:LINE_BODY_LIMIT] + "…"
    return "answer: " + (" ".join(body.split()) or "(empty body)")


def json_line(result: Result) -> dict[str, Any]:
    """One result as the object ``--json`` prints."""
    body = result.body if len(result.body) <= JSON_BODY_LIMIT else result.body[:JSON_BODY_LIMIT] + "…"
    return {
        "case": result.name, "label": result.label or None, "method": result.method or None,
        "path": result.path or None, "size": result.size, "items": result.items, "status": result.status,
        "expected": list(result.expected.statuses) or result.expected.outcome, "level": result.expected.level,
        "ok": result.ok, "error": result.error, "started": round(result.started, 6),
        "latency_ms": round(result.elapsed * 1000, 3), "answer": body, "remarks": list(result.remarks),
    }


def percentile(values: Sequence[float], fraction: float) -> float:
    """The nearest-rank percentile of ``values`` (not empty)."""
    ordered = sorted(values)
    rank = max(1, min(len(ordered), round(fraction * len(ordered) + 0.5)))
    return ordered[rank - 1]


def summary_line(results: Sequence[Result], noun: str) -> str:
    """``N pushes, M unexpected; status 200 ×3, 422 ×1; latency p50 … p99 … ms``."""
    unexpected = sum(1 for result in results if not result.ok)
    line = f"{len(results)} {noun}, {unexpected} unexpected"
    statuses = Counter("no answer" if r.error and r.status is None else str(r.status) if r.status is not None
                       else "confirmed" for r in results)
    if statuses:
        line += "; status " + ", ".join(f"{status} x{count}" for status, count in sorted(statuses.items()))
    latencies = [result.elapsed * 1000 for result in results]
    if latencies:
        line += f"; latency p50 {percentile(latencies, 0.5):.1f} ms, p99 {percentile(latencies, 0.99):.1f} ms"
    return line


class Console:
    """A command's output: one line per result as it comes (above the progress bar, if any); with
    ``as_json``, one JSON object per result on stdout and everything else (headings, summary) on stderr."""

    def __init__(self, line: LineFormat, *, as_json: bool = False) -> None:
        self.line = line
        self.as_json = as_json

    def show(self, result: Result) -> None:
        if self.as_json:
            sys.stdout.write(json.dumps(json_line(result), ensure_ascii=False) + "\n")
        else:
            tqdm.write(self.line(result), file=sys.stdout)
        sys.stdout.flush()

    @staticmethod
    def info(text: str) -> None:
        """A heading or note (what is sent where, the seed): on stderr, so stdout holds only results."""
        print(text, file=sys.stderr, flush=True)

    def finish(self, results: Sequence[Result], noun: str) -> int:
        """Print the summary (count, statuses, latencies; on stderr under ``--json``); the command's exit
        code (1: any unexpected)."""
        print(summary_line(results, noun), file=sys.stderr if self.as_json else sys.stdout, flush=True)
        return 1 if any(not result.ok for result in results) else 0

    @staticmethod
    def summary(results: Sequence[Result], noun: str) -> int:
        """Print the summary on stdout; the command's exit code (1: any unexpected)."""
        return Console(LineFormat("")).finish(results, noun)
