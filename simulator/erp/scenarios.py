"""What the ERP publishes in a run: the document's examples and generated objects with their later
states (interleaved across objects and queues, optionally each twice), the malformations, or a large
backlog; one result per publish (one for a whole backlog), stopping at the first the broker refuses."""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass

from inventory_push_kit import fixtures

from ..core import Expectation, Result
from ..runner import LineFormat, Runner, Step
from .cases import DEAD_LETTER, STORED, malformed_messages
from .generator import ErpGenerator
from .payload import CHANNEL, CUSTOMER_QUEUE, SUBSCRIPTION_QUEUE, ErpMessage, duplicates, message, out_of_order
from .publisher import ErpPublisher, ErpPublishError

BACKLOG_ID_OFFSET = 1_000_000  # far from the other scenarios' ids
LINE = LineFormat("{name:<44} {label:<28} x{items:<6} expect {expected:<11} {verdict} {ms:.1f} ms{rate}",
                  ok="confirmed", failed="FAILED: {error}")


@dataclass(frozen=True)
class ScenarioOptions:
    """Knobs of the scenarios (the CLI's options)."""

    seed: int = 0
    customers: int = 3
    subscriptions: int = 3
    duplicates: bool = False
    messages: int = 10_000  # backlog size


def conforming_messages(options: ScenarioOptions | None = None) -> list[ErpMessage]:
    """The document's two examples, then generated customers and subscriptions each followed by a
    later state, interleaved across objects and queues; optionally every message twice."""
    options = options or ScenarioOptions()
    gen = ErpGenerator(options.seed)
    messages = [
        ErpMessage("document-customer-example", CUSTOMER_QUEUE,
                   fixtures.raw(CHANNEL, "document-customer-example")),
        ErpMessage("document-subscription-example", SUBSCRIPTION_QUEUE,
                   fixtures.raw(CHANNEL, "document-subscription-example")),
    ]
    customer_ids = []
    for _ in range(options.customers):
        customer = gen.customer()
        customer_ids.append(customer["id"])
        messages += [message(customer, CUSTOMER_QUEUE),
                     message(gen.update(customer), CUSTOMER_QUEUE, f"customer {customer['id']} update")]
    for _ in range(options.subscriptions):
        owner = gen._rng.choice(customer_ids) if customer_ids else "134719"
        sub = gen.subscription(owner)
        messages += [message(sub, SUBSCRIPTION_QUEUE),
                     message(gen.update(sub), SUBSCRIPTION_QUEUE, f"subscription {sub['id']} update")]
    messages = out_of_order(messages, options.seed)
    return duplicates(messages) if options.duplicates else messages


def backlog_messages(options: ScenarioOptions | None = None) -> list[ErpMessage]:
    """``options.messages`` distinct customers for the customer queue: a consumer's backlog."""
    options = options or ScenarioOptions()
    gen = ErpGenerator(options.seed, id_offset=BACKLOG_ID_OFFSET)
    return [message(gen.customer(), CUSTOMER_QUEUE, "backlog") for _ in range(options.messages)]


@dataclass(frozen=True)
class Scenario:
    """How a scenario's messages are built, and whether they go out through ``publish_many``."""

    build: Callable[[ScenarioOptions], list[ErpMessage]]
    bulk: bool = False


SCENARIOS: dict[str, Scenario] = {
    "conforming": Scenario(conforming_messages),
    "malformed": Scenario(lambda options: malformed_messages(options.seed)),
    "all": Scenario(lambda options: conforming_messages(options) + malformed_messages(options.seed)),
    "backlog": Scenario(backlog_messages, bulk=True),
}


def scenario_messages(scenario: str, options: ScenarioOptions | None = None) -> list[ErpMessage]:
    """The messages of a named scenario, in publication order."""
    try:
        chosen = SCENARIOS[scenario]
    except KeyError:
        raise KeyError(f"{CHANNEL}: no scenario {scenario!r} (known: {', '.join(SCENARIOS)})") from None
    return chosen.build(options or ScenarioOptions())


class _Publication:
    """The ERP's delivery for the runner: each message through the publisher, confirmed or refused."""

    def __init__(self, publisher: ErpPublisher) -> None:
        self.publisher = publisher

    def one(self, step: Step[ErpMessage], name: str, sent: ErpMessage) -> Result:
        return self._publish(step, name, [sent])

    def all(self, step: Step[ErpMessage], messages: tuple[ErpMessage, ...]) -> Result:
        return self._publish(step, step.name, list(messages))

    def _publish(self, step: Step[ErpMessage], name: str, messages: list[ErpMessage]) -> Result:
        queue = self.publisher.queue_for(messages[0].queue)
        bodies = [sent.body for sent in messages]
        wall = time.time()
        started = time.perf_counter()
        try:
            if len(bodies) == 1:
                self.publisher.publish(queue, bodies[0])
            else:
                self.publisher.publish_many(bodies, queue)
        except ErpPublishError as exc:
            return Result(name, step.expect, error=str(exc), elapsed=time.perf_counter() - started,
                          items=len(bodies), label=queue, method="publish", path=queue,
                          size=sum(map(len, bodies)), started=wall)
        return Result(name, step.expect, elapsed=time.perf_counter() - started, items=len(bodies), label=queue,
                      method="publish", path=queue, size=sum(map(len, bodies)), started=wall)


def _expectation(sent: ErpMessage) -> Expectation:
    return STORED if sent.outcome == "stored" else DEAD_LETTER


def _sending(*messages: ErpMessage) -> Callable[[], tuple[ErpMessage, ...]]:
    return lambda: messages


def publish_messages(
    publisher: ErpPublisher,
    messages: Sequence[ErpMessage],
    *,
    bulk: bool = False,
    on_result: Callable[[Result], None] | None = None,
    cases: Collection[str] | None = None,
    rate: float | None = None,
    repeat: int = 1,
) -> list[Result]:
    """Publish messages in order, one confirm each (or per queue through ``publish_many`` when
    ``bulk``); stops at the first failure, which is the last result. ``rate``: publishes started per
    second at most; ``repeat``: every selected message that many times."""
    if bulk:
        groups: OrderedDict[tuple[str, str, str], list[ErpMessage]] = OrderedDict()
        for sent in messages:
            groups.setdefault((sent.name, sent.queue, sent.outcome), []).append(sent)
        steps = [Step(name, _expectation(group[0]), _sending(*group), bulk=True)
                 for (name, _, _), group in groups.items()]
    else:
        steps = [Step(sent.name, _expectation(sent), _sending(sent)) for sent in messages]
    publication = _Publication(publisher)
    runner = Runner(publication.one, deliver_all=publication.all, on_result=on_result, stop_on_failure=True,
                    only=cases, rate=rate, repeat=repeat)
    return runner.run(steps)


def run_scenario(
    publisher: ErpPublisher,
    scenario: str,
    options: ScenarioOptions | None = None,
    *,
    on_result: Callable[[Result], None] | None = None,
    cases: Collection[str] | None = None,
) -> list[Result]:
    """Build a named scenario and publish it; see :func:`publish_messages`."""
    messages = scenario_messages(scenario, options)
    return publish_messages(publisher, messages, bulk=SCENARIOS[scenario].bulk, on_result=on_result, cases=cases)
