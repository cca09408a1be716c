"""Serving the app with gunicorn: HTTPS from the configured certificate and key, several workers
(processes), each serving its connections as greenlets (``worker.ReceiverWorker``: gevent, a deadline on
every phase of a connection). Plain HTTP only when explicitly asked for."""

from __future__ import annotations

import atexit
import ctypes
import gc
import logging
import os
from collections.abc import Callable
from typing import Any

from flask import Flask
from gunicorn.app.base import BaseApplication

from . import metrics, retention, startup
from .app import create_app
from .config import Config
from .worker import AccessLog, ReceiverWorker, deferred_handshake_context

AppFactory = Callable[[Config], Flask]

log = logging.getLogger(__name__)


class ReceiverServer(BaseApplication):
    """gunicorn, configured from our config instead of its command line."""

    def __init__(self, config: Config, app_factory: AppFactory = create_app) -> None:
        self.receiver_config = config
        self.app_factory = app_factory
        super().__init__()

    def gunicorn_options(self) -> dict[str, Any]:
        server = self.receiver_config.server
        options: dict[str, Any] = {
            "bind": [server.bind],
            "workers": server.workers,
            "worker_class": ReceiverWorker,  # reads the deadlines from receiver_config.server
            "worker_connections": server.worker_connections,
            "timeout": server.timeout,
            "graceful_timeout": 30,
            # Only read as "keep connections alive" by the worker, which waits keepalive_timeout.
            "keepalive": 1,
            # Both logs go through the receiver's handler and format (AccessLog, receiver.logs).
            "accesslog": "-",
            "errorlog": "-",
            "loglevel": server.log_level,
            "access_log_format": AccessLog.ACCESS_FORMAT,
            "logger_class": AccessLog,
            "proc_name": "inventory-receiver",
            "control_socket_disable": True,  # no runtime management socket: the kit never uses one
            # A worker that ended: its live metric values stop counting (receiver/metrics.py).
            "child_exit": _child_exit,
        }
        if not server.insecure_http:
            options |= {"certfile": server.certfile, "keyfile": server.keyfile,
                        "ssl_context": deferred_handshake_context}
        return options

    def load_config(self) -> None:
        for key, value in self.gunicorn_options().items():
            self.cfg.set(key, value)

    def load(self) -> Any:
        """Runs in each worker, after the fork: build the app, then tune the garbage collector."""
        app = self.app_factory(self.receiver_config)
        # Pruning in the background ([retention] interval_seconds), for the receiver's own app.
        if "receiver.store" in getattr(app, "extensions", {}):
            retention.start_background(app.extensions["receiver.store"], self.receiver_config.retention)
        # A push allocates hundreds of thousands of short-lived JSON containers; with the default
        # thresholds the collector runs over and over during one request (and over the app's own
        # long-lived objects, which freeze() takes out of its view).
        gc.freeze()
        # Frozen objects are otherwise released only during the interpreter's teardown, when a logging
        # handler's weakref callback then takes a lock whose (gevent) module is already gone.
        atexit.register(gc.unfreeze)
        gc.set_threshold(50_000, 20, 20)
        _fixed_mmap_threshold()
        return app


# glibc's mallopt parameter, and the size from which a block is mapped on its own: glibc's default.
M_MMAP_THRESHOLD = -3
MMAP_THRESHOLD = 128 * 1024


def _fixed_mmap_threshold() -> None:
    """Blocks from 128 KiB up each mapped on their own, always (glibc; elsewhere nothing changes). By
    default glibc raises that threshold, up to 32 MiB, whenever such a block is freed: after the first
    large push, a body's buffer and a column's list come from the heap, a buffer that grows is copied,
    and freed memory stays with the worker. Measured: the worker's peak for a 100,000-row stock push
    223 -> 190 MiB, at the same speed (``python -m bench.stock``)."""
    try:
        libc = ctypes.CDLL(None)
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return
    if mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD) != 1:
        log.debug("mallopt(M_MMAP_THRESHOLD) refused: glibc's own threshold stays")


def _child_exit(_arbiter: Any, worker: Any) -> None:
    metrics.mark_worker_dead(worker.pid)


def serve(config: Config, app_factory: AppFactory = create_app) -> None:
    """Check everything a worker needs before any starts (TLS files, the address, the store, the app each
    worker builds: ``startup.py``), create the schema once, log what is served, then run gunicorn until it
    is stopped. Each worker builds its app with ``app_factory``. A failed check raises ConfigError or
    StartupError (one line, an exit code) and nothing is started. The workers' metrics go to
    ``PROMETHEUS_MULTIPROC_DIR``, or to a folder of this run's own, removed when the server stops."""
    # First of all: prometheus-client reads the variable when it is first imported (in the workers).
    folder = metrics.multiprocess_dir()
    master = os.getpid()
    try:
        _serve(config, app_factory, folder)
    finally:
        if os.getpid() == master:  # a worker leaves gunicorn through here too, with SystemExit
            folder.remove()


def _serve(config: Config, app_factory: AppFactory, folder: metrics.MultiprocessDir) -> None:
    server = config.server
    tls = startup.check_tls(server)
    startup.check_bind(server.bind)
    built = startup.build_in_child(config, app_factory)  # ConfigError here, not a worker boot loop
    # Created or upgraded; refused when behind and [storage] migrate_on_start = false.
    stored = startup.check_storage(config.storage, create_schema=True)
    if server.insecure_http:
        log.warning(
            "serving PLAIN HTTP on %s: the stock-push document requires an SSL-encrypted connection; "
            "use this only behind a TLS-terminating proxy or for local tests", server.bind)
    else:
        log.info("%s", tls)
    log.info("%s", stored)
    pushes = startup.push_endpoints(built.endpoints)
    if not pushes:
        log.warning("NO CHANNEL IS ENABLED: this receiver accepts no pushes; set enabled = true in [stock], "
                    "[s360] or [servicemobility] (`inventory-receiver init` writes a configuration with all)")
    # One log line per endpoint: every line of the log keeps the one format (text or JSON).
    log.info("serving %d endpoint(s) on %s", len(built.endpoints), server.bind)
    for endpoint in built.endpoints:
        log.info("endpoint: %s", " ".join(endpoint.split()))
    log.info("metrics: multiprocess folder %s (%s)", folder.path,
             "this run's own, removed when it stops" if folder.private else "PROMETHEUS_MULTIPROC_DIR")
    ReceiverServer(config, app_factory).run()
