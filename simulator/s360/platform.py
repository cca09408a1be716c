"""How S-360 delivers: batches of at most P products; anything but 200 (or no answer) means the same
bytes again every M minutes, at most N re-posts, then the batch is abandoned and logged, and the next
batch goes out. Scheduled mode runs the whole inventory every M minutes. Time is the platform's clock."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol
from urllib.parse import urlsplit

from ..core import ANSWER_LIMIT, Request, encode_json
from ..http import NoAnswer, Sender
from .auth import Auth
from .generator import ProductGenerator
from .payload import (
    DEFAULT_BATCH_SIZE,
    DEFAULT_INTERVAL_MINUTES,
    DEFAULT_MAX_REPOSTS,
    SUCCESS_STATUS,
    webhook_headers,
)

log = logging.getLogger(__name__)


class Clock(Protocol):
    """The platform's sense of time: how it waits M minutes and what time it is (seconds)."""

    def sleep(self, seconds: float) -> None: ...

    def now(self) -> float: ...


class CompressedClock:
    """Platform time running ``speed`` times faster than real time: at 600, 15 minutes take 1.5 s."""

    def __init__(self, speed: float = 1.0) -> None:
        if speed <= 0:
            raise ValueError("speed must be > 0")
        self.speed = speed
        self._origin = time.time()
        self._real_origin = time.monotonic()

    def now(self) -> float:
        return self._origin + (time.monotonic() - self._real_origin) * self.speed

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds / self.speed)


def real_duration(seconds: float) -> str:
    """A wait as a person reads it: ``1.5 s``, ``2 min``, ``1 h 30 min``."""
    if seconds < 60:
        return f"{seconds:.3g} s"
    if seconds < 3600:
        return f"{seconds / 60:.3g} min"
    return f"{int(seconds // 3600)} h {round(seconds % 3600 / 60)} min"


class FakeClock:
    """A clock that records every sleep and never sleeps (tests)."""

    def __init__(self, start: float = 0.0) -> None:
        self.sleeps: list[float] = []
        self._now = start

    def now(self) -> float:
        return self._now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self._now += seconds




@dataclass(frozen=True)
class Attempt:
    """One POST of a batch: the first one (number 1) or a re-post."""

    number: int
    at: float  # platform clock time when it was sent
    elapsed: float  # seconds
    status: int | None = None
    error: str | None = None  # connection error or timeout: no answer at all
    body: str = ""  # the answer's body (truncated)
    started: float = 0.0  # wall-clock time it was sent

    @property
    def delivered(self) -> bool:
        return self.status == SUCCESS_STATUS

    def describe(self) -> str:
        return str(self.status) if self.status is not None else f"no answer ({self.error})"


@dataclass
class BatchReport:
    """What became of one batch: every attempt, and whether it was delivered or abandoned."""

    run: int  # 1-based number of the run since the platform started
    index: int  # 0-based position in the run
    products: int
    body_bytes: int
    attempts: list[Attempt] = field(default_factory=list)

    @property
    def delivered(self) -> bool:
        return bool(self.attempts) and self.attempts[-1].delivered

    @property
    def abandoned(self) -> bool:
        return not self.delivered


@dataclass
class RunReport:
    """One run of the webhook: the whole inventory, batch by batch."""

    batches: list[BatchReport] = field(default_factory=list)

    @property
    def delivered(self) -> list[BatchReport]:
        return [batch for batch in self.batches if batch.delivered]

    @property
    def abandoned(self) -> list[BatchReport]:
        return [batch for batch in self.batches if batch.abandoned]

    @property
    def requests(self) -> int:
        return sum(len(batch.attempts) for batch in self.batches)


AttemptHook = Callable[[BatchReport, int, Attempt], None]  # (batch, number of batches, attempt)


class S360Platform:
    """Sends an inventory the way S-360 does: batches of at most P products as JSON arrays; anything but
    200 (or no answer) means the same bytes again every M minutes, at most N re-posts, then the batch is
    abandoned, logged, and the next batch goes out."""

    def __init__(
        self,
        base_url: str,
        *,
        auth: Auth,
        batch_size: int = DEFAULT_BATCH_SIZE,
        interval_minutes: float = DEFAULT_INTERVAL_MINUTES,
        max_reposts: int = DEFAULT_MAX_REPOSTS,
        clock: Clock | None = None,
        ca_bundle: str | bool = True,
        timeout: float = 120.0,
        on_attempt: AttemptHook | None = None,
    ) -> None:
        if batch_size < 1:
            raise ValueError("batch_size (P) must be >= 1")
        if not 1 <= interval_minutes <= 1440:
            raise ValueError("interval_minutes (M) must be between 1 and 1440, as in the back office")
        if max_reposts < 0:
            raise ValueError("max_reposts (N) must be >= 0")
        self.auth = auth
        self.batch_size = batch_size
        self.interval_minutes = interval_minutes
        self.max_reposts = max_reposts
        self.clock: Clock = clock or CompressedClock(1.0)
        self.sender = Sender(base_url, ca_bundle=ca_bundle, timeout=timeout)
        self.on_attempt = on_attempt
        self.runs_started = 0

    def batches(self, products: Sequence[dict[str, Any]]) -> list[Sequence[dict[str, Any]]]:
        """The inventory cut into batches of at most P products, in order."""
        return [products[start:start + self.batch_size] for start in range(0, len(products), self.batch_size)]

    def run(self, products: Sequence[dict[str, Any]]) -> RunReport:
        """One run: every batch delivered or abandoned, one after the other."""
        self.runs_started += 1
        batches = self.batches(products)
        report = RunReport()
        for index, batch in enumerate(batches):
            report.batches.append(self._deliver(self.runs_started, index, len(batches), batch))
        return report

    def run_every(
        self, generator: ProductGenerator, runs: int, changed_fraction: float = 0.1
    ) -> list[RunReport]:
        """Scheduled mode: a run, M minutes on the clock, some products change, the next run, ..."""
        reports = []
        for number in range(runs):
            if number:
                self._wait(f"next run ({number + 1}/{runs})")
                generator.next_run(changed_fraction)
            reports.append(self.run(generator.inventory()))
        return reports

    def _deliver(self, run: int, index: int, total: int, batch: Sequence[dict[str, Any]]) -> BatchReport:
        request = Request(encode_json(list(batch)), webhook_headers(self.auth))  # re-posts send these very bytes
        report = BatchReport(run, index, len(batch), len(request.body))
        for number in range(1, self.max_reposts + 2):
            if number > 1:
                self._wait(f"re-post {number - 1}/{self.max_reposts} of batch {index + 1}/{total}")
            attempt = self._post(number, request)
            report.attempts.append(attempt)
            if self.on_attempt:
                self.on_attempt(report, total, attempt)
            if attempt.delivered:
                return report
        log.warning(
            "S-360: run %d, batch %d/%d (%d products) abandoned after %d attempts; last answer: %s",
            run, index + 1, total, len(batch), len(report.attempts), report.attempts[-1].describe(),
        )
        return report

    def _post(self, number: int, request: Request) -> Attempt:
        at = self.clock.now()
        started = time.time()
        answer = self.sender.attempt(request)
        if isinstance(answer, NoAnswer):
            return Attempt(number, at, answer.elapsed, error=answer.error, started=started)
        text = answer.body.decode("utf-8", "replace")
        return Attempt(number, at, answer.elapsed, status=answer.status, started=started,
                       body=text if len(text) <= ANSWER_LIMIT else text[:ANSWER_LIMIT] + "…")

    @property
    def path(self) -> str:
        return urlsplit(self.sender.base_url).path

    def _wait(self, before: str) -> None:
        speed = getattr(self.clock, "speed", 1.0)
        seconds = self.interval_minutes * 60
        if speed == 1.0:
            log.info("S-360: waiting %g min before the %s", self.interval_minutes, before)
        else:
            log.info("S-360: waiting %s (%g platform minutes at --speed %g) before the %s",
                     real_duration(seconds / speed), self.interval_minutes, speed, before)
        self.clock.sleep(seconds)

    def close(self) -> None:
        self.sender.close()

    def __enter__(self) -> S360Platform:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


