"""Prometheus metrics (prometheus-client): what the receiver and the consumer count, and ``/metrics``.

``serve`` runs several gunicorn workers, so the metrics are kept in prometheus-client's multiprocess
mode: each worker writes its values to files in ``PROMETHEUS_MULTIPROC_DIR`` (prometheus-client's own
variable), and ``/metrics``, in whichever worker answers, adds up every worker's files. When the
operator sets no folder, :func:`multiprocess_dir` makes a private one for the run (removed when gunicorn
stops); a worker that ends is marked dead (gunicorn's ``child_exit``). prometheus-client reads the
variable when it is first imported, so this module imports it only inside its functions, after
``serve`` has set it. ``consume`` is one process: it keeps its values in memory.

Every metric is made once per process (:func:`instruments`), whichever app or consumer records to it.
The names are listed in README.md ("Metrics and health").
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from typing import Any

from flask import Flask, Response, abort, g, request

from .config import Config
from .errors import ReceiverError, Unauthenticated

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
PREFIX = "inventory_receiver"

# Seconds: a small push takes milliseconds, a 100,000-row one seconds.
DURATION_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
# Bytes: 1 KiB up to the largest bodies the channels take by default (hundreds of MB).
SIZE_BUCKETS = tuple(float(1024 * 4**n) for n in range(11))


@dataclass(frozen=True)
class Instruments:
    """The metrics of one process."""

    deliveries: Any
    request_duration: Any
    applied: Any
    body_bytes: Any
    jwt_refusals: Any
    erp_messages: Any
    erp_redelivered: Any
    erp_batch_duration: Any
    erp_reconnects: Any


@cache
def instruments() -> Instruments:
    """The process's metrics, made on first use (prometheus-client is imported here, not before)."""
    from prometheus_client import Counter, Histogram

    return Instruments(
        deliveries=Counter(f"{PREFIX}_deliveries_total", "Deliveries by channel, outcome (accepted, duplicate, "
                           "rejected) and HTTP status (amqp for the ERP channel)", ["channel", "outcome", "status"]),
        request_duration=Histogram(f"{PREFIX}_request_duration_seconds", "Time from the start of a push view "
                                   "to its answer, per channel", ["channel"], buckets=DURATION_BUCKETS),
        applied=Counter(f"{PREFIX}_applied_total", "What accepted deliveries applied: stock rows, S-360 products "
                        "(new or changed), ServiceMobility events and usage rows, ERP objects", ["channel", "unit"]),
        body_bytes=Histogram(f"{PREFIX}_body_bytes", "Size of the pushed bodies (Content-Length when refused "
                             "before reading), per channel", ["channel"], buckets=SIZE_BUCKETS),
        jwt_refusals=Counter(f"{PREFIX}_jwt_refusals_total", "ServiceMobility tokens refused, by reason",
                             ["reason"]),
        erp_messages=Counter(f"{PREFIX}_erp_messages_total", "ERP messages settled: acked or dead_lettered, "
                             "per queue", ["queue", "result"]),
        erp_redelivered=Counter(f"{PREFIX}_erp_redelivered_total", "ERP messages received with the broker's "
                                "redelivered flag, per queue", ["queue"]),
        erp_batch_duration=Histogram(f"{PREFIX}_erp_batch_seconds", "Time from handing an ERP batch to the "
                                     "store until it is settled", buckets=DURATION_BUCKETS),
        erp_reconnects=Counter(f"{PREFIX}_erp_reconnects_total", "Broker connections that failed or were lost, "
                               "each followed by a reconnect", ["why"]),
    )


# --- what a delivery applied, per channel ------------------------------------------------------------

def _stock(counts: dict[str, Any]) -> dict[str, int]:
    return {"rows": int(counts.get("applied", 0))}


def _s360(counts: dict[str, Any]) -> dict[str, int]:
    return {"products": int(counts.get("new", 0)) + int(counts.get("changed", 0))}


def _servicemobility(counts: dict[str, Any]) -> dict[str, int]:
    return {"events": 1, "usage_rows": int(counts.get("usage", 0))}


def _erp(_counts: dict[str, Any]) -> dict[str, int]:
    return {"objects": 1}


APPLIED: dict[str, Callable[[dict[str, Any]], dict[str, int]]] = {
    "stock": _stock, "s360": _s360, "servicemobility": _servicemobility, "erp": _erp}


def record_delivery(channel: str, outcome: str, status: str, counts: dict[str, Any] | None) -> None:
    """One delivery of any channel, and what it applied when accepted."""
    metrics = instruments()
    metrics.deliveries.labels(channel, outcome, status).inc()
    if outcome == "accepted" and counts is not None and channel in APPLIED:
        for unit, amount in APPLIED[channel](counts).items():
            if amount:
                metrics.applied.labels(channel, unit).inc(amount)


# --- the HTTP channels -------------------------------------------------------------------------------


def init_app(app: Flask, config: Config) -> None:
    """Count every push (``web.push_view`` leaves what became of it in ``g.push_result``) and serve
    ``/metrics`` behind a bearer token: ``[metrics] token``, else the read API's ``[api] token``; with
    neither (or ``[metrics] enabled = false``) there is no ``/metrics``."""

    @app.after_request
    def _observe(response: Response) -> Response:
        result = g.get("push_result")
        if result is not None:
            observe_push(result.channel, result.outcome, result.status, result.counts, result.refusal,
                         result.seconds, _body_size())
        return response

    token = scrape_token(config)
    if token is None:
        return

    @app.get(config.metrics.path)
    def metrics() -> Response:
        """The Prometheus text exposition of every worker's metrics."""
        if not authorized(request.headers.get("Authorization"), token):
            abort(401)
        body, content_type = exposition()
        return Response(body, content_type=content_type)


def scrape_token(config: Config) -> str | None:
    """The bearer token ``/metrics`` needs; None when it is not served."""
    token = config.metrics.token or config.api.token
    return token if config.metrics.enabled and token else None


def scrape(config: Config) -> Callable[[str | None], tuple[int, bytes, str]] | None:
    """``/metrics`` for a server of another kind (the consumer's health port): the Authorization header →
    (status, body, content type); None when it is not served."""
    token = scrape_token(config)
    if token is None:
        return None

    def answer(header: str | None) -> tuple[int, bytes, str]:
        if not authorized(header, token):
            return 401, b'{"status": 401, "message": "a bearer token is needed"}', "application/json"
        body, content_type = exposition()
        return 200, body, content_type

    return answer


def _body_size() -> int | None:
    raw = g.get("raw_body")
    return len(raw) if raw is not None else request.content_length


def observe_push(channel: str, outcome: str, status: int, counts: dict[str, Any] | None,
                 refusal: ReceiverError | None, seconds: float, size: int | None) -> None:
    metrics = instruments()
    record_delivery(channel, outcome, str(status), counts)
    metrics.request_duration.labels(channel).observe(seconds)
    if size is not None:
        metrics.body_bytes.labels(channel).observe(size)
    kind = getattr(refusal, "token_refusal", None)
    if isinstance(refusal, Unauthenticated) and kind:
        metrics.jwt_refusals.labels(kind).inc()


def authorized(header: str | None, token: str) -> bool:
    """``Authorization: Bearer <token>``, compared in constant time."""
    import hmac

    scheme, _, given = (header or "").partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode(), token.encode())


def exposition() -> tuple[bytes, str]:
    """The text exposition: every worker's files added up in multiprocess mode, else this process's."""
    from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, generate_latest, multiprocess

    if os.environ.get(MULTIPROC_ENV):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        return generate_latest(registry), CONTENT_TYPE_LATEST
    return generate_latest(REGISTRY), CONTENT_TYPE_LATEST


# --- gunicorn: the multiprocess folder --------------------------------------------------------------


@dataclass(frozen=True)
class MultiprocessDir:
    path: str
    private: bool  # made for this run: removed when the server stops

    def remove(self) -> None:
        if self.private:
            shutil.rmtree(self.path, ignore_errors=True)


def multiprocess_dir(environ: dict[str, str] | os._Environ[str] = os.environ) -> MultiprocessDir:
    """The folder the workers write their metrics to: ``PROMETHEUS_MULTIPROC_DIR`` when the operator set
    it (created if missing; wiping it between runs is then the operator's), else a private folder made
    now and set in the environment, before the workers fork and before prometheus-client is imported."""
    given = environ.get(MULTIPROC_ENV)
    if given:
        os.makedirs(given, exist_ok=True)
        return MultiprocessDir(given, private=False)
    path = tempfile.mkdtemp(prefix="inventory-receiver-metrics-")
    environ[MULTIPROC_ENV] = path
    return MultiprocessDir(path, private=True)


def mark_worker_dead(pid: int) -> None:
    """gunicorn's ``child_exit``: a worker's live values stop counting (its counters still add up)."""
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(pid)


# --- the ERP consumer ------------------------------------------------------------------------------


class ConsumerMetrics:
    """What ``amqp.Consumer`` reports (its ``events``), recorded as metrics."""

    def redelivered(self, queue: str) -> None:
        instruments().erp_redelivered.labels(queue).inc()

    def settled(self, results: list[tuple[str, str]], seconds: float) -> None:
        """One batch: (queue, outcome) per message, and how long it took."""
        metrics = instruments()
        for queue, outcome in results:
            record_delivery("erp", outcome, "amqp", {})
            metrics.erp_messages.labels(queue, "dead_lettered" if outcome == "rejected" else "acked").inc()
        metrics.erp_batch_duration.observe(seconds)

    def dead_lettered(self, queue: str) -> None:
        """A message that could not be stored at all (not part of a settled batch)."""
        record_delivery("erp", "rejected", "amqp", None)
        instruments().erp_messages.labels(queue, "dead_lettered").inc()

    def reconnect(self, why: str) -> None:
        instruments().erp_reconnects.labels(why).inc()
