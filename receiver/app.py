"""The Flask application factory: ``create_app(config)`` wires the enabled channels to one store.

Nothing is bound at import time, and nothing is created: the schema is made once, by ``serve``,
``consume`` or ``init-db``, before any worker starts. Channels come from the registry in
``receiver/channels``.
"""

from __future__ import annotations

import logging
from functools import cache
from typing import Any

from flask import Flask, jsonify
from flask_swagger_ui import get_swaggerui_blueprint

from . import api, contracts, health, inspector, metrics, web
from .channels import CHANNELS
from .config import Config
from .errors import register_error_handlers
from .storage import Store

log = logging.getLogger(__name__)


def create_app(config: Config, *, store: Store | None = None) -> Flask:
    """Build the receiver: error envelope, the enabled channels, read API and inspector pages, metrics,
    liveness and readiness, and the OpenAPI document of the enabled channels (``/openapi.json``, rendered
    at ``/docs``)."""
    app = Flask(__name__)
    app.json.sort_keys = False  # type: ignore[attr-defined]
    store = store or Store.from_config(config.storage, config.deliveries)
    app.extensions["receiver.store"] = store
    app.extensions["receiver.config"] = config
    register_error_handlers(app)
    web.init_app(app, body_timeout=config.server.body_timeout)
    metrics.init_app(app, config)  # every push counted; /metrics behind its token

    read_api = api.blueprint(config.api, store)
    for name, channel in CHANNELS.items():
        channel.register(app, read_api, config.section(name), store)
    if config.api.token:
        app.register_blueprint(read_api)
        if config.inspector.enabled:  # the operator's pages, behind the same token
            inspector.init_app(app, config, store)
    else:
        log.warning("read API off: set [api] token (or RECEIVER_API_TOKEN) to turn it on")

    @app.get("/healthz")
    def healthz() -> Any:
        """Alive: the process answers (the database is not asked; /readyz does)."""
        return jsonify({"status": "ok", "storage": store.backend})

    @app.get("/readyz")
    def readyz() -> Any:
        """Ready: the database answers and its schema is this release's; 503 naming what is wrong."""
        body, status = health.readiness(health.database_problems(store), storage=store.backend)
        return jsonify(body), status

    @cache
    def document() -> dict[str, Any]:  # built on first request: most apps in tests never serve it
        return contracts.openapi(config)

    @app.get("/openapi.json")
    def openapi() -> Any:
        """The OpenAPI document of this receiver's enabled channels (receiver/contracts.py)."""
        return jsonify(document())

    # The same document for people, rendered by the Swagger UI shipped in flask-swagger-ui (no download).
    app.register_blueprint(get_swaggerui_blueprint("/docs", "/openapi.json", config={
        "app_name": "Inventory push receiver", "deepLinking": True}))
    return app
