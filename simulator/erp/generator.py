"""Seeded customers and subscriptions shaped like the document's examples, with Turkish text, and the
later states an update publishes."""

from __future__ import annotations

import copy
import datetime as dt
import random
from typing import Any

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
        """A later full state of the same object (same ``id``, at least one field changed; a field may
        also appear or disappear, as in a full state)."""
        later = copy.deepcopy(obj)
        changes = _SUBSCRIPTION_CHANGES if _is_subscription(obj) else _CUSTOMER_CHANGES
        for change in self._rng.sample(changes, k=self._rng.randint(1, 2)):
            change(self, later)
        if later == obj:
            later["status"] = "Passive" if obj.get("status") == "Active" else "Active"
        return later

    def replacement(self, obj: dict[str, Any]) -> dict[str, Any]:
        """A later full state that changes a field, adds one and drops one, at the top and nested (in
        ``contactMedium``, in ``completionDate``); a subscription's bag also loses a triplet, gains one and
        changes one, and it names another customer in ``engagedParty``. What a consumer that merges
        states instead of replacing them gets wrong."""
        later = copy.deepcopy(obj)
        later["status"] = "Passive" if obj.get("status") == "Active" else "Active"
        dropped = next(key for key in ("name", "agreementType", "documentNumber") if key in later)
        del later[dropped]
        later["lastChangedBy"] = self._rng.choice(_FIRST_NAMES)
        if _is_subscription(obj):
            bag = [t for t in later["characteristic"] if t["name"] not in {"PANELNO", "E_INVOICE"}]
            _instalment_past_due(self, {"characteristic": bag})
            bag.append(self._triplet("DISCOUNT_RATE", "Float", repr(round(self._rng.uniform(1, 30), 1))))
            later["characteristic"] = bag
            later["completionDate"] = {"startDateTime": obj["completionDate"]["startDateTime"]}
            later["engagedParty"] = [{"id": str(self._last_customer_id + self._rng.randint(1, 97))}]
        else:
            medium = later["contactMedium"][0]["characteristic"]
            del medium["socialNetworkId"]
            medium["phoneNumber"] = self._phone_number()
            medium["emailAddress"] = f"musteri{self._rng.randrange(10_000)}@ornek.com.tr"
        return later


def _is_subscription(obj: dict[str, Any]) -> bool:
    return "engagedParty" in obj or "agreementType" in obj


def _flip_status(gen: ErpGenerator, obj: dict[str, Any]) -> None:
    obj["status"] = "Passive" if obj.get("status") == "Active" else "Active"


def _new_phone_number(gen: ErpGenerator, obj: dict[str, Any]) -> None:
    for medium in obj.get("contactMedium") or []:
        medium["characteristic"]["phoneNumber"] = gen._phone_number()


def _moved(gen: ErpGenerator, obj: dict[str, Any]) -> None:
    if obj.get("contactMedium"):
        address = gen._address()
        obj["contactMedium"][0]["characteristic"].update(city=address["city"], street1=address["street1"])


def characteristic(obj: dict[str, Any], name: str) -> dict[str, Any] | None:
    bag = obj.get("characteristic")
    if isinstance(bag, list):
        for triplet in bag:
            if isinstance(triplet, dict) and triplet.get("name") == name:
                return triplet
    return None


def _next_stage(gen: ErpGenerator, obj: dict[str, Any]) -> None:
    triplet = characteristic(obj, "STAGE")
    if triplet is not None:
        current = _STAGES.index(triplet["value"]) if triplet["value"] in _STAGES else -1
        triplet["value"] = _STAGES[min(current + 1, len(_STAGES) - 1)]


def _instalment_past_due(gen: ErpGenerator, obj: dict[str, Any]) -> None:
    triplet = characteristic(obj, "TOTAL_PAST_DUE_INSTALMENT")
    if triplet is not None:
        triplet["value"] = repr(round(gen._rng.uniform(100, 3000), 2))


def _extended(gen: ErpGenerator, obj: dict[str, Any]) -> None:
    completion = obj.get("completionDate")
    if isinstance(completion, dict) and "endDateTime" in completion:
        end = dt.date.fromisoformat(completion["endDateTime"])
        completion["endDateTime"] = _add_months(end, 12).isoformat()


def _segment_changed(gen: ErpGenerator, obj: dict[str, Any]) -> None:
    """The optional ``segment`` disappears when it was there, appears when it was not."""
    if obj.pop("segment", None) is None:
        obj["segment"] = gen._rng.choice(_SEGMENTS)


def _invoice_triplet_dropped(gen: ErpGenerator, obj: dict[str, Any]) -> None:
    bag = obj.get("characteristic")
    if isinstance(bag, list):
        obj["characteristic"] = [t for t in bag if not (isinstance(t, dict) and t.get("name") == "E_INVOICE")]


_CUSTOMER_CHANGES = (_flip_status, _new_phone_number, _moved, _segment_changed)
_SUBSCRIPTION_CHANGES = (_flip_status, _next_stage, _instalment_past_due, _extended, _invoice_triplet_dropped)

