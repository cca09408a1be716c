"""Schemathesis, a tool no one here wrote, against the reference receiver served for real (gunicorn,
HTTPS), from the OpenAPI document it serves: examples, coverage, fuzzing and stateful phases, every
check. It must find no server error, no answer the document does not describe, no body the schema calls
invalid that the receiver accepts, and no body the schema calls valid that it refuses — except where a
rule lies beyond the schema (equal stock column lengths; S-360 ids written 1.0, an integer to JSON
Schema), named below. Bounded by a number of examples and a fixed seed, so a run is reproducible.

What Schemathesis found is fixed, and pinned in tests/test_published_contracts.py (``test_pinned_*``)."""

from __future__ import annotations

import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path

import jwt
import pytest

from devtools.serving import RunningReceiver, TLSFiles, make_tls, running_receiver

SECRET = "servicemobility-shared-secret-of-32-bytes-or-more"
TOKEN = "read-api-token"
STOCK_KEY = "stock-key"
S360 = ("s360-login", "s360-password")
MAX_EXAMPLES = 25
SEED = 20261201

# Operations where a schema-valid body can still be refused for a rule beyond the schema (each is in the
# schema's description, "Beyond this schema"): Schemathesis's positive_data_acceptance check is off there.
BEYOND_THE_SCHEMA = {
    "stock_push": "every column has as many values as connectorStockId (decision stock-4)",
    "s360_inventory_webhook": "a product id written 1.0 is an integer to JSON Schema, not to the receiver "
                              "(decision s360-3); ids are unique in a batch (s360-5)",
}


@pytest.fixture(scope="module")
def tls(tmp_path_factory: pytest.TempPathFactory) -> TLSFiles:
    return make_tls(tmp_path_factory.mktemp("tls"))


@pytest.fixture(scope="module")
def receiver(tmp_path_factory: pytest.TempPathFactory, tls: TLSFiles) -> Iterator[RunningReceiver]:
    """Every HTTP channel on, each with credentials, and the read API (the ERP's read routes too)."""
    workdir = tmp_path_factory.mktemp("receiver")
    limit = 1024 * 1024  # small bodies: the fuzzer's are small, and a 413 is an answer like another
    config = {
        "storage": {"data_dir": str(workdir / "data")},
        "api": {"token": TOKEN},
        "stock": {"enabled": True, "credential_headers": {"X-Stock-Key": STOCK_KEY}, "max_body_bytes": limit},
        "s360": {"enabled": True, "auth": "BASIC_AUTH", "login": S360[0], "password": S360[1],
                 "max_body_bytes": limit},
        "servicemobility": {"enabled": True, "jwt": "hs256", "secret": SECRET, "max_body_bytes": limit},
        "erp": {"enabled": True},
    }
    with running_receiver(config, workdir, tls=tls) as running:
        yield running


def schemathesis_config(path: Path) -> Path:
    """Credentials per security scheme of the document, every check on, the exceptions above."""
    now = int(time.time())
    token = jwt.encode({"iat": now, "exp": now + 3600, "name": "schemathesis"}, SECRET, algorithm="HS256")
    lines = ["[checks]", "enabled = true", "",
             "[auth.openapi.read-api]", f'bearer = "{TOKEN}"', "",
             "[auth.openapi.metrics]", f'bearer = "{TOKEN}"', "",
             "[auth.openapi.s360-basic]", f'username = "{S360[0]}"', f'password = "{S360[1]}"', "",
             "[auth.openapi.stock-X-Stock-Key]", f'api_key = "{STOCK_KEY}"', "",
             "[auth.openapi.servicemobility-token]", f'api_key = "{token}"', ""]
    for operation, why in BEYOND_THE_SCHEMA.items():
        lines += [f"# {why}", "[[operations]]", f'include-operation-id = "{operation}"',
                  "checks.positive_data_acceptance.enabled = false", ""]
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


# Hypothesis describes its strategies by parsing lambda sources with ``ast``; on CPython 3.11, deep in the
# nested strategies of a body schema like ServiceMobility's, ``ast.parse`` can raise SystemError ("AST
# constructor recursion depth mismatch", a bug of that interpreter). A description is only a name for a
# strategy: where it cannot be had, the harness lets Hypothesis use "unknown", as it does for any source
# it cannot parse.
RUN = """
import hypothesis.internal.lambda_sources as sources
describe = sources._lambda_description
def tolerant(f):
    try:
        return describe(f)
    except SystemError:
        return "lambda: <unknown>"
sources._lambda_description = tolerant
from schemathesis.cli import schemathesis
schemathesis()
"""


def test_schemathesis_finds_nothing_wrong_with_the_reference_receiver(tmp_path: Path, receiver: RunningReceiver,
                                                                       tls: TLSFiles) -> None:
    config = schemathesis_config(tmp_path / "schemathesis.toml")
    junit = tmp_path / "schemathesis.xml"
    command = [sys.executable, "-c", RUN, "--config-file", str(config), "run", f"{receiver.url}/openapi.json",
               "--tls-verify", str(tls.ca), "--max-examples", str(MAX_EXAMPLES), "--seed", str(SEED),
               "--workers", "2", "--phases", "examples,coverage,fuzzing,stateful",
               "--report", "junit", "--report-junit-path", str(junit), "--no-color"]
    process = subprocess.run(command, capture_output=True, text=True, timeout=600, cwd=tmp_path)
    output = process.stdout + process.stderr
    assert process.returncode == 0, output[-12000:]
    for phase in ("Examples", "Coverage", "Fuzzing", "Stateful"):
        assert f"✅ {phase}" in output, output[-4000:]
    suites = ET.parse(junit).getroot()  # noqa: S314 (the report written a moment ago)
    cases = list(suites.iter("testcase"))
    assert len(cases) >= 31  # every operation of the document was tested
    assert {"GET /healthz", "GET /readyz", "GET /metrics"} <= {case.get("name") for case in cases}
    assert not [case for case in cases if case.find("failure") is not None or case.find("error") is not None]
    assert "Traceback" not in receiver.log_text()  # nothing failed inside the receiver either
