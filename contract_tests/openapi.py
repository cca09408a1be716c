"""``--check-openapi SOURCE``: every answer the suite gets from the receiver (its endpoints and its state
probe) must match the receiver's OpenAPI document — the status documented for the operation, the body
valid against that status's schema. SOURCE is the document's URL (the reference receiver serves its own
at ``/openapi.json``) or a file, e.g. the kit's published ``docs/contracts/openapi.json``.

Everything the suite sends goes through ``simulator.http.Sender``; while the option is on, its answers
are checked on the way back, and an answer that does not match fails the check that got it, saying what
was sent, what came back and what the document says."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import pytest
import requests

from inventory_push_kit.simulator.http import Delivery, Sender

ROOT = "urn:inventory-contract:openapi"


def load_document(source: str, ca_bundle: str | bool = True) -> dict[str, Any]:
    """The OpenAPI document from a URL or a file."""
    if source.startswith(("https://", "http://")):
        answer = requests.get(source, verify=ca_bundle, timeout=30)
        answer.raise_for_status()
        document: dict[str, Any] = answer.json()
    else:
        document = json.loads(Path(source).read_text(encoding="utf-8"))
    if not str(document.get("openapi", "")).startswith("3."):
        raise ValueError(f"{source} is not an OpenAPI 3 document")
    return document


@dataclass(frozen=True)
class Route:
    template: str
    pattern: re.Pattern[str]


def _pointer(*parts: str) -> str:
    return "#/" + "/".join(part.replace("~", "~0").replace("/", "~1") for part in parts)


class AnswerCheck:
    """Checks answers against one OpenAPI document; paths are taken relative to ``base_path`` (the path
    of --receiver-url)."""

    def __init__(self, document: dict[str, Any], base_path: str = "") -> None:
        import jsonschema
        from referencing import Registry, Resource
        from referencing.jsonschema import DRAFT202012

        self.document = document
        self.base_path = base_path.rstrip("/")
        self.checked = 0  # answers checked so far
        resource = Resource.from_contents(document, default_specification=DRAFT202012)
        self.registry = Registry().with_resource(ROOT, resource)
        self.validator_class = jsonschema.Draft202012Validator
        self.routes = [Route(template, re.compile("^" + re.sub(r"\\\{[^}]+\\\}", "([^/]+)", re.escape(template))
                                                  + "$")) for template in document.get("paths", {})]
        # a parameter that may hold slashes (ServiceMobility's source), when nothing else matches
        self.wide_routes = [Route(r.template, re.compile(r.pattern.pattern.replace("([^/]+)", "(.+)")))
                            for r in self.routes]

    def route(self, path: str) -> str | None:
        for candidates in (self.routes, self.wide_routes):
            for candidate in (path, path + "/", path.rstrip("/")):
                for route in candidates:
                    if route.pattern.match(candidate):
                        return route.template
        return None

    def problems(self, method: str, url: str, status: int, content_type: str | None, body: bytes) -> list[str]:
        """Why this answer does not match the document (nothing when it does)."""
        self.checked += 1
        path = unquote(urlsplit(url).path)
        if self.base_path and path.startswith(self.base_path):
            path = path[len(self.base_path):] or "/"
        template = self.route(path)
        if template is None:
            return [f"the document has no path matching {path}"]
        operation = self.document["paths"][template].get(method.lower())
        if operation is None:
            return [f"the document has no {method.upper()} {template}"]
        responses = operation.get("responses", {})
        key = str(status) if str(status) in responses else f"{str(status)[0]}XX" if f"{str(status)[0]}XX" in \
            responses else "default" if "default" in responses else None
        if key is None:
            return [f"{method.upper()} {template} ({operation.get('operationId')}) documents the answers "
                    f"{', '.join(responses)}, not {status}"]
        pointer = ["paths", template, method.lower(), "responses", key]
        response = responses[key]
        if "$ref" in response:
            pointer = response["$ref"].lstrip("#/").split("/")
            response = self._resolve(pointer)
        content = response.get("content")
        if not content:
            return []
        media = (content_type or "").split(";")[0].strip().lower()
        chosen = media if media in content else "*/*" if "*/*" in content else None
        if chosen is None:
            return [f"{status} of {template} is documented as {', '.join(content)}, not {media or 'no media type'}"]
        if "schema" not in content[chosen] or not chosen.endswith("json"):
            return []
        try:
            value = json.loads(body)
        except ValueError:
            return [f"{status} of {template} is documented as {chosen}, and the body is not JSON"]
        schema = {"$ref": ROOT + _pointer(*[p.replace("~1", "/").replace("~0", "~") for p in pointer], "content",
                                          chosen, "schema")}
        validator = self.validator_class(schema, registry=self.registry)
        return [f"{'/'.join(map(str, error.absolute_path)) or 'the body'}: {error.message[:200]}"
                for error in sorted(validator.iter_errors(value), key=lambda e: list(map(str, e.absolute_path)))[:5]]

    def _resolve(self, pointer: list[str]) -> Any:
        node: Any = self.document
        for part in pointer:
            node = node[part.replace("~1", "/").replace("~0", "~")]
        return node


def _fail(method: str, url: str, status: int, body: bytes, problems: list[str]) -> None:
    text = body.decode("utf-8", "replace")
    shown = text if len(text) <= 300 else text[:300] + "…"
    pytest.fail("the answer does not match the receiver's OpenAPI document (--check-openapi):\n"
                f"  sent:     {method} {url}\n  answer:   {status} {shown}\n"
                + "\n".join(f"  problem:  {problem}" for problem in problems), pytrace=False)


@contextmanager
def checking(check: AnswerCheck, prefixes: tuple[str, ...]) -> Iterator[None]:
    """While open, every answer to a request under one of ``prefixes`` (URLs) is checked."""
    send, get_json = Sender.send, Sender.get_json

    def checked_send(self: Sender, *args: Any, **kwargs: Any) -> Delivery:
        delivery = send(self, *args, **kwargs)
        if delivery.url.startswith(prefixes):
            content_type = next((v for k, v in delivery.headers.items() if k.lower() == "content-type"), None)
            found = check.problems(delivery.method, delivery.url, delivery.status, content_type, delivery.body)
            if found:
                _fail(delivery.method, delivery.url, delivery.status, delivery.body, found)
        return delivery

    def checked_get_json(self: Sender, url: str, headers: Any = None) -> tuple[int, Any]:
        status, body = get_json(self, url, headers)
        if url.startswith(prefixes):
            raw = json.dumps(body).encode() if body is not None else b""
            found = check.problems("GET", url, status, "application/json" if body is not None else None, raw)
            if found:
                _fail("GET", url, status, raw, found)
        return status, body

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(Sender, "send", checked_send)
        patch.setattr(Sender, "get_json", checked_get_json)
        yield
