"""S-360 inventory webhook: what the ticketing platform sends and how it sends it
(``s360-inventory-webhook.txt``, NOTES.md §2).

The platform POSTs its whole catalogue as JSON arrays of at most P products. Any answer but 200 makes it
re-post the same batch every M minutes, up to N times; then it abandons that batch, logs it and goes on
with the next one.
"""

from __future__ import annotations

import argparse
import base64
import functools
import itertools
import json
import logging
import random
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, NamedTuple, Protocol

import requests

import fixtures
from simulator.core import Case, Expectation, Registry, Request
from simulator.http import Sender

CHANNEL = "s360"
DOCUMENT = "s360-inventory-webhook.txt"
log = logging.getLogger(__name__)

SUCCESS_STATUS = 200  # "a value different than 200" is a failure: 201, 202 and 204 included
DEFAULT_BATCH_SIZE = 1000
DEFAULT_INTERVAL_MINUTES = 15.0
DEFAULT_MAX_REPOSTS = 12
# A full batch of 1000 generated products is about 9 MB; the receiver's limit must admit it.
DEFAULT_MAX_BODY_BYTES = 32 * 1024 * 1024
MAX_ID = 2**63 - 1  # ids are Java longs: signed 64-bit

# The sentences the expectations rest on (the document's typo "remove system" kept as printed).
SPEC_200 = (
    "If the remove system answers a value different than 200, the data will be reposted N times "
    "(By default, N=12) before giving up."
)
SPEC_JSON = "S-360 does POST all the data describing the product in the form of a JSON object."
SPEC_ARRAY = (
    "NOTES.md §2: The body is a JSON array of product objects (the text says \"object\"; the example is "
    "an array)."
)
SPEC_ID = "NOTES.md §2: `id` is a 64-bit integer; `code` is 8 characters, unique per season."
SPEC_STORE = "NOTES.md §2 Decision: Store each product by `id`, keep its full document."
SPEC_UNKNOWN = "NOTES.md §2 Decision: Unknown fields are kept; only what identifies a product is required."
SPEC_BATCH = "Enter P into the Batch size field. (default value: 1000)"
SPEC_CHANGED = (
    "This webhook publishes JSON data describing the products of the catalog which changed since last "
    "synchronization."
)
SPEC_OVERSIZE = (
    "Enter P into the Batch size field. (default value: 1000) — a body beyond the receiver's configured "
    "limit is refused with 413 Content Too Large (RFC 9110 §15.5.14)."
)
SPEC_BASIC = "BASIC_AUTH : put the login in the login field, the password in the password field"
SPEC_API_KEY = (
    "API_KEY : put the name of the header (e.g. -x-api-key) in the login field. The key in the password field"
)


def webhook_headers(auth: Auth) -> dict[str, str]:
    """The headers of every POST of an interface: JSON, and its credentials."""
    return {"Content-Type": "application/json", **auth.headers()}


def encode_json(payload: Any) -> bytes:
    """Compact UTF-8 JSON, the way the platform puts a batch on the wire."""
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode("utf-8")


def document_example() -> list[dict[str, Any]]:
    """The document's example array, parsed from the verbatim fixture."""
    return fixtures.load(CHANNEL, "document-example")


# --------------------------------------------------------------------------------------------- auth


class AuthMode(StrEnum):
    """The authentication modes of the platform's back office ("Choose the authentication mode")."""

    NONE = "NONE"
    BASIC_AUTH = "BASIC_AUTH"
    API_KEY = "API_KEY"


def _no_headers(auth: Auth) -> dict[str, str]:
    return {}


def _basic_headers(auth: Auth) -> dict[str, str]:
    token = base64.b64encode(f"{auth.login}:{auth.password}".encode()).decode("ascii")
    return {"Authorization": f"Basic {token}"}


def _api_key_headers(auth: Auth) -> dict[str, str]:
    # The login field holds the header NAME, the password field the key.
    return {auth.login: auth.password}


AUTH_HEADERS: dict[AuthMode, Callable[[Auth], dict[str, str]]] = {
    AuthMode.NONE: _no_headers,
    AuthMode.BASIC_AUTH: _basic_headers,
    AuthMode.API_KEY: _api_key_headers,
}
# CLI spellings: `none`, `basic:LOGIN:PASSWORD`, `api-key:HEADER:KEY` (the mode names work too).
AUTH_CLI_NAMES = {"none": AuthMode.NONE, "basic": AuthMode.BASIC_AUTH, "api-key": AuthMode.API_KEY}


@dataclass(frozen=True)
class Auth:
    """One interface's credentials exactly as the back office holds them: a mode, a login, a password."""

    mode: AuthMode = AuthMode.NONE
    login: str = ""
    password: str = field(default="", repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "mode", AuthMode(self.mode))
        if self.mode is AuthMode.BASIC_AUTH and (not self.login or ":" in self.login):
            raise ValueError("BASIC_AUTH needs a login without ':' (RFC 7617)")
        if self.mode is AuthMode.API_KEY and (not self.login or not self.password):
            raise ValueError("API_KEY needs a header name (login) and a key (password)")

    def headers(self) -> dict[str, str]:
        """The headers every request of this interface carries."""
        return AUTH_HEADERS[self.mode](self)

    def describe(self) -> str:
        """The mode and login, never the password or key."""
        return self.mode.value if self.mode is AuthMode.NONE else f"{self.mode.value} (login {self.login!r})"

    @classmethod
    def parse(cls, text: str) -> Auth:
        """``none``, ``basic:LOGIN:PASSWORD`` or ``api-key:HEADER:KEY`` (the secret may contain ':')."""
        kind, _, rest = text.partition(":")
        mode = AUTH_CLI_NAMES.get(kind.lower()) or AuthMode.__members__.get(kind.upper())
        if mode is None:
            raise ValueError(
                f"unknown auth mode {kind!r}: use none, basic:LOGIN:PASSWORD or api-key:HEADER:KEY"
            )
        if mode is AuthMode.NONE:
            if rest:
                raise ValueError("auth 'none' takes no login or password")
            return cls()
        login, sep, password = rest.partition(":")
        if not sep:
            raise ValueError(f"auth {kind!r} needs LOGIN:SECRET, e.g. {kind}:x-api-key:s3cret")
        return cls(mode, login, password)


# ---------------------------------------------------------------------------------------- products


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


# ------------------------------------------------------------------------------------------- clocks


class Clock(Protocol):
    """The platform's sense of time: how it waits M minutes and what time it is (seconds)."""

    def sleep(self, seconds: float) -> None: ...

    def now(self) -> float: ...


class CompressedClock:
    """Platform time running ``speed`` times faster than real time: at 600, 15 minutes take 1.5 s."""

    def __init__(self, speed: float = 1.0) -> None:
        if speed <= 0:
            raise ValueError("speed must be > 0")
        self.speed = speed
        self._origin = time.time()
        self._real_origin = time.monotonic()

    def now(self) -> float:
        return self._origin + (time.monotonic() - self._real_origin) * self.speed

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds / self.speed)


class FakeClock:
    """A clock that records every sleep and never sleeps (tests)."""

    def __init__(self, start: float = 0.0) -> None:
        self.sleeps: list[float] = []
        self._now = start

    def now(self) -> float:
        return self._now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self._now += seconds


# ---------------------------------------------------------------------------------------- delivery

# What makes the platform count an attempt as failed without an answer.
TRANSPORT_ERRORS = (requests.ConnectionError, requests.Timeout, requests.exceptions.ChunkedEncodingError)


@dataclass(frozen=True)
class Attempt:
    """One POST of a batch: the first one (number 1) or a re-post."""

    number: int
    at: float  # platform clock time when it was sent
    elapsed: float  # seconds
    status: int | None = None
    error: str | None = None  # connection error or timeout: no answer at all

    @property
    def delivered(self) -> bool:
        return self.status == SUCCESS_STATUS

    def describe(self) -> str:
        return str(self.status) if self.status is not None else f"no answer ({self.error})"


@dataclass
class BatchReport:
    """What became of one batch: every attempt, and whether it was delivered or abandoned."""

    run: int  # 1-based number of the run since the platform started
    index: int  # 0-based position in the run
    products: int
    body_bytes: int
    attempts: list[Attempt] = field(default_factory=list)

    @property
    def delivered(self) -> bool:
        return bool(self.attempts) and self.attempts[-1].delivered

    @property
    def abandoned(self) -> bool:
        return not self.delivered


@dataclass
class RunReport:
    """One run of the webhook: the whole inventory, batch by batch."""

    batches: list[BatchReport] = field(default_factory=list)

    @property
    def delivered(self) -> list[BatchReport]:
        return [batch for batch in self.batches if batch.delivered]

    @property
    def abandoned(self) -> list[BatchReport]:
        return [batch for batch in self.batches if batch.abandoned]

    @property
    def requests(self) -> int:
        return sum(len(batch.attempts) for batch in self.batches)


AttemptHook = Callable[[BatchReport, int, Attempt], None]  # (batch, number of batches, attempt)


class S360Platform:
    """Sends an inventory the way S-360 does: batches of at most P products as JSON arrays; anything but
    200 (or no answer) means the same bytes again every M minutes, at most N re-posts, then the batch is
    abandoned, logged, and the next batch goes out."""

    def __init__(
        self,
        base_url: str,
        *,
        auth: Auth,
        batch_size: int = DEFAULT_BATCH_SIZE,
        interval_minutes: float = DEFAULT_INTERVAL_MINUTES,
        max_reposts: int = DEFAULT_MAX_REPOSTS,
        clock: Clock | None = None,
        ca_bundle: str | bool = True,
        timeout: float = 120.0,
        on_attempt: AttemptHook | None = None,
    ) -> None:
        if batch_size < 1:
            raise ValueError("batch_size (P) must be >= 1")
        if not 1 <= interval_minutes <= 1440:
            raise ValueError("interval_minutes (M) must be between 1 and 1440, as in the back office")
        if max_reposts < 0:
            raise ValueError("max_reposts (N) must be >= 0")
        self.auth = auth
        self.batch_size = batch_size
        self.interval_minutes = interval_minutes
        self.max_reposts = max_reposts
        self.clock: Clock = clock or CompressedClock(1.0)
        self.sender = Sender(base_url, ca_bundle=ca_bundle, timeout=timeout)
        self.on_attempt = on_attempt
        self.runs_started = 0

    def batches(self, products: Sequence[dict[str, Any]]) -> list[Sequence[dict[str, Any]]]:
        """The inventory cut into batches of at most P products, in order."""
        return [products[start:start + self.batch_size] for start in range(0, len(products), self.batch_size)]

    def run(self, products: Sequence[dict[str, Any]]) -> RunReport:
        """One run: every batch delivered or abandoned, one after the other."""
        self.runs_started += 1
        batches = self.batches(products)
        report = RunReport()
        for index, batch in enumerate(batches):
            report.batches.append(self._deliver(self.runs_started, index, len(batches), batch))
        return report

    def run_every(
        self, generator: ProductGenerator, runs: int, changed_fraction: float = 0.1
    ) -> list[RunReport]:
        """Scheduled mode: a run, M minutes on the clock, some products change, the next run, ..."""
        reports = []
        for number in range(runs):
            if number:
                self._wait(f"next run ({number + 1}/{runs})")
                generator.next_run(changed_fraction)
            reports.append(self.run(generator.inventory()))
        return reports

    def _deliver(self, run: int, index: int, total: int, batch: Sequence[dict[str, Any]]) -> BatchReport:
        request = Request(encode_json(list(batch)), webhook_headers(self.auth))  # re-posts send these very bytes
        report = BatchReport(run, index, len(batch), len(request.body))
        for number in range(1, self.max_reposts + 2):
            if number > 1:
                self._wait(f"re-post {number - 1}/{self.max_reposts} of batch {index + 1}/{total}")
            attempt = self._post(number, request)
            report.attempts.append(attempt)
            if self.on_attempt:
                self.on_attempt(report, total, attempt)
            if attempt.delivered:
                return report
        log.warning(
            "S-360: run %d, batch %d/%d (%d products) abandoned after %d attempts; last answer: %s",
            run, index + 1, total, len(batch), len(report.attempts), report.attempts[-1].describe(),
        )
        return report

    def _post(self, number: int, request: Request) -> Attempt:
        at = self.clock.now()
        started = time.perf_counter()
        try:
            delivery = self.sender.send(request)
        except TRANSPORT_ERRORS as exc:
            return Attempt(number, at, time.perf_counter() - started, error=f"{type(exc).__name__}: {exc}")
        return Attempt(number, at, delivery.elapsed, status=delivery.status)

    def _wait(self, before: str) -> None:
        log.info("S-360: waiting %g min before the %s", self.interval_minutes, before)
        self.clock.sleep(self.interval_minutes * 60)

    def close(self) -> None:
        self.sender.close()

    def __enter__(self) -> S360Platform:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


# ------------------------------------------------------------------------------------------- cases


@dataclass(frozen=True)
class S360CaseContext:
    """What a case builder needs: a small conforming batch to break, the interface's credentials, the
    receiver's body limit and the batch size P."""

    products: list[dict[str, Any]]
    auth: Auth = field(default_factory=Auth)
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
    batch_size: int = DEFAULT_BATCH_SIZE

    def __post_init__(self) -> None:
        if len(self.products) < 2:
            raise ValueError("the cases need a conforming batch of at least 2 products")

    def headers(self) -> dict[str, str]:
        return webhook_headers(self.auth)

    def request(self, payload: Any, headers: dict[str, str] | None = None) -> Request:
        return Request(encode_json(payload), self.headers() if headers is None else headers)


# A builder returns None when its case does not apply to the context (the auth cases of another mode).
CaseBuilder = Callable[[S360CaseContext], Request | None]
MALFORMATIONS: Registry[CaseBuilder] = Registry(CHANNEL)
GOOD_CASES: Registry[CaseBuilder] = Registry(CHANNEL)


def cases_for(
    registry: Registry[CaseBuilder], context: S360CaseContext
) -> Iterator[tuple[Case[CaseBuilder], Request]]:
    """Each case of ``registry`` that applies to ``context``, with the request it builds (lazily)."""
    for case in registry:
        request = case.build(context)
        if request is not None:
            yield case, request


def only_for(mode: AuthMode) -> Callable[[CaseBuilder], CaseBuilder]:
    """Make a builder apply only when the interface uses ``mode``."""

    def decorator(build: CaseBuilder) -> CaseBuilder:
        @functools.wraps(build)
        def applicable(context: S360CaseContext) -> Request | None:
            return build(context) if context.auth.mode is mode else None

        return applicable

    return decorator


def _should(status: int, spec: str) -> Expectation:
    return Expectation((status,), spec, "SHOULD")


def more_products(products: Sequence[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    """``products``, then endless conforming copies of them with fresh ids and 8-character codes."""
    yield from products
    top = max(product["id"] for product in products)
    for n in itertools.count(1):
        yield dict(products[n % len(products)], id=top + n, code=f"X{n:07d}")


def _first_changed(context: S360CaseContext, *, drop: str = "", **changes: Any) -> Request:
    """The batch with its first product changed: ``drop`` removes a key, ``changes`` set values."""
    first = {key: value for key, value in {**context.products[0], **changes}.items() if key != drop}
    return context.request([first, *context.products[1:]])


@MALFORMATIONS.register("not-json", "the batch cut in the middle: not JSON", _should(400, SPEC_JSON))
def _not_json(context: S360CaseContext) -> Request:
    body = encode_json(context.products)
    return Request(body[: len(body) // 2], context.headers())


@MALFORMATIONS.register(
    "wrong-content-type", "a conforming batch sent as text/plain", _should(415, SPEC_JSON)
)
def _wrong_content_type(context: S360CaseContext) -> Request:
    headers = {**context.headers(), "Content-Type": "text/plain; charset=utf-8"}
    return context.request(context.products, headers)


@MALFORMATIONS.register(
    "not-an-array",
    "a single product object instead of an array",
    _should(422, SPEC_ARRAY),
)
def _not_an_array(context: S360CaseContext) -> Request:
    return context.request(context.products[0])


@MALFORMATIONS.register(
    "item-not-an-object", "the array holds a bare id besides the products", _should(422, SPEC_ARRAY)
)
def _item_not_an_object(context: S360CaseContext) -> Request:
    return context.request([*context.products, context.products[0]["id"] + 1])


@MALFORMATIONS.register("id-missing", "the first product has no id", _should(422, SPEC_ID))
def _id_missing(context: S360CaseContext) -> Request:
    return _first_changed(context, drop="id")


@MALFORMATIONS.register(
    "id-not-an-integer",
    "the first product's id is a string of digits",
    _should(422, SPEC_ID),
)
def _id_not_an_integer(context: S360CaseContext) -> Request:
    return _first_changed(context, id=str(context.products[0]["id"]))


@MALFORMATIONS.register(
    "id-is-a-float",
    "the first product's id is written 10228321399304.0",
    _should(422, SPEC_ID),
)
def _id_is_a_float(context: S360CaseContext) -> Request:
    return _first_changed(context, id=float(context.products[0]["id"]))


@MALFORMATIONS.register("id-is-boolean", "the first product's id is true", _should(422, SPEC_ID))
def _id_is_boolean(context: S360CaseContext) -> Request:
    return _first_changed(context, id=True)


@MALFORMATIONS.register(
    "id-out-of-64-bit-range", "the first product's id is 2**63, one past the largest signed 64-bit integer",
    _should(422, SPEC_ID),
)
def _id_out_of_range(context: S360CaseContext) -> Request:
    return _first_changed(context, id=MAX_ID + 1)


@MALFORMATIONS.register("code-missing", "the first product has no code", _should(422, SPEC_ID))
def _code_missing(context: S360CaseContext) -> Request:
    return _first_changed(context, drop="code")


@MALFORMATIONS.register(
    "code-not-a-string",
    "the first product's code is the number 20100000",
    _should(422, SPEC_ID),
)
def _code_not_a_string(context: S360CaseContext) -> Request:
    return _first_changed(context, code=20100000)


@MALFORMATIONS.register(
    "duplicate-id-in-batch", "the second product carries the first product's id", _should(422, SPEC_STORE)
)
def _duplicate_id(context: S360CaseContext) -> Request:
    products = list(context.products)
    products[1] = dict(products[1], id=products[0]["id"])
    return context.request(products)


@MALFORMATIONS.register(
    "oversize-batch",
    "conforming products until the body exceeds the receiver's limit",
    _should(413, SPEC_OVERSIZE),
)
def _oversize(context: S360CaseContext) -> Request:
    pieces: list[bytes] = []
    size = 1  # the opening bracket
    for product in more_products(context.products):
        piece = encode_json(product)
        pieces.append(piece)
        size += len(piece) + 1  # a comma or the closing bracket
        if size > context.max_body_bytes:
            break
    return Request(b"[" + b",".join(pieces) + b"]", context.headers())


@MALFORMATIONS.register("basic-missing", "no Authorization header", _should(401, SPEC_BASIC))
@only_for(AuthMode.BASIC_AUTH)
def _basic_missing(context: S360CaseContext) -> Request:
    return context.request(context.products, webhook_headers(Auth()))


@MALFORMATIONS.register(
    "basic-wrong-password",
    "the right login with a wrong password",
    _should(401, SPEC_BASIC),
)
@only_for(AuthMode.BASIC_AUTH)
def _basic_wrong_password(context: S360CaseContext) -> Request:
    auth = Auth(AuthMode.BASIC_AUTH, context.auth.login, context.auth.password + "-wrong")
    return context.request(context.products, webhook_headers(auth))


@MALFORMATIONS.register(
    "basic-wrong-login",
    "a wrong login with the right password",
    _should(401, SPEC_BASIC),
)
@only_for(AuthMode.BASIC_AUTH)
def _basic_wrong_login(context: S360CaseContext) -> Request:
    auth = Auth(AuthMode.BASIC_AUTH, context.auth.login + "-wrong", context.auth.password)
    return context.request(context.products, webhook_headers(auth))


@MALFORMATIONS.register("api-key-missing", "no key header at all", _should(401, SPEC_API_KEY))
@only_for(AuthMode.API_KEY)
def _api_key_missing(context: S360CaseContext) -> Request:
    return context.request(context.products, webhook_headers(Auth()))


@MALFORMATIONS.register("api-key-wrong-key", "the right header with a wrong key", _should(401, SPEC_API_KEY))
@only_for(AuthMode.API_KEY)
def _api_key_wrong_key(context: S360CaseContext) -> Request:
    auth = Auth(AuthMode.API_KEY, context.auth.login, "wrong-" + context.auth.password)
    return context.request(context.products, webhook_headers(auth))


@MALFORMATIONS.register(
    "api-key-other-header-name", "the right key under another header name", _should(401, SPEC_API_KEY)
)
@only_for(AuthMode.API_KEY)
def _api_key_other_header(context: S360CaseContext) -> Request:
    configured = context.auth.login.lower().strip("-")
    other = next(name for name in ("x-auth-token", "api-token") if name != configured)
    auth = Auth(AuthMode.API_KEY, other, context.auth.password)
    return context.request(context.products, webhook_headers(auth))


def _example_request(context: S360CaseContext) -> Request:
    return Request(fixtures.raw(CHANNEL, "document-example"), context.headers())


@GOOD_CASES.register(
    "document-example", "the document's example, byte for byte", Expectation((SUCCESS_STATUS,), SPEC_200)
)
def _document_example(context: S360CaseContext) -> Request:
    return _example_request(context)


@GOOD_CASES.register(
    "repost-of-same-batch",
    "the document's example again, the same bytes: what the platform re-posts after a failure",
    Expectation((SUCCESS_STATUS,), SPEC_200),
)
def _repost(context: S360CaseContext) -> Request:
    return _example_request(context)


@GOOD_CASES.register(
    "minimal-products",
    "products with only id, code, state and one name",
    _should(SUCCESS_STATUS, SPEC_UNKNOWN),
)
def _minimal_products(context: S360CaseContext) -> Request:
    return Request(fixtures.raw(CHANNEL, "minimal-products"), context.headers())


@GOOD_CASES.register(
    "unknown-fields-kept",
    "products carrying fields the document does not show",
    _should(SUCCESS_STATUS, SPEC_UNKNOWN),
)
def _unknown_fields(context: S360CaseContext) -> Request:
    extra = {"salesChannelIds": [101, 102], "seoMetadata": {"slug": "a-shape", "keywords": ["cinéma"]}}
    return context.request([dict(product, **extra) for product in context.products])


@GOOD_CASES.register(
    "empty-batch",
    "an empty array: nothing to publish",
    _should(SUCCESS_STATUS, SPEC_CHANGED),
)
def _empty_batch(context: S360CaseContext) -> Request:
    return context.request([])


@GOOD_CASES.register(
    "full-batch", "exactly P products in one array", Expectation((SUCCESS_STATUS,), SPEC_BATCH)
)
def _full_batch(context: S360CaseContext) -> Request:
    return context.request(list(itertools.islice(more_products(context.products), context.batch_size)))


@GOOD_CASES.register(
    "id-largest-64-bit", "the first product's id is 2**63 - 1 (beyond a double's exact integers)",
    _should(SUCCESS_STATUS, SPEC_ID),
)
def _id_largest(context: S360CaseContext) -> Request:
    return _first_changed(context, id=MAX_ID)


# ---------------------------------------------------------------------------------------- scenario

BATCH_EXPECTATION = Expectation((SUCCESS_STATUS,), SPEC_200)


@dataclass(frozen=True)
class Result:
    """One request of a scenario and what came back."""

    name: str
    items: int  # products in the request
    status: int | None  # None: no answer (connection error or timeout)
    expected: Expectation
    elapsed: float  # seconds
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.status is not None and self.expected.accepts(self.status)

    def line(self) -> str:
        answer = str(self.status) if self.status is not None else f"no answer ({self.error})"
        verdict = "OK" if self.ok else "UNEXPECTED"
        return (
            f"{self.name:<44} {self.items:>5} products  {answer:<5} expected {self.expected.describe():<5} "
            f"{self.elapsed * 1000:>9.1f} ms  {verdict}"
        )


def _count_products(body: bytes) -> int:
    try:
        payload = json.loads(body)
    except ValueError:
        return 0
    return len(payload) if isinstance(payload, list) else int(isinstance(payload, dict))


@dataclass
class _Scenario:
    """What a scenario step needs: the platform, a catalogue, the case context, and where results go."""

    platform: S360Platform
    generator: ProductGenerator
    context: S360CaseContext
    runs: int
    emit: Callable[[Result], None]

    def send_cases(self, registry: Registry[CaseBuilder]) -> None:
        for case, request in cases_for(registry, self.context):
            items = _count_products(request.body)
            started = time.perf_counter()
            try:
                delivery = self.platform.sender.send(request)
            except TRANSPORT_ERRORS as exc:
                error = f"{type(exc).__name__}: {exc}"
                self.emit(Result(case.name, items, None, case.expect, time.perf_counter() - started, error))
            else:
                self.emit(Result(case.name, items, delivery.status, case.expect, delivery.elapsed))

    def on_attempt(self, batch: BatchReport, total: int, attempt: Attempt) -> None:
        name = f"run {batch.run} batch {batch.index + 1}/{total} attempt {attempt.number}"
        self.emit(Result(name, batch.products, attempt.status, BATCH_EXPECTATION, attempt.elapsed,
                         attempt.error))


def _conforming(scenario: _Scenario) -> None:
    scenario.send_cases(GOOD_CASES)
    scenario.platform.run(scenario.generator.inventory())


def _malformed(scenario: _Scenario) -> None:
    scenario.send_cases(MALFORMATIONS)


def _schedule(scenario: _Scenario) -> None:
    scenario.platform.run_every(scenario.generator, scenario.runs)


SCENARIOS: dict[str, tuple[Callable[[_Scenario], None], ...]] = {
    "conforming": (_conforming,),
    "malformed": (_malformed,),
    "all": (_conforming, _malformed),
    "schedule": (_schedule,),
}


def run_scenario(
    base_url: str,
    *,
    auth: Auth | None = None,
    scenario: str = "all",
    products: int = 100,
    batch_size: int = DEFAULT_BATCH_SIZE,
    interval_minutes: float = DEFAULT_INTERVAL_MINUTES,
    max_reposts: int = DEFAULT_MAX_REPOSTS,
    runs: int = 3,
    clock: Clock | None = None,
    seed: int = 0,
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
    ca_bundle: str | bool = True,
    timeout: float = 120.0,
    on_result: Callable[[Result], None] | None = None,
) -> list[Result]:
    """Send a scenario to a receiver the way S-360 would; one :class:`Result` per request, in order.

    ``conforming``: the good cases, then one run of a generated inventory of ``products`` products with
    the platform's batching and re-posts; ``malformed``: every malformation that applies to ``auth``;
    ``all``: both; ``schedule``: ``runs`` runs M minutes apart with some products changing in between.
    """
    steps = SCENARIOS[scenario]
    auth = auth or Auth()
    results: list[Result] = []

    def emit(result: Result) -> None:
        results.append(result)
        if on_result:
            on_result(result)

    generator = ProductGenerator(seed, products)
    # The cases' products get ids above the whole inventory, so they never overwrite one of its products.
    above = max((product["id"] for product in generator.inventory()), default=None)
    case_products = ProductGenerator(seed, 3, first_id=above).inventory()
    context = S360CaseContext(case_products, auth, max_body_bytes, batch_size)
    with S360Platform(
        base_url, auth=auth, batch_size=batch_size, interval_minutes=interval_minutes,
        max_reposts=max_reposts, clock=clock, ca_bundle=ca_bundle, timeout=timeout,
    ) as platform:
        scenario_state = _Scenario(platform, generator, context, runs, emit)
        platform.on_attempt = scenario_state.on_attempt
        for step in steps:
            step(scenario_state)
    return results


# --------------------------------------------------------------------------------------------- CLI


def _auth_argument(text: str) -> Auth:
    try:
        return Auth.parse(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def add_cli(subparsers: Any) -> None:
    """The ``s360`` sub-command of ``inventory-simulator``."""
    parser = subparsers.add_parser(
        "s360",
        help="S-360 inventory webhook (JSON arrays of products, re-posts on anything but 200)",
        description="Behave like S-360: POST the inventory in batches of P products, re-post the same batch "
        "every M minutes up to N times on anything but 200, and send malformed batches.",
    )
    parser.add_argument("--url", required=True, help="the receiver's webhook URL")
    parser.add_argument("--auth", type=_auth_argument, default=Auth(),
                        help="none | basic:LOGIN:PASSWORD | api-key:HEADER:KEY (default: none)")
    tls = parser.add_mutually_exclusive_group()
    tls.add_argument("--ca-bundle", metavar="FILE", help="CA file to trust for the receiver's certificate")
    tls.add_argument("--insecure", action="store_true", help="do not verify the receiver's certificate")
    parser.add_argument("--scenario", choices=list(SCENARIOS), default="all")
    parser.add_argument("--products", type=int, default=100, help="inventory size (default: 100)")
    parser.add_argument("--batch-size", type=int, default=DEFAULT_BATCH_SIZE, help="P (default: 1000)")
    parser.add_argument("--interval-minutes", type=float, default=DEFAULT_INTERVAL_MINUTES,
                        help="M, between re-posts and between scheduled runs (1 to 1440, default: 15)")
    parser.add_argument("--max-reposts", type=int, default=DEFAULT_MAX_REPOSTS, help="N (default: 12)")
    parser.add_argument("--runs", type=int, default=3, help="runs of the schedule scenario (default: 3)")
    parser.add_argument("--speed", type=float, default=1.0,
                        help="clock compression: 600 makes 15 minutes last 1.5 s (default: 1, real time)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--max-body-bytes", type=int, default=DEFAULT_MAX_BODY_BYTES,
                        help="the receiver's body limit, for the oversize-batch case")
    parser.set_defaults(run=_run_cli)


def _run_cli(args: argparse.Namespace) -> int:
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    ca_bundle: str | bool = False if args.insecure else (args.ca_bundle or True)
    try:
        clock = CompressedClock(args.speed)
    except ValueError as exc:
        print(f"s360: {exc}", file=sys.stderr)
        return 2
    print(f"S-360 inventory webhook -> {args.url} (auth {args.auth.describe()}, scenario {args.scenario})")

    def show(result: Result) -> None:
        print(result.line(), flush=True)

    results = run_scenario(
        args.url, auth=args.auth, scenario=args.scenario, products=args.products, batch_size=args.batch_size,
        interval_minutes=args.interval_minutes, max_reposts=args.max_reposts, runs=args.runs,
        clock=clock, seed=args.seed, max_body_bytes=args.max_body_bytes,
        ca_bundle=ca_bundle, on_result=show,
    )
    unexpected = [result for result in results if not result.ok]
    print(f"{len(results)} requests, {len(unexpected)} unexpected")
    return 1 if unexpected else 0

