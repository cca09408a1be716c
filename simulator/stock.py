"""The stock push (``stock-push.rst``): an aviation parts marketplace POSTs, to an endpoint the customer
runs, the stock entries that changed since the last transmission, as one columnar JSON object
``{"data": {column: [values...]}}`` with the customer's credentials in header fields.

This module builds realistic pushes (a first push, then deltas of ADD/UPD/DEL), breaks them on purpose
(``MALFORMATIONS``), varies them in ways a receiver must still accept (``GOOD_CASES``), sends them
(``StockPlatform``) and runs whole scenarios from the command line (``inventory-simulator stock``).
"""

from __future__ import annotations

import argparse
import json
import random
import re
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import requests
from tqdm import tqdm

import fixtures
from simulator.core import Expectation, Registry, Request
from simulator.http import Delivery, Sender, parse_header_lines

CHANNEL = "stock"

# The "Data definition" table of stock-push.rst, in the document's order.
COLUMNS: tuple[str, ...] = (
    "connectorStockId",
    "materialId",
    "pn",
    "description",
    "condition",
    "priceUsd",
    "sn",
    "mfr",
    "mroApprovalNo",
    "mroName",
    "leadTime",
    "tagDate",
    "lastOperator",
    "lastMsn",
    "incidentRelated",
    "quantity",
    "unit",
    "dateOfManufacture",
    "timeRemaining",
    "cyclesRemaining",
    "shelfLife",
    "location",
    "company",
    "timeStampEntry",
    "dbAction",
)
DB_ACTIONS = ("ADD", "UPD", "DEL")
DEFAULT_MAX_BODY_BYTES = 64 * 1024 * 1024
TIMESTAMP_FORMAT = "%Y-%m-%d %H:%M:%S"
JSON_HEADERS = {"Content-Type": "application/json"}


# --------------------------------------------------------------------------------------------------
# The push
# --------------------------------------------------------------------------------------------------


@dataclass
class StockPush:
    """One transmission: rows keyed by the document's field names, sent as columns."""

    rows: list[dict[str, Any]]

    def columns(self) -> dict[str, list[Any]]:
        """Columnar form: row i is the i-th element of every array."""
        rows = self.rows
        return {column: [row[column] for row in rows] for column in COLUMNS}

    def body(self) -> dict[str, Any]:
        return {"data": self.columns()}

    def to_bytes(self) -> bytes:
        """The body as the platform sends it: compact JSON, UTF-8, non-ASCII kept as is."""
        return _dump(self.body())

    def to_request(self, credentials: Mapping[str, str]) -> Request:
        """The POST the platform makes: JSON body plus the customer's credential header fields."""
        return Request(self.to_bytes(), {**JSON_HEADERS, **credentials})

    def ids(self) -> list[str]:
        return [row["connectorStockId"] for row in self.rows]

    def __len__(self) -> int:
        return len(self.rows)


def _dump(document: Any) -> bytes:
    return json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def example_request(credentials: Mapping[str, str]) -> Request:
    """The document's "Example for result body" sent verbatim (tabs and U+2011 hyphens included)."""
    return Request(fixtures.raw(CHANNEL, "document-example"), {**JSON_HEADERS, **credentials})


# --------------------------------------------------------------------------------------------------
# What the marketplace's stock looks like
# --------------------------------------------------------------------------------------------------

# (description, part-number pattern: '#' digit, '@' letter; low/high price in USD; unit;
#  serialized; has a shelf life). Patterns follow common OEM and standard-part numbering.
PART_FAMILIES: tuple[tuple[str, str, float, float, str, bool, bool], ...] = (
    ("Fuel pump", "2###-####-##", 4_000, 25_000, "EA", True, False),
    ("Hydraulic pump, engine driven", "######-#", 15_000, 90_000, "EA", True, False),
    ("Starter generator", "23#####-#", 20_000, 120_000, "EA", True, False),
    ("Wheel assy, main gear", "C2#####-#", 6_000, 30_000, "EA", True, False),
    ("Brake assy, main gear", "2-####-#", 25_000, 110_000, "EA", True, False),
    ("Fuel quantity probe", "D#####-###", 1_500, 9_000, "EA", True, False),
    ("Air cycle machine", "######-#", 40_000, 250_000, "EA", True, False),
    ("Pressure regulating valve", "39####-#", 5_000, 35_000, "EA", True, False),
    ("Bleed air shutoff valve", "33####-##", 6_000, 40_000, "EA", True, False),
    ("Actuator, trailing edge flap", "###@####-##", 12_000, 80_000, "EA", True, False),
    ("Landing light", "####-##-@", 600, 4_500, "EA", True, False),
    ("Passenger oxygen mask", "MC##-####-###", 80, 600, "EA", False, True),
    ("Fire extinguisher bottle", "30#####-#", 3_000, 15_000, "EA", True, True),
    ("Smoke detector", "@###-##", 900, 6_000, "EA", True, False),
    ("Air data inertial reference unit", "HG####@@##", 60_000, 300_000, "EA", True, False),
    ("VHF transceiver", "822-####-###", 8_000, 45_000, "EA", True, False),
    ("Weather radar transceiver", "622-####-###", 30_000, 150_000, "EA", True, False),
    ("Cabin pressure controller", "######-#", 10_000, 60_000, "EA", True, False),
    ("Igniter plug", "#######-#", 300, 1_800, "EA", True, False),
    ("Battery, nickel-cadmium", "######-#", 4_000, 18_000, "EA", True, False),
    ("Emergency locator transmitter", "###-####-###", 2_500, 12_000, "EA", True, False),
    ("Life vest, passenger", "P#####-###", 60, 250, "EA", False, True),
    ("Escape slide", "D#####-###", 20_000, 90_000, "EA", True, True),
    ("Pitot probe", "####@@#", 2_000, 11_000, "EA", True, False),
    ("Angle of attack sensor", "C#####@@", 8_000, 40_000, "EA", True, False),
    ("Seat belt, passenger", "######-##", 90, 400, "EA", False, False),
    ("Cockpit window", "NP#####-#", 12_000, 60_000, "EA", True, False),
    ("O-ring", "NAS1611-###", 1, 25, "EA", False, True),
    ("Packing, preformed", "MS29513-###", 1, 30, "EA", False, True),
    ("Bolt", "NAS6604-##", 5, 60, "EA", False, False),
    ("Filter element, hydraulic", "AC####F####", 150, 1_200, "EA", False, False),
    ("Wire, electrical", "M22759/16-##-#", 0.4, 6, "FT", False, False),
    ("Cable, control", "@@####-##-####", 2, 20, "FT", False, False),
    ("Hose, bulk", "####-##", 5, 60, "M", False, True),
    ("Tube, aluminium alloy", "T6061-#-###", 8, 45, "M", False, False),
)
LENGTH_UNITS = frozenset({"FT", "M"})

# ATA Spec 2000 condition codes, weighted the way a surplus marketplace lists them; the rare last
# ones are real codes a receiver's table may lack.
CONDITIONS = ("NE", "NS", "FN", "OH", "SV", "AR", "RP", "IN", "US", "MD")
CONDITION_WEIGHTS = (22, 12, 4, 25, 18, 11, 4, 2, 1, 1)
CONDITION_PRICE = {"NE": 1.0, "NS": 0.95, "FN": 0.9, "OH": 0.75, "SV": 0.6, "AR": 0.3, "RP": 0.55,
                   "IN": 0.5, "US": 0.25, "MD": 0.7}
NEW_CONDITIONS = frozenset({"NE", "NS", "FN"})
CERTIFIED_CONDITIONS = frozenset({"OH", "SV", "RP", "IN", "MD"})  # released by an MRO

IATA_LOCATIONS = (
    "FRA", "HAM", "MUC", "DUS", "CGN", "STR", "BER", "LHR", "LGW", "MAN", "CDG", "ORY", "TLS", "AMS",
    "BRU", "ZRH", "VIE", "CPH", "ARN", "OSL", "HEL", "MAD", "BCN", "LIS", "FCO", "MXP", "IST", "SAW",
    "ATH", "DXB", "DOH", "AUH", "SIN", "HKG", "BKK", "KUL", "NRT", "ICN", "SYD", "ATL", "DFW", "ORD",
    "LAX", "MIA", "JFK", "SEA", "YYZ", "GRU", "MEX", "JNB",
)
AIRLINES = (
    "Lufthansa", "Condor", "Eurowings", "Air France", "KLM", "British Airways", "Turkish Airlines",
    "Pegasus Airlines", "SunExpress", "Emirates", "Qatar Airways", "Singapore Airlines",
    "Cathay Pacific", "Delta Air Lines", "United Airlines", "American Airlines", "easyJet",
    "Ryanair", "Iberia", "Finnair", "SAS Scandinavian Airlines", "TUIfly", "LATAM Airlines",
)
# (MRO name, Part-145 / repair-station approval number); fictitious companies, real number formats.
MROS = (
    ("NORDWIND AERO SERVICES GMBH", "DE.145.0517"),
    ("Rheinland Aircraft Components GmbH", "DE.145.0382"),
    ("Skyline Component Repair Ltd", "UK.145.01263"),
    ("Atelier Aéronautique du Sud", "FR.145.0941"),
    ("Bosporus Aero Teknik A.Ş.", "TR.145.0127"),
    ("Gulf Aviation Engineering LLC", "AE.145.0088"),
    ("Pacific Rotables Pte Ltd", "SG.145.0214"),
    ("Aerotech Repair Station Inc.", "A7TR512K"),
    ("Peachtree Avionics Overhaul", "P3HR018L"),
    ("OPREMIC SOLUTIONS", "DE.145.0731"),
)
COMPANIES = (
    "AeroParts Trading GmbH", "Skyward Spares Ltd", "Hanse Aviation Supply", "Lufthansa Technik AG",
    "Airframe Surplus Inc.", "Rotable Exchange B.V.", "Istanbul Aero Parts", "Desert Wings Trading FZE",
    "Lion City Aero Supply", "OPREMIC SOLUTIONS", "Atlantic Aero Components",
)
LEAD_TIMES = (0, 1, 2, 3, 5, 7, 10, 14, 21, 30, 45)
LEAD_TIME_WEIGHTS = (8, 20, 15, 12, 12, 10, 6, 7, 4, 4, 2)

_LETTERS = "ABCDEFGHJKLMNPRSTUVWXYZ"  # no I, O: they read as digits on a tag
_ALNUM = "0123456789" + _LETTERS
_NOT_ALNUM = re.compile(r"[^0-9A-Za-z]")
# The RFC 4122 variant: the 17th hex digit keeps its two low bits and becomes 8, 9, a or b.
_UUID_VARIANT = {c: "89ab"[int(c, 16) & 3] for c in "0123456789abcdef"}


def _uuid4s(rng: random.Random, count: int) -> list[str]:
    """``count`` version-4 UUID strings from a seeded RNG (uuid.uuid4 reads the OS entropy pool)."""
    digits = rng.randbytes(16 * count).hex()
    variant = _UUID_VARIANT
    return [
        f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{variant[h[16]]}{h[17:20]}-{h[20:]}"
        for h in (digits[i : i + 32] for i in range(0, 32 * count, 32))
    ]


def _fill(pattern: str, rng: random.Random) -> str:
    return "".join(
        rng.choice("0123456789") if c == "#" else rng.choice(_LETTERS) if c == "@" else c for c in pattern
    )


def material_id(pn: str) -> str:
    """The platform's material ID: the part number stripped of any special characters."""
    return _NOT_ALNUM.sub("", pn)


@dataclass(frozen=True, slots=True)
class _Part:
    pn: str
    material_id: str
    description: str
    mfr: str
    price: float
    unit: str
    serialized: bool
    shelf_life: bool
    sn_prefix: str


def _catalog(rng: random.Random, per_family: int = 8) -> list[_Part]:
    cage_codes = [rng.choice("0123456789") + _fill("@@#", rng) + rng.choice(_ALNUM) for _ in range(24)]
    parts = []
    for description, pattern, low, high, unit, serialized, shelf_life in PART_FAMILIES:
        makers = rng.sample(cage_codes, 2)
        for _ in range(per_family):
            pn = _fill(pattern, rng)
            price = round(rng.uniform(low, high), 2 if high < 100 else 0)
            parts.append(_Part(pn, material_id(pn), description, rng.choice(makers), price, unit,
                               serialized, shelf_life, _fill("@@", rng)))
    return parts


# --------------------------------------------------------------------------------------------------
# Changes an UPD makes, by field (also used for late, stale copies). Each one changes its field.
# --------------------------------------------------------------------------------------------------


def _other(rng: random.Random, choices: tuple[Any, ...], current: Any) -> Any:
    value = current
    while value == current:
        value = rng.choice(choices)
    return value


def _change_price(row: dict[str, Any], rng: random.Random) -> None:
    old = row["priceUsd"] or 100.0
    new = round(old * rng.uniform(0.8, 1.2), 2)
    row["priceUsd"] = new if new != old else round(old + 1, 2)


def _change_quantity(row: dict[str, Any], rng: random.Random) -> None:
    old = row["quantity"] or 1
    if str(row["unit"]).upper() in LENGTH_UNITS:
        new = round(rng.uniform(0.5, 300.0), 1)
        row["quantity"] = new if new != old else round(old + 0.5, 1)
    else:
        row["quantity"] = old + 1 if old <= 1 or rng.random() < 0.5 else old - 1


def _change_location(row: dict[str, Any], rng: random.Random) -> None:
    row["location"] = _other(rng, IATA_LOCATIONS, row["location"])


def _change_lead_time(row: dict[str, Any], rng: random.Random) -> None:
    row["leadTime"] = _other(rng, LEAD_TIMES, row["leadTime"])


def _change_condition(row: dict[str, Any], rng: random.Random) -> None:
    """A part back from the shop: a new condition, and the MRO that released it (consumables only
    move between new and new surplus)."""
    if row["sn"] is None:
        row["condition"] = "NE" if row["condition"] == "NS" else "NS"
        return
    row["condition"] = _other(rng, ("OH", "SV", "RP", "IN", "AR"), row["condition"])
    if row["condition"] in CERTIFIED_CONDITIONS:
        row["mroName"], row["mroApprovalNo"] = rng.choice(MROS)


UPDATES: dict[str, Callable[[dict[str, Any], random.Random], None]] = {
    "priceUsd": _change_price,
    "quantity": _change_quantity,
    "location": _change_location,
    "leadTime": _change_lead_time,
    "condition": _change_condition,
}
_UPDATE_NAMES = tuple(UPDATES)
_SERIALIZED_UPDATE_NAMES = tuple(name for name in UPDATES if name != "quantity")  # one piece per sn


def _change_some(row: dict[str, Any], rng: random.Random) -> None:
    names = _SERIALIZED_UPDATE_NAMES if row["sn"] is not None else _UPDATE_NAMES
    for name in rng.sample(names, rng.randint(1, 3)):
        UPDATES[name](row, rng)


# --------------------------------------------------------------------------------------------------
# The generator
# --------------------------------------------------------------------------------------------------


class StockGenerator:
    """Behaves like the marketplace's change feed: a first push, then deltas against what it sent.

    Same seed, same calls → byte-identical pushes. ``state()`` is what a correct receiver holds.
    The push clock advances at least one second per push, so a later push is strictly newer.
    """

    def __init__(self, seed: int = 0, start: datetime = datetime(2026, 1, 1, 8, 0, 0)) -> None:
        self.seed = seed
        self._rng = random.Random(seed)
        self._clock = start
        self._catalog = _catalog(self._rng)
        self._present: dict[str, dict[str, Any]] = {}
        today = start.date()
        self._days_before = [(today - timedelta(days=k)).isoformat() for k in range(10_000)]
        self._days_after = [(today + timedelta(days=k)).isoformat() for k in range(3_000)]

    # -- public ---------------------------------------------------------------------------------

    def first_push(self, rows: int) -> StockPush:
        """``rows`` new stock entries, all ADD."""
        push = self.sample_push(rows)
        self._record(push)
        return push

    def delta(self, rows: int, *, updates: float = 0.6, deletes: float = 0.2) -> StockPush:
        """What changed since the last push: UPD/DEL of entries still present, the rest ADD."""
        _check_rows(rows)
        if updates < 0 or deletes < 0 or updates + deletes > 1:
            raise ValueError(f"updates ({updates}) and deletes ({deletes}) are shares of the rows: 0 to 1 together")
        rng = self._rng
        n_upd = min(round(rows * updates), len(self._present))
        n_del = min(round(rows * deletes), len(self._present) - n_upd)
        chosen = rng.sample(list(self._present), n_upd + n_del)
        actions = ["UPD"] * n_upd + ["DEL"] * n_del + ["ADD"] * (rows - n_upd - n_del)
        rng.shuffle(actions)
        stamps = self._tick(rows)
        added = iter(self._new_rows([s for a, s in zip(actions, stamps, strict=True) if a == "ADD"]))
        existing = iter(chosen)
        out: list[dict[str, Any]] = []
        for action, stamp in zip(actions, stamps, strict=True):
            if action == "ADD":
                out.append(next(added))
                continue
            row = dict(self._present[next(existing)])
            if action == "UPD":
                _change_some(row, rng)
            row["timeStampEntry"] = stamp
            row["dbAction"] = action
            out.append(row)
        push = StockPush(out)
        self._record(push)
        return push

    def sample_push(self, rows: int) -> StockPush:
        """A conforming ADD push of new entries that ``state()`` does NOT record: material for cases
        (a malformation's push is rejected, a good case's push is checked on its own)."""
        _check_rows(rows)
        return StockPush(self._new_rows(self._tick(rows)))

    def state(self) -> dict[str, dict[str, Any]]:
        """What a correct receiver holds now: id → the last row sent, for ids not deleted."""
        return {stock_id: dict(row) for stock_id, row in self._present.items()}

    def stale_copy(self, push: StockPush) -> StockPush:
        """The same ids as UPD with other values and an OLDER ``timeStampEntry``: a late change that
        must not win (for ids the push deleted, it must not bring them back either)."""
        rng = self._rng
        older: dict[str, str] = {}
        rows = []
        for original in push.rows:
            row = dict(original)
            _change_some(row, rng)
            stamp = row["timeStampEntry"]
            if stamp not in older:
                when = datetime.strptime(stamp, TIMESTAMP_FORMAT) - timedelta(hours=1)
                older[stamp] = when.strftime(TIMESTAMP_FORMAT)
            row["timeStampEntry"] = older[stamp]
            row["dbAction"] = "UPD"
            rows.append(row)
        return StockPush(rows)

    # -- internals ------------------------------------------------------------------------------

    def _record(self, push: StockPush) -> None:
        for row in push.rows:
            if row["dbAction"] == "DEL":
                self._present.pop(row["connectorStockId"], None)
            else:
                self._present[row["connectorStockId"]] = row

    def _tick(self, rows: int) -> list[str]:
        """Advance the clock by one push interval; the rows' change times, ascending, within it."""
        rng = self._rng
        previous = self._clock
        span = rng.randint(60, 900)
        self._clock = previous + timedelta(seconds=span)
        labels = [(previous + timedelta(seconds=s)).strftime(TIMESTAMP_FORMAT) for s in range(1, span + 1)]
        return [labels[o] for o in sorted(rng.choices(range(span), k=rows))]

    def _new_rows(self, stamps: list[str]) -> list[dict[str, Any]]:
        """New ADD entries, one per change time, with realistic, mutually consistent values."""
        rows = len(stamps)
        rng = self._rng
        rand = rng.random  # int(a + rand() * n) instead of randrange: 20 times faster, as reproducible
        before, after = self._days_before, self._days_after
        parts = rng.choices(self._catalog, k=rows)
        conditions = rng.choices(CONDITIONS, CONDITION_WEIGHTS, k=rows)
        lead_times = rng.choices(LEAD_TIMES, LEAD_TIME_WEIGHTS, k=rows)
        locations = rng.choices(IATA_LOCATIONS, k=rows)
        companies = rng.choices(COMPANIES, k=rows)
        out = []
        for part, condition, lead_time, location, company, stamp, stock_id in zip(
            parts, conditions, lead_times, locations, companies, stamps, _uuid4s(rng, rows), strict=True
        ):
            if not part.serialized and condition not in NEW_CONDITIONS:
                condition = "NS"  # consumables are sold new, never overhauled
            used = condition not in NEW_CONDITIONS
            made = int(60 + rand() * 8_940) if used else int(30 + rand() * 1_470)  # days before start
            mro: tuple[str | None, str | None] = (
                MROS[int(rand() * len(MROS))] if condition in CERTIFIED_CONDITIONS else (None, None)
            )
            if part.unit in LENGTH_UNITS:
                quantity: float | int = round(0.5 + rand() * 499.5, 1)
            elif part.serialized:
                quantity = 1
            else:
                quantity = int(1 + rand() * 499)
            life_limited = part.serialized and rand() < 0.5
            out.append({
                "connectorStockId": stock_id,
                "materialId": part.material_id,
                "pn": part.pn,
                "description": part.description,
                "condition": condition,
                "priceUsd": round(part.price * CONDITION_PRICE[condition] * (0.9 + 0.2 * rand()), 2),
                "sn": f"{part.sn_prefix}{int(10_000 + rand() * 990_000)}" if part.serialized else None,
                "mfr": part.mfr,
                "mroApprovalNo": mro[1],
                "mroName": mro[0],
                "leadTime": lead_time,
                "tagDate": None if condition == "AR" else before[int(rand() * made)],
                "lastOperator": AIRLINES[int(rand() * len(AIRLINES))] if used else None,
                "lastMsn": str(int(100 + rand() * 11_900)) if used else None,
                "incidentRelated": used and rand() < 0.01,
                "quantity": quantity,
                "unit": part.unit,
                "dateOfManufacture": before[made],
                "timeRemaining": int(30 + rand() * 7_270) if life_limited else None,
                "cyclesRemaining": int(100 + rand() * 29_900) if life_limited else None,
                "shelfLife": after[int(30 + rand() * 1_770)] if part.shelf_life else None,
                "location": location,
                "company": company,
                "timeStampEntry": stamp,
                "dbAction": "ADD",
            })
        return out


def _check_rows(rows: int) -> None:
    if not 1 <= rows <= 100_000:
        raise ValueError(f"a stock push carries 1 to 100,000 rows, not {rows}")


# --------------------------------------------------------------------------------------------------
# Cases: what a receiver must reject, and what it must still accept
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class StockCaseContext:
    """What a case is built from: a fresh conforming push, the credentials, the receiver's body limit."""

    push: StockPush
    credentials: Mapping[str, str] = field(default_factory=dict)
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES


StockCase = Callable[[StockCaseContext], Request]
MALFORMATIONS: Registry[StockCase] = Registry(CHANNEL)
GOOD_CASES: Registry[StockCase] = Registry(CHANNEL)

SPEC_JSON = 'stock-push.rst: "The data is provided as a JSON string."'
SPEC_STRUCTURE = (
    'NOTES.md §1: "A structural error (not an object, `data` missing, arrays of unequal length, a wrong '
    'type, a missing key column, an unknown `dbAction`) rejects the whole push: nothing of it is applied."'
)
SPEC_CREDENTIALS = (
    'stock-push.rst: "The endpoint should be secured with credentials. These credentials are provided '
    'as header fields."'
)
SPEC_KEY = (
    'stock-push.rst: "connectorStockId | character(36) | Internal platform stock ID"; NOTES.md §1: '
    '"`connectorStockId` is the stock key"'
)
SPEC_DATES = 'NOTES.md §1: "Dates are `YYYY-MM-DD`; `timeStampEntry` is `YYYY-MM-DD HH:MM:SS`"'
SPEC_ACCEPT = (
    'stock-push.rst: "The endpoint should accept data in format and scope as defined in the following."'
)
SPEC_WARN = (
    'NOTES.md §1: "Unknown `condition` / `unit` values and a non-IATA `location` are kept and reported '
    'as warnings, not rejected"'
)


def _structural(status: int = 422) -> Expectation:
    return Expectation((status,), SPEC_STRUCTURE, "SHOULD")


ACCEPTED = Expectation((200,), SPEC_ACCEPT, "SHOULD")

# Cases whose break is in the headers or the size, not in the body's content.
NEEDS_CREDENTIALS = frozenset({"missing-credentials", "wrong-credentials", "one-credential-missing"})
NOT_IN_BODY = NEEDS_CREDENTIALS | {"wrong-content-type", "oversize-body"}


def _send_body(ctx: StockCaseContext, body: bytes, content_type: str = "application/json") -> Request:
    return Request(body, {"Content-Type": content_type, **ctx.credentials})


def _send_document(ctx: StockCaseContext, document: Any) -> Request:
    return _send_body(ctx, _dump(document))


def _with_columns(change: Callable[[dict[str, list[Any]]], object]) -> StockCase:
    """A case that changes the columns of the context's push and sends them as ``{"data": ...}``."""

    def build(ctx: StockCaseContext) -> Request:
        columns = ctx.push.columns()
        change(columns)
        return _send_document(ctx, {"data": columns})

    return build


def _with_rows(change: Callable[[list[dict[str, Any]]], list[dict[str, Any]] | None]) -> StockCase:
    """A case that changes copies of the context's rows (returning new rows, or None when in place)."""

    def build(ctx: StockCaseContext) -> Request:
        rows = [dict(row) for row in ctx.push.rows]
        rows = change(rows) or rows
        return _send_body(ctx, StockPush(rows).to_bytes())

    return build


def _set_first(column: str, value: Any) -> Callable[[dict[str, list[Any]]], None]:
    def change(columns: dict[str, list[Any]]) -> None:
        columns[column][0] = value

    return change


def _rename_column(columns: dict[str, list[Any]], old: str, new: str) -> dict[str, list[Any]]:
    return {new if name == old else name: values for name, values in columns.items()}


def _credentials_of(ctx: StockCaseContext) -> Mapping[str, str]:
    if not ctx.credentials:
        raise ValueError("this case needs the receiver's credential headers (none were given)")
    return ctx.credentials


def _altered(value: str) -> str:
    """Another value of the same length: every character replaced."""
    return "".join("B" if c == "A" else "A" for c in value) or "x"


# -- malformations ---------------------------------------------------------------------------------

MALFORMATIONS.register(
    "not-json", "the JSON body cut short by one byte (the closing brace is missing)",
    Expectation((400,), SPEC_JSON, "SHOULD"),
)(lambda ctx: _send_body(ctx, ctx.push.to_bytes()[:-1]))

MALFORMATIONS.register(
    "empty-body", "an empty body", Expectation((400,), SPEC_JSON, "SHOULD"),
)(lambda ctx: _send_body(ctx, b""))

MALFORMATIONS.register(
    "wrong-content-type", "a conforming JSON body declared as text/plain",
    Expectation((415,), SPEC_JSON + "; RFC 9110 §15.5.16: 415 for a media type the endpoint does not "
                "accept", "SHOULD"),
)(lambda ctx: _send_body(ctx, ctx.push.to_bytes(), "text/plain"))

MALFORMATIONS.register(
    "body-not-object", "the push object wrapped in a JSON array", _structural(),
)(lambda ctx: _send_document(ctx, [ctx.push.body()]))

MALFORMATIONS.register(
    "data-missing", "the columns under the key \"stock\" instead of \"data\"", _structural(),
)(lambda ctx: _send_document(ctx, {"stock": ctx.push.columns()}))

MALFORMATIONS.register(
    "data-not-object", "\"data\" is a list of row objects instead of an object of columns", _structural(),
)(lambda ctx: _send_document(ctx, {"data": ctx.push.rows}))

MALFORMATIONS.register(
    "column-not-array", "the description column is a single string instead of an array", _structural(),
)(_with_columns(lambda columns: columns.__setitem__("description", columns["description"][0])))

MALFORMATIONS.register(
    "length-mismatch", "the priceUsd array is one element shorter than the others", _structural(),
)(_with_columns(lambda columns: columns["priceUsd"].pop()))

MALFORMATIONS.register(
    "no-connectorStockId", "the key column connectorStockId is absent", _structural(),
)(_with_columns(lambda columns: columns.pop("connectorStockId")))

MALFORMATIONS.register(
    "null-connectorStockId", "the first row's connectorStockId is null",
    Expectation((422,), SPEC_KEY, "SHOULD"),
)(_with_columns(_set_first("connectorStockId", None)))


@MALFORMATIONS.register(
    "bad-uuid", "the first row's connectorStockId is a truncated UUID (23 characters, not 36)",
    Expectation((422,), SPEC_KEY, "SHOULD"),
)
def _bad_uuid(ctx: StockCaseContext) -> Request:
    return _with_columns(_set_first("connectorStockId", ctx.push.rows[0]["connectorStockId"][:23]))(ctx)


MALFORMATIONS.register(
    "bad-date", "the first row's tagDate is 2018-13-45 (month 13, day 45)",
    Expectation((422,), 'stock-push.rst: "tagDate | date | Tag date"; ' + SPEC_DATES, "SHOULD"),
)(_with_columns(_set_first("tagDate", "2018-13-45")))


@MALFORMATIONS.register(
    "bad-timestamp", "the first row's timeStampEntry has the hour 25 and the minute 61",
    Expectation((422,), 'stock-push.rst: "timeStampEntry | dateTime | Time of database entry"; '
                + SPEC_DATES, "SHOULD"),
)
def _bad_timestamp(ctx: StockCaseContext) -> Request:
    day = ctx.push.rows[0]["timeStampEntry"][:10]
    return _with_columns(_set_first("timeStampEntry", f"{day} 25:61:00"))(ctx)


MALFORMATIONS.register(
    "unknown-dbAction", "the first row's dbAction is REMOVE (allowed: ADD, DEL, UPD)",
    Expectation((422,), 'stock-push.rst: "dbAction | character | Action why this entry is considered as '
                'updated. For a specification of allowed values see below." (ADD, DEL, UPD); '
                + SPEC_STRUCTURE, "SHOULD"),
)(_with_columns(_set_first("dbAction", "REMOVE")))

# One wrong type per typed column: (column, its type in the document, what is sent instead, how).
WRONG_TYPES: tuple[tuple[str, str, str, Callable[[Any], Any]], ...] = (
    ("leadTime", "integer", "its digits as a string", lambda v: str(v if v is not None else 3)),
    ("quantity", "integer", "its digits as a string", lambda v: str(v)),
    ("priceUsd", "numeric", "a string like \"1234.50\"", lambda v: f"{v or 0:.2f}"),
    ("incidentRelated", "boolean", "the string \"true\" or \"false\"", lambda v: "true" if v else "false"),
    ("timeRemaining", "integer", "its digits as a string", lambda v: str(v if v is not None else 100)),
    ("cyclesRemaining", "integer", "its digits as a string", lambda v: str(v if v is not None else 2000)),
    ("sn", "character", "the number 123456", lambda v: 123456),
    ("tagDate", "date", "the number 20180101", lambda v: 20180101),
)


def _wrong_type(column: str, mistype: Callable[[Any], Any]) -> StockCase:
    return lambda ctx: _with_columns(_set_first(column, mistype(ctx.push.rows[0][column])))(ctx)


for _column, _type, _instead, _mistype in WRONG_TYPES:
    MALFORMATIONS.register(
        f"wrong-type-{_column}", f"the first row's {_column} (a {_type}) is {_instead}",
        Expectation((422,), f'stock-push.rst: "{_column} | {_type}"; ' + SPEC_STRUCTURE, "SHOULD"),
    )(_wrong_type(_column, _mistype))


@MALFORMATIONS.register(
    "oversize-body", "a conforming push padded with more rows until the body exceeds the receiver's limit",
    Expectation((413,), "RFC 9110 §15.5.14: 413 Content Too Large for a body over the receiver's "
                "configured limit (the document sets none)", "SHOULD"),
)
def _oversize_body(ctx: StockCaseContext) -> Request:
    base = ctx.push.rows
    body = ctx.push.to_bytes()
    rng = random.Random(base[0]["connectorStockId"])
    rows = list(base)
    while len(body) <= ctx.max_body_bytes:
        per_row = max(1, len(body) // len(rows))
        target = len(rows) + (ctx.max_body_bytes - len(body)) // per_row + 1
        rows.extend(
            {**base[i % len(base)], "connectorStockId": stock_id}
            for i, stock_id in enumerate(_uuid4s(rng, target - len(rows)), start=len(rows))
        )
        body = StockPush(rows).to_bytes()
    return _send_body(ctx, body)


@MALFORMATIONS.register(
    "missing-credentials", "a conforming push without any credential header",
    Expectation((401,), SPEC_CREDENTIALS, "SHOULD"),
)
def _missing_credentials(ctx: StockCaseContext) -> Request:
    _credentials_of(ctx)
    return Request(ctx.push.to_bytes(), dict(JSON_HEADERS))


@MALFORMATIONS.register(
    "wrong-credentials", "a conforming push with every credential value altered (same length)",
    Expectation((401,), SPEC_CREDENTIALS, "SHOULD"),
)
def _wrong_credentials(ctx: StockCaseContext) -> Request:
    altered = {name: _altered(value) for name, value in _credentials_of(ctx).items()}
    return Request(ctx.push.to_bytes(), {**JSON_HEADERS, **altered})


@MALFORMATIONS.register(
    "one-credential-missing", "a conforming push lacking the last credential header (all of them when "
    "there is only one)", Expectation((401,), SPEC_CREDENTIALS, "SHOULD"),
)
def _one_credential_missing(ctx: StockCaseContext) -> Request:
    kept = dict(list(_credentials_of(ctx).items())[:-1])
    return Request(ctx.push.to_bytes(), {**JSON_HEADERS, **kept})


# -- good cases ------------------------------------------------------------------------------------

GOOD_CASES.register(
    "document-example", "the document's example body, verbatim (tabs, U+2011 hyphens, unit 'each', "
    "location 'Germany')",
    Expectation((200,), "NOTES.md §1: \"The document's own example must be accepted exactly as printed "
                "(U+2011 hyphens included)\"", "SHOULD"),
)(lambda ctx: example_request(ctx.credentials))


def _add_then_update(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The first entry added, then updated later in the same push (rows are applied in order)."""
    update = dict(rows[0])
    _change_some(update, random.Random(update["connectorStockId"]))
    last = datetime.strptime(rows[-1]["timeStampEntry"], TIMESTAMP_FORMAT)
    update["timeStampEntry"] = (last + timedelta(seconds=1)).strftime(TIMESTAMP_FORMAT)
    update["dbAction"] = "UPD"
    return [*rows, update]


GOOD_CASES.register(
    "add-then-update-same-push", "an entry added, then updated one second later by the push's last row",
    Expectation((200,), 'NOTES.md §1: "ADD/UPD upsert, DEL removes; an older change (by `timeStampEntry`) '
                'never overwrites a newer one"', "SHOULD"),
)(_with_rows(_add_then_update))


@GOOD_CASES.register(
    "internalStockId-alias", "the key column named internalStockId (the text's name) instead of "
    "connectorStockId",
    Expectation((200,), 'NOTES.md §1: "a column named `internalStockId` is accepted as its alias."',
                "SHOULD"),
)
def _internal_stock_id(ctx: StockCaseContext) -> Request:
    return _send_document(ctx, {"data": _rename_column(ctx.push.columns(), "connectorStockId",
                                                       "internalStockId")})


GOOD_CASES.register(
    "unknown-condition-code", "the first row's condition is ZZ, a code no table has (kept with a warning)",
    Expectation((200,), SPEC_WARN, "SHOULD"),
)(_with_columns(_set_first("condition", "ZZ")))

GOOD_CASES.register(
    "non-iata-location", "the first row's location is 'Germany', as in the document's example",
    Expectation((200,), SPEC_WARN, "SHOULD"),
)(_with_columns(_set_first("location", "Germany")))


def _length_item(rows: list[dict[str, Any]]) -> None:
    rows[0].update(unit="FT", quantity=12.5)


GOOD_CASES.register(
    "fractional-length-quantity", "the first row is 12.5 FT of its part",
    Expectation((200,), 'stock-push.rst: "quantity | integer | Quantity of parts (used if unit is '
                'length)"; NOTES.md §1: "so it may be fractional for length units."', "SHOULD"),
)(_with_rows(_length_item))


def _lowercase(rows: list[dict[str, Any]]) -> None:
    for row in rows:
        for column in ("condition", "unit", "location", "dbAction"):
            row[column] = row[column].lower()


GOOD_CASES.register(
    "lowercase-codes", "condition, unit, location and dbAction in lower case in every row",
    Expectation((200,), 'NOTES.md §1: "Text values are case-insensitive on this platform."', "SHOULD"),
)(_with_rows(_lowercase))

OPTIONAL_COLUMNS = (
    "sn", "mroApprovalNo", "mroName", "leadTime", "tagDate", "lastOperator", "lastMsn", "incidentRelated",
    "dateOfManufacture", "timeRemaining", "cyclesRemaining", "shelfLife",
)


def _nulls(rows: list[dict[str, Any]]) -> None:
    rows[0].update(dict.fromkeys(OPTIONAL_COLUMNS))


GOOD_CASES.register(
    "nulls-in-optional-columns", "the first row has null in every descriptive column: "
    + ", ".join(OPTIONAL_COLUMNS),
    Expectation((200,), 'stock-push.rst example: "mroApprovalNo":[null] (a column may hold null); '
                + SPEC_ACCEPT, "SHOULD"),
)(_with_rows(_nulls))

DASHED_COLUMNS = ("pn", "tagDate", "dateOfManufacture", "shelfLife", "timeStampEntry")


def _u2011(rows: list[dict[str, Any]]) -> None:
    for row in rows:
        for column in DASHED_COLUMNS:
            if row[column] is not None:
                row[column] = row[column].replace("-", "\u2011")


GOOD_CASES.register(
    "u2011-hyphens", "every part number and date written with U+2011 non-breaking hyphens, as the "
    "document's example does",
    Expectation((200,), 'NOTES.md §1: "normalise the Unicode dash family to `-` in dates and codes before '
                'validating."', "SHOULD"),
)(_with_rows(_u2011))


# --------------------------------------------------------------------------------------------------
# Fixtures: small files of every good case and every case whose break is in the body
# --------------------------------------------------------------------------------------------------


def fixture_files(seed: int = 0, rows: int = 2) -> dict[str, bytes]:
    """File name → content of ``fixtures/stock/`` (except the verbatim ``document-example.json``),
    built from the registries, so the files and the cases cannot drift apart."""
    generator = StockGenerator(seed)
    files: dict[str, bytes] = {}
    table: dict[str, dict[str, Any]] = {
        "document-example": _case_entry(GOOD_CASES["document-example"].description,
                                        GOOD_CASES["document-example"].expect)
    }
    for registry in (GOOD_CASES, MALFORMATIONS):
        for case in registry:
            if case.name in NOT_IN_BODY or case.name == "document-example":
                continue
            body = case.build(StockCaseContext(generator.sample_push(rows))).body
            try:
                name = f"{case.name}.json"
                content = _pretty(json.loads(body))
            except ValueError:
                name = f"{case.name}.txt"
                content = body
            files[name] = content
            table[case.name] = _case_entry(case.description, case.expect)
    files["cases.json"] = _pretty(dict(sorted(table.items())))
    return files


def _pretty(document: Any) -> bytes:
    """Indented JSON with each array of plain values on one line: a column reads as one line."""

    def render(value: Any, indent: str) -> str:
        inner = indent + "  "
        if isinstance(value, dict) and value:
            items = (f"{inner}{json.dumps(k, ensure_ascii=False)}: {render(v, inner)}" for k, v in value.items())
            return "{\n" + ",\n".join(items) + f"\n{indent}}}"
        if isinstance(value, list) and any(isinstance(v, dict | list) for v in value):
            return "[\n" + ",\n".join(inner + render(v, inner) for v in value) + f"\n{indent}]"
        return json.dumps(value, ensure_ascii=False, separators=(", ", ": "))

    return (render(document, "") + "\n").encode("utf-8")


def _case_entry(description: str, expect: Expectation) -> dict[str, Any]:
    return {"description": description, "status": expect.statuses[0], "spec": expect.spec}


def write_fixtures(folder: Path | None = None) -> list[Path]:
    """Regenerate the case fixtures (run after changing a case): writes ``fixture_files()``."""
    folder = folder or fixtures.ROOT / CHANNEL
    written = []
    for name, content in fixture_files().items():
        (folder / name).write_bytes(content)
        written.append(folder / name)
    return written


# --------------------------------------------------------------------------------------------------
# Sending
# --------------------------------------------------------------------------------------------------


class StockPlatform:
    """The marketplace's sending side for one customer endpoint: its URL, its credential headers."""

    def __init__(
        self,
        base_url: str,
        *,
        credentials: Mapping[str, str],
        ca_bundle: str | bool = True,
        timeout: float = 120.0,
    ) -> None:
        self.credentials = dict(credentials)
        self.sender = Sender(base_url, ca_bundle=ca_bundle, timeout=timeout)

    def push(self, push: StockPush) -> Delivery:
        return self.sender.send(push.to_request(self.credentials))

    def send(self, request: Request) -> Delivery:
        return self.sender.send(request)

    def close(self) -> None:
        self.sender.close()


@dataclass(frozen=True)
class Result:
    """One push of a scenario and how the receiver answered (status 0: no answer, see ``detail``).
    ``rows`` counts the conforming push a case was built from; ``size`` is the body's bytes as sent."""

    name: str
    rows: int
    status: int
    expected: Expectation
    elapsed: float  # seconds
    size: int = 0
    detail: str = ""

    @property
    def ok(self) -> bool:
        return self.expected.accepts(self.status)


@dataclass(frozen=True)
class _Step:
    name: str
    rows: int
    expected: Expectation
    build: Callable[[], Request]


SCENARIOS = ("conforming", "malformed", "all")


def _plan(
    scenario: str,
    generator: StockGenerator,
    credentials: Mapping[str, str],
    *,
    rows: int,
    deltas: int,
    delta_rows: int,
    case_rows: int,
    max_body_bytes: int,
) -> list[_Step]:
    """The pushes of a scenario, built lazily (in order) so only one large body exists at a time."""
    steps: list[_Step] = []
    last: list[StockPush] = []

    def pushed(make: Callable[[], StockPush]) -> Callable[[], Request]:
        def build() -> Request:
            last[:] = [make()]
            return last[0].to_request(credentials)

        return build

    def case(build: StockCase) -> Callable[[], Request]:
        return lambda: build(StockCaseContext(generator.sample_push(case_rows), credentials, max_body_bytes))

    if scenario in ("conforming", "all"):
        steps.append(_Step("first-push", rows, ACCEPTED, pushed(lambda: generator.first_push(rows))))
        for k in range(1, deltas + 1):
            delta = pushed(lambda: generator.delta(delta_rows))
            steps.append(_Step(f"delta-{k}", delta_rows, ACCEPTED, delta))
        stale_rows = delta_rows if deltas else rows
        steps.append(_Step("stale-copy", stale_rows, Expectation(
            (200,), 'NOTES.md §1: "an older change (by `timeStampEntry`) never overwrites a newer one, so '
            'a replayed or late push cannot roll stock back." (accepted, not applied)', "SHOULD"),
            lambda: generator.stale_copy(last[0]).to_request(credentials)))
        for good in GOOD_CASES:
            count = 1 if good.name == "document-example" else case_rows
            steps.append(_Step(good.name, count, good.expect, case(good.build)))
    if scenario in ("malformed", "all"):
        for bad in MALFORMATIONS:
            if bad.name in NEEDS_CREDENTIALS and not credentials:
                continue  # an endpoint without credentials cannot refuse missing ones
            steps.append(_Step(bad.name, case_rows, bad.expect, case(bad.build)))
    return steps


def run_scenario(
    platform: StockPlatform,
    scenario: str = "all",
    *,
    rows: int = 1000,
    deltas: int = 3,
    delta_rows: int | None = None,
    seed: int = 0,
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
    case_rows: int = 3,
    on_result: Callable[[Result], None] | None = None,
) -> list[Result]:
    """Send a scenario's pushes in order and collect each answer; ``on_result`` sees each as it comes."""
    if scenario not in SCENARIOS:
        raise ValueError(f"unknown scenario {scenario!r} (known: {', '.join(SCENARIOS)})")
    delta_rows = delta_rows or max(1, rows // 10)
    generator = StockGenerator(seed)
    steps = _plan(scenario, generator, platform.credentials, rows=rows, deltas=deltas,
                  delta_rows=delta_rows, case_rows=case_rows, max_body_bytes=max_body_bytes)
    results = []
    large = len(steps) > 20 or max(rows, delta_rows) >= 10_000
    with tqdm(total=len(steps), unit="push", file=sys.stderr, disable=None if large else True) as bar:
        for step in steps:
            request = step.build()
            size = len(request.body)
            try:
                delivery = platform.send(request)
                result = Result(step.name, step.rows, delivery.status, step.expected, delivery.elapsed, size,
                                "" if step.expected.accepts(delivery.status) else delivery.summary(200))
            except requests.RequestException as exc:
                result = Result(step.name, step.rows, 0, step.expected, 0.0, size, f"no answer: {exc}")
            results.append(result)
            if on_result:
                on_result(result)
            bar.update()
    return results


def format_result(result: Result) -> str:
    """One line per push: case, rows, body size, status, expected, elapsed, verdict (and why, when
    unexpected)."""
    line = (f"{result.name:<28} {result.rows:>7} rows {result.size / 1000:>10.1f} kB  "
            f"status {result.status:>3}  expected {result.expected.describe():<5} "
            f"{result.elapsed * 1000:>9.1f} ms  {'OK' if result.ok else 'UNEXPECTED'}")
    return f"{line}  {result.detail}" if result.detail else line


def _print_result(result: Result) -> None:
    tqdm.write(format_result(result), file=sys.stdout)


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value} is not a positive number")
    return value


def _not_negative(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"{value} is negative")
    return value


def add_cli(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """``inventory-simulator stock``: send the stock push scenarios to a receiver."""
    parser = subparsers.add_parser(
        "stock", help="the aviation marketplace's stock push (stock-push.rst)",
        description="Push columnar stock changes to a receiver, conforming and broken; check each answer.",
    )
    parser.add_argument("--url", required=True, help="the receiver's stock push endpoint")
    parser.add_argument("--header", action="append", default=[], metavar="'Name: value'",
                        help="a credential header the endpoint requires (repeatable)")
    tls = parser.add_mutually_exclusive_group()
    tls.add_argument("--ca-bundle", metavar="FILE", help="CA certificate(s) to trust for the receiver")
    tls.add_argument("--insecure", action="store_true", help="do not verify the receiver's certificate")
    parser.add_argument("--scenario", choices=SCENARIOS, default="all")
    parser.add_argument("--rows", type=_positive, default=1000, help="rows of the first push")
    parser.add_argument("--deltas", type=_not_negative, default=3, help="delta pushes after the first one")
    parser.add_argument("--delta-rows", type=_positive, help="rows per delta (default: rows / 10)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--max-body-bytes", type=_positive, default=DEFAULT_MAX_BODY_BYTES,
                        help="the receiver's body limit; the oversize case exceeds it")
    parser.set_defaults(run=run_cli)


def run_cli(args: argparse.Namespace) -> int:
    """Run the chosen scenario; exit 1 when any answer differs from what a correct receiver gives."""
    ca_bundle: str | bool = False if args.insecure else (args.ca_bundle or True)
    platform = StockPlatform(args.url, credentials=parse_header_lines(args.header), ca_bundle=ca_bundle)
    try:
        results = run_scenario(platform, args.scenario, rows=args.rows, deltas=args.deltas,
                               delta_rows=args.delta_rows, seed=args.seed,
                               max_body_bytes=args.max_body_bytes, on_result=_print_result)
    finally:
        platform.close()
    unexpected = [r for r in results if not r.ok]
    print(f"{len(results)} pushes, {len(unexpected)} unexpected")
    return 1 if unexpected else 0

