"""The ServiceMobility side of the simulator: tokens, events, malformations, sending, CLI, fixtures."""

from __future__ import annotations

import argparse
import base64
import hashlib
import hmac
import json
import re
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
import pytest
import responses
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from inventory_push_kit import fixtures
from inventory_push_kit.simulator import servicemobility as sm

NOW = datetime(2024, 3, 5, 14, 30, 0, tzinfo=UTC)
SECRET = "a-shared-secret-of-the-platform-32b+"
BASE = "https://receiver.test/hooks"
ENVELOPE_FIELDS = ["id", "type", "specversion", "source", "subject", "time", "datacontenttype", "action", "data"]
USAGE_FIELDS = ["UserID", "ModifiedUTC", "RefModule", "RefObjID", "StorageLocations"]
ITEM_FIELDS = ["BatchNum", "ProdNum", "SerialNum", "InQty", "OutQty", "InventoryQty", "ReportedDamagedQty",
               "DispositionReasons"]
REASON_FIELDS = {"Desc", "InQty", "InventoryQty", "OutQty", "Qty", "ReasonCode"}
TIME_FORMAT = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")


def _pem(key: Any) -> str:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption()).decode()


@pytest.fixture(scope="module")
def rsa_pem() -> str:
    return _pem(rsa.generate_private_key(public_exponent=65537, key_size=2048))


@pytest.fixture(scope="module")
def ec_pem() -> str:
    return _pem(ec.generate_private_key(ec.SECP256R1()))


def hs_signer(**options: Any) -> sm.TokenSigner:
    return sm.TokenSigner(SECRET, now=lambda: NOW, **options)


def ctx_for(signer: sm.TokenSigner, seed: int = 7) -> sm.SMCaseContext:
    return sm.SMCaseContext.for_signer(signer, seed=seed)


def parts(token: str) -> tuple[dict[str, Any], dict[str, Any]]:
    return jwt.get_unverified_header(token), jwt.decode(token, options={"verify_signature": False})


def token_of(request: sm.Request) -> str | None:
    return dict(request.headers).get("x-access-token")


# ---------------------------------------------------------------------------------------------- tokens

def test_hs256_token_verifies_with_the_shared_secret_and_carries_the_platform_claims() -> None:
    token = hs_signer(expdb="PROD01").token()
    claims = jwt.decode(token, SECRET, algorithms=["HS256"], options={"verify_exp": False})
    assert jwt.get_unverified_header(token)["alg"] == "HS256"
    assert claims["iat"] == int(NOW.timestamp())
    assert claims["exp"] == int((NOW + timedelta(hours=1)).timestamp())
    assert claims["name"] and "@" in claims["email"]
    assert claims["expdb"] == "PROD01"
    assert "aud" not in claims and "iss" not in claims


def test_audience_issuer_and_lifetime_are_honoured() -> None:
    signer = hs_signer(audience="urn:customer:inventory", issuer="urn:servicemobility", lifetime=timedelta(10))
    claims = jwt.decode(signer.token(), SECRET, algorithms=["HS256"], audience="urn:customer:inventory",
                        issuer="urn:servicemobility", options={"verify_exp": False})
    assert claims["exp"] - claims["iat"] == 10 * 86400


@pytest.mark.parametrize(("algorithm", "pem_name"), [("RS256", "rsa_pem"), ("ES256", "ec_pem")])
def test_asymmetric_tokens_verify_with_the_public_key(algorithm: str, pem_name: str,
                                                      request: pytest.FixtureRequest) -> None:
    signer = sm.TokenSigner.from_private_key_pem(request.getfixturevalue(pem_name))  # algorithm from the key
    assert signer.algorithm == algorithm
    public = signer.public_key_pem()
    assert public is not None and public.startswith("-----BEGIN PUBLIC KEY-----")
    claims = jwt.decode(signer.token(), public, algorithms=[algorithm])
    assert {"exp", "iat", "name", "email"} <= set(claims)


def test_a_key_that_does_not_fit_the_algorithm_is_refused(ec_pem: str) -> None:
    with pytest.raises(ValueError, match="RSA"):
        sm.TokenSigner(ec_pem, "RS256")
    with pytest.raises(ValueError, match="algorithm"):
        sm.TokenSigner(SECRET, "HS512")


# ---------------------------------------------------------------------------------------- token attacks

def attack(name: str, ctx: sm.SMCaseContext) -> str | None:
    """The token of an attack's InventoryUsage request (its first)."""
    return token_of(sm.MALFORMATIONS[name].build(ctx)[0])


def test_alg_none_token_has_no_signature_and_is_refused_by_a_pinned_verifier() -> None:
    ctx = ctx_for(hs_signer())
    token = attack("jwt-alg-none", ctx)
    assert token is not None and token.endswith(".")
    header, claims = parts(token)
    assert header["alg"] == "none" and claims["email"]
    with pytest.raises(jwt.InvalidTokenError):
        jwt.decode(token, SECRET, algorithms=["HS256"])


def test_key_confusion_token_is_a_valid_hmac_over_the_public_key_pem(rsa_pem: str) -> None:
    signer = sm.TokenSigner.from_private_key_pem(rsa_pem, "RS256")
    ctx = ctx_for(signer)
    assert ctx.public_key_pem == signer.public_key_pem()
    token = attack("jwt-hs256-signed-with-rsa-public-key", ctx)
    assert token is not None
    signing_input, _, signature = token.rpartition(".")
    expected = hmac.new(ctx.public_key_pem.encode(), signing_input.encode(), hashlib.sha256).digest()
    assert base64.urlsafe_b64decode(signature + "=" * (-len(signature) % 4)) == expected
    header, claims = parts(token)
    assert header["alg"] == "HS256" and claims["exp"] > claims["iat"]
    with pytest.raises(jwt.InvalidAlgorithmError):  # a receiver that pins RS256 refuses it
        jwt.decode(token, ctx.public_key_pem, algorithms=["RS256"])


def test_key_confusion_needs_a_public_key() -> None:
    ctx = ctx_for(hs_signer())
    assert not sm.applies("jwt-hs256-signed-with-rsa-public-key", ctx, evaluates_tokens=True)
    with pytest.raises(ValueError, match="public key"):
        sm.MALFORMATIONS["jwt-hs256-signed-with-rsa-public-key"].build(ctx)


def test_time_attacks_are_signed_correctly_but_outside_any_leeway() -> None:
    ctx = ctx_for(hs_signer())
    now = int(NOW.timestamp())
    expired = attack("jwt-expired", ctx)
    future_iat = attack("jwt-future-iat", ctx)
    future_nbf = attack("jwt-future-nbf", ctx)
    assert expired and future_iat and future_nbf
    assert parts(expired)[1]["exp"] <= now - 7200
    assert parts(future_iat)[1]["iat"] >= now + 7200
    assert parts(future_nbf)[1]["nbf"] >= now + 7200
    for token in (expired, future_iat, future_nbf):  # the signature itself is fine
        jwt.decode(token, SECRET, algorithms=["HS256"],
                   options={"verify_exp": False, "verify_iat": False, "verify_nbf": False})
    with pytest.raises(jwt.ExpiredSignatureError):
        jwt.decode(expired, SECRET, algorithms=["HS256"], leeway=3600)


@pytest.mark.parametrize("pem_name", ["rsa_pem", "ec_pem", None])
def test_wrong_key_token_keeps_the_algorithm_but_fails_the_signature(
    pem_name: str | None, request: pytest.FixtureRequest
) -> None:
    signer = hs_signer() if pem_name is None else sm.TokenSigner.from_private_key_pem(
        request.getfixturevalue(pem_name))
    token = attack("jwt-wrong-key", ctx_for(signer))
    assert token is not None and parts(token)[0]["alg"] == signer.algorithm
    with pytest.raises(jwt.InvalidSignatureError):
        jwt.decode(token, signer.verification_key(), algorithms=[signer.algorithm])


def test_wrong_audience_and_issuer_differ_only_in_that_claim() -> None:
    signer = hs_signer(audience="urn:customer:inventory", issuer="urn:servicemobility")
    ctx = ctx_for(signer)
    for name, claim, error in (("jwt-wrong-audience", "aud", jwt.InvalidAudienceError),
                               ("jwt-wrong-issuer", "iss", jwt.InvalidIssuerError)):
        token = attack(name, ctx)
        assert token is not None
        claims = parts(token)[1]
        assert claims[claim] != signer.claims()[claim]
        assert claims["exp"] > int(NOW.timestamp())
        with pytest.raises(error):
            jwt.decode(token, SECRET, algorithms=["HS256"], audience=signer.audience, issuer=signer.issuer,
                       options={"verify_exp": False})


def test_an_embedded_jwk_token_verifies_only_with_its_own_key() -> None:
    signer = hs_signer()
    token = attack("jwt-embedded-jwk", ctx_for(signer))
    assert token is not None
    header, claims = parts(token)
    assert header["alg"] == "RS256" and header["jwk"]["kty"] == "RSA" and claims["email"] == signer.email
    jwt.decode(token, jwt.PyJWK(header["jwk"]).key, algorithms=["RS256"],  # what a receiver trusting it does
               options={"verify_exp": False})
    with pytest.raises(jwt.InvalidAlgorithmError):
        jwt.decode(token, SECRET, algorithms=["HS256"])


def test_missing_and_garbage_tokens() -> None:
    ctx = ctx_for(hs_signer())
    assert attack("jwt-missing", ctx) is None
    garbage = attack("jwt-garbage", ctx)
    assert garbage is not None
    with pytest.raises(jwt.DecodeError):
        jwt.decode(garbage, SECRET, algorithms=["HS256"])


def test_token_attacks_apply_only_when_the_receiver_evaluates_tokens(rsa_pem: str) -> None:
    hs_ctx = ctx_for(hs_signer())
    rs_ctx = ctx_for(sm.TokenSigner.from_private_key_pem(rsa_pem, issuer="urn:servicemobility"))
    jwt_cases = {name for name in sm.MALFORMATIONS.names() if name.startswith("jwt-")}
    assert set(sm.TOKEN_CASES) == jwt_cases and len(jwt_cases) == 12
    assert not any(sm.applies(name, rs_ctx, evaluates_tokens=False) for name in jwt_cases)
    assert all(sm.applies(name, rs_ctx, evaluates_tokens=True) for name in jwt_cases)
    assert {name for name in jwt_cases if not sm.applies(name, hs_ctx, evaluates_tokens=True)} == {
        "jwt-hs256-signed-with-rsa-public-key", "jwt-wrong-issuer"}
    assert sm.applies("missing-id", hs_ctx, evaluates_tokens=False)
    for name in jwt_cases:
        assert sm.MALFORMATIONS[name].expect.statuses == (401,)
    assert not sm.applies("corrected-after-jwt-wrong-key", rs_ctx, evaluates_tokens=False)
    assert sm.applies("corrected-after-jwt-wrong-key", rs_ctx, evaluates_tokens=True)


def test_a_token_attack_is_sent_on_each_of_the_nine_paths_with_its_token() -> None:
    ctx = ctx_for(hs_signer())
    for name in sm.TOKEN_CASES:
        if not sm.applies(name, ctx, evaluates_tokens=True):
            continue
        requests_ = sm.MALFORMATIONS[name].build(ctx)
        events = [json.loads(request.body) for request in requests_]
        assert [event["type"] for event in events] == list(sm.EVERY_TYPE), name
        assert [request.path for request in requests_] == [sm.default_path(t) for t in sm.EVERY_TYPE], name
        assert {token_of(request) is None for request in requests_} == {name == "jwt-missing"}, name
        assert len({event["id"] for event in events}) == 9 and {event["source"] for event in events} == {
            ctx.event["source"]}


# ----------------------------------------------------------------------------------------------- paths

def test_each_type_has_its_documented_or_default_path() -> None:
    assert sm.TYPES == ("Activity", "PhysicalInventoryRequest", "LoadInventory", "InventoryTransfer",
                        "InventoryUsage", "StockLevelRecommendation", "TimeEntry", "UserAudit", "WorkOrder")
    assert sm.default_path("InventoryUsage") == "InventoryUsage/"
    assert sm.default_path("Activity") == "Activities/"
    assert sm.default_path("WorkOrder") == "WorkOrder/"
    assert sm.path_for("WorkOrder", {"WorkOrder": "WorkOrders/"}) == "WorkOrders/"
    with pytest.raises(ValueError):
        sm.default_path("Invoice")


@responses.activate
def test_platform_posts_each_type_to_its_path_with_json_and_the_token() -> None:
    responses.add(responses.POST, re.compile(rf"{BASE}/.*"), status=200)
    factory = sm.EventFactory(3)
    with sm.ServiceMobilityPlatform(BASE, signer=hs_signer(), paths={"TimeEntry": "time/entries/"}) as platform:
        for event_type in sm.TYPES:
            assert platform.send_event(factory.event(event_type)).status == 200
        platform.send_event(factory.inventory_usage(), token=None)
    urls = [call.request.url for call in responses.calls]
    assert urls[0] == f"{BASE}/Activities/"
    assert urls[4] == f"{BASE}/InventoryUsage/"
    assert urls[6] == f"{BASE}/time/entries/"
    first = responses.calls[0].request
    assert first.headers["Content-Type"] == "application/json"
    jwt.decode(first.headers["x-access-token"], SECRET, algorithms=["HS256"], options={"verify_exp": False})
    assert json.loads(first.body)["type"] == "Activity"
    assert "x-access-token" not in responses.calls[-1].request.headers


# ---------------------------------------------------------------------------------------------- events

def test_envelope_has_the_documents_fields_in_order() -> None:
    event = sm.EventFactory(1, now=lambda: NOW).inventory_usage()
    assert list(event) == ENVELOPE_FIELDS
    assert uuid.UUID(event["id"]).version == 4
    assert str(uuid.UUID(event["source"])) == event["source"]
    assert (event["type"], event["specversion"], event["subject"]) == ("InventoryUsage", "1.0", None)
    assert (event["datacontenttype"], event["action"]) == ("application/json", "")
    assert event["time"] == "2024-03-05T14:30:00.000Z"
    assert sm.rfc3339(datetime(2022, 7, 27, 23, 10, 12, tzinfo=UTC)) == "2022-07-27T23:10:12.000Z"


def test_events_are_reproducible_and_share_one_webhook_source() -> None:
    def make(seed: int) -> list[dict[str, Any]]:
        factory = sm.EventFactory(seed, now=lambda: NOW)
        return [factory.inventory_usage(), factory.event("WorkOrder")]

    assert make(5) == make(5)
    assert make(5) != make(6)
    first, second = make(5)
    assert first["source"] == second["source"] and first["id"] != second["id"]
    assert sm.EventFactory(5, "my-webhook").event("TimeEntry")["source"] == "my-webhook"


def usage_events(count: int = 40, rows: int = 6) -> list[dict[str, Any]]:
    factory = sm.EventFactory(11, now=lambda: NOW)
    return [factory.inventory_usage(rows) for _ in range(count)]


def test_inventory_usage_objects_have_exactly_the_documented_fields() -> None:
    for event in usage_events():
        data = event["data"]
        assert list(data) == ["rowver", "rows"] and len(data["rows"]) == 6
        assert b"-0.0" not in sm.serialize(event)
        for row in data["rows"]:
            assert list(row) == ["rowver", "InventoryUsage"]
            usage = row["InventoryUsage"]
            assert list(usage) == USAGE_FIELDS
            assert usage["RefModule"] in {str(code) for code in range(1001, 1009)}
            assert isinstance(usage["RefObjID"], str) and TIME_FORMAT.match(usage["ModifiedUTC"])
            for location in usage["StorageLocations"]:
                assert list(location) == ["StorageLocationID", "Items"] and location["Items"]
                for item in location["Items"]:
                    assert list(item) == ITEM_FIELDS
                    for qty in ("InQty", "OutQty", "InventoryQty", "ReportedDamagedQty"):
                        assert isinstance(item[qty], float) and item[qty] >= 0
                    assert '"InQty":' in sm.serialize(item).decode()  # numbers, not strings
                    for reason in item["DispositionReasons"]:
                        assert set(reason) == REASON_FIELDS


def test_quantities_and_disposition_reasons_are_realistic() -> None:
    modules_seen: set[str] = set()
    for event in usage_events():
        for row in event["data"]["rows"]:
            usage = row["InventoryUsage"]
            modules_seen.add(usage["RefModule"])
            items = [item for location in usage["StorageLocations"] for item in location["Items"]]
            disposition = usage["RefModule"] == "1006"
            assert all(bool(item["DispositionReasons"]) == disposition for item in items)
            assert all((item["ReportedDamagedQty"] > 0) == disposition for item in items)
            for item in items:
                if item["SerialNum"] is not None:
                    assert item["InQty"] <= 1 and item["OutQty"] <= 1 and item["InventoryQty"] in (0.0, 1.0)
                for reason in item["DispositionReasons"]:
                    assert reason["Qty"] == item["ReportedDamagedQty"] == item["OutQty"]
            if usage["RefModule"] in {"1001", "1003"}:  # loads and transfers move stock between two places
                assert len(usage["StorageLocations"]) == 2
                source, target = usage["StorageLocations"]
                assert source["StorageLocationID"] != target["StorageLocationID"]
                assert sum(i["OutQty"] for i in source["Items"]) == sum(i["InQty"] for i in target["Items"])
    assert modules_seen == set(sm.REF_MODULES)


def test_rows_are_in_order_and_may_update_one_object_several_times() -> None:
    repeated = 0
    for event in usage_events():
        rows = event["data"]["rows"]
        rowvers = [int(row["rowver"], 16) for row in rows]
        assert rowvers == sorted(set(rowvers)) and event["data"]["rowver"] == rows[-1]["rowver"]
        modified = [row["InventoryUsage"]["ModifiedUTC"] for row in rows]
        assert modified == sorted(modified) and modified[-1] <= event["time"]
        keys = [(row["InventoryUsage"]["RefModule"], row["InventoryUsage"]["RefObjID"]) for row in rows]
        repeated += len(keys) - len(set(keys))
    assert repeated > 0


@pytest.mark.parametrize("event_type", [t for t in sm.TYPES if t != "InventoryUsage"])
def test_sibling_types_wrap_a_plausible_object_in_the_same_notification(event_type: str) -> None:
    event = sm.EventFactory(2, now=lambda: NOW).event(event_type, rows=2)
    assert event["type"] == event_type and list(event) == ENVELOPE_FIELDS
    for row in event["data"]["rows"]:
        assert list(row) == ["rowver", event_type]
        assert isinstance(row[event_type], dict) and len(row[event_type]) >= 4
        assert TIME_FORMAT.match(row[event_type]["ModifiedUTC"])


# ------------------------------------------------------------------------------------------------ cases

def test_each_malformation_breaks_what_its_name_says() -> None:
    ctx = ctx_for(hs_signer())
    bodies = {case.name: case.build(ctx)[0] for case in sm.MALFORMATIONS if case.name != "not-json"
              and sm.applies(case.name, ctx, evaluates_tokens=True)}
    parsed = {name: json.loads(request.body) for name, request in bodies.items()}
    for field in ("id", "type", "specversion", "source", "data"):  # the required ones (decision sm-4)
        assert field not in parsed[f"missing-{field}"]
        assert set(parsed[f"missing-{field}"]) == set(ENVELOPE_FIELDS) - {field}
    assert not {f"missing-{field}" for field in sm.OPTIONAL} & set(sm.MALFORMATIONS.names())
    assert parsed["wrong-specversion"]["specversion"] == "0.3"
    assert parsed["bad-time"]["time"] == "27/07/2022 23:10"
    assert isinstance(parsed["data-not-an-object"]["data"], list)
    assert isinstance(parsed["rows-not-a-list"]["data"]["rows"], dict)
    assert list(parsed["usage-row-missing-InventoryUsage"]["data"]["rows"][0]) == ["rowver"]
    assert parsed["type-does-not-match-path"]["type"] == "Activity"
    assert bodies["type-does-not-match-path"].path == "InventoryUsage/"
    with pytest.raises(ValueError):
        json.loads(sm.MALFORMATIONS["not-json"].build(ctx)[0].body)
    for name, request in bodies.items():
        if not name.startswith("jwt-"):  # the body is the only fault: the token is valid
            jwt.decode(token_of(request) or "", SECRET, algorithms=["HS256"], options={"verify_exp": False})
    ids = [body["id"] for name, body in parsed.items() if name != "missing-id"]
    assert len(set(ids)) == len(ids) and ctx.event["id"] not in ids


ENVELOPE_CASES = ("missing-id", "missing-type", "missing-specversion", "missing-source", "missing-data",
                  "wrong-specversion", "bad-time", "data-not-an-object")


@pytest.mark.parametrize("name", ENVELOPE_CASES)
def test_an_envelope_malformation_is_sent_on_each_of_the_nine_paths(name: str) -> None:
    ctx = ctx_for(hs_signer())
    requests_ = sm.MALFORMATIONS[name].build(ctx)
    assert [request.path for request in requests_] == [sm.default_path(t) for t in sm.EVERY_TYPE]
    events = [json.loads(request.body) for request in requests_]
    if name != "missing-type":
        assert [event["type"] for event in events] == list(sm.EVERY_TYPE)
    for event in events:  # each broken the same way
        if name.startswith("missing-"):
            assert name.removeprefix("missing-") not in event
    if name != "missing-id":
        assert len({event["id"] for event in events}) == 9


def test_a_row_problem_is_put_in_the_first_a_middle_and_the_last_row() -> None:
    ctx = ctx_for(hs_signer())
    requests_ = sm.MALFORMATIONS["usage-row-missing-InventoryUsage"].build(ctx)
    broken = []
    for request in requests_:
        rows = json.loads(request.body)["data"]["rows"]
        assert len(rows) == 3
        broken += [index for index, row in enumerate(rows) if "InventoryUsage" not in row]
    assert broken == [0, 1, 2]


def test_a_corrected_case_sends_the_events_of_its_refusal_conforming() -> None:
    ctx = ctx_for(hs_signer())
    assert set(sm.CORRECTS) == set(sm.RESENT.names()) and set(sm.CORRECTS.values()) <= set(sm.MALFORMATIONS.names())
    for name, refusal in sm.CORRECTS.items():
        refused = [json.loads(request.body) for request in sm.MALFORMATIONS[refusal].build(ctx)]
        corrected = sm.RESENT[name].build(ctx)
        assert [(e["source"], e["id"]) for e in refused] == [
            (e["source"], e["id"]) for e in map(json.loads, (r.body for r in corrected))]
        for request in corrected:
            jwt.decode(token_of(request) or "", SECRET, algorithms=["HS256"], options={"verify_exp": False})
        assert sm.RESENT[name].expect.statuses == (200,)
    assert json.loads(sm.RESENT["corrected-after-bad-time"].build(ctx)[0].body)["time"] != "27/07/2022 23:10"


def test_duplicates_and_same_ids_from_another_source_on_each_path() -> None:
    ctx = ctx_for(hs_signer())
    events = [json.loads(r.body) for r in sm.GOOD_CASES["duplicate-id-other-data"].build(ctx)]
    assert [e["type"] for e in events[::3]] == list(sm.EVERY_TYPE)
    for first, row_0, last in zip(events[::3], events[1::3], events[2::3], strict=True):
        assert (first["source"], first["id"]) == (row_0["source"], row_0["id"]) == (last["source"], last["id"])
        rows = first["data"]["rows"]
        assert row_0["data"]["rows"][1:] == rows[1:] and row_0["data"]["rows"][0] != rows[0]
        assert last["data"]["rows"][:-1] == rows[:-1] and last["data"]["rows"][-1] != rows[-1]
    events = [json.loads(r.body) for r in sm.GOOD_CASES["same-id-other-source"].build(ctx)]
    for first, other in zip(events[::2], events[1::2], strict=True):
        assert first["id"] == other["id"] and first["source"] == ctx.event["source"] != other["source"]
        assert first["type"] == other["type"] and first["data"] != other["data"]
    assert len({e["id"] for e in events}) == 9


def test_several_updates_to_one_usage_object_come_in_order() -> None:
    (request,) = sm.GOOD_CASES["several-updates-to-one-object"].build(ctx_for(hs_signer()))
    rows = [row["InventoryUsage"] for row in json.loads(request.body)["data"]["rows"]]
    keys = [(usage["RefModule"], usage["RefObjID"]) for usage in rows]
    assert keys[0] == keys[2] == keys[3] != keys[1]
    assert rows[0] != rows[2] != rows[3]
    assert [usage["ModifiedUTC"] for usage in rows] == sorted(usage["ModifiedUTC"] for usage in rows)


def test_good_cases_are_conforming_and_answered_200() -> None:
    ctx = ctx_for(hs_signer())
    for case in sm.GOOD_CASES:
        assert case.expect.statuses == (200,)
        absent = {case.name.removeprefix("missing-")} & set(sm.OPTIONAL)  # an optional attribute left out
        for request in case.build(ctx):
            event = json.loads(request.body)
            assert list(event) == [f for f in ENVELOPE_FIELDS if f not in absent] and event["type"] in sm.TYPES
            jwt.decode(token_of(request) or "", SECRET, algorithms=["HS256"], options={"verify_exp": False})
    assert {f"type-{t}" for t in sm.TYPES} <= set(sm.GOOD_CASES.names())
    assert [r.path for r in sm.GOOD_CASES["trailing-slash-omitted"].build(ctx)] == [
        sm.default_path(t).rstrip("/") for t in sm.EVERY_TYPE]
    for name in (f"missing-{field}" for field in sm.OPTIONAL):
        assert [r.path for r in sm.GOOD_CASES[name].build(ctx)] == [sm.default_path(t) for t in sm.EVERY_TYPE]
    first, second = sm.GOOD_CASES["duplicate-id"].build(ctx)
    assert first.body == second.body
    old = token_of(sm.GOOD_CASES["token-13-minutes-old"].build(ctx)[0]) or ""
    claims = jwt.decode(old, SECRET, algorithms=["HS256"], options={"verify_exp": False})
    assert claims["iat"] == int((NOW - timedelta(minutes=13)).timestamp()) and claims["exp"] > NOW.timestamp()


# --------------------------------------------------------------------------------------------- the CLI

TYPE_OF_PATH = {sm.default_path(t).rstrip("/"): t for t in sm.TYPES}


def reference_receiver(secret: str) -> Callable[[Any], tuple[int, dict[str, str], str]]:
    """A small correct receiver for the CLI tests: token, JSON, envelope, path/type, duplicates."""
    seen: set[tuple[str, str]] = set()

    def answer(request: Any) -> tuple[int, dict[str, str], str]:
        def reply(status: int, body: dict[str, Any]) -> tuple[int, dict[str, str], str]:
            return status, {"Content-Type": "application/json"}, json.dumps(body)

        try:
            jwt.decode(request.headers.get("x-access-token", ""), secret, algorithms=["HS256"],
                       options={"require": ["exp", "iat"]})
        except jwt.InvalidTokenError:
            return reply(401, {"error": "Invalid Logon"})
        try:
            event = json.loads(request.body)
        except ValueError:
            return reply(400, {"error": "not JSON"})
        path_type = TYPE_OF_PATH.get(request.url.removeprefix(BASE + "/").rstrip("/"))
        required = ["id", "type", "specversion", "source", "data"]  # the others may be absent (decision sm-4)
        problems = [field for field in required if field not in event]
        if not problems:
            data = event["data"]
            if event["specversion"] != "1.0" or ("time" in event and not TIME_FORMAT.match(event["time"])):
                problems.append("specversion/time")
            if event["type"] != path_type:
                problems.append("type")
            if not isinstance(data, dict) or not isinstance(data.get("rows"), list):
                problems.append("data")
            elif any(not isinstance(row.get(event["type"]), dict) for row in data["rows"]):
                problems.append("rows")
        if problems:
            return reply(422, {"errors": problems})
        seen.add((event["source"], event["id"]))
        return reply(200, {"status": "ok"})

    return answer


def run_cli(argv: list[str]) -> int:
    parser = argparse.ArgumentParser()
    sm.add_cli(parser.add_subparsers(dest="channel", required=True))
    args = parser.parse_args(["servicemobility", *argv])
    return int(args.run(args))


@responses.activate
def test_cli_against_a_correct_receiver_prints_every_request_ok(capsys: pytest.CaptureFixture[str]) -> None:
    responses.add_callback(responses.POST, re.compile(rf"{BASE}/.*"), callback=reference_receiver(SECRET))
    assert run_cli(["--url", BASE, "--secret", SECRET, "--events", "2", "--seed", "4"]) == 0
    captured = capsys.readouterr()
    lines = captured.out.splitlines()
    assert "seed=4" in captured.err  # the heading (on stderr): what is sent where, with which seed
    # every request of every case (HS256 without iss: no key-confusion and no wrong-issuer case), then the
    # two generated events
    ctx = sm.SMCaseContext.for_signer(sm.TokenSigner(SECRET), seed=4)
    expected_requests = sum(len(case.build(ctx)) for registry in sm.REGISTRIES for case in registry
                            if sm.applies(case.name, ctx, evaluates_tokens=True)) + 2
    assert len(responses.calls) == expected_requests
    body = lines[:-1]
    assert len(body) == expected_requests and all(line.endswith("OK") for line in body), "\n".join(body)
    assert sum(line.startswith("duplicate-id [") for line in body) == 2
    assert any(line.startswith("jwt-alg-none") and " 401 " in line for line in lines)
    assert lines[-1].startswith(f"{expected_requests} requests, 0 unexpected; status 200 x")


@responses.activate
def test_cli_flags_a_receiver_that_accepts_everything(capsys: pytest.CaptureFixture[str]) -> None:
    responses.add(responses.POST, re.compile(rf"{BASE}/.*"), status=200, json={"status": "ok"})
    assert run_cli(["--url", BASE, "--secret", SECRET, "--scenario", "malformed", "--seed", "1"]) == 1
    out = capsys.readouterr().out
    # an unexpected line shows the answer's body
    assert re.search(r'^missing-id .* 200  expected 422 SHOULD .*UNEXPECTED  answer: \{"status": "ok"\}$', out,
                     re.MULTILINE)
    assert re.search(r"^jwt-expired .* 200  expected 401 MUST .*UNEXPECTED", out, re.MULTILINE)
    assert "type-Activity" not in out  # malformed scenario only


@responses.activate
def test_cli_without_a_key_skips_token_attacks(capsys: pytest.CaptureFixture[str]) -> None:
    def reject(request: Any) -> tuple[int, dict[str, str], str]:
        try:
            json.loads(request.body)
        except ValueError:
            return 400, {}, '{"errors": ["not JSON"]}'
        return 422, {}, '{"errors": ["bad"]}'

    responses.add_callback(responses.POST, re.compile(rf"{BASE}/.*"), callback=reject)
    assert run_cli(["--url", BASE, "--scenario", "malformed", "--seed", "1"]) == 0
    out = capsys.readouterr().out
    assert "jwt-" not in out
    assert all(token_of_call(call) for call in responses.calls)  # the platform always sends its token


def token_of_call(call: Any) -> str:
    return str(call.request.headers.get("x-access-token", ""))


@responses.activate
def test_cli_with_an_rsa_key_sends_the_key_confusion_attack(rsa_pem: str, tmp_path: Any,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    key_file = tmp_path / "platform.pem"
    key_file.write_text(rsa_pem)
    responses.add(responses.POST, re.compile(rf"{BASE}/.*"), status=401, json={"error": "Invalid Logon"})
    assert run_cli(["--url", BASE, "--private-key", str(key_file), "--scenario", "malformed"]) == 1
    captured = capsys.readouterr()
    out = captured.out
    assert re.search(r"^jwt-hs256-signed-with-rsa-public-key .* 401 .* OK$", out, re.MULTILINE)
    assert re.search(r"^missing-id .* 401 .*UNEXPECTED  answer: .*Invalid Logon", out, re.MULTILINE)
    assert "RS256" in captured.err.splitlines()[0]


@responses.activate
def test_a_401_without_invalid_logon_in_json_is_reported() -> None:
    responses.add(responses.POST, re.compile(rf"{BASE}/.*"), status=401, body="nope")
    with sm.ServiceMobilityPlatform(BASE, signer=hs_signer()) as platform:
        request = sm.MALFORMATIONS["jwt-garbage"].build(ctx_for(hs_signer()))[0]
        delivery = platform.send(request)
    assert sm.answer_problems(sm.INVALID_LOGON, delivery) == ["401 body is not JSON"]


# -------------------------------------------------------------------------------------------- fixtures

def test_every_fixture_is_described_and_every_case_has_a_fixture() -> None:
    cases = fixtures.cases("servicemobility")
    assert set(fixtures.names("servicemobility")) == set(cases)
    assert {name for registry in sm.REGISTRIES for name in registry.names()} <= set(cases)
    for name, entry in cases.items():
        assert {"description", "status", "spec"} <= set(entry), name


def test_fixture_files_are_what_the_registries_build() -> None:
    cases = fixtures.cases("servicemobility")
    for name, requests_ in sm.fixture_requests().items():
        case = sm.case_named(name)
        entry = cases[name]
        assert entry["status"] in case.expect.statuses and entry["spec"] == case.expect.spec, name
        assert entry["path"] == requests_[0].path, name
        assert entry.get("sent", 1) == len(requests_), name
        assert entry.get("requires_token_evaluation", False) == (name in sm.TOKEN_CASES), name
        assert entry.get("after") == sm.CORRECTS.get(name), name
        if fixtures.path("servicemobility", name).suffix == ".json":
            assert fixtures.load("servicemobility", name) == json.loads(requests_[0].body), name
        else:
            assert fixtures.raw("servicemobility", name) == requests_[0].body, name


def strip_comments(text: str) -> str:
    return re.sub(r"\s*//[^\n]*", "", text)


def test_document_examples_are_verbatim_and_the_valid_envelope_says_what_changed() -> None:
    example = fixtures.raw("servicemobility", "document-envelope-example").decode("utf-8")
    assert example.startswith('{\n    "id": "f0facfbb-e945-4b90-977d-1671bc0c60ab",\n\t"type": ')
    assert f'\t"type": "{"|".join(sm.TYPES)}",\n' in example  # the pipe-joined list of valid values
    assert '"subject": null, // Not used' in example and example.endswith("}\n")
    with pytest.raises(ValueError):
        json.loads(example)
    made_valid = fixtures.load("servicemobility", "document-envelope")
    printed = json.loads(strip_comments(example))
    assert list(made_valid) == list(printed)
    assert {k: v for k, v in made_valid.items() if k not in {"type", "data"}} == {
        k: v for k, v in printed.items() if k not in {"type", "data"}}
    assert made_valid["type"] == "InventoryUsage" and made_valid["data"]["rows"]
    assert len(fixtures.cases("servicemobility")["document-envelope"]["changes"]) >= 3
    skeleton = json.loads(strip_comments(fixtures.raw("servicemobility", "document-notification-example")
                                         .decode("utf-8")))
    assert skeleton == {"rowver": "", "rows": [{"rowver": "", "InventoryUsage": {}}]}
    assert list(made_valid["data"]) == list(skeleton) and list(made_valid["data"]["rows"][0]) == ["rowver",
                                                                                                  "InventoryUsage"]
