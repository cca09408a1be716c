"""The one JSON parser every channel uses (receiver/web.py ``parse_json``): its nesting limit is read from
the bytes, so it is checked here against the parsed document's own depth for documents whose strings are
full of brackets, quotes and escapes; and the garbage collector it pauses while parsing is always back on
afterwards, whatever the body and however many threads parse at once."""

from __future__ import annotations

import gc
import json
import locale
import math
import threading
import tracemalloc
from typing import Any

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from inventory_push_kit.receiver import web
from inventory_push_kit.receiver.errors import MalformedBody
from inventory_push_kit.receiver.web import MAX_DEPTH, collector_paused, parse_json, parse_json_sharing

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


# --- parse_json_sharing: parse_json's answer, in less memory ----------------------------------------

# Values whose equality crosses types or signs (1 == 1.0 == True, 0.0 == -0.0): sharing them would change
# the document; and the escapes, numbers and bytes where two JSON parsers tend to differ.
crossing = st.sampled_from([0, 1, 1.0, 0.0, -0.0, True, False, None, "", "a", "\u2011", 2**63, -(2**63) - 1,
                            5e-324, 1e308, 12345678901234567890])
columns = st.dictionaries(tricky_text, st.lists(crossing | scalars, max_size=8), max_size=5)
column_documents = st.fixed_dictionaries({"data": columns}) | st.dictionaries(tricky_text, columns, max_size=3)


def answer(parse: Any, body: bytes) -> tuple[str, str]:
    """What a parser makes of a body, comparable across parsers: the document as exact JSON text (ints,
    floats and booleans apart, key order kept) or the refusal's message."""
    try:
        return "document", json.dumps(parse(body), ensure_ascii=True)
    except MalformedBody as exc:
        return "refused", exc.message


def sharing_answers_as_parse_json(body: bytes) -> None:
    assert answer(parse_json_sharing, body) == answer(parse_json, body)


@given(document=column_documents | documents, ascii_only=st.booleans(), spaced=st.booleans(), bom=st.booleans())
def test_the_sharing_parser_reads_every_document_as_parse_json_does(
        document: Any, ascii_only: bool, spaced: bool, bom: bool) -> None:
    body = encode(document, ascii_only, spaced)
    sharing_answers_as_parse_json(b"\xef\xbb\xbf" + body if bom else body)


# Bytes that change what a JSON text means, put anywhere in a valid one.
disruptive = st.sampled_from([b'"', b"\\", b"{", b"}", b"[", b"]", b",", b":", b"0", b"-", b"+", b"e", b".", b" ",
                              b"\t", b"\f", b"\v", b"\x00", b"\x1f", b"\xff", b"\xc3", b"\xed\xa0\x80", b"\\u",
                              b"\\ud800", b"u", b"N", b"NaN", b"Infinity", b"true", b"nul", b"/*", b"9" * 30,
                              b"\xef\xbb\xbf"])


@given(document=column_documents, spaced=st.booleans(), edits=st.lists(
    st.tuples(st.floats(0, 1), st.integers(0, 2), disruptive), min_size=1, max_size=3))
def test_the_sharing_parser_refuses_what_parse_json_refuses_with_its_message(
        document: Any, spaced: bool, edits: list[tuple[float, int, bytes]]) -> None:
    body = bytearray(encode(document, False, spaced))
    for where, removed, inserted in edits:
        at = int(where * len(body))
        body[at:at + removed] = inserted
    sharing_answers_as_parse_json(bytes(body))


@pytest.mark.parametrize("body", [
    b"", b" ", b"\xef\xbb\xbf", b'{"data": {"a": [NaN]}}', b'{"data": {"a": [1e400]}}', b'{"a": ["\\ud800"]}',
    b'{"\\udfff": 1}', b'{"a": [12345678901234567890123]}', b'{"a": [1]} {"b": 2}', b'{"a": [1]}\x00',
    b'{"a": [{"b": 1}, {"b": 1}]}', b'[{"a": 1}]', b'{"a": [{"b": [1, 1]}]}', b'{"a": "\xed\xa0\x80"}',
    b"[" * 65 + b"]" * 65,
    b'{"a": ' * 65 + b"1" + b"}" * 65, b"[" * 100_000, b"[" * 100_000 + b"]" * 100_000, b'{"a": [1,]}',
    b'{"a": 1, "a": [2, 2]}', b'{"a": [1]} "x', b'{"data": {}}"', b'{"a": [1]}"}', b'"a" b', b'{"a": "\\\\"} "',
    b'{"a": "x\fy"}', b'\f{"a": 1}', b'{"a":\v1}', b'{"a": [-0, -0.0, 0.0, 1, 1.0, true]}',
], ids=lambda body: repr(body[:48]))
def test_the_sharing_parser_answers_a_hostile_body_as_parse_json_does(body: bytes) -> None:
    sharing_answers_as_parse_json(body)


KEY = "k" * (1 << 20)


@pytest.mark.parametrize("body", [
    b'{"' + KEY.encode() + b'": {"a": ' + b"[" * 60 + b"]" * 60 + b"}}",
    b'{"' + KEY.encode() + b'": {"a": [1, ' + b"[" * 60 + b"]" * 60 + b"]}}",
    b"".join(b'{"%d%s": ' % (i, KEY.encode()) for i in range(30)) + b"1" + b"}" * 30,
], ids=["arrays-in-an-array-under-a-long-key", "arrays-after-a-value", "objects-under-long-keys"])
def test_nesting_under_long_keys_costs_the_sharing_parser_no_more_memory_than_parse_json(body: bytes) -> None:
    # ijson builds each container's path from the root: nested under a 1 MiB key, 30 to 60 levels would
    # take 30 to 60 MiB more. Such a body is not one the sharing parser reads.
    peaks = []
    for parse in (parse_json, parse_json_sharing):
        tracemalloc.start()
        try:
            parse(body)
            peaks.append(tracemalloc.get_traced_memory()[1])
        finally:
            tracemalloc.stop()
    assert peaks[1] <= peaks[0] * 1.1 + 1_000_000, peaks


class RecordingParser:
    """ijson's C backend, recording whether it was asked to parse."""

    def __init__(self, backend: Any) -> None:
        self.backend, self.calls = backend, 0

    def items(self, *args: Any, **kwargs: Any) -> Any:
        self.calls += 1
        return self.backend.items(*args, **kwargs)


MEMBERS = b",".join(b'"%d": 0' % i for i in range(2000))


@pytest.mark.parametrize(("body", "by_ijson"), [
    (b'{"data": {"pn": ["a", "a"], "qty": [1, 2]}}', True),
    (b'\xef\xbb\xbf {\n  "data" :\n  {"pn": ["a"]}}', True),
    # Each member of the inner object would cost ijson a copy of the key above it: 1 MiB here.
    (b'{"' + KEY.encode() + b'": {' + MEMBERS + b"}}", False),
    (b'{"note": "' + b"x" * 64 + b'", "data": {"pn": ["a"]}}', False),
    (b'{"data": {"pn": [{"a": 1}]}, "x": {}}', False),
    (b'{"data": {"pn": [["a"]]}}', False),
    (b'{"data": {"pn": ["a"]}}\f', False),
    (b'{"data": {"pn": ["\\udfff"]}}', False),
], ids=["stock-push", "spaced-with-bom", "members-under-a-long-key", "inner-object-late", "three-objects",
        "array-in-an-array", "form-feed", "surrogate"])
def test_only_a_body_ijson_reads_cheaply_and_as_json_does_reaches_it(
        body: bytes, by_ijson: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    recording = RecordingParser(web._yajl)
    monkeypatch.setattr(web, "_yajl", recording)
    sharing_answers_as_parse_json(body)
    assert recording.calls == (1 if by_ijson else 0)


def test_a_decimal_comma_locale_keeps_numbers_away_from_ijson(monkeypatch: pytest.MonkeyPatch) -> None:
    # yajl reads decimals with the C library's strtod, which follows LC_NUMERIC: 1.5 would be 1.0.
    recording = RecordingParser(web._yajl)
    monkeypatch.setattr(web, "_yajl", recording)
    conventions = {**locale.localeconv(), "decimal_point": ","}
    monkeypatch.setattr(web.locale, "localeconv", lambda: conventions)
    assert parse_json_sharing(b'{"data": {"price": [1.5, 22.5]}}') == {"data": {"price": [1.5, 22.5]}}
    assert recording.calls == 0


def test_equal_values_of_an_array_become_one_object_and_the_rest_stays_apart() -> None:
    names = [f"part-{i % 3}" for i in range(30)]
    body = json.dumps({"data": {"name": names, "price": [1.0, -0.0, 0.0] * 10, "flag": [1, True, 1.0] * 10,
                                "last": names}}).encode()
    data = parse_json_sharing(body)["data"]
    assert data == json.loads(body)["data"]
    for column in ("name", "last"):  # the last member is shared too, once its object is complete
        assert len({id(value) for value in data[column]}) == 3
    assert [type(v) for v in data["flag"][:3]] == [int, bool, float]
    assert [math.copysign(1, v) for v in data["price"][:3]] == [1, -1, 1]
    assert type(parse_json_sharing(body)) is dict and type(data) is dict  # plain objects, like parse_json's
