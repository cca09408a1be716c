"""Configuration: one TOML file, environment overrides for secrets, clear errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from inventory_push_kit.receiver.config import ConfigError, load_config

EXAMPLE = Path(__file__).parent.parent / "receiver" / "example.toml"


def test_the_documented_example_config_loads() -> None:
    config = load_config(EXAMPLE)
    assert config.stock.path == "/stock-push"
    assert set(config.stock.credential_headers) == {"X-Stock-User", "X-Stock-Key"}
    assert config.storage_url.startswith("sqlite:///") and config.storage_url.endswith("data/receiver.db")


def test_environment_overrides_win_and_tables_are_json() -> None:
    config = load_config(EXAMPLE, {
        "RECEIVER_STORAGE_URL": "postgresql://u:p@db/inv",
        "RECEIVER_STOCK_CREDENTIAL_HEADERS": '{"X-Other": "from-env"}',
        "RECEIVER_SERVER_WORKERS": "8",
        "RECEIVER_SERVER_INSECURE_HTTP": "yes",
    })
    assert config.storage_url == "postgresql://u:p@db/inv"
    assert config.stock.credential_headers == {"X-Other": "from-env"}
    assert config.server.workers == 8 and config.server.insecure_http is True


@pytest.mark.parametrize(
    ("text", "env", "message"),
    [
        ("[stock]\npth = '/x'\n", {}, "unknown key(s) ['pth']"),
        ("[stok]\n", {}, "unknown section(s) ['stok']"),
        ("[server]\nworkers = 'two'\n", {}, "[server] workers must be of type int"),
        ("[stock]\nenabled = true\ncredential_headers = {}\n", {}, "credential_headers is empty"),
        ("[stock.credential_headers]\nX-Key = 's'\n", {"RECEIVER_SERVER_WORKERS": "many"}, "RECEIVER_SERVER_WORKERS"),
        ("[server]\ncertfile = 'a.pem'\n[stock.credential_headers]\nX-Key = 's'\n", {}, "certfile and keyfile"),
        ("not toml = = 1", {}, "not valid TOML"),
        ("[stock]\nenabled = true\n[stock.credential_headers]\nX_Api_Key = 's'\n", {}, "gunicorn drop"),
        ("[inspector.resend_targets.staging]\nurl = '10.0.0.1/push'\n", {}, "[inspector.resend_targets.staging] url"),
        ("[inspector.resend_targets.staging]\nurl = 'https://s/push'\npassword = 'x'\n", {},
         "unknown key(s) ['password']"),
        ("[inspector.resend_targets.staging]\nurl = 'https://s/push'\nheaders = 'X: y'\n", {},
         "headers must be a dict"),
    ],
)
def test_bad_configuration_is_refused_with_a_message_naming_the_key(
    tmp_path: Path, text: str, env: dict[str, str], message: str
) -> None:
    path = tmp_path / "receiver.toml"
    path.write_text(text)
    with pytest.raises(ConfigError) as caught:
        load_config(path, env)
    assert message in str(caught.value)


def test_a_missing_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(tmp_path / "nope.toml")


def test_the_file_can_be_named_by_receiver_config(tmp_path: Path) -> None:
    path = tmp_path / "receiver.toml"
    path.write_text("[stock]\npath = '/from-the-env-named-file'\n")
    assert load_config(None, {"RECEIVER_CONFIG": str(path)}).stock.path == "/from-the-env-named-file"
