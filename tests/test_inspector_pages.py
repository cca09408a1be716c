"""A kept body's page map: every page read from its recorded offset shows exactly the lines that reading
the body from its start shows there, whatever the document (nesting, escapes, odd spacing)."""

from __future__ import annotations

import io
import itertools
import json
import tracemalloc
from typing import Any

from hypothesis import example, given
from hypothesis import strategies as st

from inventory_push_kit.receiver.inspector import _Prefixed, _resume_prefix, json_lines, page_map

documents = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**53), 2**53) | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(alphabet=st.characters(codec="utf-8"), max_size=8),
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=5), inner, max_size=5),
    max_leaves=40,
)


def lines_from(body: bytes, offset: int = 0, frames: list[list[Any]] | None = None) -> list[Any]:
    stream = io.BytesIO(body)
    stream.seek(offset)
    if frames:
        return list(json_lines(_Prefixed(_resume_prefix(frames), stream), frames))  # type: ignore[arg-type]
    return list(json_lines(stream))


@given(document=documents, per_page=st.integers(1, 7), indent=st.sampled_from([None, 0, 2]),
       ensure_ascii=st.booleans())
@example(document={"data": {"pn": ["a", "b", "c"], "qty": [1, 2, 3]}}, per_page=2, indent=None, ensure_ascii=False)
@example(document={'k"\\{[': [{"": ["]", "}"]}, {}], "x": []}, per_page=1, indent=2, ensure_ascii=True)  # escapes
def test_every_page_read_from_its_offset_is_the_page_read_from_the_start(
        document: Any, per_page: int, indent: int | None, ensure_ascii: bool) -> None:
    body = json.dumps(document, indent=indent, ensure_ascii=ensure_ascii).encode()
    everything = lines_from(body)
    found = page_map(io.BytesIO(body), per_page)  # type: ignore[arg-type]
    assert found is not None and found["count"] == len(everything)
    assert len(found["pages"]) == max(0, (len(everything) - 1) // per_page)
    for page, (offset, frames) in enumerate(found["pages"], start=1):
        assert lines_from(body, offset, frames)[:per_page] == everything[page * per_page:(page + 1) * per_page]


def test_a_body_that_is_not_json_has_no_map() -> None:
    for body in (b'{"a": [1, 2', b"not json", b'{"a": 1}}', b'"unterminated'):
        assert page_map(io.BytesIO(body), 2) is None  # type: ignore[arg-type]


def test_the_first_page_of_a_body_refused_for_its_depth_costs_little_memory() -> None:
    # Refused bodies are kept by default; such a body, 100,000 arrays deep, once took 2.9 GB to show its
    # first page (ijson.parse builds every event's path from the root).
    tracemalloc.start()
    try:
        lines = list(itertools.islice(json_lines(io.BytesIO(b"[" * 100_000)), 200))  # type: ignore[arg-type]
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert len(lines) == 200 and lines[-1][0] == 199  # one line per opened array, each one deeper
    assert peak < 20 * 2**20, peak
