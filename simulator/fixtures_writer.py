"""The one way the simulator writes fixture files: a case's body as ``<case>.json`` (pretty-printed) or
``<case>.txt`` (verbatim, when it is not JSON), and ``cases.json`` describing each case."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from .core import Case


def pretty(document: Any, *, indent: int = 2, inline_arrays: bool = True) -> bytes:
    """Indented JSON, non-ASCII kept, ending with a newline. With ``inline_arrays`` an array of plain
    values stays on one line (a stock column reads as one line); without, this is ``json.dumps(indent=)``."""
    step = " " * indent

    def render(value: Any, margin: str) -> str:
        inner = margin + step
        if isinstance(value, dict) and value:
            items = (f"{inner}{json.dumps(k, ensure_ascii=False)}: {render(v, inner)}" for k, v in value.items())
            return "{\n" + ",\n".join(items) + f"\n{margin}}}"
        if isinstance(value, list) and value and not (
            inline_arrays and not any(isinstance(v, dict | list) for v in value)
        ):
            return "[\n" + ",\n".join(inner + render(v, inner) for v in value) + f"\n{margin}]"
        return json.dumps(value, ensure_ascii=False, separators=(", ", ": "))

    return (render(document, "") + "\n").encode("utf-8")


def body_file(name: str, body: bytes, **style: Any) -> tuple[str, bytes]:
    """(file name, content) of a case's body: ``<name>.json`` pretty-printed (``style``: see
    :func:`pretty`) when it parses, else ``<name>.txt`` byte for byte."""
    try:
        document = json.loads(body)
    except ValueError:
        return f"{name}.txt", body
    return f"{name}.json", pretty(document, **style)


def case_entry(case: Case[Any, Any]) -> dict[str, Any]:
    """A case's entry in ``cases.json``: what it is, the status a correct receiver answers, and why."""
    return {"description": case.description, "status": case.expect.statuses[0], "spec": case.expect.spec}


def write(folder: Path, files: Mapping[str, bytes]) -> list[Path]:
    """Write ``files`` (name → content) into ``folder``; the paths written, in order."""
    written = []
    for name, content in files.items():
        (folder / name).write_bytes(content)
        written.append(folder / name)
    return written
