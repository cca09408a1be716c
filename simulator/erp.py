"""The ERP's push notifications over AMQP 0-9-1 (``erp-amqp-push.md``): bare JSON customer and
subscription objects published, with publisher confirms, to ``secom-customer-queue`` and
``secom-subscriptions-queue``.

Every message is a full state of one object keyed on its ``id``; delivery is at-least-once, with no
ordering across the two queues. A correct consumer stores the last state it received per (queue, id)
and dead-letters what it can never process (NOTES.md §4).
"""

from __future__ import annotations

import argparse
import copy
import datetime as dt
import json
import random
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Literal
from urllib.parse import urlsplit, urlunsplit

import pika
import pika.exceptions
from pika import spec

import fixtures
from simulator.core import Case, Expectation, Registry

CHANNEL = "erp"
CUSTOMER_QUEUE = "secom-customer-queue"
SUBSCRIPTION_QUEUE = "secom-subscriptions-queue"
QUEUES = (CUSTOMER_QUEUE, SUBSCRIPTION_QUEUE)

Outcome = Literal["stored", "dead-letter"]

# What the platform's messages look like on the wire: the document's Content-Type, UTF-8 text,
# persistent so that a broker restart does not lose a change.
MESSAGE_PROPERTIES = pika.BasicProperties(
    content_type="application/json",
    content_encoding="utf-8",
    delivery_mode=pika.DeliveryMode.Persistent,
)


def encode(obj: Any) -> bytes:
    """A payload as the ERP publishes it: JSON, Turkish letters as UTF-8 (not ``\\u`` escapes)."""
    return json.dumps(obj, ensure_ascii=False, indent=2).encode("utf-8")


# --------------------------------------------------------------------------------------------
# Generators
# --------------------------------------------------------------------------------------------

_FIRST_NAMES = ("RAMAZAN", "ÜMİT", "AYŞE", "FATMA", "MEHMET", "ŞÜKRÜ", "GÜLŞEN", "İSMAİL", "ÇAĞLA",
                "ÖZGÜR", "HÜLYA", "İBRAHİM", "SEVGİ", "DOĞAN", "NURGÜL", "ERKAN", "ZEYNEP", "İREM")
_LAST_NAMES = ("ÖZEKİNCİ", "YILDIRIM", "ŞAHİN", "ÇELİK", "KILIÇ", "AYDIN", "ÖZTÜRK", "KOÇ", "GÜNEŞ",
               "ERDEM", "KARAKUŞ", "İNCE", "ÇETİNKAYA", "ŞİMŞEK", "DEMİRTAŞ", "GÜLER")
_COMPANIES = ("ÖZTÜRK İNŞAAT LTD. ŞTİ.", "YILDIZ GÜVENLİK HİZMETLERİ A.Ş.", "ÇAĞDAŞ GIDA SAN. VE TİC. A.Ş.",
              "GÜNEŞ ECZANESİ", "İPEKYOLU KUYUMCULUK", "KARADENİZ ÖĞRENCİ YURDU")
# (city as the ERP writes it, counties of that city)
_PLACES = (
    ("İSTANBUL(Anadolu)", ("KADIKÖY", "ÜSKÜDAR", "ATAŞEHİR", "ÜMRANİYE", "MALTEPE")),
    ("İSTANBUL(Avrupa)", ("ESENYURT", "BEŞİKTAŞ", "ŞİŞLİ", "BAKIRKÖY", "BEYOĞLU")),
    ("ANKARA", ("ÇANKAYA", "KEÇİÖREN", "YENİMAHALLE", "GÖLBAŞI")),
    ("İZMİR", ("KARŞIYAKA", "BORNOVA", "ÇİĞLİ", "GÜZELBAHÇE")),
    ("BURSA", ("NİLÜFER", "OSMANGAZİ", "İNEGÖL")),
    ("ANTALYA", ("MURATPAŞA", "KONYAALTI", "ALANYA")),
    ("MUĞLA", ("BODRUM", "FETHİYE", "MARMARİS")),
    ("ESKİŞEHİR", ("ODUNPAZARI", "TEPEBAŞI")),
)
_NEIGHBOURHOODS = ("içerenköy", "kozyatağı", "göztepe", "şenesenevler", "çiçekli", "güzelyalı",
                   "bahçelievler", "ılıca", "çamlıca", "ağaçlı")
_STREETS = ("PINAR MAH. ONDOKUZ MAYIS BLV.", "İNÖNÜ CAD.", "ATATÜRK BLV.", "ÇİÇEK SK.", "GÜL SK.",
            "CUMHURİYET MAH. ŞEHİT ÖĞRETMEN CAD.", "BAĞDAT CAD.", "ÖZGÜRLÜK MEYDANI")
_AGREEMENT_TYPES = ("Kiralama", "Satış", "Hizmet", "Bakım")
_PANELS = (("EBS", ("CPX-300W", "CPX-200", "EBS-16")), ("PARADOX", ("SP6000", "MG5050")),
           ("TEKNİM", ("TSP-5324", "TSP-7116")), ("DSC", ("PC1616", "PC1864")))
# The ERP's installation stages, "<n> - <text>" as in the document's example.
_STAGES = ("1 - Sözleşme İmzalandı", "2 - Keşif Yapıldı", "3 - Montaj Planlandı", "4 - Montaj Tamamlandı",
           "5 - Test Sinyali Bekleniyor", "6 - Sinyal Alımı Gerçekleşti")
_CAMPAIGNS = ((12, "12 AY TAAHHÜTLÜ"), (24, "24 AY TAAHHÜTLÜ"), (36, "36 AY TAAHHÜTLÜ"))
_SEGMENTS = ("Bireysel", "Kurumsal", "KOBİ")


def _add_months(day: dt.date, months: int) -> dt.date:
    month = day.month - 1 + months
    return day.replace(year=day.year + month // 12, month=month % 12 + 1, day=min(day.day, 28))


class ErpGenerator:
    """Seeded customers and subscriptions shaped like the document's examples, with Turkish text.

    The same seed gives the same objects in the same order; ids are unique within one generator and
    never collide with the document's example ids (134719, 123462). ``id_offset`` moves the ids to
    another range, so that scenarios run one after another do not update each other's objects.
    """

    def __init__(self, seed: int = 0, *, id_offset: int = 0) -> None:
        self.seed = seed
        self._rng = random.Random(seed)
        self._last_customer_id = 200_000 + id_offset + self._rng.randrange(100_000)
        self._last_subscription_id = 500_000 + id_offset + self._rng.randrange(100_000)
        self._last_document_number = 110_000 + self._rng.randrange(100_000)
        self._names: dict[str, str] = {}

    # -- building blocks ------------------------------------------------------------------------

    def _person_or_company(self) -> str:
        if self._rng.random() < 0.2:
            return self._rng.choice(_COMPANIES)
        return f"{self._rng.choice(_FIRST_NAMES)} {self._rng.choice(_LAST_NAMES)}"

    def _phone_number(self) -> str:
        return "5" + "".join(str(self._rng.randrange(10)) for _ in range(9))

    def _social_network_id(self) -> str:
        """11 digits shaped like a T.C. Kimlik No whose 10th digit breaks the checksum on purpose:
        the document's field is personal data, and a generated one must never be a real person's."""
        digits = [self._rng.randrange(1, 10)] + [self._rng.randrange(10) for _ in range(8)]
        valid_tenth = (sum(digits[0:9:2]) * 7 - sum(digits[1:8:2])) % 10
        digits.append((valid_tenth + self._rng.randrange(1, 10)) % 10)
        digits.append(sum(digits) % 10)
        return "".join(map(str, digits))

    def _address(self) -> dict[str, str]:
        city, counties = self._rng.choice(_PLACES)
        if self._rng.random() < 0.5:
            street1 = self._rng.choice(_NEIGHBOURHOODS)
        else:
            street1 = f"{self._rng.choice(_STREETS)} NO:{self._rng.randrange(1, 200)}"
        return {"city": city, "county": self._rng.choice(counties), "street1": street1}

    def _contact_medium(self) -> dict[str, Any]:
        address = self._address()
        return {
            "characteristic": {
                "city": address["city"],
                "country": "Türkiye",
                "phoneNumber": self._phone_number(),
                "socialNetworkId": self._social_network_id(),
                "street1": address["street1"],
            }
        }

    def _value_type(self, canonical: str) -> str:
        """valueType is free text on the ERP side: mostly "Date", sometimes "DATE" or "date"."""
        roll = self._rng.random()
        if roll < 0.15:
            return canonical.upper()
        if roll < 0.3:
            return canonical.lower()
        return canonical

    def _triplet(self, name: str, value_type: str, value: str) -> dict[str, str]:
        return {"name": name, "valueType": self._value_type(value_type), "value": value}

    # -- the two domain objects -----------------------------------------------------------------

    def customer(self) -> dict[str, Any]:
        """A customer as pushed to ``secom-customer-queue``; sometimes with extra attributes."""
        self._last_customer_id += self._rng.randint(1, 97)
        customer_id = str(self._last_customer_id)
        name = self._person_or_company()
        self._names[customer_id] = name
        obj: dict[str, Any] = {
            "id": customer_id,
            "status": "Active" if self._rng.random() < 0.8 else "Passive",
            "name": name,
            "contactMedium": [self._contact_medium() for _ in range(1 if self._rng.random() < 0.8 else 2)],
        }
        # "The object MAY include additional customer attributes and arrays"
        if self._rng.random() < 0.3:
            obj["segment"] = self._rng.choice(_SEGMENTS)
        if self._rng.random() < 0.2:
            obj["account"] = [{"id": f"HS-{self._rng.randrange(10_000, 99_999)}"}]
        return obj

    def subscription(self, customer_id: str) -> dict[str, Any]:
        """A subscription (agreement) of ``customer_id`` as pushed to ``secom-subscriptions-queue``."""
        self._last_subscription_id += self._rng.randint(1, 97)
        self._last_document_number += self._rng.randint(1, 500)
        name = self._names.get(customer_id) or self._person_or_company()
        start = dt.date(2019, 1, 1) + dt.timedelta(days=self._rng.randrange(6 * 365))
        months, campaign = self._rng.choice(_CAMPAIGNS)
        city, counties = self._rng.choice(_PLACES)
        brand, models = self._rng.choice(_PANELS)
        stage = self._rng.randrange(len(_STAGES))
        montage_date = start + dt.timedelta(days=self._rng.randrange(1, 10))
        past_due = 0.0 if self._rng.random() < 0.7 else round(self._rng.uniform(100, 3000), 2)
        characteristic = [
            self._triplet("CAMPAIGN", "String", campaign),
            self._triplet("MONTAGEADRESS", "String",
                          f"{self._rng.choice(_STREETS)} NO:{self._rng.randrange(1, 200)} "
                          f"İÇ KAPI NO:{self._rng.randrange(1, 120)}"),
            self._triplet("MONTAGECOUNTY", "String", self._rng.choice(counties)),
            self._triplet("MONTAGECITY", "String", city),
            self._triplet("MONTAGE_DATE", "Date", montage_date.isoformat()),
            self._triplet("TOTAL_PAST_DUE_INSTALMENT", "Float", repr(past_due)),
            self._triplet("PANELBRAND", "String", brand),
            self._triplet("PANELMODEL", "String", self._rng.choice(models)),
            self._triplet("PANELNO", "String", str(self._rng.randrange(1_000_000, 9_999_999))),
            self._triplet("SALESEMP", "String", self._rng.choice(_FIRST_NAMES)),
            self._triplet("STAGE", "String", _STAGES[stage]),
            self._triplet("INSTALMENT_COUNT", "Integer", str(months)),
            self._triplet("E_INVOICE", "Boolean", self._rng.choice(("true", "false"))),
        ]
        return {
            "id": str(self._last_subscription_id),
            "agreementType": self._rng.choice(_AGREEMENT_TYPES),
            "documentNumber": str(self._last_document_number),
            "name": name,
            "status": "Active" if self._rng.random() < 0.85 else "Passive",
            "characteristic": characteristic,
            "completionDate": {
                "endDateTime": _add_months(start, months).isoformat(),
                "startDateTime": start.isoformat(),
            },
            "engagedParty": [{"id": customer_id}],
        }

    def update(self, obj: dict[str, Any]) -> dict[str, Any]:
        """A later full state of the same object (same ``id``, at least one field changed)."""
        later = copy.deepcopy(obj)
        is_subscription = "engagedParty" in obj or "agreementType" in obj
        changes = _SUBSCRIPTION_CHANGES if is_subscription else _CUSTOMER_CHANGES
        for change in self._rng.sample(changes, k=self._rng.randint(1, 2)):
            change(self, later)
        if later == obj:
            later["status"] = "Passive" if obj.get("status") == "Active" else "Active"
        return later


def _flip_status(gen: ErpGenerator, obj: dict[str, Any]) -> None:
    obj["status"] = "Passive" if obj.get("status") == "Active" else "Active"


def _new_phone_number(gen: ErpGenerator, obj: dict[str, Any]) -> None:
    for medium in obj.get("contactMedium") or []:
        medium["characteristic"]["phoneNumber"] = gen._phone_number()


def _moved(gen: ErpGenerator, obj: dict[str, Any]) -> None:
    if obj.get("contactMedium"):
        address = gen._address()
        obj["contactMedium"][0]["characteristic"].update(city=address["city"], street1=address["street1"])


def _characteristic(obj: dict[str, Any], name: str) -> dict[str, Any] | None:
    bag = obj.get("characteristic")
    if isinstance(bag, list):
        for triplet in bag:
            if isinstance(triplet, dict) and triplet.get("name") == name:
                return triplet
    return None


def _next_stage(gen: ErpGenerator, obj: dict[str, Any]) -> None:
    triplet = _characteristic(obj, "STAGE")
    if triplet is not None:
        current = _STAGES.index(triplet["value"]) if triplet["value"] in _STAGES else -1
        triplet["value"] = _STAGES[min(current + 1, len(_STAGES) - 1)]


def _instalment_past_due(gen: ErpGenerator, obj: dict[str, Any]) -> None:
    triplet = _characteristic(obj, "TOTAL_PAST_DUE_INSTALMENT")
    if triplet is not None:
        triplet["value"] = repr(round(gen._rng.uniform(100, 3000), 2))


def _extended(gen: ErpGenerator, obj: dict[str, Any]) -> None:
    completion = obj.get("completionDate")
    if isinstance(completion, dict) and "endDateTime" in completion:
        end = dt.date.fromisoformat(completion["endDateTime"])
        completion["endDateTime"] = _add_months(end, 12).isoformat()


_CUSTOMER_CHANGES = (_flip_status, _new_phone_number, _moved)
_SUBSCRIPTION_CHANGES = (_flip_status, _next_stage, _instalment_past_due, _extended)


# --------------------------------------------------------------------------------------------
# Publisher
# --------------------------------------------------------------------------------------------


class ErpPublishError(Exception):
    """A message was not confirmed by the broker; the message says why and what to do."""


class BrokerUnreachableError(ErpPublishError):
    """No AMQP connection could be opened."""


class QueueMissingError(ErpPublishError):
    """A queue the ERP publishes to does not exist (the consumer has not declared it)."""


class UnroutableError(ErpPublishError):
    """The broker returned a mandatory message: no queue of that name, so it was not stored."""


class NackedError(ErpPublishError):
    """The broker refused a message (basic.nack), e.g. a full queue with ``reject-publish``."""


def _safe_url(url: str) -> str:
    """The URL with its password masked, for error messages."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return urlunsplit(parts._replace(netloc=netloc))


def _body(item: bytes | dict[str, Any] | list[Any]) -> bytes:
    return item if isinstance(item, bytes) else encode(item)


class ErpPublisher:
    """Publishes like the ERP: default exchange, routing key = queue name, persistent JSON messages,
    ``mandatory`` and publisher confirms, so every message is either confirmed stored or an error.

    It never declares queues: the consumer owns the topology (its queues may carry dead-letter
    arguments, and a declaration with other arguments would fail). Use :meth:`declare_passive` to
    check that they exist.
    """

    def __init__(
        self,
        amqp_url: str,
        *,
        customer_queue: str = CUSTOMER_QUEUE,
        subscription_queue: str = SUBSCRIPTION_QUEUE,
    ) -> None:
        self.amqp_url = amqp_url
        self.customer_queue = customer_queue
        self.subscription_queue = subscription_queue
        self.parameters = pika.URLParameters(amqp_url)
        try:
            self._connection = pika.BlockingConnection(self.parameters)
        except pika.exceptions.AMQPConnectionError as exc:
            raise BrokerUnreachableError(
                f"cannot connect to the AMQP broker at {_safe_url(amqp_url)}: {exc!r}"
            ) from exc
        self._channel = self._open_channel()

    def _open_channel(self) -> Any:
        channel = self._connection.channel()
        channel.confirm_delivery()
        return channel

    def queue_for(self, queue: str) -> str:
        """The configured queue for a documented queue name (other names pass through)."""
        return {CUSTOMER_QUEUE: self.customer_queue, SUBSCRIPTION_QUEUE: self.subscription_queue}.get(
            queue, queue
        )

    def declare_passive(self) -> dict[str, int]:
        """Check that both queues exist; returns their message counts, raises QueueMissingError."""
        counts: dict[str, int] = {}
        missing: list[str] = []
        for queue in (self.customer_queue, self.subscription_queue):
            try:
                counts[queue] = self._channel.queue_declare(queue, passive=True).method.message_count
            except pika.exceptions.ChannelClosedByBroker as exc:
                if exc.reply_code != 404:
                    raise ErpPublishError(f"checking queue {queue!r}: {exc.reply_text}") from exc
                missing.append(queue)
                self._channel = self._open_channel()  # the broker closes the channel on a 404
        if missing:
            raise QueueMissingError(
                f"queue(s) {', '.join(map(repr, missing))} do not exist on {_safe_url(self.amqp_url)}: "
                "the consumer declares its queues, so start it first (or check the queue names)"
            )
        return counts

    def publish(self, queue: str, body: bytes | dict[str, Any]) -> None:
        """Publish one message and block until the broker confirms it; raises on nack/unroutable."""
        try:
            self._channel.basic_publish(
                exchange="", routing_key=queue, body=_body(body), properties=MESSAGE_PROPERTIES,
                mandatory=True,
            )
        except pika.exceptions.UnroutableError as exc:
            raise self._unroutable(queue, exc.messages[0].method.reply_text if exc.messages else "") from exc
        except pika.exceptions.NackError as exc:
            raise NackedError(
                f"the broker refused (nacked) a message for queue {queue!r}: it is not stored "
                "(a full queue with overflow=reject-publish, or a broker-side error)"
            ) from exc
        except pika.exceptions.AMQPError as exc:
            raise ErpPublishError(f"publishing to queue {queue!r} failed: {exc!r}") from exc

    def _unroutable(self, queue: str, reply_text: str) -> UnroutableError:
        return UnroutableError(
            f"message for queue {queue!r} was returned unroutable ({reply_text or 'NO_ROUTE'}): no queue of "
            f"that name on {_safe_url(self.amqp_url)}, so it was not stored. The consumer declares the "
            "queues; start it first, or check the queue name"
        )

    def publish_customer(self, obj: bytes | dict[str, Any]) -> None:
        """Publish a customer to the customer queue."""
        self.publish(self.customer_queue, obj)

    def publish_subscription(self, obj: bytes | dict[str, Any]) -> None:
        """Publish a subscription to the subscription queue."""
        self.publish(self.subscription_queue, obj)

    def publish_many(self, items: Iterable[bytes | dict[str, Any]], queue: str, *, window: int = 1000) -> int:
        """Publish many messages to one queue, keeping up to ``window`` unconfirmed at a time; returns
        how many the broker confirmed (all of them, or it raises)."""
        bodies = [_body(item) for item in items]
        if not bodies:
            return 0
        return _PipelinedPublish(self, queue, bodies, window).run()

    def close(self) -> None:
        """Close the connection (idempotent)."""
        if self._connection.is_open:
            self._connection.close()

    def __enter__(self) -> ErpPublisher:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


class _PipelinedPublish:
    """``publish_many``'s fast path on its own asynchronous connection: a blocking channel waits for
    each confirm in turn (~1,500 msg/s locally); tracking delivery tags keeps the pipe full instead."""

    def __init__(self, publisher: ErpPublisher, queue: str, bodies: list[bytes], window: int) -> None:
        self.publisher = publisher
        self.queue = queue
        self.bodies = bodies
        self.window = max(1, window)
        self.sent = 0
        self.confirmed = 0
        self.outstanding: OrderedDict[int, None] = OrderedDict()
        self.returned: list[str] = []
        self.nacked = 0
        self.error: ErpPublishError | None = None
        self.closing = False
        self.channel: Any = None

    def run(self) -> int:
        connection = pika.SelectConnection(
            self.publisher.parameters,
            on_open_callback=self._on_open,
            on_open_error_callback=self._on_open_error,
            on_close_callback=self._on_close,
        )
        self.connection = connection
        try:
            connection.ioloop.start()
        finally:
            connection.ioloop.close()  # the loop's own wake-up sockets
        if self.error is not None:
            raise self.error
        if self.returned:
            raise self.publisher._unroutable(self.queue, self.returned[0])
        if self.nacked:
            raise NackedError(
                f"the broker refused (nacked) {self.nacked} message(s) for queue {self.queue!r} "
                f"after confirming {self.confirmed}"
            )
        return self.confirmed

    def _on_open(self, connection: Any) -> None:
        connection.channel(on_open_callback=self._on_channel_open)

    def _on_open_error(self, connection: Any, error: BaseException) -> None:
        self.error = BrokerUnreachableError(
            f"cannot connect to the AMQP broker at {_safe_url(self.publisher.amqp_url)}: {error!r}"
        )
        connection.ioloop.stop()

    def _on_close(self, connection: Any, reason: BaseException) -> None:
        if not self.closing and self.error is None:
            self.error = ErpPublishError(
                f"connection closed after {self.confirmed} of {len(self.bodies)} confirms "
                f"to queue {self.queue!r}: {reason!r}"
            )
        connection.ioloop.stop()

    def _on_channel_open(self, channel: Any) -> None:
        self.channel = channel
        channel.add_on_return_callback(self._on_return)
        channel.add_on_close_callback(self._on_channel_closed)
        channel.confirm_delivery(self._on_confirm, callback=lambda _frame: self._fill())

    def _on_channel_closed(self, channel: Any, reason: BaseException) -> None:
        if not self.closing:
            self.error = ErpPublishError(
                f"the broker closed the channel after {self.confirmed} of {len(self.bodies)} confirms "
                f"to queue {self.queue!r}: {reason!r}"
            )
            self.closing = True
            self.connection.close()

    def _on_return(self, channel: Any, method: Any, properties: Any, body: bytes) -> None:
        # The broker sends basic.return before the basic.ack of that same message.
        self.returned.append(method.reply_text)

    def _fill(self) -> None:
        failing = bool(self.returned or self.nacked)
        while not failing and self.sent < len(self.bodies) and len(self.outstanding) < self.window:
            self.channel.basic_publish(
                "", self.queue, self.bodies[self.sent], MESSAGE_PROPERTIES, mandatory=True
            )
            self.sent += 1
            self.outstanding[self.sent] = None
        if not self.outstanding and (failing or self.sent == len(self.bodies)):
            self.closing = True
            self.connection.close()

    def _on_confirm(self, frame: Any) -> None:
        method = frame.method
        if method.multiple:
            count = 0
            while self.outstanding and next(iter(self.outstanding)) <= method.delivery_tag:
                self.outstanding.popitem(last=False)
                count += 1
        else:
            count = 1 if method.delivery_tag in self.outstanding else 0
            self.outstanding.pop(method.delivery_tag, None)
        if isinstance(method, spec.Basic.Ack):
            self.confirmed += count
        else:
            self.nacked += count
        self._fill()


# --------------------------------------------------------------------------------------------
# Messages and scenarios
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ErpMessage:
    """One message the ERP publishes: to which documented queue, its bytes, and what a correct
    consumer does with it."""

    name: str
    queue: str  # CUSTOMER_QUEUE or SUBSCRIPTION_QUEUE; the publisher maps it to its configured queue
    body: bytes
    outcome: Outcome = "stored"

    def key(self) -> tuple[str, str] | None:
        """(queue, id) of a message a consumer stores; ids normalised to their string form."""
        if self.outcome != "stored":
            return None
        obj = json.loads(self.body)
        return self.queue, _normalised_id(obj["id"])


def _normalised_id(value: Any) -> str:
    return str(value)


def message(obj: dict[str, Any], queue: str, name: str | None = None) -> ErpMessage:
    """A conforming message for ``obj`` (named after its queue kind and id unless ``name`` is given)."""
    kind = "customer" if queue == CUSTOMER_QUEUE else "subscription"
    return ErpMessage(name or f"{kind} {obj['id']}", queue, encode(obj))


def out_of_order(messages: Sequence[ErpMessage], seed: int = 0) -> list[ErpMessage]:
    """Interleave messages of different objects and of both queues at random (a subscription may
    come before its customer) while keeping each object's own states in publication order.

    Within one queue the broker keeps publication order, and a full state carries no version, so
    reordering one object's states would change what a correct consumer ends with.
    """
    rng = random.Random(seed)
    lanes: OrderedDict[object, list[ErpMessage]] = OrderedDict()
    for index, msg in enumerate(messages):
        lanes.setdefault(msg.key() or index, []).append(msg)
    heads = [lane[::-1] for lane in lanes.values()]
    mixed: list[ErpMessage] = []
    while heads:
        lane = heads[rng.randrange(len(heads))]
        mixed.append(lane.pop())
        heads = [h for h in heads if h]
    return mixed


def duplicates(messages: Sequence[ErpMessage]) -> list[ErpMessage]:
    """Every message published twice in a row, as an at-least-once re-delivery does."""
    doubled: list[ErpMessage] = []
    for msg in messages:
        doubled += [msg, ErpMessage(f"{msg.name} (duplicate)", msg.queue, msg.body, msg.outcome)]
    return doubled


def expected_state(messages: Iterable[ErpMessage]) -> dict[tuple[str, str], Any]:
    """What a correct consumer holds afterwards: per (queue, id) the last stored message's object,
    as published (a numeric ``id`` is keyed by its string form)."""
    state: dict[tuple[str, str], Any] = {}
    for msg in messages:
        key = msg.key()
        if key is not None:
            state[key] = json.loads(msg.body)
    return state


# --------------------------------------------------------------------------------------------
# Malformations
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ErpCaseContext:
    """What a malformation builds from: a generator and the documented queue the body is for."""

    generator: ErpGenerator
    queue: str = CUSTOMER_QUEUE

    def valid(self) -> dict[str, Any]:
        """A conforming object for this queue."""
        if self.queue == SUBSCRIPTION_QUEUE:
            return self.generator.subscription(self.generator.customer()["id"])
        return self.generator.customer()


@dataclass(frozen=True)
class ErpBuild:
    """A malformation's body builder, with the outcome a correct consumer gives it and the queues
    it applies to. Callable like any registry build: ``build(ctx) -> bytes``."""

    make: Callable[[ErpCaseContext], bytes]
    outcome: Outcome
    queues: tuple[str, ...] = QUEUES

    def __call__(self, ctx: ErpCaseContext) -> bytes:
        return self.make(ctx)


MALFORMATIONS: Registry[ErpBuild] = Registry(CHANNEL)

_NOT_PROCESSABLE = ("NOTES.md §4: a message that can never be processed (not JSON, no `id`) is "
                    "dead-lettered, not re-queued forever.")
_UPSERT = ("NOTES.md §4: each message is a full-state upsert keyed on (queue, `id`); "
           "unknown properties are kept.")
_BAG = "Consumers should parse this bag defensively."


def _malformation(
    name: str,
    description: str,
    outcome: Outcome,
    spec_text: str,
    *,
    level: str = "SHOULD",
    queues: tuple[str, ...] = QUEUES,
) -> Callable[[Callable[[ErpCaseContext], bytes]], ErpBuild]:
    """Register a body builder; AMQP has no status, so ``statuses`` stays empty and the outcome
    rides on the build (see :func:`outcome`)."""

    def decorator(make: Callable[[ErpCaseContext], bytes]) -> ErpBuild:
        build = ErpBuild(make, outcome, queues)
        expect = Expectation(statuses=(), spec=spec_text, level=level)
        MALFORMATIONS.register(name, description, expect)(build)
        return build

    return decorator


def outcome(case: Case[ErpBuild]) -> Outcome:
    """What a correct consumer does with a case's message: store it, or dead-letter it."""
    return case.build.outcome


@_malformation("empty-body", "a message with no body at all", "dead-letter", _NOT_PROCESSABLE)
def _empty_body(ctx: ErpCaseContext) -> bytes:
    return b""


@_malformation("not-json", "a JSON object cut off half-way (truncated body)", "dead-letter", _NOT_PROCESSABLE)
def _not_json(ctx: ErpCaseContext) -> bytes:
    body = encode(ctx.valid())
    return body[: len(body) // 2]


@_malformation(
    "not-utf8",
    "a well-formed JSON object encoded in ISO-8859-9 (Turkish Latin-5) while the message says UTF-8",
    "dead-letter",
    "RFC 8259 §8.1: JSON text exchanged between systems MUST be encoded using UTF-8; " + _NOT_PROCESSABLE,
)
def _not_utf8(ctx: ErpCaseContext) -> bytes:
    obj = ctx.valid()
    obj["name"] = "ŞÜKRÜ ÖZEKİNCİ"  # letters Latin-5 has and that are not valid UTF-8 there
    return json.dumps(obj, ensure_ascii=False, indent=2).encode("iso-8859-9")


@_malformation(
    "json-array",
    "the object wrapped in a JSON array",
    "dead-letter",
    "Notifications are published as domain payloads (no extra wrapper); " + _NOT_PROCESSABLE,
)
def _json_array(ctx: ErpCaseContext) -> bytes:
    return encode([ctx.valid()])


@_malformation(
    "json-string", "a JSON string (the id alone) instead of an object", "dead-letter", _NOT_PROCESSABLE
)
def _json_string(ctx: ErpCaseContext) -> bytes:
    return encode(ctx.valid()["id"])


@_malformation("no-id", "an object without `id`", "dead-letter", _NOT_PROCESSABLE)
def _no_id(ctx: ErpCaseContext) -> bytes:
    obj = ctx.valid()
    del obj["id"]
    return encode(obj)


@_malformation("id-empty-string", "an object whose `id` is the empty string", "dead-letter", _NOT_PROCESSABLE)
def _id_empty_string(ctx: ErpCaseContext) -> bytes:
    obj = ctx.valid()
    obj["id"] = ""
    return encode(obj)


@_malformation(
    "id-not-a-string-or-number", "an object whose `id` is itself an object", "dead-letter", _NOT_PROCESSABLE
)
def _id_object(ctx: ErpCaseContext) -> bytes:
    obj = ctx.valid()
    obj["id"] = {"value": obj["id"]}
    return encode(obj)


# The documented ids are digits in strings; the same digits as a JSON number identify the same object.
@_malformation(
    "numeric-id",
    "`id` as a JSON number (134719) instead of a string: stored under its string form",
    "stored",
    "`id` corresponds to customerId/subscriptionId in the ERP; " + _UPSERT,
)
def _numeric_id(ctx: ErpCaseContext) -> bytes:
    obj = ctx.valid()
    obj["id"] = int(obj["id"])
    return encode(obj)


@_malformation(
    "unknown-properties",
    "extra attributes and arrays the example does not show",
    "stored",
    "The object MAY include additional customer attributes and arrays (e.g., addresses, contacts) depending "
    "on ERP mapping. Treat unknown properties as forward-compatible.",
    level="MUST",
)
def _unknown_properties(ctx: ErpCaseContext) -> bytes:
    obj = ctx.valid()
    obj["addresses"] = [{"type": "fatura", "city": "ANKARA", "street1": "çankaya"}]
    obj["contacts"] = [{"name": "GÜLŞEN ÇELİK", "role": "Yetkili"}]
    obj["@type"] = "Customer" if ctx.queue == CUSTOMER_QUEUE else "Agreement"
    return encode(obj)


# A single-element array mapped from XML to a bare object: the bag is broken, the message is not.
@_malformation(
    "characteristic-not-a-list",
    "`characteristic` is one {name, valueType, value} object instead of a list of them",
    "stored",
    _BAG + " " + _UPSERT,
    queues=(SUBSCRIPTION_QUEUE,),
)
def _characteristic_not_a_list(ctx: ErpCaseContext) -> bytes:
    obj = ctx.valid()
    obj["characteristic"] = obj["characteristic"][0]
    return encode(obj)


@_malformation(
    "properties-instead-of-characteristic",
    "the property bag sent under the name `properties` (as the document's warning calls it)",
    "stored",
    "The ERP may send additional key/value tuples inside `properties`; "
    "NOTES.md §4: accept `properties` as an alias of `characteristic`.",
    queues=(SUBSCRIPTION_QUEUE,),
)
def _properties_alias(ctx: ErpCaseContext) -> bytes:
    obj = ctx.valid()
    obj["properties"] = obj.pop("characteristic")
    return encode(obj)


@_malformation(
    "value-does-not-parse",
    'MONTAGE_DATE with valueType Date and value "not a date": stored, the raw string kept',
    "stored",
    "NOTES.md §4: parse `valueType` case-insensitively, keep the raw string when a value does not parse.",
    queues=(SUBSCRIPTION_QUEUE,),
)
def _value_does_not_parse(ctx: ErpCaseContext) -> bytes:
    obj = ctx.valid()
    triplet = _characteristic(obj, "MONTAGE_DATE")
    assert triplet is not None
    triplet.update(valueType="Date", value="not a date")
    return encode(obj)


# Id ranges of the scenarios, apart so that one scenario's objects are not another's updates.
MALFORMED_ID_OFFSET = 700_000
BACKLOG_ID_OFFSET = 1_000_000


def malformed_messages(seed: int = 0) -> list[ErpMessage]:
    """Every malformation on every queue it applies to; one generator, so every stored case has an
    id of its own."""
    gen = ErpGenerator(seed, id_offset=MALFORMED_ID_OFFSET)
    return [
        ErpMessage(case.name, queue, case.build(ErpCaseContext(gen, queue)), case.build.outcome)
        for case in MALFORMATIONS
        for queue in case.build.queues
    ]


# --------------------------------------------------------------------------------------------
# Scenarios and results
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ScenarioOptions:
    """Knobs of the scenarios (the CLI's options)."""

    seed: int = 0
    customers: int = 3
    subscriptions: int = 3
    duplicates: bool = False
    messages: int = 10_000  # backlog size


def conforming_messages(options: ScenarioOptions | None = None) -> list[ErpMessage]:
    """The document's two examples, then generated customers and subscriptions each followed by a
    later state, interleaved across objects and queues; optionally every message twice."""
    options = options or ScenarioOptions()
    gen = ErpGenerator(options.seed)
    messages = [
        ErpMessage("document-customer-example", CUSTOMER_QUEUE,
                   fixtures.raw(CHANNEL, "document-customer-example")),
        ErpMessage("document-subscription-example", SUBSCRIPTION_QUEUE,
                   fixtures.raw(CHANNEL, "document-subscription-example")),
    ]
    customer_ids = []
    for _ in range(options.customers):
        customer = gen.customer()
        customer_ids.append(customer["id"])
        messages += [message(customer, CUSTOMER_QUEUE),
                     message(gen.update(customer), CUSTOMER_QUEUE, f"customer {customer['id']} update")]
    for _ in range(options.subscriptions):
        owner = gen._rng.choice(customer_ids) if customer_ids else "134719"
        sub = gen.subscription(owner)
        messages += [message(sub, SUBSCRIPTION_QUEUE),
                     message(gen.update(sub), SUBSCRIPTION_QUEUE, f"subscription {sub['id']} update")]
    messages = out_of_order(messages, options.seed)
    return duplicates(messages) if options.duplicates else messages


def backlog_messages(options: ScenarioOptions | None = None) -> list[ErpMessage]:
    """``options.messages`` distinct customers for the customer queue: a consumer's backlog."""
    options = options or ScenarioOptions()
    gen = ErpGenerator(options.seed, id_offset=BACKLOG_ID_OFFSET)
    return [message(gen.customer(), CUSTOMER_QUEUE, "backlog") for _ in range(options.messages)]


@dataclass(frozen=True)
class Scenario:
    """How a scenario's messages are built, and whether they go out through ``publish_many``."""

    build: Callable[[ScenarioOptions], list[ErpMessage]]
    bulk: bool = False


SCENARIOS: dict[str, Scenario] = {
    "conforming": Scenario(conforming_messages),
    "malformed": Scenario(lambda options: malformed_messages(options.seed)),
    "all": Scenario(lambda options: conforming_messages(options) + malformed_messages(options.seed)),
    "backlog": Scenario(backlog_messages, bulk=True),
}


def scenario_messages(scenario: str, options: ScenarioOptions | None = None) -> list[ErpMessage]:
    """The messages of a named scenario, in publication order."""
    try:
        chosen = SCENARIOS[scenario]
    except KeyError:
        raise KeyError(f"{CHANNEL}: no scenario {scenario!r} (known: {', '.join(SCENARIOS)})") from None
    return chosen.build(options or ScenarioOptions())


@dataclass(frozen=True)
class Result:
    """What happened to one message (or one bulk run): same shape as the HTTP channels' results,
    with the expected outcome in place of an expected status."""

    name: str
    items: int
    elapsed: float
    expected: Outcome
    queue: str
    confirmed: bool = True
    error: str | None = None
    status: int | None = None  # AMQP has no status code

    def line(self) -> str:
        verdict = "confirmed" if self.confirmed else f"FAILED: {self.error}"
        rate = f" ({self.items / self.elapsed:,.0f} msg/s)" if self.items > 1 and self.elapsed > 0 else ""
        return (f"{self.name:<44} {self.queue:<28} x{self.items:<6} expect {self.expected:<11} "
                f"{verdict} {self.elapsed * 1000:.1f} ms{rate}")


def publish_messages(
    publisher: ErpPublisher, messages: Sequence[ErpMessage], *, bulk: bool = False
) -> list[Result]:
    """Publish messages in order, one confirm each (or per queue through ``publish_many`` when
    ``bulk``); stops at the first failure, which is the last result."""
    results: list[Result] = []
    units: list[tuple[str, str, Outcome, list[bytes]]]
    if bulk:
        groups: OrderedDict[tuple[str, str, Outcome], list[bytes]] = OrderedDict()
        for msg in messages:
            groups.setdefault((msg.name, msg.queue, msg.outcome), []).append(msg.body)
        units = [(name, queue, expected, bodies) for (name, queue, expected), bodies in groups.items()]
    else:
        units = [(msg.name, msg.queue, msg.outcome, [msg.body]) for msg in messages]
    for name, documented_queue, expected, bodies in units:
        queue = publisher.queue_for(documented_queue)
        started = time.perf_counter()
        try:
            if len(bodies) == 1:
                publisher.publish(queue, bodies[0])
            else:
                publisher.publish_many(bodies, queue)
        except ErpPublishError as exc:
            results.append(Result(name, len(bodies), time.perf_counter() - started, expected, queue,
                                  confirmed=False, error=str(exc)))
            break
        results.append(Result(name, len(bodies), time.perf_counter() - started, expected, queue))
    return results


def run_scenario(
    publisher: ErpPublisher, scenario: str, options: ScenarioOptions | None = None
) -> list[Result]:
    """Build a named scenario and publish it; see :func:`publish_messages`."""
    messages = scenario_messages(scenario, options)
    return publish_messages(publisher, messages, bulk=SCENARIOS[scenario].bulk)


# --------------------------------------------------------------------------------------------
# CLI
# --------------------------------------------------------------------------------------------


def add_cli(subparsers: Any) -> None:
    """The ``erp`` sub-command: publish a scenario to a broker the way the ERP does."""
    parser: argparse.ArgumentParser = subparsers.add_parser(
        CHANNEL,
        help="ERP push notifications over AMQP 0-9-1 (customers and subscriptions)",
        description="Publish customer/subscription notifications like the ERP: persistent JSON, "
        "publisher confirms, mandatory. The queues must exist (the consumer declares them).",
    )
    parser.add_argument("--amqp-url", required=True, help="e.g. amqp://guest:guest@127.0.0.1:5672/%%2F")
    parser.add_argument("--customer-queue", default=CUSTOMER_QUEUE)
    parser.add_argument("--subscription-queue", default=SUBSCRIPTION_QUEUE)
    parser.add_argument("--scenario", choices=list(SCENARIOS), default="conforming")
    parser.add_argument("--customers", type=int, default=3, help="generated customers (conforming)")
    parser.add_argument("--subscriptions", type=int, default=3, help="generated subscriptions (conforming)")
    parser.add_argument("--duplicates", action="store_true", help="publish every message twice in a row")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--messages", type=int, default=10_000, help="backlog size (backlog)")
    parser.set_defaults(run=run_cli)


def run_cli(args: argparse.Namespace) -> int:
    """Run the ``erp`` sub-command; 1 when the broker is unreachable, a queue is missing, or a
    message was nacked or returned unroutable."""
    options = ScenarioOptions(seed=args.seed, customers=args.customers, subscriptions=args.subscriptions,
                              duplicates=args.duplicates, messages=args.messages)
    try:
        with ErpPublisher(args.amqp_url, customer_queue=args.customer_queue,
                          subscription_queue=args.subscription_queue) as publisher:
            publisher.declare_passive()
            started = time.perf_counter()
            results = run_scenario(publisher, args.scenario, options)
            elapsed = time.perf_counter() - started
    except ErpPublishError as exc:
        print(f"error: {exc}")
        return 1
    for result in results:
        print(result.line())
    items = sum(r.items for r in results if r.confirmed)
    print(f"{items} message(s) confirmed in {elapsed:.2f} s")
    return 0 if all(r.confirmed for r in results) else 1


