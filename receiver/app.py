"""The Flask application factory: ``create_app(config)`` wires the channels to one store.

Nothing is bound at import time. Channels are registered by name in ``CHANNELS``: adding a channel is
adding one module with a ``register(app, api, channel_config, store)`` function and one entry here.
"""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask, jsonify, request

from receiver import api, erp, s360, servicemobility, stock, storage, web
from receiver.config import Config
from receiver.errors import register_error_handlers

log = logging.getLogger(__name__)

# channel name (= its config section) → module with register(app, api, config, store) and
# reapply(store, config, body, content_type=, reason=) -> dict
CHANNELS: dict[str, Any] = {
    "stock": stock,
    "erp": erp,  # read API only: the AMQP consumer is `inventory-receiver consume` (receiver/amqp.py)
    "servicemobility": servicemobility,
    "s360": s360,
}


def create_app(config: Config, *, store: storage.Store | None = None) -> Flask:
    """Build the receiver: error envelope, channels, read API, health check. Creates missing tables."""
    app = Flask(__name__)
    app.json.sort_keys = False  # type: ignore[attr-defined]
    store = store or storage.Store(config.storage_url, busy_timeout_ms=config.storage.busy_timeout_ms)
    store.create_schema()
    app.extensions["receiver.store"] = store
    app.extensions["receiver.config"] = config
    register_error_handlers(app)
    web.init_app(app)

    read_api = api.blueprint(config.api, store)
    for name, channel in CHANNELS.items():
        channel.register(app, read_api, getattr(config, name), store)
    if config.api.token:
        app.register_blueprint(read_api)
    else:
        log.warning("read API off: set [api] token (or RECEIVER_API_TOKEN) to turn it on")

    @app.get("/healthz")
    def healthz() -> Any:
        with store.read() as conn:
            conn.exec_driver_sql("SELECT 1")
        return jsonify({"status": "ok", "storage": store.backend})

    if config.server.bench_endpoint:
        log.warning("[server] bench_endpoint is on: POST /bench/trivial answers 200 to any JSON body")

        @app.post("/bench/trivial")
        def bench_trivial() -> Any:
            """The benchmarks' baseline in the same server stack: parse the JSON body, answer 200."""
            web.parse_json(request.get_data())
            return jsonify({"outcome": "ok"})

    return app
