"""The CI snippets of docs/ci/ work as written: their contract-suite command, with the environment they set,
run against the reference receiver (served on a port of its own, its CA where the snippets expect it) and
with the secrets a customer keeps in CI variables, passes and leaves the JUnit report they upload."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from devtools.serving import RunningReceiver, make_tls, running_receiver

DOCS = Path(__file__).resolve().parents[1] / "docs" / "ci"
TOKEN = "ci-probe-token"
SECRETS = {
    "CONTRACT_STATE_PROBE_HEADER": f"Authorization: Bearer {TOKEN}",
    "CONTRACT_STOCK_HEADER": "X-Stock-Key: ci-stock-key",
    "CONTRACT_S360_AUTH": "basic:s360:ci-s360-password",
    "CONTRACT_SERVICEMOBILITY_SECRET": "c" * 40,
}


@pytest.fixture(scope="module")
def receiver(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningReceiver]:
    """The receiver the snippets' channels describe: stock, S-360 (Basic), ServiceMobility (HS256)."""
    workdir = tmp_path_factory.mktemp("ci")
    config = {
        "storage": {"data_dir": str(workdir / "data")}, "api": {"token": TOKEN},
        "stock": {"enabled": True, "credential_headers": {"X-Stock-Key": "ci-stock-key"}},
        "s360": {"enabled": True, "auth": "BASIC_AUTH", "login": "s360", "password": "ci-s360-password"},
        "servicemobility": {"enabled": True, "jwt": "hs256", "secret": SECRETS["CONTRACT_SERVICEMOBILITY_SECRET"]},
    }
    with running_receiver(config, workdir, tls=make_tls(workdir / "tls")) as running:
        yield running


def github_contract_step() -> tuple[dict[str, Any], str]:
    workflow = yaml.safe_load((DOCS / "github-actions.yml").read_text(encoding="utf-8"))
    steps = workflow["jobs"]["contract"]["steps"]
    [step] = [s for s in steps if s.get("name") == "Run the contract suite"]
    secrets = {name: "${{ secrets." + name + " }}" for name in SECRETS}
    assert {k: v for k, v in step["env"].items() if k in SECRETS} == secrets  # secrets come from secrets
    return {k: v for k, v in step["env"].items() if k not in SECRETS}, step["run"]


def gitlab_contract_step() -> tuple[dict[str, Any], str]:
    job = yaml.safe_load((DOCS / "gitlab-ci.yml").read_text(encoding="utf-8"))["receiver-contract"]
    [command] = [line for line in job["script"] if "contract_tests" in line]
    return dict(job["variables"]), command


@pytest.mark.parametrize("snippet", [github_contract_step, gitlab_contract_step], ids=["github", "gitlab"])
def test_the_snippets_contract_command_passes_against_the_reference(snippet: Any, receiver: RunningReceiver,
                                                                    tmp_path: Path) -> None:
    variables, command = snippet()
    (tmp_path / "certs").mkdir()
    shutil.copy(receiver.ca or "", tmp_path / "certs" / "ca.pem")
    # "python" is the interpreter the kit is installed in, as after the snippet's install step.
    env = {**os.environ, **SECRETS, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    env |= {name: str(value).replace("https://localhost:8443", receiver.url) for name, value in variables.items()}
    result = subprocess.run(["bash", "-c", command], cwd=tmp_path, env=env, capture_output=True, text=True,
                            timeout=600)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    report = ET.parse(tmp_path / "contract-junit.xml").getroot()
    cases = list(report.iter("testcase"))
    assert len(cases) > 100 and not [c for c in cases if c.find("failure") is not None or c.find("error") is not None]
    assert [suite.get("name") for suite in report.iter("testsuite")] == ["inventory-contract"]
