"""ServiceMobility webhooks: CloudEvents-shaped envelopes posted to ``<base>/<Type path>/`` with the
platform's JWT in ``x-access-token`` (``servicemobility-inventory-usage.txt``, NOTES.md §3).

The simulator builds realistic Inventory Usage notifications (and the eight sibling types), signs
tokens the way the platform does, breaks envelopes and tokens on purpose, and sends them.
"""

from __future__ import annotations

import argparse
import base64
import copy
import functools
import hashlib
import hmac
import json
import random
import secrets
import sys
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Final

import jwt
import requests
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

import fixtures
from simulator.core import Case, Expectation, Registry, Request
from simulator.http import Delivery, Sender

CHANNEL: Final = "servicemobility"

# The document's list of valid ``type`` values, in its order.
TYPES: Final = (
    "Activity",
    "PhysicalInventoryRequest",
    "LoadInventory",
    "InventoryTransfer",
    "InventoryUsage",
    "StockLevelRecommendation",
    "TimeEntry",
    "UserAudit",
    "WorkOrder",
)

# Documented paths; every other type posts to its own name (NOTES.md §3).
_DOCUMENTED_PATHS: Final = {"InventoryUsage": "InventoryUsage/", "Activity": "Activities/"}


def default_path(event_type: str) -> str:
    """The path, relative to the customer's REST Endpoint URI, the platform posts ``event_type`` to."""
    if event_type not in TYPES:
        raise ValueError(f"unknown ServiceMobility type {event_type!r} (valid: {', '.join(TYPES)})")
    return _DOCUMENTED_PATHS.get(event_type, f"{event_type}/")


def path_for(event_type: str, paths: Mapping[str, str] | None = None) -> str:
    """The configured path of a type: the override from ``paths`` when given, else the default."""
    if paths and event_type in paths:
        return paths[event_type]
    return default_path(event_type)


# --------------------------------------------------------------------------------------------- tokens

_Clock = Callable[[], datetime]


def _utcnow() -> datetime:
    return datetime.now(UTC)


def _b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _b64url_json(value: Mapping[str, Any]) -> str:
    return _b64url(json.dumps(value, separators=(",", ":")).encode("utf-8"))


class TokenSigner:
    """Signs tokens like the platform: HS256 with ``exp``/``iat`` (seconds since epoch), ``name``,
    ``email`` and optionally ``expdb`` from a shared secret, or RS256/ES256 with a private key (PEM)."""

    ASYMMETRIC: Final = ("RS256", "ES256")

    def __init__(
        self,
        key: str | bytes,
        algorithm: str = "HS256",
        *,
        name: str = "ServiceMobility Integration",
        email: str = "integration@example.com",
        expdb: str | None = None,
        audience: str | None = None,
        issuer: str | None = None,
        lifetime: timedelta = timedelta(hours=1),
        now: _Clock | None = None,
    ) -> None:
        if algorithm != "HS256" and algorithm not in self.ASYMMETRIC:
            raise ValueError(f"algorithm must be HS256, RS256 or ES256, not {algorithm!r}")
        self.key = key
        self.algorithm = algorithm
        self.name = name
        self.email = email
        self.expdb = expdb
        self.audience = audience
        self.issuer = issuer
        self.lifetime = lifetime
        self.now: _Clock = now or _utcnow
        self._private_key = (
            serialization.load_pem_private_key(_as_bytes(key), password=None)
            if algorithm in self.ASYMMETRIC
            else None
        )
        if algorithm == "RS256" and not isinstance(self._private_key, rsa.RSAPrivateKey):
            raise ValueError("RS256 needs an RSA private key")
        if algorithm == "ES256" and not (
            isinstance(self._private_key, ec.EllipticCurvePrivateKey)
            and isinstance(self._private_key.curve, ec.SECP256R1)
        ):
            raise ValueError("ES256 needs a P-256 (secp256r1) EC private key")

    @classmethod
    def from_private_key_pem(
        cls, pem: str | bytes, algorithm: str | None = None, **options: Any
    ) -> TokenSigner:
        """A signer for an RSA or P-256 private key; the algorithm follows the key when not given."""
        if algorithm is None:
            loaded = serialization.load_pem_private_key(_as_bytes(pem), password=None)
            algorithm = "RS256" if isinstance(loaded, rsa.RSAPrivateKey) else "ES256"
        return cls(pem, algorithm, **options)

    def claims(self, *, issued_at: datetime | None = None) -> dict[str, Any]:
        """The platform's claims for a token issued at ``issued_at`` (default: now)."""
        issued = issued_at or self.now()
        claims: dict[str, Any] = {
            "exp": int((issued + self.lifetime).timestamp()),
            "iat": int(issued.timestamp()),
            "name": self.name,
            "email": self.email,
        }
        if self.expdb is not None:
            claims["expdb"] = self.expdb
        if self.audience is not None:
            claims["aud"] = self.audience
        if self.issuer is not None:
            claims["iss"] = self.issuer
        return claims

    def sign(self, claims: Mapping[str, Any], *, key: str | bytes | None = None) -> str:
        """Sign any claims with this signer's algorithm (and its key, unless another is given)."""
        return jwt.encode(dict(claims), self.key if key is None else key, algorithm=self.algorithm)

    def token(self, *, age: timedelta = timedelta(0)) -> str:
        """A valid token issued ``age`` ago (the platform re-uses the token of the triggering API call)."""
        return self.sign(self.claims(issued_at=self.now() - age))

    def verification_key(self) -> str | bytes:
        """What a receiver verifies with: the shared secret, or the public key PEM."""
        return self.public_key_pem() or self.key

    def public_key_pem(self) -> str | None:
        """The PEM of the public key for RS256/ES256, None for HS256."""
        if self._private_key is None:
            return None
        return (
            self._private_key.public_key()
            .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
            .decode("ascii")
        )

    def describe(self) -> str:
        extras = "".join(
            f" {label}={value}" for label, value in (("aud", self.audience), ("iss", self.issuer)) if value
        )
        return f"{self.algorithm}{extras}"


def _as_bytes(value: str | bytes) -> bytes:
    return value.encode("utf-8") if isinstance(value, str) else value


@functools.cache
def throwaway_private_key_pem(algorithm: str, purpose: str) -> str:
    """A freshly generated RSA (RS256) or P-256 (ES256) private key, one per purpose and process."""
    key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey
    key = ec.generate_private_key(ec.SECP256R1()) if algorithm == "ES256" else rsa.generate_private_key(
        public_exponent=65537, key_size=2048
    )
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode("ascii")


def unsigned_token(claims: Mapping[str, Any]) -> str:
    """``alg: none``: a token with no signature at all (RFC 7519 §6, "Unsecured JWTs")."""
    return f"{_b64url_json({'alg': 'none', 'typ': 'JWT'})}.{_b64url_json(claims)}."


def hs256_token(claims: Mapping[str, Any], secret: str | bytes) -> str:
    """HS256 built by hand, so any bytes can be the secret (PyJWT refuses a PEM as an HMAC key)."""
    signing_input = f"{_b64url_json({'alg': 'HS256', 'typ': 'JWT'})}.{_b64url_json(claims)}"
    signature = hmac.new(_as_bytes(secret), signing_input.encode("ascii"), hashlib.sha256).digest()
    return f"{signing_input}.{_b64url(signature)}"


# --------------------------------------------------------------------------------------------- events

def rfc3339(moment: datetime) -> str:
    """``2022-07-27T23:10:12.000Z``: the document's time format (UTC, milliseconds, ``Z``)."""
    moment = moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def _uuid4(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def derived_id(event_id: str, label: str) -> str:
    """A uuid4-shaped id derived from another one: each case gets its own, reproducibly, so no case
    is accidentally a duplicate of another."""
    digest = hashlib.sha256(f"{event_id}/{label}".encode()).digest()
    return str(uuid.UUID(bytes=digest[:16], version=4))


def derived_seed(seed: int, label: str) -> int:
    return int.from_bytes(hashlib.sha256(f"{seed}/{label}".encode()).digest()[:8], "big")


@dataclass(frozen=True)
class Product:
    ProdNum: str
    serialized: bool = False  # one serial per unit: quantities are 1
    batched: bool = False  # tracked by lot
    fractional: bool = False  # sold by the pound or foot: decimal quantities


# An HVAC field-service catalogue: what a technician's van and a branch warehouse hold.
PRODUCTS: Final = (
    Product("FLT-20X25X1-M8"),
    Product("CAP-45-5-440"),
    Product("CONT-2P-30A-24V"),
    Product("IGN-HSI-271W"),
    Product("TXV-R410A-3T"),
    Product("BLT-A38"),
    Product("R410A-25LB", batched=True, fractional=True),
    Product("WIRE-THHN-12-BLK", fractional=True),
    Product("MTR-CF-1/4HP-1075", serialized=True),
    Product("CMP-ZP38K5E-PFV5", serialized=True),
    Product("CTRL-IFC-50M56U", serialized=True, batched=True),
)
VANS: Final = ("VAN-014", "VAN-022", "VAN-031", "VAN-047")
WAREHOUSES: Final = ("WH-MAIN", "WH-EAST")
USERS: Final = ("jmartinez", "akowalski", "tnguyen", "bokafor", "sreyes")
DISPOSITION_REASONS: Final = (
    ("DMG", "Damaged in transit"),
    ("DEF", "Defective on arrival"),
    ("EXP", "Shelf life expired"),
    ("RMA", "Returned to vendor under warranty"),
)


def _quantity(rng: random.Random, product: Product, low: int = 1, high: int = 4) -> float:
    if product.serialized:
        return 1.0
    if product.fractional:
        return round(rng.uniform(low, high * 3), 2)
    return float(rng.randint(low, high))


def _item(rng: random.Random, product: Product, *, in_qty: float = 0.0, out_qty: float = 0.0,
          inventory_qty: float | None = None, damaged: float = 0.0,
          reasons: Sequence[dict[str, Any]] = ()) -> dict[str, Any]:
    on_hand = inventory_qty if inventory_qty is not None else _quantity(rng, product, 0, 12)
    if product.serialized and (in_qty or out_qty):
        on_hand = 1.0 if in_qty > out_qty else 0.0  # one unit per serial: it is here or it is gone
    return {
        "BatchNum": f"LOT-{rng.randint(2201, 2212)}-{rng.randint(1, 9999):04d}" if product.batched else None,
        "ProdNum": product.ProdNum,
        "SerialNum": f"{rng.randint(18, 22)}{rng.choice('ABCDEFGH')}{rng.randint(0, 99999999):08d}"
        if product.serialized
        else None,
        "InQty": in_qty,
        "OutQty": out_qty,
        "InventoryQty": round(on_hand, 2),
        "ReportedDamagedQty": damaged,
        "DispositionReasons": list(reasons),
    }


def _location(location_id: str, items: list[dict[str, Any]]) -> dict[str, Any]:
    return {"StorageLocationID": location_id, "Items": items}


def _pick(rng: random.Random, count: int) -> list[Product]:
    return rng.sample(PRODUCTS, count)


def _moved(rng: random.Random, source: str, target: str, products: Sequence[Product]) -> list[dict[str, Any]]:
    """Quantities leaving ``source`` and arriving at ``target`` (a load or a transfer)."""
    out_items, in_items = [], []
    for product in products:
        qty = _quantity(rng, product)
        left = _quantity(rng, product, 0, 20)
        out_items.append(_item(rng, product, out_qty=qty, inventory_qty=left))
        arrived = _item(rng, product, in_qty=qty, inventory_qty=qty + _quantity(rng, product, 0, 3))
        arrived["BatchNum"], arrived["SerialNum"] = out_items[-1]["BatchNum"], out_items[-1]["SerialNum"]
        in_items.append(arrived)
    return [_location(source, out_items), _location(target, in_items)]


def _load(rng: random.Random) -> list[dict[str, Any]]:
    return _moved(rng, rng.choice(WAREHOUSES), rng.choice(VANS), _pick(rng, rng.randint(2, 4)))


def _work_order(rng: random.Random) -> list[dict[str, Any]]:
    items = []
    for product in _pick(rng, rng.randint(1, 3)):
        used = _quantity(rng, product, 1, 2)
        items.append(_item(rng, product, out_qty=used, inventory_qty=_quantity(rng, product, 0, 6)))
    return [_location(rng.choice(VANS), items)]


def _transfer(rng: random.Random) -> list[dict[str, Any]]:
    source, target = rng.sample(VANS, 2) if rng.random() < 0.6 else rng.sample(WAREHOUSES, 2)
    return _moved(rng, source, target, _pick(rng, rng.randint(1, 3)))


def _count(rng: random.Random, how_many: int) -> list[dict[str, Any]]:
    """A physical count: ``InventoryQty`` is what was counted, In/Out the correction it caused."""
    items = []
    for product in _pick(rng, how_many):
        expected = 1.0 if product.serialized else _quantity(rng, product, 0, 10)
        counted = expected
        if rng.random() < 0.4:  # the count found a difference
            counted = 0.0 if product.serialized else max(
                round(expected + rng.choice((-1.0, 1.0)) * _quantity(rng, product, 1, 2), 2), 0.0)
        difference = round(counted - expected, 2)
        items.append(_item(rng, product, in_qty=difference if difference > 0 else 0.0,
                           out_qty=-difference if difference < 0 else 0.0, inventory_qty=counted))
    return [_location(rng.choice(VANS + WAREHOUSES), items)]


def _disposition(rng: random.Random) -> list[dict[str, Any]]:
    items = []
    for product in _pick(rng, rng.randint(1, 2)):
        qty = _quantity(rng, product, 1, 2)
        item = _item(rng, product, out_qty=qty, inventory_qty=_quantity(rng, product, 0, 8), damaged=qty)
        code, desc = rng.choice(DISPOSITION_REASONS)
        item["DispositionReasons"] = [{"Desc": desc, "InQty": 0.0, "InventoryQty": item["InventoryQty"],
                                       "OutQty": qty, "Qty": qty, "ReasonCode": code}]
        items.append(item)
    return [_location(rng.choice(VANS + WAREHOUSES), items)]


def _adjustment(rng: random.Random) -> list[dict[str, Any]]:
    product = rng.choice(PRODUCTS)
    qty = _quantity(rng, product, 1, 2)
    gained = rng.random() < 0.5
    return [_location(rng.choice(VANS + WAREHOUSES), [
        _item(rng, product, in_qty=qty if gained else 0.0, out_qty=0.0 if gained else qty)
    ])]


@dataclass(frozen=True)
class RefModule:
    """What a ``RefModule`` code means, what ``RefObjID`` then names, and how its usage looks."""

    meaning: str
    ref_prefix: str
    storage_locations: Callable[[random.Random], list[dict[str, Any]]]


REF_MODULES: Final[Mapping[str, RefModule]] = {
    "1001": RefModule("load", "LD", _load),
    "1002": RefModule("work order", "WO", _work_order),
    "1003": RefModule("transfer", "TR", _transfer),
    "1004": RefModule("full count", "PI", lambda rng: _count(rng, rng.randint(3, 5))),
    "1005": RefModule("partial count", "PI", lambda rng: _count(rng, rng.randint(1, 2))),
    "1006": RefModule("disposition", "DSP", _disposition),
    "1007": RefModule("automatic adjustment", "ADJ", _adjustment),
    "1008": RefModule("manual adjustment", "ADJ", _adjustment),
}
# Work orders dominate a technician's day.
_REF_MODULE_WEIGHTS: Final = {"1001": 3, "1002": 8, "1003": 2, "1004": 1, "1005": 2, "1006": 1, "1007": 1,
                              "1008": 1}


def _revision(rng: random.Random, usage: dict[str, Any], modified: datetime) -> dict[str, Any] | None:
    """A later update of the same Inventory Usage object: more of a bulk part used, moved or counted;
    None when it only holds serialized units (a unit cannot be used twice)."""
    revised = copy.deepcopy(usage)
    revised["ModifiedUTC"] = rfc3339(modified)
    items = [item for location in revised["StorageLocations"] for item in location["Items"]]
    bulk = [item for item in items if item["SerialNum"] is None]
    if not bulk:
        return None
    prod_num = rng.choice(bulk)["ProdNum"]
    for item in (item for item in bulk if item["ProdNum"] == prod_num):
        direction, sign = ("OutQty", -1.0) if item["OutQty"] > 0 else ("InQty", 1.0)
        item[direction] = round(item[direction] + 1.0, 2)
        item["InventoryQty"] = round(max(item["InventoryQty"] + sign, 0.0), 2)
        if item["DispositionReasons"]:
            item["ReportedDamagedQty"] = item["OutQty"]
            for reason in item["DispositionReasons"]:
                reason.update(OutQty=item["OutQty"], Qty=item["OutQty"], InventoryQty=item["InventoryQty"])
    return revised


def _rows(rng: random.Random, kind: str, count: int, now: datetime,
          build: Callable[[random.Random, datetime], dict[str, Any]],
          revise: Callable[[random.Random, dict[str, Any], datetime], dict[str, Any] | None] | None = None
          ) -> dict[str, Any]:
    """The Export Notification Object: ``rows`` in ``rowver`` order, the highest as ``rowver``."""
    rowver = rng.randrange(0x100000, 0x10000000)
    window = timedelta(minutes=15)  # the webhook schedule
    rows: list[dict[str, Any]] = []
    for index in range(count):
        rowver += rng.randint(1, 400)
        modified = now - window + window * (index + rng.random()) / max(count, 1)
        modified = modified.replace(microsecond=modified.microsecond // 1000 * 1000)
        obj = None
        if rows and revise is not None and rng.random() < 0.35:
            obj = revise(rng, rows[-1][kind], modified)  # several updates to one object, in order
        if obj is None:
            obj = build(rng, modified)
        rows.append({"rowver": f"0x{rowver:016X}", kind: obj})
    return {"rowver": f"0x{rowver:016X}", "rows": rows}


def _inventory_usage(rng: random.Random, modified: datetime) -> dict[str, Any]:
    code = rng.choices(list(_REF_MODULE_WEIGHTS), weights=list(_REF_MODULE_WEIGHTS.values()))[0]
    module = REF_MODULES[code]
    return {
        "UserID": rng.choice(USERS),
        "ModifiedUTC": rfc3339(modified),
        "RefModule": code,
        "RefObjID": f"{module.ref_prefix}-{rng.randint(100000, 999999)}",
        "StorageLocations": module.storage_locations(rng),
    }


def _activity(rng: random.Random, modified: datetime) -> dict[str, Any]:
    start = modified - timedelta(minutes=rng.randint(20, 180))
    return {
        "ActivityID": f"ACT-{rng.randint(100000, 999999)}",
        "WorkOrderNum": f"WO-{rng.randint(100000, 999999)}",
        "UserID": rng.choice(USERS),
        "ActivityCode": rng.choice(("TRAVEL", "ONSITE", "DIAGNOSE", "REPAIR")),
        "Status": "Completed",
        "StartUTC": rfc3339(start),
        "EndUTC": rfc3339(modified),
        "ModifiedUTC": rfc3339(modified),
    }


def _physical_inventory_request(rng: random.Random, modified: datetime) -> dict[str, Any]:
    return {
        "RequestID": f"PI-{rng.randint(100000, 999999)}",
        "StorageLocationID": rng.choice(VANS + WAREHOUSES),
        "RequestedByUserID": rng.choice(USERS),
        "CountType": rng.choice(("Full", "Partial")),
        "DueUTC": rfc3339(modified + timedelta(days=rng.randint(1, 5))),
        "Status": rng.choice(("Open", "InProgress", "Completed")),
        "Items": [{"ProdNum": p.ProdNum} for p in _pick(rng, rng.randint(1, 4))],
        "ModifiedUTC": rfc3339(modified),
    }


def _movement(rng: random.Random, modified: datetime, id_field: str, prefix: str, source: str, target: str,
              status: str) -> dict[str, Any]:
    return {
        id_field: f"{prefix}-{rng.randint(100000, 999999)}",
        "FromStorageLocationID": source,
        "ToStorageLocationID": target,
        "UserID": rng.choice(USERS),
        "Status": status,
        "Items": [{"ProdNum": p.ProdNum, "Qty": _quantity(rng, p)} for p in _pick(rng, rng.randint(1, 3))],
        "ModifiedUTC": rfc3339(modified),
    }


def _load_inventory(rng: random.Random, modified: datetime) -> dict[str, Any]:
    return _movement(rng, modified, "LoadID", "LD", rng.choice(WAREHOUSES), rng.choice(VANS), "Loaded")


def _inventory_transfer(rng: random.Random, modified: datetime) -> dict[str, Any]:
    source, target = rng.sample(VANS, 2)
    return _movement(rng, modified, "TransferID", "TR", source, target, rng.choice(("Sent", "Received")))


def _stock_level_recommendation(rng: random.Random, modified: datetime) -> dict[str, Any]:
    product = rng.choice(PRODUCTS)
    minimum = _quantity(rng, product, 1, 3)
    return {
        "StorageLocationID": rng.choice(VANS),
        "ProdNum": product.ProdNum,
        "MinQty": minimum,
        "MaxQty": minimum + _quantity(rng, product, 2, 6),
        "RecommendedQty": minimum + _quantity(rng, product, 1, 2),
        "ModifiedUTC": rfc3339(modified),
    }


def _time_entry(rng: random.Random, modified: datetime) -> dict[str, Any]:
    minutes = rng.randint(15, 240)
    return {
        "TimeEntryID": f"TE-{rng.randint(100000, 999999)}",
        "UserID": rng.choice(USERS),
        "WorkOrderNum": f"WO-{rng.randint(100000, 999999)}",
        "PayCode": rng.choice(("REG", "REG", "OT")),
        "StartUTC": rfc3339(modified - timedelta(minutes=minutes)),
        "EndUTC": rfc3339(modified),
        "Hours": round(minutes / 60, 2),
        "Approved": rng.random() < 0.5,
        "ModifiedUTC": rfc3339(modified),
    }


def _user_audit(rng: random.Random, modified: datetime) -> dict[str, Any]:
    return {
        "UserID": rng.choice(USERS),
        "Action": rng.choice(("Login", "Logout", "PasswordChanged", "DeviceRegistered")),
        "Device": rng.choice(("iPad (10th generation)", "Galaxy Tab Active4 Pro", "Windows 11")),
        "IPAddress": f"203.0.113.{rng.randint(1, 254)}",
        "ModifiedUTC": rfc3339(modified),
    }


def _work_order_object(rng: random.Random, modified: datetime) -> dict[str, Any]:
    return {
        "WorkOrderNum": f"WO-{rng.randint(100000, 999999)}",
        "CustomerID": f"C-{rng.randint(10000, 99999)}",
        "SiteAddress": f"{rng.randint(10, 9999)} {rng.choice(('Oak', 'Maple', 'Cedar', 'Elm'))} St",
        "Priority": rng.choice(("Low", "Normal", "High", "Emergency")),
        "Status": rng.choice(("Scheduled", "Dispatched", "InProgress", "Completed")),
        "AssignedUserID": rng.choice(USERS),
        "ProblemDesc": rng.choice(
            ("No cooling", "Furnace short-cycling", "Annual maintenance", "Water leak")),
        "ScheduledUTC": rfc3339(modified + timedelta(hours=rng.randint(1, 48))),
        "ModifiedUTC": rfc3339(modified),
    }


# The data builders of each type; sibling types' objects are plausible guesses (the document only
# describes Inventory Usage), wrapped in the same Export Notification Object.
DATA_BUILDERS: Final[Mapping[str, Callable[[random.Random, datetime], dict[str, Any]]]] = {
    "Activity": _activity,
    "PhysicalInventoryRequest": _physical_inventory_request,
    "LoadInventory": _load_inventory,
    "InventoryTransfer": _inventory_transfer,
    "InventoryUsage": _inventory_usage,
    "StockLevelRecommendation": _stock_level_recommendation,
    "TimeEntry": _time_entry,
    "UserAudit": _user_audit,
    "WorkOrder": _work_order_object,
}


class EventFactory:
    """Seeded, reproducible webhook events of one webhook (``source``) with the document's envelope."""

    def __init__(self, seed: int = 0, source: str | None = None, *, now: _Clock | None = None) -> None:
        self.rng = random.Random(seed)
        self.source = source or _uuid4(self.rng)
        self.now: _Clock = now or _utcnow

    def envelope(self, event_type: str, data: Any) -> dict[str, Any]:
        """The Webhook Request Object around ``data``, fields in the document's order."""
        return {
            "id": _uuid4(self.rng),
            "type": event_type,
            "specversion": "1.0",
            "source": self.source,
            "subject": None,
            "time": rfc3339(self.now()),
            "datacontenttype": "application/json",
            "action": "",
            "data": data,
        }

    def inventory_usage(self, rows: int = 3) -> dict[str, Any]:
        """An Inventory Usage Export Notification with ``rows`` rows (some may update an earlier one)."""
        return self.envelope("InventoryUsage", _rows(self.rng, "InventoryUsage", rows, self.now(),
                                                     _inventory_usage, _revision))

    def event(self, event_type: str, rows: int = 1) -> dict[str, Any]:
        """An event of any of the nine types."""
        if event_type == "InventoryUsage":
            return self.inventory_usage(rows)
        if event_type not in DATA_BUILDERS:
            raise ValueError(f"unknown ServiceMobility type {event_type!r} (valid: {', '.join(TYPES)})")
        data = _rows(self.rng, event_type, rows, self.now(), DATA_BUILDERS[event_type])
        return self.envelope(event_type, data)


def serialize(event: Any) -> bytes:
    """The body as the platform sends it: compact UTF-8 JSON."""
    return json.dumps(event, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def event_request(event: Mapping[str, Any], token: str | None, *, paths: Mapping[str, str] | None = None,
                  path: str | None = None) -> Request:
    """The request the platform sends for ``event``: to its type's path, with ``x-access-token``."""
    headers = {"Content-Type": "application/json"}
    if token is not None:
        headers["x-access-token"] = token
    return Request(serialize(event), headers, path if path is not None else path_for(event["type"], paths))


# ------------------------------------------------------------------------------------------- platform

class _SignedNow:
    def __repr__(self) -> str:
        return "<signed now>"


SIGNED_NOW: Final = _SignedNow()


class ServiceMobilityPlatform:
    """Sends webhooks like ServiceMobility: one :class:`Sender`, a token from ``signer`` on every call
    (no ``x-access-token`` when ``signer`` is None), each type to its own path."""

    def __init__(
        self,
        base_url: str,
        *,
        signer: TokenSigner | None,
        paths: Mapping[str, str] | None = None,
        ca_bundle: str | bool = True,
        timeout: float = 120.0,
        session: requests.Session | None = None,
    ) -> None:
        self.signer = signer
        self.paths = dict(paths or {})
        self.sender = Sender(base_url, ca_bundle=ca_bundle, timeout=timeout, session=session)

    def request_for(
        self, event: Mapping[str, Any], *, token: str | None | _SignedNow = SIGNED_NOW
    ) -> Request:
        if isinstance(token, _SignedNow):
            token = self.signer.token() if self.signer is not None else None
        return event_request(event, token, paths=self.paths)

    def send_event(
        self, event: Mapping[str, Any], *, token: str | None | _SignedNow = SIGNED_NOW
    ) -> Delivery:
        """POST ``event`` to ``<base>/<path of its type>``; ``token=None`` sends no ``x-access-token``."""
        return self.sender.send(self.request_for(event, token=token))

    def send(self, request: Request) -> Delivery:
        """Send a prepared (possibly malformed) request as is."""
        return self.sender.send(request)

    def close(self) -> None:
        self.sender.close()

    def __enter__(self) -> ServiceMobilityPlatform:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


# ---------------------------------------------------------------------------------------------- cases

@dataclass(frozen=True)
class SMCaseContext:
    """What a case is built from: a conforming InventoryUsage ``event`` to break, the ``signer`` the
    receiver trusts, its public key (for the key-confusion attack), the paths, and a seed."""

    event: Mapping[str, Any]
    signer: TokenSigner
    public_key_pem: str | None = None
    paths: Mapping[str, str] | None = None
    seed: int = 0

    @classmethod
    def for_signer(cls, signer: TokenSigner, *, seed: int = 0, paths: Mapping[str, str] | None = None,
                   event: Mapping[str, Any] | None = None) -> SMCaseContext:
        """A context with a fresh event and the signer's own public key (None for HS256)."""
        base = event or EventFactory(seed, now=signer.now).inventory_usage()
        return cls(base, signer, signer.public_key_pem(), paths, seed)

    def factory(self, label: str) -> EventFactory:
        """A factory of this context's webhook, seeded per case so each case builds the same events."""
        return EventFactory(derived_seed(self.seed, label), self.event["source"], now=self.signer.now)

    def usage_path(self) -> str:
        return path_for("InventoryUsage", self.paths)

    def copy_event(self, label: str) -> dict[str, Any]:
        """A deep copy of the event with an id of its own."""
        event = copy.deepcopy(dict(self.event))
        event["id"] = derived_id(str(self.event.get("id")), label)
        return event


OK_200: Final = Expectation(
    (200,), "On success, an HTTP response code of 200 must be returned.", "MUST")
DUPLICATE_200: Final = Expectation(
    (200,), "id: Subsequent requests with duplicate IDs should be disregarded. — NOTES.md §3 Decision: "
    "Duplicate key: (source, id). A duplicate is answered 200 and changes nothing.", "MUST")
INVALID_LOGON: Final = Expectation(
    (401,), "401 Invalid Logon. — NOTES.md §3 Decision: JWT evaluation is configurable; exp required with a "
    "configurable leeway; algorithms pinned by configuration, never taken from the token.", "MUST")
_MALFORMED: Final = ("NOTES.md §3 Decision: Malformed bodies get a 4xx with a JSON description of every "
                     "problem (the document lists only 200/401/500).")
NOT_JSON_400: Final = Expectation((400,), f"The HTTP request body will contain a valid Webhook Request "
                                          f"Object. — {_MALFORMED}", "SHOULD")


def unprocessable(sentence: str) -> Expectation:
    """422 for a well-formed JSON body that breaks ``sentence``; SHOULD because the code is ours."""
    return Expectation((422,), f"{sentence} — {_MALFORMED}", "SHOULD")


GoodBuild = Callable[[SMCaseContext], tuple[Request, ...]]
MalformationBuild = Callable[[SMCaseContext], Request]

# Good cases: every request answered exactly 200. A build returns the requests in order.
GOOD_CASES: Final[Registry[GoodBuild]] = Registry(CHANNEL)
MALFORMATIONS: Final[Registry[MalformationBuild]] = Registry(CHANNEL)


@GOOD_CASES.register(
    "document-envelope",
    "The document's envelope example made valid: comments removed, type InventoryUsage, real data.",
    OK_200)
def _document_envelope(ctx: SMCaseContext) -> tuple[Request, ...]:
    event = fixtures.load(CHANNEL, "document-envelope")
    return (event_request(event, ctx.signer.token(), paths=ctx.paths),)


def _register_type_case(event_type: str) -> None:
    @GOOD_CASES.register(
        f"type-{event_type}",
        f"A {event_type} event posted to its own path ({default_path(event_type)} by default).",
        Expectation((200,), f"type: {event_type} is a valid value. — On success, an HTTP response code "
                            "of 200 must be returned.", "MUST"))
    def build(ctx: SMCaseContext) -> tuple[Request, ...]:
        event = ctx.factory(f"type-{event_type}").event(event_type, rows=2)
        return (event_request(event, ctx.signer.token(), paths=ctx.paths),)


for _type in TYPES:
    _register_type_case(_type)


@GOOD_CASES.register(
    "trailing-slash-omitted",
    "An InventoryUsage event posted to <base>/InventoryUsage, without the trailing slash.",
    Expectation((200,), "POST <REST Endpoint URI>/InventoryUsage/ — a customer's endpoint configuration "
                        "may drop the slash; on success, an HTTP response code of 200 must be returned.",
                "SHOULD"))
def _trailing_slash_omitted(ctx: SMCaseContext) -> tuple[Request, ...]:
    event = ctx.factory("trailing-slash-omitted").inventory_usage()
    return (event_request(event, ctx.signer.token(), path=ctx.usage_path().rstrip("/")),)


@GOOD_CASES.register(
    "token-13-minutes-old",
    "A token issued 13 minutes before the delivery (webhooks run every 15 minutes).",
    Expectation((200,), "NOTES.md §3: Webhooks run on a schedule (every 15 minutes), so a token can be that "
                        "much older than the delivery. — On success, 200 must be returned.", "MUST"))
def _token_13_minutes_old(ctx: SMCaseContext) -> tuple[Request, ...]:
    event = ctx.factory("token-13-minutes-old").inventory_usage()
    return (event_request(event, ctx.signer.token(age=timedelta(minutes=13)), paths=ctx.paths),)


@GOOD_CASES.register(
    "duplicate-id",
    "The same event (same source and id) sent twice: 200 both times, nothing changed the second time.",
    DUPLICATE_200)
def _duplicate_id(ctx: SMCaseContext) -> tuple[Request, ...]:
    event = ctx.factory("duplicate-id").inventory_usage()
    first = event_request(event, ctx.signer.token(), paths=ctx.paths)
    return (first, first)


def _register_envelope_case(name: str, description: str, sentence: str,
                            change: Callable[[dict[str, Any]], None]) -> None:
    @MALFORMATIONS.register(name, description, unprocessable(sentence))
    def build(ctx: SMCaseContext) -> Request:
        event = ctx.copy_event(name)
        change(event)
        return event_request(event, ctx.signer.token(), path=ctx.usage_path())


_ENVELOPE_SENTENCES: Final = {
    "id": "id: ID representing this unique payload. (CloudEvents 1.0: id is REQUIRED.)",
    "type": "type: The object type represented by the data field. (CloudEvents 1.0: type is REQUIRED.)",
    "specversion": "specversion: The CloudEvents spec version that this payload complies with. "
                   "(CloudEvents 1.0: REQUIRED.)",
    "source": "source: The ID of the webhook that generated this message. (CloudEvents 1.0: REQUIRED.)",
    "time": "time: Time that this webhook execution was generated.",
    "datacontenttype": "datacontenttype: The format of the data object. Valid values are: application/json",
    "action": "action: Additional information and context for this webhook call.",
    "data": "data: The data payload, matching the format of the object type specified in type property.",
}

def _drop(key: str) -> Callable[[dict[str, Any]], None]:
    def change(event: dict[str, Any]) -> None:
        del event[key]
    return change


def _set(key: str, value: Any) -> Callable[[dict[str, Any]], None]:
    def change(event: dict[str, Any]) -> None:
        event[key] = value
    return change


def _set_data(key: str, value: Callable[[dict[str, Any]], Any]) -> Callable[[dict[str, Any]], None]:
    def change(event: dict[str, Any]) -> None:
        event["data"][key] = value(event["data"])
    return change


def _drop_first_usage(event: dict[str, Any]) -> None:
    del event["data"]["rows"][0]["InventoryUsage"]


for _field, _sentence in _ENVELOPE_SENTENCES.items():
    _register_envelope_case(f"missing-{_field}", f"The envelope without its {_field!r} property.", _sentence,
                            _drop(_field))

_register_envelope_case(
    "wrong-specversion", 'specversion "0.3" instead of "1.0".',
    'specversion: "1.0" (the document\'s format).',
    _set("specversion", "0.3"))
_register_envelope_case(
    "bad-time", 'time "27/07/2022 23:10": not RFC 3339.',
    'time: "2022-07-27T23:10:12.000Z" (CloudEvents 1.0: time MUST adhere to RFC 3339).',
    _set("time", "27/07/2022 23:10"))
_register_envelope_case(
    "data-not-an-object", "data is the array of rows instead of the Export Notification Object.",
    "data: object — Within the data property of the Webhook Request Object will be a valid Inventory Usage "
    "Export API Object.", lambda event: event.update(data=event["data"]["rows"]))
_register_envelope_case(
    "rows-not-a-list", "data.rows is the first row object instead of an array of rows.",
    'Inventory Usage Export Notification Object: "rows" : [ { "rowver", "InventoryUsage" } ]',
    _set_data("rows", lambda data: data["rows"][0]))
_register_envelope_case(
    "usage-row-missing-InventoryUsage", "The first row has its rowver but no InventoryUsage object.",
    'Inventory Usage Export Notification Object: each row is { "rowver", "InventoryUsage" }.',
    _drop_first_usage)


@MALFORMATIONS.register(
    "type-does-not-match-path", "type Activity posted to the InventoryUsage/ path.",
    unprocessable("POST <REST Endpoint URI>/InventoryUsage/ receives the Inventory Usage Export "
                  "Notification; type: The object type represented by the data field."))
def _type_does_not_match_path(ctx: SMCaseContext) -> Request:
    event = ctx.copy_event("type-does-not-match-path")
    event["type"] = "Activity"
    return event_request(event, ctx.signer.token(), path=ctx.usage_path())


@MALFORMATIONS.register("not-json", "The body is cut in the middle: not JSON.", NOT_JSON_400)
def _not_json(ctx: SMCaseContext) -> Request:
    whole = serialize(ctx.copy_event("not-json"))
    request = event_request({"type": "InventoryUsage"}, ctx.signer.token(), path=ctx.usage_path())
    return Request(whole[: len(whole) // 2], request.headers, request.path)


# Token attacks only a receiver that evaluates tokens can detect (NOTES.md §3: evaluation is optional;
# the platform has already authenticated the token). Value: what else the receiver must be configured
# with for the case to apply ("" = nothing more).
TOKEN_CASES: Final[dict[str, str]] = {}
_REQUIREMENT_MET: Final[Mapping[str, Callable[[SMCaseContext], bool]]] = {
    "": lambda ctx: True,
    "public-key": lambda ctx: ctx.public_key_pem is not None,
    "issuer": lambda ctx: ctx.signer.issuer is not None,
}


def applies(name: str, ctx: SMCaseContext, *, evaluates_tokens: bool) -> bool:
    """Whether case ``name`` applies to a receiver that does (or does not) evaluate tokens."""
    if name not in TOKEN_CASES:
        return True
    return evaluates_tokens and _REQUIREMENT_MET[TOKEN_CASES[name]](ctx)


def _register_token_case(name: str, description: str, token: Callable[[SMCaseContext], str | None],
                         requires: str = "") -> None:
    TOKEN_CASES[name] = requires

    @MALFORMATIONS.register(name, description, INVALID_LOGON)
    def build(ctx: SMCaseContext) -> Request:
        return event_request(ctx.copy_event(name), token(ctx), path=ctx.usage_path())


_TWO_HOURS: Final = timedelta(hours=2)  # well beyond any sensible leeway


def _wrong_key_token(ctx: SMCaseContext) -> str:
    signer = ctx.signer
    if signer.algorithm == "HS256":
        other: str | bytes = hashlib.sha256(b"not the shared secret/" + _as_bytes(signer.key)).hexdigest()
    else:
        other = throwaway_private_key_pem(signer.algorithm, "jwt-wrong-key")
    return signer.sign(signer.claims(), key=other)


def _with_claims(ctx: SMCaseContext, **claims: Any) -> str:
    return ctx.signer.sign({**ctx.signer.claims(), **claims})


def _key_confusion_token(ctx: SMCaseContext) -> str:
    if ctx.public_key_pem is None:
        raise ValueError("jwt-hs256-signed-with-rsa-public-key needs the receiver's public key (PEM)")
    return hs256_token(ctx.signer.claims(), ctx.public_key_pem)


_register_token_case("jwt-alg-none", 'A token with alg "none" and no signature.',
                     lambda ctx: unsigned_token(ctx.signer.claims()))
_register_token_case(
    "jwt-hs256-signed-with-rsa-public-key",
    "Key confusion: HS256 with the PEM of the receiver's public key as the HMAC secret.",
    _key_confusion_token, requires="public-key")
_register_token_case("jwt-expired", "A token whose exp passed 2 hours ago.",
                     lambda ctx: ctx.signer.token(age=ctx.signer.lifetime + _TWO_HOURS))
_register_token_case("jwt-future-iat", "A token issued (iat) 2 hours in the future.",
                     lambda ctx: ctx.signer.sign(ctx.signer.claims(issued_at=ctx.signer.now() + _TWO_HOURS)))
_register_token_case("jwt-future-nbf", "A token not valid before (nbf) 2 hours from now.",
                     lambda ctx: _with_claims(ctx, nbf=int((ctx.signer.now() + _TWO_HOURS).timestamp())))
_register_token_case("jwt-wrong-key", "A token with the right algorithm signed by another key.",
                     _wrong_key_token)
_register_token_case("jwt-wrong-audience", "A token for another audience (RFC 7519 §4.1.3).",
                     lambda ctx: _with_claims(ctx, aud="urn:example:another-receiver"))
_register_token_case("jwt-wrong-issuer", "A token from another issuer.",
                     lambda ctx: _with_claims(ctx, iss="urn:example:another-issuer"), requires="issuer")
_register_token_case("jwt-missing", "No x-access-token header at all.", lambda ctx: None)
_register_token_case("jwt-garbage", "x-access-token is not a JWT.", lambda ctx: "not-a-jwt")


def answer_problems(expect: Expectation, delivery: Delivery) -> list[str]:
    """What is wrong with an answer's body once its status is right: a 401 says "Invalid Logon" in
    JSON, a 4xx describes the problems in JSON (NOTES.md §3)."""
    if not expect.accepts(delivery.status) or delivery.status < 400:
        return []
    body = delivery.json()
    if body is None:
        return [f"{delivery.status} body is not JSON"]
    if delivery.status == 401 and "invalid logon" not in json.dumps(body).lower():
        return ['401 body does not say "Invalid Logon"']
    return []


# -------------------------------------------------------------------------------------------- scenario

@dataclass(frozen=True)
class Result:
    """One request of a scenario and what came back."""

    name: str
    items: int  # rows in the event's data
    status: int
    expected: Expectation
    elapsed: float  # seconds
    event_type: str = ""
    problems: tuple[str, ...] = ()  # SHOULD-level remarks on the body (see answer_problems)
    delivery: Delivery | None = field(default=None, repr=False, compare=False)

    @property
    def ok(self) -> bool:
        """The status is one the expectation accepts (body remarks do not change the verdict)."""
        return self.expected.accepts(self.status)

    def line(self) -> str:
        verdict = "OK" if self.ok else "UNEXPECTED"
        if self.problems:
            verdict += " (" + "; ".join(self.problems) + ")"
        return (f"{self.name:<38} {self.event_type or '-':<24} {self.status:>3}  expected "
                f"{self.expected.describe():<3} {self.expected.level:<6} {self.items:>3} rows "
                f"{self.elapsed * 1000:>8.1f} ms  {verdict}")


@dataclass(frozen=True)
class _Planned:
    name: str
    expect: Expectation
    build: Callable[[], Sequence[Request]]  # called right before sending: tokens are fresh


def _good(ctx: SMCaseContext, events: int, evaluates_tokens: bool) -> Iterator[_Planned]:
    for case in GOOD_CASES:
        yield _Planned(case.name, case.expect, functools.partial(case.build, ctx))
    factory = ctx.factory("events")
    for number in range(1, events + 1):
        yield _Planned(f"inventory-usage-{number}", OK_200,
                       lambda: (event_request(factory.inventory_usage(rows=factory.rng.randint(1, 6)),
                                              ctx.signer.token(), paths=ctx.paths),))


def _bad(ctx: SMCaseContext, events: int, evaluates_tokens: bool) -> Iterator[_Planned]:
    for case in MALFORMATIONS:
        if applies(case.name, ctx, evaluates_tokens=evaluates_tokens):
            yield _Planned(case.name, case.expect, functools.partial(_single, case, ctx))


def _single(case: Case[MalformationBuild], ctx: SMCaseContext) -> tuple[Request, ...]:
    return (case.build(ctx),)


_Plan = Callable[[SMCaseContext, int, bool], Iterator[_Planned]]
SCENARIOS: Final[Mapping[str, Sequence[_Plan]]] = {
    "conforming": (_good,),
    "malformed": (_bad,),
    "all": (_good, _bad),
}


def _shape(body: bytes) -> tuple[str, int]:
    """(type, number of rows) of a request body, as far as it can be read."""
    try:
        event = json.loads(body)
    except ValueError:
        return "-", 0
    if not isinstance(event, dict):
        return "-", 0
    data = event.get("data")
    rows = data.get("rows") if isinstance(data, dict) else data
    count = len(rows) if isinstance(rows, list) else int(isinstance(rows, dict))
    return str(event.get("type", "-")), count


def run_scenario(
    platform: ServiceMobilityPlatform,
    scenario: str = "all",
    *,
    events: int = 3,
    seed: int = 0,
    evaluates_tokens: bool | None = None,
    signer: TokenSigner | None = None,
    report: Callable[[Result], None] | None = None,
) -> list[Result]:
    """Send a scenario (``conforming``, ``malformed`` or ``all``) and return one Result per request.

    Token attacks run only when the receiver evaluates tokens (default: when the platform signs with a
    key the receiver knows, i.e. ``platform.signer`` is set); ``signer`` overrides the one the cases use.
    """
    if scenario not in SCENARIOS:
        raise ValueError(f"unknown scenario {scenario!r} (known: {', '.join(SCENARIOS)})")
    case_signer = signer or platform.signer or TokenSigner(secrets.token_hex(32))
    if evaluates_tokens is None:
        evaluates_tokens = platform.signer is not None
    ctx = SMCaseContext.for_signer(case_signer, seed=seed, paths=platform.paths)
    results: list[Result] = []
    for plan in SCENARIOS[scenario]:
        for planned in plan(ctx, events, evaluates_tokens):
            requests_ = planned.build()
            for number, request in enumerate(requests_, start=1):
                delivery = platform.send(request)
                event_type, items = _shape(request.body)
                name = planned.name if len(requests_) == 1 else f"{planned.name} [{number}/{len(requests_)}]"
                result = Result(name, items, delivery.status, planned.expect, delivery.elapsed, event_type,
                                tuple(answer_problems(planned.expect, delivery)), delivery)
                results.append(result)
                if report is not None:
                    report(result)
    return results


# ------------------------------------------------------------------------------------------- fixtures

FIXTURE_TIME: Final = datetime(2022, 7, 27, 23, 10, 12, tzinfo=UTC)  # the document's example time


def fixture_context() -> SMCaseContext:
    """The fixed context the fixture files were built with: the document's envelope, time and ids."""
    signer = TokenSigner.from_private_key_pem(throwaway_private_key_pem("RS256", "fixtures"),
                                              now=lambda: FIXTURE_TIME)
    return SMCaseContext.for_signer(signer, seed=0, event=fixtures.load(CHANNEL, "document-envelope"))


def fixture_requests() -> dict[str, tuple[Request, ...]]:
    """Case name → the requests it sends, built in :func:`fixture_context` (the fixture files hold the
    body of the first one; tokens are not stored, they expire)."""
    ctx = fixture_context()
    built: dict[str, tuple[Request, ...]] = {case.name: case.build(ctx) for case in GOOD_CASES}
    built.update((case.name, (case.build(ctx),)) for case in MALFORMATIONS)
    return built


def write_fixtures(folder: Path | None = None) -> None:
    """Rewrite the case files and cases.json from the registries (the document's examples are kept)."""
    folder = folder or fixtures.ROOT / CHANNEL
    cases_file = folder / "cases.json"
    described = json.loads(cases_file.read_text(encoding="utf-8")) if cases_file.exists() else {}
    kept = {name: entry for name, entry in described.items() if name.startswith("document-")}
    entries: dict[str, Any] = {}
    for name, requests_ in fixture_requests().items():
        case = GOOD_CASES[name] if name in GOOD_CASES.names() else MALFORMATIONS[name]
        body, path = requests_[0].body, requests_[0].path or ""
        if name != "document-envelope":
            try:
                text = json.dumps(json.loads(body), indent=4, ensure_ascii=False) + "\n"
                (folder / f"{name}.json").write_text(text, encoding="utf-8")
            except ValueError:
                (folder / f"{name}.txt").write_bytes(body)
        entry: dict[str, Any] = {"description": case.description, "status": case.expect.statuses[0],
                                 "spec": case.expect.spec, "level": case.expect.level, "path": path}
        entry.update((key, value) for key, value in kept.get(name, {}).items() if key not in entry)
        if name in TOKEN_CASES:
            entry["requires_token_evaluation"] = True
            if TOKEN_CASES[name]:
                entry["requires"] = TOKEN_CASES[name]
        if len(requests_) > 1:
            entry["sent"] = len(requests_)
        entries[name] = entry
    for name, entry in kept.items():
        entries.setdefault(name, entry)
    ordered = dict(sorted(entries.items(), key=lambda item: (not item[0].startswith("document-"), item[0])))
    cases_file.write_text(json.dumps(ordered, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


# ------------------------------------------------------------------------------------------------ CLI

def add_cli(subparsers: Any) -> None:
    """``inventory-simulator servicemobility``: send ServiceMobility webhooks to a receiver."""
    parser = subparsers.add_parser(
        CHANNEL,
        help="ServiceMobility webhooks (InventoryUsage/ and its sibling types)",
        description="Post ServiceMobility webhooks (CloudEvents envelope, JWT in x-access-token) to "
                    "<url>/InventoryUsage/ and the sibling paths. Token attacks run only when a key is "
                    "given: giving --secret or --private-key says the receiver evaluates tokens with it.",
    )
    parser.add_argument("--url", required=True, help="the receiver's REST Endpoint URI (base URL)")
    key = parser.add_mutually_exclusive_group()
    key.add_argument("--secret", help="HS256 shared secret the receiver verifies with")
    key.add_argument("--private-key", type=Path, metavar="PEM_FILE", help="RSA or P-256 private key (PEM)")
    parser.add_argument("--algorithm", choices=TokenSigner.ASYMMETRIC,
                        help="with --private-key (default: follows the key)")
    parser.add_argument("--audience", help="aud claim the receiver expects")
    parser.add_argument("--issuer", help="iss claim the receiver expects")
    tls = parser.add_mutually_exclusive_group()
    tls.add_argument("--ca-bundle", metavar="FILE", help="CA file to trust for the receiver's certificate")
    tls.add_argument("--insecure", action="store_true", help="do not verify the receiver's certificate")
    parser.add_argument("--scenario", choices=tuple(SCENARIOS), default="all")
    parser.add_argument("--events", type=int, default=3, metavar="N",
                        help="generated InventoryUsage events after the good cases (default 3)")
    parser.add_argument("--seed", type=int,
                        help="seed of the generated events (default: a fresh one, printed)")
    parser.set_defaults(run=_run_cli)


def _run_cli(args: argparse.Namespace) -> int:
    options = {"audience": args.audience, "issuer": args.issuer}
    signer: TokenSigner | None = None
    try:
        if args.secret is not None:
            signer = TokenSigner(args.secret, **options)
        elif args.private_key is not None:
            pem = args.private_key.read_bytes()
            signer = TokenSigner.from_private_key_pem(pem, args.algorithm, **options)
        elif args.algorithm:
            raise ValueError("--algorithm needs --private-key")
    except (OSError, ValueError, TypeError) as exc:
        print(f"servicemobility: {exc}", file=sys.stderr)
        return 2
    seed = args.seed if args.seed is not None else secrets.randbits(32)
    ca_bundle: str | bool = False if args.insecure else (args.ca_bundle or True)
    tokens = (f"{signer.describe()}, evaluated by the receiver" if signer
              else "HS256 with an unknown secret, receiver trusts the platform (token attacks skipped)")
    print(f"servicemobility → {args.url}  scenario={args.scenario} seed={seed} tokens: {tokens}")
    with ServiceMobilityPlatform(args.url, signer=signer, ca_bundle=ca_bundle) as platform:
        try:
            results = run_scenario(platform, args.scenario, events=args.events, seed=seed,
                                   evaluates_tokens=signer is not None,
                                   report=lambda result: print(result.line(), flush=True))
        except requests.RequestException as exc:
            print(f"servicemobility: cannot reach {args.url}: {exc}", file=sys.stderr)
            return 2
    unexpected = [result for result in results if not result.ok]
    print(f"{len(results)} requests, {len(unexpected)} unexpected")
    return 1 if unexpected else 0
