"""S-360 webhook receivers that each break one rule."""

from __future__ import annotations

from typing import Any

from flask import Flask

from receiver.config import Config
from receiver.storage import Store
from tests.mutants import NOT_COVERED, mutant


@mutant("answers-201", "s360.exactly-200", "answers 201 Created instead of 200 (the platform re-posts on it)")
def _answers_201(app: Flask, store: Store, config: Config) -> None:
    view = app.view_functions["s360_inventory_webhook"]

    def created() -> Any:
        answer, status = view()
        return answer, 201 if status == 200 else status

    app.view_functions["s360_inventory_webhook"] = created


NOT_COVERED.update(dict.fromkeys((
    "s360.full-batch",
    "s360.any-state",
    "s360.nothing-removed",
    "s360.auth",
    "s360.auth-401",
    "s360.api-key-hyphen",
    "s360.refused-then-accepted",
    "s360.invalid-batch",
    "s360.status-codes",
    "s360.batches-accepted",
    "s360.minimal-products",
    "s360.unknown-fields-kept",
    "s360.id-64-bit",
    "s360.stored-by-id",
    "s360.latest-document",
    "s360.change-tracked",
    "s360.repost-changes-nothing",
), "no mutant written yet"))
