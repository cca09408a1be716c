"""What ``serve`` and ``consume`` print: one format for every line (``[server] log_format``), a level
(``log_level``), delivery lines that name the delivery and its first problems, the consumer's broker
failures as one line each, and no secret anywhere. Real processes, a real RabbitMQ."""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import pika
import pytest
import requests
import sqlalchemy as sa

from devtools.serving import ROOT, RunningReceiver, make_tls, running_consumer, running_receiver, write_toml
from inventory_push_kit import fixtures
from inventory_push_kit.receiver import logs
from inventory_push_kit.receiver.amqp import EXIT_BROKER_REFUSED
from inventory_push_kit.receiver.config import ConfigError, from_mapping
from inventory_push_kit.receiver.errors import InvalidPayload, MalformedBody
from inventory_push_kit.receiver.web import problem_path, rejection_summary
from inventory_push_kit.simulator import servicemobility as sm
from inventory_push_kit.simulator.http import Sender
from inventory_push_kit.simulator.stock import StockGenerator
from tests.conftest import require_service_tool, unique_queues
from tests.test_erp_consumer import TcpProxy
from tests.test_server_edge import connect, read_all

TEXT_LINE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z (DEBUG|INFO|WARNING|ERROR|CRITICAL) [\w.]+: \S")


def lines_in(text: str, log_format: str) -> list[dict[str, Any]]:
    """Every line of a process's output, each asserted to be in ``log_format``, as JSON objects (a text
    line as {level, logger, message})."""
    parsed = []
    for line in text.splitlines():
        if log_format == "json":
            record = json.loads(line)
            assert {"time", "level", "logger", "message"} <= set(record), line
        else:
            assert TEXT_LINE.match(line), f"not a text log line: {line!r}"
            stamp, level, rest = line.split(" ", 2)
            logger, message = rest.split(": ", 1)
            record = {"time": stamp, "level": level, "logger": logger, "message": message}
        parsed.append(record)
    return parsed


def wait_for(condition: Callable[[], bool], what: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)


@contextmanager
def started(config: Path, command: str, log: Path) -> Iterator[subprocess.Popen[bytes]]:
    """``python -m inventory_push_kit.receiver --config CONFIG COMMAND``, its output in ``log``; SIGTERM afterwards."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("RECEIVER_")}
    env["PYTHONPATH"] = str(ROOT)
    with open(log, "wb") as out:
        process = subprocess.Popen([sys.executable, "-m", "inventory_push_kit.receiver", "--config", str(config),
                                    command],
                                   stdout=out, stderr=subprocess.STDOUT, env=env, cwd=config.parent)
    try:
        yield process
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
        process.wait(timeout=30)


# --- the formats ------------------------------------------------------------------------------------


def test_a_json_line_carries_the_fields_of_its_record() -> None:
    record = logging.LogRecord("inventory_push_kit.receiver.web", logging.WARNING, __file__, 1,
                               "stock delivery %s rejected", (42,), None)
    record.__dict__.update(channel="stock", delivery=42, status=422, outcome="rejected", duration_ms=3)
    line = json.loads(logs.JsonFormatter().format(record))
    assert line["message"] == "stock delivery 42 rejected" and line["level"] == "WARNING"
    assert line["logger"] == "inventory_push_kit.receiver.web" and re.fullmatch(r"\d{4}-.+T.+\.\d{3}Z", line["time"])
    assert {k: line[k] for k in ("channel", "delivery", "status", "outcome", "duration_ms")} == {
        "channel": "stock", "delivery": 42, "status": 422, "outcome": "rejected", "duration_ms": 3}


def test_a_configured_secret_is_masked_in_every_format() -> None:
    record = logging.LogRecord("pika", logging.DEBUG, __file__, 1, "sending %s", ("\0guest\0s3cret-pass",), None)
    for formatter in (logs.TextFormatter(["s3cret-pass"]), logs.JsonFormatter(["s3cret-pass"])):
        assert "s3cret-pass" not in formatter.format(record) and "***" in formatter.format(record)


def test_the_secrets_of_a_configuration_are_found_in_every_section() -> None:
    config = from_mapping({
        "storage": {"url": "postgresql://app:pg%40pass@db/x?password=pg-query-pass"},
        "api": {"token": "api-token-1"}, "stock": {"credential_headers": {"X-Key": "stock-key-1"}},
        "s360": {"password": "s360-pass-1"}, "servicemobility": {"secret": "x" * 32},
        "erp": {"amqp_url": "amqp://u:amqp-pass-1@h/"}})
    found = logs.secret_values(config)
    for secret in ("pg%40pass", "pg@pass", "pg-query-pass", "api-token-1", "stock-key-1", "s360-pass-1", "x" * 32,
                   "amqp-pass-1"):
        assert secret in found
    assert "app" not in found and "u" not in found  # user names are not secrets


@pytest.mark.parametrize("key, value", [("log_format", "xml"), ("log_format", "JSON"), ("log_level", "verbose"),
                                        ("log_level", 10)])
def test_a_wrong_log_setting_is_refused_naming_the_key(key: str, value: Any) -> None:
    with pytest.raises(ConfigError, match=rf"\[server\] {key}"):
        from_mapping({"server": {key: value}})


def test_the_log_settings_come_from_the_environment_too() -> None:
    config = from_mapping({}, {"RECEIVER_SERVER_LOG_FORMAT": "json", "RECEIVER_SERVER_LOG_LEVEL": "warning"})
    assert (config.server.log_format, config.server.log_level) == ("json", "warning")
    assert (from_mapping({}).server.log_format, from_mapping({}).server.log_level) == ("text", "info")


def test_a_rejection_line_names_the_first_problems_and_how_many_more() -> None:
    refusal = InvalidPayload("the push was rejected: 5 problem(s); nothing was applied", problems=[
        {"path": ["rows", 3, "quantity"], "message": "Not a number."},
        {"path": ["data", "leadTime", 0], "message": "Not a valid integer."},
        {"path": [], "message": "Too many rows."},
        {"path": ["x"], "message": "4th"}, {"path": ["y"], "message": "5th"}])
    assert rejection_summary(refusal) == ("rows[3].quantity: Not a number; data.leadTime[0]: Not a valid integer; "
                                          "(body): Too many rows; … (+2 more)")
    assert rejection_summary(MalformedBody("the body is empty")) == "the body is empty"
    assert problem_path(["headers", "X-Stock-Key"]) == "headers.X-Stock-Key"


# --- the consumer and its broker ---------------------------------------------------------------------


def with_password(url: str, password: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(netloc=f"{parts.username}:{password}@{parts.hostname}:{parts.port or 5672}"))


def consumer_config(tmp_path: Path, amqp_url: str, log_format: str, **erp: Any) -> Path:
    return write_toml(tmp_path / "receiver.toml", {
        "server": {"log_format": log_format},
        "storage": {"url": f"sqlite:///{tmp_path / 'receiver.db'}"},
        "erp": {"amqp_url": amqp_url, "backoff_min_seconds": 0.05, "backoff_max_seconds": 0.2, **erp}})


@pytest.mark.parametrize("log_format", ["text", "json"])
@pytest.mark.parametrize("amqp_url, why", [
    ("amqp://guest:guest-secret@no-such-host.invalid:5672/", "cannot resolve the host name 'no-such-host.invalid'"),
    ("amqp://guest:guest-secret@127.0.0.1:1/", "connection refused"),
], ids=["unresolvable-host", "refused-port"])
def test_a_broker_that_cannot_be_reached_is_retried_one_warning_line_each(
    tmp_path: Path, amqp_url: str, why: str, log_format: str
) -> None:
    config, log = consumer_config(tmp_path, amqp_url, log_format), tmp_path / "consumer.log"
    with started(config, "consume", log) as process:
        wait_for(lambda: log.read_text().count("cannot connect") >= 3 or process.poll() is not None,
                 "three attempts")
        assert process.poll() is None, log.read_text()  # still trying
    text = log.read_text()
    assert process.returncode == 0, text  # SIGTERM: a clean stop
    records = lines_in(text, log_format)
    warnings = [r for r in records if r["level"] == "WARNING"]
    assert len(warnings) >= 3 and all(r["logger"] == "inventory_push_kit.receiver.amqp" for r in warnings), text
    for record in warnings:
        assert re.fullmatch(rf"erp: cannot connect to amqp://guest:\*\*\*@[^ ]+ \({re.escape(why)}.*\); "
                            r"retrying in [\d.]+ s", record["message"]), record
    delays = [float(m) for m in re.findall(r"retrying in ([\d.]+) s", text)]
    assert delays[:3] == [0.05, 0.1, 0.2]  # the capped back-off
    assert "Traceback" not in text and "guest-secret" not in text
    assert not [r for r in records if r["logger"].startswith("pika")], text  # pika's own lines: only at debug
    assert records[-1]["message"].startswith("erp: consumer stopped (received SIGTERM)")


@pytest.mark.parametrize("log_format", ["text", "json"])
def test_credentials_the_broker_refuses_stop_the_consumer_with_one_line(
    tmp_path: Path, rabbitmq_url: str, log_format: str
) -> None:
    amqp_url = with_password(rabbitmq_url, "not-the-broker-password")
    broker = urlsplit(rabbitmq_url)
    config, log = consumer_config(tmp_path, amqp_url, log_format), tmp_path / "consumer.log"
    with started(config, "consume", log) as process:
        process.wait(timeout=60)  # it stops on its own
    text = log.read_text()
    assert process.returncode == EXIT_BROKER_REFUSED == 5, text
    [record] = lines_in(text, log_format)  # one line, nothing else
    assert record["level"] == "CRITICAL", record
    assert f"the broker at amqp://{broker.username}:***@{broker.hostname}" in record["message"]
    assert "ACCESS_REFUSED" in record["message"] and "[erp] amqp_url" in record["message"]
    assert "not-the-broker-password" not in text


def test_a_lost_connection_is_one_warning_line_and_the_consumer_reconnects(tmp_path: Path, rabbitmq_url: str) -> None:
    broker = urlsplit(rabbitmq_url)
    proxy = TcpProxy((broker.hostname or "127.0.0.1", broker.port or 5672))
    proxy.start()
    via_proxy = urlunsplit(broker._replace(netloc=f"{broker.username}:{broker.password}@127.0.0.1:{proxy.port}"))
    try:
        with unique_queues(rabbitmq_url, "logs-reconnect") as queues:
            config, log = consumer_config(tmp_path, via_proxy, "json", **queues), tmp_path / "consumer.log"
            with started(config, "consume", log) as process:
                wait_for(lambda: "erp: consuming" in log.read_text() or process.poll() is not None, "consuming")
                proxy.drop_connections()
                wait_for(lambda: log.read_text().count("erp: consuming") == 2 or process.poll() is not None,
                         "the consumer to reconnect")
                assert process.poll() is None, log.read_text()
    finally:
        proxy.stop()
    text = log.read_text()
    records = lines_in(text, "json")
    warnings = [r for r in records if r["level"] != "INFO"]
    assert len(warnings) == 1, text
    assert re.fullmatch(rf"erp: connection to amqp://{broker.username}:\*\*\*@127\.0\.0\.1:{proxy.port}"
                        rf"{re.escape(broker.path)} closed \(.+\); 0 unacknowledged message\(s\) go back to the "
                        r"queue; reconnecting in 0\.05 s", warnings[0]["message"]), warnings
    assert warnings[0]["level"] == "WARNING" and "Traceback" not in text
    assert not [r for r in records if r["logger"].startswith("pika")], text


@contextmanager
def broker_user(permissions: tuple[str, str, str] | None) -> Iterator[tuple[str, str]]:
    """A user of the local broker of this test only (rabbitmqctl), with these (configure, write, read)
    permissions on the virtual host "/" or none at all; deleted afterwards."""
    if shutil.which("rabbitmqctl") is None:
        require_service_tool("rabbitmqctl", "the permission tests create a user of their own on the local broker")
    user, password = f"logs-{uuid.uuid4().hex[:8]}", f"pw-{uuid.uuid4().hex}"

    def ctl(*args: str) -> None:
        subprocess.run(["rabbitmqctl", "-q", *args], check=True, capture_output=True, timeout=60)

    ctl("add_user", user, password)
    try:
        if permissions is not None:
            ctl("set_permissions", "-p", "/", user, *permissions)
        yield user, password
    finally:
        ctl("delete_user", user)


@pytest.mark.parametrize("permissions, says", [
    (None, "refused user '{user}' access to the virtual host '/' (530 NOT_ALLOWED - access to vhost '/' refused"),
    (("^$", ".*", ".*"), "refused user '{user}' (403 ACCESS_REFUSED"),  # may not declare its queues
], ids=["no-access-to-the-virtual-host", "may-not-declare-the-queues"])
def test_permissions_the_broker_refuses_stop_the_consumer_with_one_line(
    tmp_path: Path, rabbitmq_url: str, permissions: tuple[str, str, str] | None, says: str
) -> None:
    with broker_user(permissions) as (user, password), unique_queues(rabbitmq_url, "logs-perm") as queues:
        broker = urlsplit(rabbitmq_url)
        amqp_url = urlunsplit(broker._replace(netloc=f"{user}:{password}@{broker.hostname}:{broker.port or 5672}"))
        config, log = consumer_config(tmp_path, amqp_url, "text", **queues), tmp_path / "consumer.log"
        with started(config, "consume", log) as process:
            process.wait(timeout=60)
    text = log.read_text()
    assert process.returncode == EXIT_BROKER_REFUSED, text
    [record] = lines_in(text, "text")
    assert record["level"] == "CRITICAL" and says.format(user=user) in record["message"], record
    assert password not in text


def test_pikas_own_lines_are_shown_at_debug(tmp_path: Path) -> None:
    config = consumer_config(tmp_path, "amqp://guest:guest-secret@127.0.0.1:1/", "json")
    log = tmp_path / "consumer.log"
    config.write_text(config.read_text().replace('log_format = "json"', 'log_format = "json"\nlog_level = "debug"'))
    with started(config, "consume", log) as process:
        wait_for(lambda: log.read_text().count("cannot connect") >= 2 or process.poll() is not None, "two attempts")
    records = lines_in(log.read_text(), "json")
    assert any(r["logger"].startswith("pika") and r["level"] == "ERROR" for r in records)
    assert "guest-secret" not in log.read_text()


# --- no secret anywhere ------------------------------------------------------------------------------


JWT_SECRET = "jwt-secret-of-the-platform-32-bytes-long!"


@pytest.mark.parametrize("log_format", ["text", "json"])
def test_no_secret_appears_in_what_serve_and_consume_print(
    tmp_path: Path, log_format: str, postgres_url: str, rabbitmq_url: str
) -> None:
    """Every secret the configuration holds, in both formats, through good and bad pushes (wrong
    credentials included), read API calls and AMQP messages: none is in the output, and every line of it
    (gunicorn's included) is in the one format."""
    tag = uuid.uuid4().hex[:8]
    stock_headers = {"X-Stock-User": f"stock-user-{tag}", "X-Stock-Key": f"stock-key-{tag}"}
    api_token, s360_secret = f"api-token-{tag}", f"s360-secret-{tag}"
    pg_password, amqp_password = f"pg-password-{tag}", f"amqp-password-{tag}"
    # PostgreSQL (trust auth here) takes any password: in the URL's user part, or as ?password=.
    schema = f"logs_{tag}"
    engine = sa.create_engine(postgres_url)
    with engine.begin() as conn:
        conn.exec_driver_sql(f"CREATE SCHEMA {schema}")
    base = sa.make_url(postgres_url)
    if log_format == "text":
        storage_url = base.set(password=pg_password).render_as_string(hide_password=False)
        storage_url += f"?options=-csearch_path%3D{schema}"
    else:
        storage_url = base.render_as_string(hide_password=False)
        storage_url += f"?password={pg_password}&options=-csearch_path%3D{schema}"
    s360 = ({"auth": "BASIC_AUTH", "login": "s360-login", "password": s360_secret} if log_format == "text"
            else {"auth": "API_KEY", "login": "x-api-key", "password": s360_secret})
    guesses = [f"wrong-stock-key-{tag}", f"wrong-s360-{tag}", f"wrong-api-token-{tag}", f"query-secret-{tag}"]
    try:
        with unique_queues(rabbitmq_url, "logs") as queues:
            config = {
                "server": {"log_format": log_format},
                "storage": {"url": storage_url},
                "api": {"token": api_token},
                "stock": {"enabled": True, "credential_headers": stock_headers},
                "s360": {"enabled": True, **s360},
                "servicemobility": {"enabled": True, "jwt": "hs256", "secret": JWT_SECRET},
                "erp": {"enabled": True, "amqp_url": rabbitmq_url, **queues},
            }
            with running_receiver(config, tmp_path / "serve", tls=make_tls(tmp_path / "tls")) as receiver:
                guesses += push_good_and_bad(receiver, str(receiver.ca), stock_headers, s360, api_token, guesses)
                with running_consumer(receiver.config_path, tmp_path / "serve") as consumer_log:
                    publish_good_and_bad(rabbitmq_url, queues["customer_queue"])
                    auth = {"Authorization": f"Bearer {api_token}"}
                    wait_for(lambda: len(requests.get(f"{receiver.url}/api/deliveries?channel=erp", headers=auth,
                                                      verify=str(receiver.ca), timeout=10).json()["items"]) == 2,
                             "both AMQP messages to be recorded")
                time.sleep(0.5)  # the access log of the last answers is written after them
            # The consumer again, with an AMQP password the broker refuses.
            refused_config = tmp_path / "refused" / "receiver.toml"
            refused_config.parent.mkdir()
            bad_amqp = with_password(rabbitmq_url, amqp_password)
            write_toml(refused_config, {**config, "erp": {**config["erp"], "amqp_url": bad_amqp}})
            with started(refused_config, "consume", tmp_path / "refused" / "consumer.log") as refused:
                refused.wait(timeout=60)
            assert refused.returncode == EXIT_BROKER_REFUSED
    finally:
        with engine.begin() as conn:
            conn.exec_driver_sql(f"DROP SCHEMA {schema} CASCADE")
        engine.dispose()

    outputs = {"serve": receiver.log_text(), "consume": consumer_log.read_text(),
               "consume (refused)": (tmp_path / "refused" / "consumer.log").read_text()}
    secrets = [*stock_headers.values(), api_token, s360_secret, JWT_SECRET, pg_password, amqp_password, *guesses]
    for name, text in outputs.items():
        for secret in secrets:
            assert secret not in text, f"{secret!r} in the output of {name}:\n{text}"
        assert "Traceback" not in text, text
        records = lines_in(text, log_format)
        assert records, name
    served = lines_in(outputs["serve"], log_format)
    loggers = {r["logger"] for r in served}
    assert {"gunicorn.error", "gunicorn.access", "inventory_push_kit.receiver.web"} <= loggers, loggers
    rejected = [r for r in served if r["logger"] == "inventory_push_kit.receiver.web" and "rejected" in r["message"]]
    assert any(re.match(r"stock delivery \d+ rejected \(401\): headers\.X-Stock-Key: wrong value", r["message"])
               for r in rejected), rejected
    assert any(re.match(r"stock delivery \d+ rejected \(422\): data\.", r["message"]) for r in rejected), rejected
    if log_format == "json":
        deliveries = [r for r in served if r["logger"] == "inventory_push_kit.receiver.web"]
        assert deliveries and all({"channel", "delivery", "status", "outcome", "duration_ms"} <= set(r)
                                  for r in deliveries), deliveries
        assert {r["outcome"] for r in deliveries} >= {"accepted", "rejected"}
        access = [r for r in served if r["logger"] == "gunicorn.access"]
        assert all({"method", "path", "status", "duration_ms"} <= set(r) for r in access), access
        assert any(r["path"] == "/healthz?***" for r in access), access


def push_good_and_bad(receiver: RunningReceiver, ca: str, stock_headers: dict[str, str], s360: dict[str, str],
                      api_token: str, guesses: list[str]) -> list[str]:
    """Good and bad pushes on every HTTP channel, and read API calls; returns the tokens it made up."""
    url = receiver.url
    wrong_stock, wrong_s360, wrong_token, query_secret = guesses
    sender = Sender(f"{url}/stock-push", ca_bundle=ca)
    push = StockGenerator(seed=7).first_push(3)
    assert sender.send(push.to_request(stock_headers)).status == 200
    assert sender.send(push.to_request({**stock_headers, "X-Stock-Key": wrong_stock})).status == 401
    bad = requests.post(f"{url}/stock-push", data=b'{"data": {"quantity": ["x"]}}', verify=ca, timeout=10,
                        headers={**stock_headers, "Content-Type": "application/json"})
    assert bad.status_code == 422, bad.text
    sender.close()

    body = fixtures.raw("s360", "minimal-products.json")
    json_type = {"Content-Type": "application/json"}
    if s360["auth"] == "BASIC_AUTH":
        good = {"auth": (s360["login"], s360["password"])}
        wrong: dict[str, Any] = {"auth": (s360["login"], wrong_s360)}
    else:
        good = {"headers": {s360["login"]: s360["password"], **json_type}}
        wrong = {"headers": {s360["login"]: wrong_s360, **json_type}}
    answer = requests.post(f"{url}/s360/inventory", data=body, verify=ca, timeout=10,
                           **({"headers": json_type} | good))
    assert answer.status_code == 200, answer.text
    answer = requests.post(f"{url}/s360/inventory", data=body, verify=ca, timeout=10,
                           **({"headers": json_type} | wrong))
    assert answer.status_code == 401, answer.text

    now = int(time.time())
    claims = {"exp": now + 3600, "iat": now, "name": "ServiceMobility Integration"}
    good_token = sm.hs256_token(claims, JWT_SECRET)
    forged_token = sm.hs256_token(claims, "a-guess-at-the-secret-32-bytes-long!!")
    event = sm.serialize(sm.EventFactory(11).inventory_usage(rows=1))
    for token, status in ((good_token, 200), (forged_token, 401)):
        answer = requests.post(f"{url}/servicemobility/InventoryUsage/", data=event, verify=ca, timeout=10,
                               headers={"x-access-token": token, **json_type})
        assert answer.status_code == status, answer.text

    assert requests.get(f"{url}/api/deliveries", headers={"Authorization": f"Bearer {api_token}"}, verify=ca,
                        timeout=10).status_code == 200
    assert requests.get(f"{url}/api/deliveries", headers={"Authorization": f"Bearer {wrong_token}"}, verify=ca,
                        timeout=10).status_code == 401
    assert requests.get(f"{url}/healthz?token={query_secret}", verify=ca, timeout=10).status_code == 200
    # A header line the server cannot parse (its colon missing): gunicorn quotes such a line in its error.
    with connect(receiver) as sock:
        key = stock_headers["X-Stock-Key"]
        sock.sendall(f"POST /stock-push HTTP/1.1\r\nHost: x\r\nX-Stock-Key {key}\r\n\r\n".encode())
        assert read_all(sock).startswith(b"HTTP/1.1 400")
    return [good_token, forged_token]


def publish_good_and_bad(rabbitmq_url: str, queue: str) -> None:
    connection = pika.BlockingConnection(pika.URLParameters(rabbitmq_url))
    try:
        channel = connection.channel()
        channel.confirm_delivery()
        for name in ("document-customer-example.json", "no-id.json"):
            channel.basic_publish("", queue, fixtures.raw("erp", name),
                                  pika.BasicProperties(content_type="application/json", delivery_mode=2))
    finally:
        connection.close()
