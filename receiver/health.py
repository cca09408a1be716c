"""Liveness and readiness: ``/healthz`` (the process answers; the database is not asked) and ``/readyz``
(the database answers and its schema is this release's), on the receiver and on the consumer's own
port (``[erp] health_port``, where readiness also needs the broker connection consuming).

A probe that is not ready is 503 with a JSON body naming each failed check and what to do.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from . import migrations
from .errors import ReceiverError
from .storage import Store

log = logging.getLogger(__name__)

Check = Callable[[], dict[str, str]]  # failed check → why; empty when all passed


def database_problems(store: Store) -> dict[str, str]:
    """The database's failed checks: unreachable (within ``[storage] connect_timeout``), or a schema
    that is not this release's."""
    try:
        with store.read() as conn:
            revision = migrations.current(conn)
    except ReceiverError as exc:
        return {"database": f"{exc.message}: start the database or fix [storage] url"}
    head = migrations.head()
    if revision != head:
        return {"migrations": f"the database's schema is at revision {revision or 'none'}, this release needs "
                              f"{head}: run `inventory-receiver migrate`"}
    return {}


def readiness(problems: dict[str, str], **details: Any) -> tuple[dict[str, Any], int]:
    """The readiness answer: 200 with ``{"status": "ready"}``, else 503 naming what is wrong."""
    if problems:
        return {"status": "not ready", "problems": problems, **details}, 503
    return {"status": "ready", **details}, 200


# --- the consumer's port ---------------------------------------------------------------------------


class HealthServer:
    """``/healthz``, ``/readyz`` and ``/metrics`` on a port of their own, served from a thread: for a
    process that has no HTTP server of its own (``inventory-receiver consume``)."""

    def __init__(self, host: str, port: int, ready: Check,
                 metrics: Callable[[str | None], tuple[int, bytes, str]] | None = None) -> None:
        health = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 (http.server's name)
                path = self.path.split("?", 1)[0]
                if path == "/healthz":
                    self._json({"status": "ok"}, 200)
                elif path == "/readyz":
                    self._json(*readiness(health.ready()))
                elif path == "/metrics" and health.metrics is not None:
                    status, body, content_type = health.metrics(self.headers.get("Authorization"))
                    self._send(status, body, content_type)
                else:
                    self._json({"status": 404, "message": "not found: /healthz, /readyz, /metrics"}, 404)

            def _json(self, body: dict[str, Any], status: int) -> None:
                self._send(status, json.dumps(body).encode(), "application/json")

            def _send(self, status: int, body: bytes, content_type: str) -> None:
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 (http.server's name)
                log.debug("health port: " + format, *args)

        self.ready = ready
        self.metrics = metrics
        self.server = ThreadingHTTPServer((host, port), Handler)  # OSError when the port is taken
        self.server.daemon_threads = True
        self.address = f"{host}:{self.server.server_address[1]}"
        self._thread = threading.Thread(target=self.server.serve_forever, name="health-port", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
