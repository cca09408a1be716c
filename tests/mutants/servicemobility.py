"""ServiceMobility webhook receivers that each break one rule."""

from __future__ import annotations

import json
from typing import Any

from flask import Flask, request

from receiver.config import Config
from receiver.errors import InvalidPayload
from receiver.storage import Store
from tests.mutants import NOT_COVERED, mutant


@mutant("requires-time", "servicemobility.optional-attributes",
        "refuses an event without time, as if the optional attribute were required")
def _requires_time(app: Flask, store: Store, config: Config) -> None:
    @app.before_request
    def refuse_without_time() -> Any:
        if request.method == "POST" and request.path.startswith(config.servicemobility.base):
            try:
                event = json.loads(request.get_data())
            except ValueError:
                return None
            if isinstance(event, dict) and "time" not in event:
                raise InvalidPayload("the event was rejected: time is required",
                                     problems=[{"path": ["time"], "message": "Missing."}])
        return None



NOT_COVERED.update(dict.fromkeys((
    "servicemobility.success",
    "servicemobility.stored",
    "servicemobility.trailing-slash",
    "servicemobility.invalid-logon",
    "servicemobility.token-times",
    "servicemobility.exp-required",
    "servicemobility.malformed",
    "servicemobility.status-codes",
    "servicemobility.duplicate",
    "servicemobility.duplicate-key",
    "servicemobility.refused-not-duplicate",
), "no mutant written yet"))
