"""The one JSON parser every channel uses (receiver/web.py ``parse_json``): its nesting limit is read from
the bytes, so it is checked here against the parsed document's own depth for documents whose strings are
full of brackets, quotes and escapes; and the garbage collector it pauses while parsing is always back on
afterwards, whatever the body and however many threads parse at once."""

from __future__ import annotations

import gc
import json
import threading
from typing import Any

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from inventory_push_kit.receiver.errors import MalformedBody
from inventory_push_kit.receiver.web import MAX_DEPTH, collector_paused, parse_json

TOO_DEEP = "nested more than"

# Strings made mostly of what could fool a scan of the bytes: brackets, quotes, backslashes, escapes.
tricky_text = st.text(st.sampled_from('[]{}"\\/:,ab\u00e9\u2028\U0001f600\n\t'), max_size=12)
scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | tricky_text
documents = st.recursive(scalars, lambda inner: st.lists(inner, max_size=4)
                         | st.dictionaries(tricky_text, inner, max_size=4), max_leaves=30)


def depth(value: Any) -> int:
    """How many arrays and objects nest at the deepest point (a scalar: 0)."""
    if isinstance(value, list):
        return 1 + max(map(depth, value), default=0)
    if isinstance(value, dict):
        return 1 + max(map(depth, value.values()), default=0)
    return 0


@st.composite
def nested_documents(draw: st.DrawFn) -> Any:
    """A document wrapped in arrays and objects to around the limit, so both sides of it are drawn."""
    document = draw(documents)
    for key in draw(st.lists(st.none() | tricky_text, min_size=MAX_DEPTH - 8, max_size=MAX_DEPTH + 4)):
        document = [document] if key is None else {key: document}
    return document


def encode(document: Any, ascii_only: bool, spaced: bool) -> bytes:
    separators = (", ", ": ") if spaced else (",", ":")
    return json.dumps(document, ensure_ascii=ascii_only, separators=separators).encode("utf-8")


@given(document=nested_documents(), ascii_only=st.booleans(), spaced=st.booleans())
@example(document=json.loads('[' * 64 + '"]]]]]]]]"' + ']' * 64), ascii_only=False, spaced=False)
@example(document=json.loads('[' * 65 + '"\\\\"' + ']' * 65), ascii_only=False, spaced=False)
@example(document=json.loads('{"\\"[[[[": ' * 64 + '"\\\\\\"]"' + '}' * 64), ascii_only=False, spaced=True)
def test_a_body_is_refused_for_its_nesting_exactly_when_it_nests_deeper_than_the_limit(
        document: Any, ascii_only: bool, spaced: bool) -> None:
    body = encode(document, ascii_only, spaced)
    if depth(document) > MAX_DEPTH:
        with pytest.raises(MalformedBody, match=TOO_DEEP):
            parse_json(body)
    else:
        assert parse_json(body) == document


@pytest.mark.parametrize("body", [b"[" * 100_000, b'{"a": NaN}', b"\xff", b'["\\ud800"]', b"[" * 65 + b"]" * 65],
                         ids=["unparseable-depth", "nan", "not-utf-8", "lone-surrogate", "too-deep"])
def test_the_garbage_collector_is_on_again_after_any_refused_body(body: bytes) -> None:
    assert gc.isenabled()
    with pytest.raises(MalformedBody):
        parse_json(body)
    assert gc.isenabled()


def test_the_garbage_collector_is_on_again_after_a_body_it_takes() -> None:
    assert parse_json(b'{"a": [1, 2, {"b": "[[[["}]}') == {"a": [1, 2, {"b": "[[[["}]}
    assert gc.isenabled()


def test_the_collector_stays_paused_until_the_last_of_several_threads_is_done() -> None:
    inside, release = threading.Barrier(3), threading.Event()

    def parse() -> None:
        with collector_paused():
            inside.wait()
            release.wait()

    threads = [threading.Thread(target=parse) for _ in range(2)]
    for thread in threads:
        thread.start()
    inside.wait()
    assert not gc.isenabled()
    with collector_paused():  # a third block begins and ends while the others go on
        pass
    assert not gc.isenabled()
    release.set()
    for thread in threads:
        thread.join()
    assert gc.isenabled()


def test_a_collector_someone_turned_off_stays_off() -> None:
    gc.disable()
    try:
        with collector_paused():
            pass
        assert not gc.isenabled()
    finally:
        gc.enable()
