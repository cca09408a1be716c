"""Seeded, reproducible webhook events: an HVAC field-service catalogue (vans, warehouses, parts, users),
Inventory Usage objects for each ``RefModule``, plausible objects for the eight sibling types, each in the
Export Notification Object (``rowver`` + ``rows``) inside the document's envelope."""

from __future__ import annotations

import copy
import hashlib
import random
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Final

from .payload import TYPES, rfc3339
from .tokens import Clock, utcnow


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

    def __init__(self, seed: int = 0, source: str | None = None, *, now: Clock | None = None) -> None:
        self.rng = random.Random(seed)
        self.source = source or _uuid4(self.rng)
        self.now: Clock = now or utcnow

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

    def inventory_usage_updates(self, updates: int = 2) -> dict[str, Any]:
        """An Inventory Usage Export Notification whose rows update one usage object ``updates`` times, in
        order, with another object's row among them: A, B, A', A'', … (rows in ``rowver`` order)."""
        now = self.now()
        window = timedelta(minutes=15)  # the webhook schedule
        count = updates + 2
        moments = [(now - window + window * (index + 0.5) / count).replace(microsecond=0) for index in range(count)]
        first = _inventory_usage(self.rng, moments[0])
        while _revision(self.rng, first, moments[0]) is None:  # serialized units only: cannot be used again
            first = _inventory_usage(self.rng, moments[0])
        usages = [first, _inventory_usage(self.rng, moments[1])]
        latest = first
        for moment in moments[2:]:
            latest = _revision(self.rng, latest, moment) or latest
            usages.append(latest)
        rowver = self.rng.randrange(0x100000, 0x10000000)
        rows = []
        for usage in usages:
            rowver += self.rng.randint(1, 400)
            rows.append({"rowver": f"0x{rowver:016X}", "InventoryUsage": usage})
        return self.envelope("InventoryUsage", {"rowver": rows[-1]["rowver"], "rows": rows})

    def event(self, event_type: str, rows: int = 1) -> dict[str, Any]:
        """An event of any of the nine types."""
        if event_type == "InventoryUsage":
            return self.inventory_usage(rows)
        if event_type not in DATA_BUILDERS:
            raise ValueError(f"unknown ServiceMobility type {event_type!r} (valid: {', '.join(TYPES)})")
        data = _rows(self.rng, event_type, rows, self.now(), DATA_BUILDERS[event_type])
        return self.envelope(event_type, data)

