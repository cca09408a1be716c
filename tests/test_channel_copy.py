"""A customer copying one channel takes ``channels/<channel>.py`` plus ``errors.py``, ``storage.py``,
``web.py`` and the ``migrations/`` folder (and, for the ERP, its transport ``amqp.py``) — nothing of the
other channels' code. This test does exactly that: it copies those files into a package of another
name, writes the few lines of app a customer would write, serves it with gunicorn over HTTPS (or runs
its consumer), and runs the contract suite's MUST checks of that channel against it. They must pass."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import requests

from devtools.junit import outcomes
from devtools.serving import TLSFiles, free_port, make_tls
from tests.conftest import unique_queues

RECEIVER = Path(__file__).resolve().parents[1] / "receiver"
SHARED = ["errors.py", "storage.py", "web.py"]
PACKAGE = "acme_inventory"  # the customer's own package name: nothing may refer to "receiver"

# What a customer writes around a copied HTTP channel: one store, the error envelope, the channel and
# its read routes (the state probe), no token in front of them for this test.
HTTP_APP = '''
from flask import Blueprint, Flask

from {package} import errors, storage, web
from {package}.channels import {channel}

store = storage.Store("sqlite:///{database}")
store.create_schema()
app = Flask(__name__)
errors.register_error_handlers(app)
web.init_app(app)
api = Blueprint("api", __name__, url_prefix="/api")
{channel}.register(app, api, {channel}.Config(enabled=True, **{settings!r}), store)
app.register_blueprint(api)
'''

ERP_CONSUMER = '''
import logging

from {package} import amqp, storage
from {package}.channels import erp

logging.basicConfig(level=logging.INFO)
store = storage.Store("sqlite:///{database}")
store.create_schema()
raise SystemExit(amqp.consume(erp.Config(enabled=True, **{settings!r}), store))
'''

HTTP_CHANNELS = {
    "stock": ({"credential_headers": {"X-Stock-Key": "copied-channel-key"}},
              ["--stock-header", "X-Stock-Key: copied-channel-key"]),
    "s360": ({"auth": "BASIC_AUTH", "login": "s360", "password": "copied-channel-password"},
             ["--s360-path", "/s360/inventory", "--s360-auth", "basic:s360:copied-channel-password"]),
    "servicemobility": ({"jwt": "hs256", "secret": "c" * 32},
                        ["--servicemobility-base", "/servicemobility", "--servicemobility-secret", "c" * 32,
                         "--servicemobility-evaluates-jwt"]),
}


def copy_channel(folder: Path, channel: str, *extra: str) -> None:
    """The channel module, the shared modules and the schema's migrations, nothing else (no
    ``__init__.py`` even: namespace packages)."""
    (folder / PACKAGE / "channels").mkdir(parents=True)
    for name in (*SHARED, *extra):
        shutil.copy(RECEIVER / name, folder / PACKAGE / name)
    shutil.copytree(RECEIVER / "migrations", folder / PACKAGE / "migrations",
                    ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(RECEIVER / "channels" / f"{channel}.py", folder / PACKAGE / "channels" / f"{channel}.py")
    for path in (folder / PACKAGE).rglob("*.py"):  # relative imports only: nothing names the kit's package
        assert not re.search(r"^\s*(from|import) (inventory_push_kit|receiver)\b", path.read_text(), re.M), path


@contextmanager
def served(folder: Path, tls: TLSFiles) -> Iterator[str]:
    """gunicorn over HTTPS serving ``customer_app:app`` from ``folder``; yields its base URL."""
    port = free_port()
    log = (folder / "gunicorn.log").open("wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "--certfile", str(tls.cert), "--keyfile", str(tls.key),
         "--bind", f"127.0.0.1:{port}", "--workers", "1", "--threads", "4", "customer_app:app"],
        cwd=folder, stdout=log, stderr=subprocess.STDOUT)
    url = f"https://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            assert process.poll() is None, (folder / "gunicorn.log").read_text()
            try:
                requests.get(f"{url}/", verify=str(tls.ca), timeout=2)
                break
            except requests.RequestException:
                assert time.monotonic() < deadline, (folder / "gunicorn.log").read_text()
                time.sleep(0.2)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=30)
        log.close()


def must_checks(folder: Path, module: str, *options: str) -> None:
    """The contract suite's MUST checks of one module, run as a customer runs them: none may fail (a
    case for another configuration — another S-360 auth mode, an RSA key — skips)."""
    junit = folder / "junit.xml"
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "--pyargs", f"inventory_push_kit.contract_tests.{module}", "-m", "must", "-p",
         "no:cacheprovider", f"--junitxml={junit}", *options],
        capture_output=True, text=True, timeout=600, cwd=folder)
    found = outcomes(junit)
    assert result.returncode == 0 and found, result.stdout[-4000:] + result.stderr[-2000:]
    assert [o for o in found if o.outcome == "failed"] == []
    assert sum(o.outcome == "passed" for o in found) > sum(o.outcome == "skipped" for o in found), found


@pytest.fixture(scope="module")
def tls(tmp_path_factory: pytest.TempPathFactory) -> TLSFiles:
    return make_tls(tmp_path_factory.mktemp("tls"))


@pytest.mark.parametrize("channel", sorted(HTTP_CHANNELS))
def test_a_copied_http_channel_passes_its_must_checks(channel: str, tmp_path: Path, tls: TLSFiles) -> None:
    settings, options = HTTP_CHANNELS[channel]
    copy_channel(tmp_path, channel)
    (tmp_path / "customer_app.py").write_text(HTTP_APP.format(
        package=PACKAGE, channel=channel, database=tmp_path / "copy.db", settings=settings))
    with served(tmp_path, tls) as url:
        must_checks(tmp_path, f"test_{channel}", "--receiver-url", url, "--ca-bundle", str(tls.ca),
                    "--state-probe", f"{url}/api", *options)
    copied = {str(p.relative_to(tmp_path / PACKAGE)) for p in (tmp_path / PACKAGE).rglob("*.py")}
    code = {name for name in copied if not name.startswith("migrations/")}
    assert code == {*SHARED, f"channels/{channel}.py"}


def test_the_copied_erp_channel_and_its_consumer_pass_their_must_checks(tmp_path: Path, rabbitmq_url: str,
                                                                      tls: TLSFiles) -> None:
    copy_channel(tmp_path, "erp", "amqp.py")
    with unique_queues(rabbitmq_url, "test-copy") as queues:
        settings = {"amqp_url": rabbitmq_url, **queues}
        for name, template in (("customer_consumer.py", ERP_CONSUMER), ("customer_app.py", HTTP_APP)):
            (tmp_path / name).write_text(template.format(
                package=PACKAGE, channel="erp", database=tmp_path / "copy.db", settings=settings))
        log = tmp_path / "consumer.log"
        with served(tmp_path, tls) as url, log.open("wb") as out:
            consumer = subprocess.Popen([sys.executable, "customer_consumer.py"], cwd=tmp_path, stdout=out,
                                        stderr=subprocess.STDOUT)
            try:
                deadline = time.monotonic() + 30
                while "erp: consuming" not in log.read_text():
                    assert consumer.poll() is None and time.monotonic() < deadline, log.read_text()
                    time.sleep(0.1)
                must_checks(tmp_path, "test_erp", "--amqp-url", rabbitmq_url, "--ca-bundle", str(tls.ca),
                            "--state-probe", f"{url}/api", "--erp-customer-queue", queues["customer_queue"],
                            "--erp-subscription-queue", queues["subscription_queue"])
            finally:
                consumer.terminate()
                assert consumer.wait(timeout=30) == 0, log.read_text()


def test_a_receiver_with_only_the_stock_channel_loads_no_jwt_code(tmp_path: Path) -> None:
    """The other channels' modules are registered, but what only they need is imported where they use it:
    a stock-only receiver never loads PyJWT or cryptography."""
    config = tmp_path / "receiver.toml"
    config.write_text(f'[storage]\ndata_dir = "{tmp_path}"\n[stock]\nenabled = true\n'
                      '[stock.credential_headers]\nX-Stock-Key = "k"\n')
    script = ("import sys; from inventory_push_kit.receiver import create_app, load_config; "
              f"create_app(load_config({str(config)!r})); "
              "print(sorted(m for m in sys.modules if m.split('.')[0] in {'jwt', 'cryptography'}))")
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"
