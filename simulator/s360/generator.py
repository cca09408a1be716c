"""A seeded catalogue of products shaped exactly like the document's example (ids, codes, names in the
example's locales, states, performances, prices), and the changes between two runs of the webhook."""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from typing import Any, NamedTuple

from .payload import document_example


class Activity(NamedTuple):
    id: int
    code: str
    name_fr: str  # the example leaves every locale but `en` in French
    name_en: str


ACTIVITIES = (
    Activity(10228317615239, "CI", "Cinéma et vidéo", "Cinema and video"),  # the example's
    Activity(10228317615301, "MU", "Musique classique", "Classical music"),
    Activity(10228317615377, "TH", "Théâtre", "Theatre"),
    Activity(10228317615412, "DA", "Danse", "Dance"),
    Activity(10228317615498, "OP", "Opéra", "Opera"),
    Activity(10228317615533, "JZ", "Jazz et musiques actuelles", "Jazz and contemporary music"),
    Activity(10228317615610, "EX", "Exposition", "Exhibition"),
)
TITLES = (
    "A Shape of Things to Come", "La Traviata", "Le Lac des cygnes", "Carmen", "Les Misérables",
    "Don Giovanni", "Cinéma Paradiso", "Nuit des musées", "Jazz à Vienne", "Il barbiere di Siviglia",
    "Boléro", "The Nutcracker", "Hamlet", "Requiem de Fauré", "Festival d'été", "Rigoletto", "Tosca",
    "Giselle", "Symphonie fantastique", "Noche flamenca", "Fado ao vivo", "Helsingin yö", "Budapesti tavasz",
)
TITLE_SUFFIXES = ("", "", " – Matinée", " (VO)", " – Gala", " 2025", " – Première", " – Dernière")
GERMAN_TITLES = (
    "Deutsche Name", "Die Zauberflöte", "Der Nussknacker", "Schwanensee", "Märchen im Grand-Hotel",
    "Kammermusik am Abend", "Sommernachtstraum",
)
SHORT_NAME_LENGTH = 15  # "A Shape of Thin": the example cuts the name after 15 characters
# RUNNING is the example's; the others stand in for the states the document does not list.
PRODUCT_STATES = {"RUNNING": 70, "DRAFT": 8, "SUSPENDED": 8, "CLOSED": 10, "CANCELLED": 4}
AUDIENCE_SUBCATEGORY_IDS = (306159078, 466637473, 466681713, 466654444)  # the example's, full price first
AUDIENCE_PRICE_RATIOS = (1.0, 0.8, 0.57, 0.71)  # the example's 35000/28000/20000/25000
SEASON_START_MS = 1723831200000  # the example's performance start
DAY_MS = 86_400_000


def _clone(document: Any) -> Any:
    # JSON documents only; much faster than copy.deepcopy for thousands of products.
    return json.loads(json.dumps(document))


def _translate(block: dict[str, Any], value_for: Callable[[str], str | None]) -> None:
    """Fill a ``{"translations": [{"locale", "value"}]}`` block, keeping its locales."""
    for translation in block["translations"]:
        translation["value"] = value_for(translation["locale"])


def _set_names(holder: dict[str, Any], full: tuple[str, ...], short: tuple[str, ...], title: str,
               german: str) -> None:
    def name(locale: str) -> str:
        return german if locale == "de" else title

    for key in full:
        _translate(holder[key], name)
    for key in short:
        _translate(holder[key], lambda locale: name(locale)[:SHORT_NAME_LENGTH])


class ProductGenerator:
    """A seeded catalogue of products shaped exactly like the document's example, which it starts from
    and varies (ids, codes, names in the example's locales, states, performances and prices)."""

    def __init__(self, seed: int = 0, size: int = 100, *, first_id: int | None = None) -> None:
        if size < 0:
            raise ValueError("size must be >= 0")
        self._rng = random.Random(seed)
        self._template = document_example()[0]
        # Ids grow from first_id (default: just above the example's), so catalogues can be kept apart.
        start = self._template["id"] if first_id is None else first_id
        self._last_id = start + self._rng.randint(10_000, 99_999)
        self._codes: set[str] = set()
        self._products = [self._new_product() for _ in range(size)]

    def inventory(self) -> list[dict[str, Any]]:
        """Every product, whatever its state: what one run of the webhook publishes (a copy)."""
        return _clone(self._products)

    def next_run(self, changed_fraction: float = 0.1) -> list[int]:
        """Change some products (a price, the state or the name) before the next run; their ids."""
        if not 0 <= changed_fraction <= 1:
            raise ValueError("changed_fraction must be between 0 and 1")
        count = round(len(self._products) * changed_fraction)
        if changed_fraction and self._products:
            count = max(count, 1)
        changed = self._rng.sample(self._products, count)
        for product in changed:
            self._rng.choice((self._change_price, self._change_state, self._change_name))(product)
        return [product["id"] for product in changed]

    # -- building ------------------------------------------------------------------------------------

    def _new_id(self) -> int:
        self._last_id += self._rng.randint(700, 4000)
        return self._last_id

    def _new_code(self, activity_code: str) -> str:
        # The example's "2010CIMM": four digits, the activity code, two letters; unique.
        while True:
            letters = "".join(self._rng.choices("ABCDEFGHIJKLMNOPQRSTUVWXYZ", k=2))
            code = f"{self._rng.randint(2010, 2099)}{activity_code}{letters}"
            if code not in self._codes:
                self._codes.add(code)
                return code

    def _title(self) -> tuple[str, str]:
        title = self._rng.choice(TITLES) + self._rng.choice(TITLE_SUFFIXES)
        german = self._rng.choice(GERMAN_TITLES) if self._rng.random() < 0.3 else title
        return title, german

    def _new_product(self) -> dict[str, Any]:
        rng = self._rng
        product = _clone(self._template)
        activity = rng.choice(ACTIVITIES)
        product["id"] = self._new_id()
        product["code"] = self._new_code(activity.code)
        product["state"] = rng.choices(list(PRODUCT_STATES), weights=list(PRODUCT_STATES.values()))[0]
        product["vatCodeId"] = rng.choice((15251, 15252, 15260))
        product["ticketModelId"] = rng.choice((466679292, 466679318, 466679355))
        event = product["event"]
        event["activityId"] = activity.id
        event["activityCode"] = activity.code
        _translate(event["activityExternalName"],
                   lambda locale: activity.name_en if locale == "en" else activity.name_fr)
        template = event["performances"][0]
        first_day = rng.randint(0, 300)
        event["performances"] = [
            self._new_performance(template, product["code"], first_day + 7 * week)
            for week in range(rng.choices((1, 2, 3, 4), weights=(60, 25, 10, 5))[0])
        ]
        self._rename(product, *self._title())
        return product

    def _new_performance(self, template: dict[str, Any], code: str, day: int) -> dict[str, Any]:
        rng = self._rng
        performance = _clone(template)
        performance["id"] = self._new_id()
        performance["code"] = code
        performance["start"] = SEASON_START_MS + day * DAY_MS + rng.choice((-6, -2, 0)) * 3_600_000
        performance["ratesTableId"] = rng.choice((858268731, 858268790, 858268812))
        performance["itemIds"] = [self._new_id()]
        price_template = template["prices"][0]
        full_price = rng.randrange(10_000, 120_001, 500)
        audiences = rng.randint(1, len(AUDIENCE_SUBCATEGORY_IDS))
        prices = []
        for category in range(rng.choice((1, 1, 2))):
            for audience in range(audiences):
                price = dict(price_template)
                price["institutionSeatCatId"] = price_template["institutionSeatCatId"] + category
                price["audSubCatId"] = AUDIENCE_SUBCATEGORY_IDS[audience]
                ratio = AUDIENCE_PRICE_RATIOS[audience] * (1 - 0.3 * category)
                price["amount"] = max(500, round(full_price * ratio / 500) * 500)
                prices.append(price)
        performance["prices"] = prices
        return performance

    @staticmethod
    def _rename(product: dict[str, Any], title: str, german: str) -> None:
        _set_names(product, ("externalName", "internalName"), ("shortName",), title, german)
        for performance in product["event"]["performances"]:
            _set_names(performance, ("externalName", "internalName"), ("externalShortName",), title, german)

    # -- changes between runs ------------------------------------------------------------------------

    def _change_price(self, product: dict[str, Any]) -> None:
        performance = self._rng.choice(product["event"]["performances"])
        price = self._rng.choice(performance["prices"])
        step = self._rng.randrange(500, 5001, 500)
        if price["amount"] > step and self._rng.random() < 0.5:
            step = -step  # a discount, never down to zero
        price["amount"] += step

    def _change_state(self, product: dict[str, Any]) -> None:
        product["state"] = self._rng.choice([s for s in PRODUCT_STATES if s != product["state"]])

    def _change_name(self, product: dict[str, Any]) -> None:
        current = product["externalName"]["translations"][0]["value"]
        title, german = self._title()
        if title == current:
            title += " – Reprise"
        self._rename(product, title, german)

