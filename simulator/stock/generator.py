"""What the marketplace's stock looks like (parts, conditions, airports, MROs), the changes an update
makes, and the generator: a first push, then deltas against what it sent."""

from __future__ import annotations

import random
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from .payload import DB_ACTIONS, TIMESTAMP_FORMAT, StockPush

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


def uuid4s(rng: random.Random, count: int) -> list[str]:
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


def change_some(row: dict[str, Any], rng: random.Random) -> None:
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
                change_some(row, rng)
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

    def stale_copy(self, push: StockPush, action: str = "UPD") -> StockPush:
        """The same ids as ``action`` (UPD, or ADD or DEL) with other values and an OLDER
        ``timeStampEntry``: a late change that must not win (an UPD or ADD must not bring back an id the push
        deleted, a DEL must not remove one it added or updated)."""
        if action not in DB_ACTIONS:
            raise ValueError(f"a stale copy is an ADD, UPD or DEL, not {action!r}")
        rng = self._rng
        older: dict[str, str] = {}
        rows = []
        for original in push.rows:
            row = dict(original)
            change_some(row, rng)
            stamp = row["timeStampEntry"]
            if stamp not in older:
                when = datetime.strptime(stamp, TIMESTAMP_FORMAT) - timedelta(hours=1)
                older[stamp] = when.strftime(TIMESTAMP_FORMAT)
            row["timeStampEntry"] = older[stamp]
            row["dbAction"] = action
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
            parts, conditions, lead_times, locations, companies, stamps, uuid4s(rng, rows), strict=True
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

