"""Receivers that each break one rule: the reference receiver, wrapped or patched *here*, in the tests —
never by a switch in the receiver's own code. ``tests/test_contract_power.py`` runs the contract suite
against each one and requires it to fail with a check that names the rule the mutant breaks.

A mutant of an HTTP channel changes the app ``create_app`` built for it (``mutate(app, store, config)``:
replace a view, wrap one, add a hook); all of them are served by one process, each under
``/mutant/<name>/`` on a store of its own (``tests/mutants/http_server.py``). A mutant of the ERP consumer
is a subclass of :class:`receiver.amqp.Consumer` on queues of its own (``tests/mutants/consumers.py``);
its read API, for the state probe, is served beside the HTTP mutants.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from flask import Flask

from inventory_push_kit.receiver.amqp import Consumer
from inventory_push_kit.receiver.config import Config
from inventory_push_kit.receiver.storage import Store

Mutate = Callable[[Flask, Store, Config], None]


@dataclass(frozen=True)
class Mutant:
    """One receiver that breaks ``rule`` (an id of contract_tests/rules.py) the way ``description`` says."""

    name: str
    rule: str
    description: str
    mutate: Mutate | None = None  # HTTP channels: change the built app
    consumer: type[Consumer] | None = None  # the ERP: the consumer that runs instead of the reference one
    config: dict[str, dict[str, Any]] = field(default_factory=dict)  # sections changed for this mutant

    @property
    def channel(self) -> str:
        return self.rule.split(".", 1)[0]


MUTANTS: dict[str, Mutant] = {}
# Rules that have no mutant, each with the reason (a channel module adds its own). The README states how
# many rules are covered; this must shrink, never grow.
NOT_COVERED: dict[str, str] = {}
# The reference receiver under the same harness: every rule's checks pass against it.
REFERENCE = Mutant("reference", "", "the reference receiver, unchanged")


def mutant(name: str, rule: str, description: str, **settings: Any) -> Callable[[Any], Any]:
    """Register a mutant: decorate its ``mutate`` function (HTTP) or its consumer class (ERP)."""

    def register(thing: Any) -> Any:
        if name in MUTANTS:
            raise ValueError(f"mutant {name} registered twice")
        kind = "consumer" if isinstance(thing, type) else "mutate"
        MUTANTS[name] = Mutant(name, rule, description, **{kind: thing}, **settings)
        return thing

    return register


def load_all() -> dict[str, Mutant]:
    """Every mutant, from the channel modules of this package."""
    for channel in ("stock", "s360", "servicemobility", "erp"):
        importlib.import_module(f"{__name__}.{channel}")
    return MUTANTS
