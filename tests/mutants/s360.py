"""S-360 webhook receivers that each break one rule."""

from __future__ import annotations

from typing import Any

from flask import Flask

from receiver.config import Config
from receiver.storage import Store
from tests.mutants import mutant


@mutant("answers-201", "s360.exactly-200", "answers 201 Created instead of 200 (the platform re-posts on it)")
def _answers_201(app: Flask, store: Store, config: Config) -> None:
    view = app.view_functions["s360_inventory_webhook"]

    def created() -> Any:
        answer, status = view()
        return answer, 201 if status == 200 else status

    app.view_functions["s360_inventory_webhook"] = created
