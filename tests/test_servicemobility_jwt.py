"""``x-access-token`` evaluation of the ServiceMobility channel: every attack refused with 401 "Invalid
Logon" and nothing stored, with the simulator's signer and with small hand-built tokens; JWKS served
by ``responses``; the configuration's checks."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import jwt
import pytest
import responses
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from flask.testing import FlaskClient

from inventory_push_kit.receiver import create_app
from inventory_push_kit.receiver.channels import servicemobility
from inventory_push_kit.receiver.config import ConfigError, from_mapping, masked
from inventory_push_kit.receiver.storage import Store
from inventory_push_kit.simulator import servicemobility as sm
from tests.conftest import API_TOKEN, receiver_config

SECRET = "the-platform-shared-secret-of-32-bytes+"
ISSUER = "urn:example:servicemobility"
LEEWAY = servicemobility.Config().leeway_seconds
JWKS_URL = "https://idp.example/.well-known/jwks.json"
AUTH = {"Authorization": f"Bearer {API_TOKEN}"}


@pytest.fixture(scope="module")
def rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="module")
def ec_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def private_pem(key: Any) -> str:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption()).decode()


def public_pem(key: Any) -> str:
    return key.public_key().public_bytes(serialization.Encoding.PEM,
                                         serialization.PublicFormat.SubjectPublicKeyInfo).decode()


@pytest.fixture
def receiver(tmp_path: Path) -> Iterator[Callable[..., FlaskClient]]:
    """The real app on a SQLite file, with the given [servicemobility] keys."""
    stores: list[Store] = []

    def build(**section: Any) -> FlaskClient:
        config = receiver_config(f"sqlite:///{tmp_path / 'receiver.db'}", servicemobility=section)
        stores.append(Store(config.storage_url))
        stores[-1].create_schema()
        return create_app(config, store=stores[-1]).test_client()

    yield build
    for store in stores:
        store.dispose()


def claims(**changes: Any) -> dict[str, Any]:
    """The platform's claims, issued now; a change to None removes that claim."""
    now = int(time.time())
    base = {"exp": now + 3600, "iat": now, "name": "ServiceMobility Integration", "email": "integration@example.com"}
    return {k: v for k, v in (base | changes).items() if v is not None}


def b64(value: Any) -> str:
    raw = value if isinstance(value, bytes) else json.dumps(value).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def unsigned(payload: dict[str, Any], alg: str = "none") -> str:
    return f"{b64({'alg': alg, 'typ': 'JWT'})}.{b64(payload)}."


def hmac_signed(payload: dict[str, Any], key: bytes) -> str:
    """HS256 by hand: PyJWT refuses to use a PEM as an HMAC secret, an attacker does not."""
    signing_input = f"{b64({'alg': 'HS256', 'typ': 'JWT'})}.{b64(payload)}"
    return f"{signing_input}.{b64(hmac.new(key, signing_input.encode(), hashlib.sha256).digest())}"


def usage_event() -> dict[str, Any]:
    return sm.EventFactory(uuid.uuid4().int).inventory_usage(rows=1)


def post(client: FlaskClient, token: str | None, sent: dict[str, Any] | None = None) -> Any:
    sent = sent or usage_event()
    headers = {"Content-Type": "application/json"} | ({} if token is None else {"x-access-token": token})
    answer = client.post("/servicemobility/InventoryUsage/", data=sm.serialize(sent), headers=headers)
    answer.sent = sent  # type: ignore[attr-defined]
    return answer


def assert_refused(client: FlaskClient, answer: Any, token: str | None, why: str = "") -> None:
    """401 with the document's words, nothing stored, the reason logged and the token nowhere."""
    assert answer.status_code == 401, answer.get_json()
    error = answer.get_json()["error"]
    assert error["message"] == "Invalid Logon"
    assert why in error["problems"][0]["message"]
    sent = answer.sent
    assert client.get(f"/api/servicemobility/events/{sent['source']}/{sent['id']}", headers=AUTH).status_code == 404
    logged = client.get("/api/deliveries?channel=servicemobility", headers=AUTH).get_json()["items"][0]
    assert logged["outcome"] == "rejected" and logged["status"] == 401 and not logged["body_kept"]
    assert why in logged["reason"]
    if token:
        assert token not in logged["reason"] and token not in json.dumps(error)


# --- off -------------------------------------------------------------------------------------------


def test_with_jwt_off_no_token_is_evaluated_and_the_start_says_so(
    receiver: Callable[..., FlaskClient], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="inventory_push_kit.receiver.channels.servicemobility")
    client = receiver()
    assert 'jwt = "off"' in caplog.text and "NOT evaluated" in caplog.text
    assert post(client, None).status_code == 200
    assert post(client, "not-a-jwt").status_code == 200


# --- the simulator's attacks -----------------------------------------------------------------------

SIGNERS: dict[str, Callable[[Any, Any], tuple[sm.TokenSigner, dict[str, Any]]]] = {
    "hs256": lambda rsa_key, ec_key: (sm.TokenSigner(SECRET, issuer=ISSUER),
                                      {"jwt": "hs256", "secret": SECRET, "issuer": ISSUER}),
    "rs256": lambda rsa_key, ec_key: (sm.TokenSigner.from_private_key_pem(private_pem(rsa_key), issuer=ISSUER),
                                      {"jwt": "public-key", "public_key": public_pem(rsa_key), "issuer": ISSUER}),
    "es256": lambda rsa_key, ec_key: (sm.TokenSigner.from_private_key_pem(private_pem(ec_key), issuer=ISSUER),
                                      {"jwt": "public-key", "public_key": public_pem(ec_key), "issuer": ISSUER}),
}


@pytest.mark.parametrize("mode", SIGNERS)
def test_every_token_attack_of_the_simulator_is_invalid_logon_and_its_good_cases_pass(
    receiver: Callable[..., FlaskClient], rsa_key: Any, ec_key: Any, mode: str
) -> None:
    signer, section = SIGNERS[mode](rsa_key, ec_key)
    client = receiver(**section)
    ctx = sm.SMCaseContext.for_signer(signer, seed=3)
    attacks = [name for name in sm.TOKEN_CASES if sm.applies(name, ctx, evaluates_tokens=True)]
    assert ("jwt-hs256-signed-with-rsa-public-key" in attacks) == (mode != "hs256")
    assert "jwt-wrong-issuer" in attacks and len(attacks) >= 9
    for name in attacks:
        for request in sm.MALFORMATIONS[name].build(ctx):  # on each of the nine paths
            answer = client.post(f"/servicemobility/{request.path}", data=request.body,
                                 headers=dict(request.headers))
            answer.sent = json.loads(request.body)
            assert_refused(client, answer, request.headers.get("x-access-token"))
    for case in sm.GOOD_CASES:
        for request in case.build(ctx):
            answer = client.post(f"/servicemobility/{request.path}", data=request.body, headers=dict(request.headers))
            assert answer.status_code == 200, (case.name, answer.get_json())


# --- hand-built tokens -------------------------------------------------------------------------------

NOW = int(time.time())
REFUSED_BY_AN_HS256_RECEIVER: dict[str, tuple[Callable[[], str | None], str]] = {
    "missing": (lambda: None, "no x-access-token"),
    "empty": (lambda: "", "no x-access-token"),
    "garbage": (lambda: "not-a-jwt", "DecodeError"),
    "three-garbage-segments": (lambda: "e30.e30.e30", ""),
    "alg-none": (lambda: unsigned(claims()), "InvalidAlgorithmError"),
    "alg-None": (lambda: unsigned(claims(), alg="None"), "InvalidAlgorithmError"),
    "hs512-with-the-right-secret": (lambda: jwt.encode(claims(), SECRET + SECRET, algorithm="HS512"),
                                    "InvalidAlgorithmError"),
    "wrong-secret": (lambda: jwt.encode(claims(), "another-secret-at-least-32-bytes-long", algorithm="HS256"),
                     "InvalidSignatureError"),
    "expired-beyond-the-leeway": (lambda: jwt.encode(claims(exp=int(time.time()) - LEEWAY - 60,
                                                            iat=int(time.time()) - 7200), SECRET),
                                  "ExpiredSignatureError"),
    "issued-in-the-future": (lambda: jwt.encode(claims(iat=int(time.time()) + LEEWAY + 60), SECRET),
                             "ImmatureSignatureError"),
    "not-yet-valid": (lambda: jwt.encode(claims(nbf=int(time.time()) + LEEWAY + 60), SECRET),
                      "ImmatureSignatureError"),
    "no-exp": (lambda: jwt.encode(claims(exp=None), SECRET), "MissingRequiredClaimError"),
    "an-audience-nobody-configured": (lambda: jwt.encode(claims(aud="urn:another-receiver"), SECRET),
                                      "InvalidAudienceError"),
}


@pytest.mark.parametrize("name", REFUSED_BY_AN_HS256_RECEIVER)
def test_hand_built_bad_tokens_are_refused(receiver: Callable[..., FlaskClient], name: str) -> None:
    build, why = REFUSED_BY_AN_HS256_RECEIVER[name]
    client = receiver(jwt="hs256", secret=SECRET)
    token = build()
    assert_refused(client, post(client, token), token, why)


def test_the_leeway_accepts_tokens_until_exp_plus_leeway(receiver: Callable[..., FlaskClient]) -> None:
    """The platform re-uses the triggering API call's token on a 15-minute schedule."""
    client = receiver(jwt="hs256", secret=SECRET)
    now = int(time.time())
    assert LEEWAY >= 15 * 60
    expired_within = jwt.encode(claims(exp=now - LEEWAY + 60, iat=now - 3600 - LEEWAY), SECRET)
    assert post(client, expired_within).status_code == 200
    skewed_clock = jwt.encode(claims(iat=now + 60), SECRET)
    assert post(client, skewed_clock).status_code == 200
    strict = receiver(jwt="hs256", secret=SECRET, leeway_seconds=0)
    assert_refused(strict, post(strict, expired_within), expired_within, "ExpiredSignatureError")


def test_an_rs256_receiver_refuses_key_confusion_other_keys_and_other_algorithms(
    receiver: Callable[..., FlaskClient], rsa_key: Any, ec_key: Any
) -> None:
    client = receiver(jwt="public-key", public_key=public_pem(rsa_key))
    refused = {
        "hs256-signed-with-the-public-key-pem": hmac_signed(claims(), public_pem(rsa_key).encode()),
        "another-rsa-key": jwt.encode(claims(), private_pem(rsa.generate_private_key(65537, 2048)), "RS256"),
        "es256": jwt.encode(claims(), private_pem(ec_key), "ES256"),
        "ps256-with-the-right-key": jwt.encode(claims(), private_pem(rsa_key), "PS256"),
    }
    for name, token in refused.items():
        answer = post(client, token)
        assert answer.status_code == 401, name
        assert_refused(client, answer, token)
    assert post(client, jwt.encode(claims(), private_pem(rsa_key), "RS256")).status_code == 200


def test_audience_and_issuer_when_configured(receiver: Callable[..., FlaskClient]) -> None:
    client = receiver(jwt="hs256", secret=SECRET, audience="urn:acme:receiver", issuer=ISSUER)
    good = {"aud": "urn:acme:receiver", "iss": ISSUER}
    assert post(client, jwt.encode(claims(**good), SECRET)).status_code == 200
    for changes, why in [({"aud": "urn:other"}, "InvalidAudienceError"), ({"aud": None}, "MissingRequiredClaim"),
                         ({"iss": "urn:other"}, "InvalidIssuerError"), ({"iss": None}, "MissingRequiredClaim")]:
        token = jwt.encode(claims(**(good | changes)), SECRET)
        assert_refused(client, post(client, token), token, why)


# --- JWKS -------------------------------------------------------------------------------------------


def jwks(key: Any, kid: str) -> dict[str, Any]:
    jwk = jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key(), as_dict=True)
    return {"keys": [jwk | {"kid": kid, "use": "sig", "alg": "RS256"}]}


@responses.activate
def test_jwks_keys_are_fetched_once_and_cached(receiver: Callable[..., FlaskClient], rsa_key: Any) -> None:
    responses.get(JWKS_URL, json=jwks(rsa_key, "key-1"))
    client = receiver(jwt="jwks", jwks_url=JWKS_URL)
    token = jwt.encode(claims(), private_pem(rsa_key), "RS256", headers={"kid": "key-1"})
    assert post(client, token).status_code == 200
    assert post(client, token).status_code == 200
    assert len(responses.calls) == 1
    other_kid = jwt.encode(claims(), private_pem(rsa_key), "RS256", headers={"kid": "key-2"})
    assert_refused(client, post(client, other_kid), other_kid, "PyJWKClientError")
    confused = hmac_signed(claims(), public_pem(rsa_key).encode())
    assert_refused(client, post(client, confused), confused)


@responses.activate
def test_when_the_jwks_cannot_be_fetched_the_answer_is_500_so_the_platform_retries(
    receiver: Callable[..., FlaskClient], rsa_key: Any
) -> None:
    responses.get(JWKS_URL, status=503)
    client = receiver(jwt="jwks", jwks_url=JWKS_URL)
    answer = post(client, jwt.encode(claims(), private_pem(rsa_key), "RS256", headers={"kid": "key-1"}))
    assert answer.status_code == 500
    assert "JWKS" in answer.get_json()["error"]["message"]
    sent = answer.sent  # type: ignore[attr-defined]
    assert client.get(f"/api/servicemobility/events/{sent['source']}/{sent['id']}", headers=AUTH).status_code == 404


@responses.activate
def test_a_jwks_url_with_credentials_never_reaches_the_sender_or_the_log(
    receiver: Callable[..., FlaskClient], rsa_key: Any, caplog: pytest.LogCaptureFixture
) -> None:
    secret_url = "https://reader:hunter2@keys.example/jwks.json?api_key=KEYSECRET"
    responses.get("https://keys.example/jwks.json", status=503)
    client = receiver(jwt="jwks", jwks_url=secret_url)
    answer = post(client, jwt.encode(claims(), private_pem(rsa_key), "RS256", headers={"kid": "key-1"}))
    assert answer.status_code == 500
    logged = client.get("/api/deliveries?channel=servicemobility", headers=AUTH).get_json()["items"][0]
    for leak in ("hunter2", "KEYSECRET"):
        assert leak not in answer.get_data(as_text=True) and leak not in caplog.text and leak not in logged["reason"]


# --- configuration -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("section", "message"),
    [
        ({"jwt": "rs256"}, "jwt must be one of"),
        ({"jwt": "hs256"}, "needs secret"),
        ({"jwt": "public-key"}, "needs public_key"),
        ({"jwt": "jwks", "jwks_url": "file:///etc/jwks.json"}, "http(s) URL"),
        ({"jwt": "public-key", "public_key": "k.pem", "algorithms": ["HS256"]}, "cannot be used"),
        ({"jwt": "hs256", "secret": SECRET, "algorithms": ["none"]}, "cannot be used"),
        ({"paths": {"Activities": "a"}}, "unknown type(s) ['Activities']"),
        ({"paths": {"WorkOrder": "InventoryUsage"}}, "a non-empty path of its own"),
        ({"base": "servicemobility"}, "must start with '/'"),
        ({"max_body_bytes": 10}, "at least 1024"),
    ],
)
def test_bad_configuration_is_refused_naming_the_key(section: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        from_mapping({"servicemobility": {"enabled": True, **section}})
    assert "[servicemobility]" in str(caught.value) and message in str(caught.value)


def test_keys_that_cannot_be_used_are_refused_at_start(tmp_path: Path, ec_key: Any, rsa_key: Any) -> None:
    url = f"sqlite:///{tmp_path / 'receiver.db'}"
    Store(url).create_schema()
    cases = [
        ({"jwt": "hs256", "secret": "short"}, "too weak"),
        ({"jwt": "public-key", "public_key": public_pem(ec_key), "algorithms": ["RS256"]}, "does not fit"),
        ({"jwt": "public-key", "public_key": str(tmp_path / "missing.pem")}, "readable PEM file"),
    ]
    for section, message in cases:
        with pytest.raises(ConfigError, match=message):
            create_app(receiver_config(url, servicemobility=section))
    (tmp_path / "platform.pem").write_text(public_pem(rsa_key))
    app = create_app(receiver_config(url, servicemobility={"jwt": "public-key",
                                                           "public_key": str(tmp_path / "platform.pem")}))
    answer = post(app.test_client(), jwt.encode(claims(), private_pem(rsa_key), "RS256"))
    assert answer.status_code == 200
    app.extensions["receiver.store"].dispose()


def test_the_secret_comes_from_the_environment_and_ismasked() -> None:
    config = from_mapping({"stock": {"enabled": False}, "servicemobility": {"enabled": True, "jwt": "hs256"}},
                          {"RECEIVER_SERVICEMOBILITY_SECRET": SECRET})
    assert config.servicemobility.secret == SECRET
    shown = json.dumps(masked(config))
    assert SECRET not in shown and masked(config)["servicemobility"]["secret"] == "***"
