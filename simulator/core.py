"""What every channel of the simulator shares: the request it sends, the outcome a correct
receiver must give, and registries of named cases."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Generic, TypeVar


@dataclass(frozen=True)
class Request:
    """One HTTP request exactly as the platform would send it (or as a malformation breaks it)."""

    body: bytes
    headers: Mapping[str, str] = field(default_factory=dict)
    path: str | None = None  # None: the channel's configured path


@dataclass(frozen=True)
class Expectation:
    """What a correct receiver answers. ``statuses`` lists every acceptable status code."""

    statuses: tuple[int, ...]
    spec: str  # the sentence of the document, or the NOTES.md decision, that requires it
    level: str = "MUST"  # MUST: the document's words; SHOULD: our decisions and best practice

    def accepts(self, status: int) -> bool:
        return status in self.statuses

    def describe(self) -> str:
        return " or ".join(str(s) for s in self.statuses)


T = TypeVar("T")


@dataclass(frozen=True)
class Case(Generic[T]):
    """A named case: how to build it and what a correct receiver must answer."""

    name: str
    description: str
    expect: Expectation
    build: T


class Registry(Generic[T]):
    """Named cases of one channel; adding a case is adding one entry."""

    def __init__(self, channel: str) -> None:
        self.channel = channel
        self._cases: dict[str, Case[T]] = {}

    def register(
        self, name: str, description: str, expect: Expectation
    ) -> Callable[[T], T]:
        def decorator(build: T) -> T:
            if name in self._cases:
                raise ValueError(f"{self.channel}: case {name!r} registered twice")
            self._cases[name] = Case(name, description, expect, build)
            return build

        return decorator

    def __getitem__(self, name: str) -> Case[T]:
        try:
            return self._cases[name]
        except KeyError:
            known = ", ".join(sorted(self._cases))
            raise KeyError(f"{self.channel}: no case named {name!r} (known: {known})") from None

    def __iter__(self) -> Iterator[Case[T]]:
        return iter(self._cases.values())

    def __len__(self) -> int:
        return len(self._cases)

    def names(self) -> list[str]:
        return list(self._cases)
