"""What every channel of the simulator shares: the request it sends, the outcome a correct receiver must
give, registries of named cases, the result of sending one thing, and the wire's compact JSON."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar


@dataclass(frozen=True)
class Request:
    """One HTTP request exactly as the platform would send it (or as a malformation breaks it)."""

    body: bytes
    headers: Mapping[str, str] = field(default_factory=dict)
    path: str | None = None  # None: the channel's configured path


@dataclass(frozen=True)
class Expectation:
    """What a correct receiver does: ``statuses`` lists every acceptable HTTP status; AMQP has no status,
    so an ERP expectation names the ``outcome`` a correct consumer gives the message instead."""

    statuses: tuple[int, ...]
    spec: str  # the sentence of the document, or the kit's decision (contract_tests/decisions.md), that requires it
    level: str = "MUST"  # MUST: the document's words; SHOULD: our decisions and best practice
    outcome: str | None = None  # AMQP: "stored" or "dead-letter"

    def accepts(self, status: int) -> bool:
        return status in self.statuses

    def describe(self) -> str:
        return " or ".join(str(s) for s in self.statuses) or str(self.outcome)


C = TypeVar("C")  # what a channel's cases are built from: its case context
S = TypeVar("S")  # one thing a channel sends: a Request, an ERP message


def always(context: object) -> bool:
    """The applicability of most cases: every context."""
    return True


@dataclass(frozen=True)
class Case(Generic[C, S]):
    """A named case: how to build it from its channel's context (the things to send, in order), what a
    correct receiver must answer, and which contexts it applies to (an S-360 Basic-auth case does not
    apply to an interface with an API key)."""

    name: str
    description: str
    expect: Expectation
    build: Callable[[C], tuple[S, ...]]
    applies: Callable[[C], bool] = always


class Registry(Generic[C, S]):
    """Named cases of one channel; adding a case is adding one entry."""

    def __init__(self, channel: str) -> None:
        self.channel = channel
        self._cases: dict[str, Case[C, S]] = {}

    def register(
        self, name: str, description: str, expect: Expectation, *, applies: Callable[[C], bool] = always
    ) -> Callable[[Callable[[C], tuple[S, ...]]], Callable[[C], tuple[S, ...]]]:
        def decorator(build: Callable[[C], tuple[S, ...]]) -> Callable[[C], tuple[S, ...]]:
            if name in self._cases:
                raise ValueError(f"{self.channel}: case {name!r} registered twice")
            self._cases[name] = Case(name, description, expect, build, applies)
            return build

        return decorator

    def __getitem__(self, name: str) -> Case[C, S]:
        try:
            return self._cases[name]
        except KeyError:
            known = ", ".join(sorted(self._cases))
            raise KeyError(f"{self.channel}: no case named {name!r} (known: {known})") from None

    def __iter__(self) -> Iterator[Case[C, S]]:
        return iter(self._cases.values())

    def __len__(self) -> int:
        return len(self._cases)

    def __contains__(self, name: object) -> bool:
        return name in self._cases

    def names(self) -> list[str]:
        return list(self._cases)

    def applicable(self, context: C) -> Iterator[Case[C, S]]:
        """The cases that apply to ``context``, in registration order."""
        return (case for case in self if case.applies(context))


def cases_for(registry: Registry[C, S], context: C) -> Iterator[tuple[Case[C, S], S]]:
    """Each thing every applicable case of ``registry`` sends, with its case (built lazily, in order)."""
    for case in registry.applicable(context):
        for sent in case.build(context):
            yield case, sent


ANSWER_LIMIT = 2000  # characters of an answer's body a Result keeps


@dataclass(frozen=True)
class Result:
    """One thing a scenario sent and what became of it, the same shape on every channel."""

    name: str
    expected: Expectation
    status: int | None = None  # None: no answer (see ``error``), or a transport without statuses (AMQP)
    error: str | None = None  # why nothing answered, or why the broker did not confirm
    elapsed: float = 0.0  # seconds
    items: int = 0  # what it carried: rows, products, event rows or messages
    size: int = 0  # bytes sent
    label: str = ""  # what else tells it apart: the event type, the queue
    answer: str = ""  # the start of the answer (status, URL, body) as sent back
    remarks: tuple[str, ...] = ()  # SHOULD-level remarks on an answer whose status is right
    method: str = ""  # HTTP: what was sent (for --json); AMQP: "publish"
    path: str = ""  # HTTP: the URL's path; AMQP: the queue
    started: float = 0.0  # wall-clock time (time.time()) when it was sent
    body: str = ""  # the answer's body as text, truncated (see ANSWER_LIMIT)

    @property
    def ok(self) -> bool:
        """HTTP: the status is one the expectation allows; AMQP: the broker confirmed the message."""
        if self.error is not None:
            return False
        if not self.expected.statuses:
            return True
        return self.status is not None and self.expected.accepts(self.status)


def encode_json(document: Any) -> bytes:
    """Compact UTF-8 JSON, non-ASCII kept as is: how the HTTP platforms put a body on the wire."""
    return json.dumps(document, ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode("utf-8")
