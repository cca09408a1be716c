"""ERP consumers that each break one rule."""

from __future__ import annotations

import dataclasses

from receiver.amqp import Consumer
from receiver.channels.erp import Notification
from receiver.web import Receipt
from tests.mutants import NOT_COVERED, mutant


@mutant("drops-poison", "erp.poison-dead-lettered",
        "acknowledges a message it can never process (so it is lost) instead of dead-lettering it")
class DropsPoison(Consumer):
    def _store_batch(self, notifications: list[Notification]) -> list[Receipt]:
        return [dataclasses.replace(r, outcome="accepted") if r.outcome == "rejected" else r
                for r in super()._store_batch(notifications)]


NOT_COVERED.update(dict.fromkeys((
    "erp.ack-after-processing", "erp.idempotent", "erp.forward-compatible", "erp.bag-defensive",
    "erp.cross-queue-order", "erp.utf8-text", "erp.full-state", "erp.queue-order", "erp.keyed-by-queue",
    "erp.deactivated-kept", "erp.properties-alias", "erp.value-type-case", "erp.raw-value-kept",
    "erp.engaged-party", "erp.processable-stored",
), "no mutant written yet"))
