"""ERP consumers that each break one rule: subclasses of the reference consumer that change what it is handed,
what it answers the broker, or — after the reference committed a batch — what it stored, the way a consumer
written with that one mistake would."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from inventory_push_kit.receiver import storage
from inventory_push_kit.receiver.amqp import Consumer, Topology, _Session
from inventory_push_kit.receiver.channels import erp
from inventory_push_kit.receiver.channels.erp import ErpObject, Notification
from inventory_push_kit.receiver.errors import ReceiverError
from inventory_push_kit.receiver.web import Receipt
from tests.mutants import mutant

CUSTOMERS, SUBSCRIPTIONS = erp.customer_table, erp.subscription_table
BAG, LINKS = erp.characteristic_table, erp.engaged_party_table
# What a consumer that maps messages onto a model of the document's examples knows of each object.
DOCUMENTED = {"customer": ("id", "status", "name", "contactMedium"),
              "subscription": ("id", "agreementType", "documentNumber", "name", "status", "characteristic",
                               "properties", "completionDate", "engagedParty")}


def read(notification: Notification) -> ErpObject | None:
    """The message as the reference reads it, or None when it can never be stored."""
    try:
        return erp.parse(notification.kind, notification.body)
    except ReceiverError:
        return None


def document(notification: Notification) -> Any:
    try:
        return json.loads(notification.body)
    except ValueError:
        return None


Stored = list[tuple[ErpObject, Receipt]]  # the messages of a batch the reference stored, or found unchanged


class ChangesWhatItStored(Consumer):
    """Stores a batch like the reference, then, in a transaction of its own, changes what was stored."""

    def _store_batch(self, notifications: list[Notification]) -> list[Receipt]:
        with self.store.read() as conn:
            before = self.before(conn, [obj for n in notifications if (obj := read(n)) is not None])
        receipts = super()._store_batch(notifications)
        stored = [(obj, receipt) for notification, receipt in zip(notifications, receipts, strict=True)
                  if receipt.outcome != "rejected" and (obj := read(notification)) is not None]
        with self.store.write() as conn:
            self.after(conn, stored, before)
        return receipts

    def before(self, conn: Connection, objects: list[ErpObject]) -> Any:
        """What it reads before the batch is stored (nothing unless a mistake needs it)."""
        return None

    def after(self, conn: Connection, stored: Stored, before: Any) -> None:
        raise NotImplementedError


class RefusesSome(Consumer):
    """Dead-letters the messages ``refuses`` names a reason for; stores the others like the reference."""

    def refuses(self, notification: Notification, sent: Any) -> str | None:
        raise NotImplementedError

    def _store_batch(self, notifications: list[Notification]) -> list[Receipt]:
        reasons = [self.refuses(n, document(n)) for n in notifications]
        kept = [n for n, reason in zip(notifications, reasons, strict=True) if reason is None]
        stored = iter(super()._store_batch(kept) if kept else [])
        return [next(stored) if reason is None else
                Receipt("rejected", erp.record_unstorable(self.store, n, reason), {}, reason=reason)
                for n, reason in zip(notifications, reasons, strict=True)]


def accepted_subscriptions(stored: Stored) -> list[ErpObject]:
    return [obj for obj, receipt in stored if obj.kind is erp.SUBSCRIPTION and receipt.outcome == "accepted"]


def bag_rows(obj_id: str, characteristics: Sequence[erp.Characteristic], start: int = 0) -> list[dict[str, Any]]:
    return [{"subscription_id": obj_id, "position": start + i, "name": c.name, "value_type": c.value_type,
             "value": c.value, "type": c.type, "parsed": c.parsed, "problem": c.problem}
            for i, c in enumerate(characteristics)]


# --- erp.ack-after-processing ----------------------------------------------------------------------------


@mutant("rejects-batch-with-poison", "erp.ack-after-processing",
        "when a batch holds a message it can never process, rejects the whole batch (one basic_nack, multiple, no "
        "requeue): the conforming messages beside the poison are dead-lettered though it stored them")
class RejectsBatchWithPoison(Consumer):
    def _settle(self, session: _Session) -> None:
        batch = session.in_flight
        if batch is None or batch.future.exception() is not None or len(batch.deliveries) < 2 or not any(
                receipt.outcome == "rejected" for receipt in batch.future.result()):
            super()._settle(session)
            return
        session.in_flight = None
        session.channel.basic_nack(batch.deliveries[-1][0], multiple=True, requeue=False)
        self.stats.dead_lettered += len(batch.deliveries)
        self.stats.batches += 1


# --- erp.idempotent --------------------------------------------------------------------------------------------


@mutant("rejects-duplicates", "erp.idempotent",
        "rejects (no requeue) a message whose state it already holds, as 'already processed', instead of "
        "acknowledging it: every re-delivery ends in the dead-letter queue")
class RejectsDuplicates(Consumer):
    def _store_batch(self, notifications: list[Notification]) -> list[Receipt]:
        return [dataclasses.replace(r, outcome="rejected", reason="already processed") if r.outcome == "duplicate"
                else r for r in super()._store_batch(notifications)]


@mutant("bag-added-again", "erp.idempotent",
        "its duplicate check guards the document but not the bag: a subscription delivered again gets its "
        "characteristics inserted once more")
class BagAddedAgain(ChangesWhatItStored):
    def after(self, conn: Connection, stored: Stored, before: Any) -> None:
        for obj, receipt in stored:
            if obj.kind is erp.SUBSCRIPTION and receipt.outcome == "duplicate" and obj.characteristics:
                count = conn.execute(sa.select(sa.func.count()).where(BAG.c.subscription_id == obj.id)).scalar_one()
                conn.execute(BAG.insert(), bag_rows(obj.id, obj.characteristics, start=count))


# --- erp.full-state, erp.queue-order, erp.keyed-by-queue, erp.deactivated-kept ---------------------------------


@mutant("merges-states", "erp.full-state",
        "merges a later state into the stored one (JSON object merge, as PostgreSQL's `||`) instead of replacing "
        "it: a property the later state no longer has stays")
class MergesStates(ChangesWhatItStored):
    def before(self, conn: Connection, objects: list[ErpObject]) -> Any:
        held = {}
        for obj in objects:
            table = obj.kind.table
            row = conn.execute(sa.select(table.c.document).where(table.c.id == obj.id)).first()
            if row is not None:
                held.setdefault((obj.kind.name, obj.id), row.document)
        return held

    def after(self, conn: Connection, stored: Stored, before: Any) -> None:
        for obj, receipt in stored:
            if receipt.outcome == "accepted" and (obj.kind.name, obj.id) in before:
                merged = before[(obj.kind.name, obj.id)] | obj.document
                conn.execute(obj.kind.table.update().where(obj.kind.table.c.id == obj.id).values(document=merged))


@mutant("first-state-wins", "erp.full-state",
        "inserts each object once and ignores it afterwards (INSERT … ON CONFLICT DO NOTHING, taken for "
        "idempotency): a later state never replaces the first one stored")
class FirstStateWins(ChangesWhatItStored):
    def before(self, conn: Connection, objects: list[ErpObject]) -> Any:
        rows: dict[sa.Table, list[dict[str, Any]]] = {}
        for kind in erp.KINDS.values():
            ids = [obj.id for obj in objects if obj.kind is kind]
            rows[kind.table] = [dict(r._mapping) for r in conn.execute(sa.select(kind.table)
                                                                       .where(kind.table.c.id.in_(ids)))]
            if kind is erp.SUBSCRIPTION:
                for table in (BAG, LINKS):
                    rows[table] = [dict(r._mapping) for r in conn.execute(sa.select(table).where(
                        table.c.subscription_id.in_([r["id"] for r in rows[kind.table]])))]
        return rows

    def after(self, conn: Connection, stored: Stored, before: Any) -> None:
        held = {(kind.name, row["id"]) for kind in erp.KINDS.values() for row in before[kind.table]}
        for kind in erp.KINDS.values():
            ids = [i for name, i in held if name == kind.name]
            if kind is erp.SUBSCRIPTION:
                for table in (BAG, LINKS):
                    conn.execute(table.delete().where(table.c.subscription_id.in_(ids)))
            conn.execute(kind.table.delete().where(kind.table.c.id.in_(ids)))
        for table in (CUSTOMERS, SUBSCRIPTIONS, BAG, LINKS):
            if before[table]:
                conn.execute(table.insert(), before[table])


@mutant("bag-kept-by-name", "erp.full-state",
        "upserts each characteristic by its name and never deletes one: a triplet a later state no longer sends "
        "stays in the subscription's bag")
class BagKeptByName(ChangesWhatItStored):
    def before(self, conn: Connection, objects: list[ErpObject]) -> Any:
        ids = [obj.id for obj in objects if obj.kind is erp.SUBSCRIPTION]
        held: dict[str, list[erp.Characteristic]] = {}
        for t in conn.execute(sa.select(BAG).where(BAG.c.subscription_id.in_(ids)).order_by(BAG.c.position)):
            held.setdefault(t.subscription_id, []).append(
                erp.Characteristic(t.name, t.value_type, t.value, t.type, t.parsed, t.problem))
        return held

    def after(self, conn: Connection, stored: Stored, before: Any) -> None:
        for obj in accepted_subscriptions(stored):
            names = {c.name for c in obj.characteristics}
            gone = [c for c in before.get(obj.id, []) if c.name not in names]
            count = conn.execute(sa.select(sa.func.count()).where(BAG.c.subscription_id == obj.id)).scalar_one()
            if gone:
                conn.execute(BAG.insert(), bag_rows(obj.id, gone, start=count))
            before[obj.id] = [*obj.characteristics, *gone]


@mutant("batch-first-wins", "erp.queue-order",
        "de-duplicates each batch by id keeping the first message of each (a `seen` set): when several states of "
        "one id arrive together, the earliest is stored and the later ones are acknowledged unread")
class BatchFirstWins(Consumer):
    def _store_batch(self, notifications: list[Notification]) -> list[Receipt]:
        first: dict[tuple[str, str], int] = {}
        for index, notification in enumerate(notifications):
            obj = read(notification)
            if obj is not None:
                first.setdefault((obj.kind.name, obj.id), index)
        dropped = {i for i, n in enumerate(notifications) if (obj := read(n)) is not None
                   and first[(obj.kind.name, obj.id)] != i}
        kept = [n for i, n in enumerate(notifications) if i not in dropped]
        stored = iter(super()._store_batch(kept))
        receipts: list[Receipt] = []
        for index in range(len(notifications)):
            receipts.append(Receipt("duplicate", receipts[-1].delivery if receipts else 0, {})
                            if index in dropped else next(stored))
        return receipts


@mutant("one-table-for-both", "erp.keyed-by-queue",
        "keeps customers and subscriptions in one table keyed on id: a subscription overwrites the customer "
        "with the same id, and the other way round")
class OneTableForBoth(ChangesWhatItStored):
    def after(self, conn: Connection, stored: Stored, before: Any) -> None:
        last = {obj.id: obj for obj, receipt in stored if receipt.outcome == "accepted"}
        for object_id, obj in last.items():
            for table in (CUSTOMERS, SUBSCRIPTIONS):
                conn.execute(table.update().where(table.c.id == object_id).values(document=obj.document))


@mutant("deletes-passive", "erp.deactivated-kept",
        "takes a deactivation for a removal: a customer or subscription whose status is Passive is deleted")
class DeletesPassive(ChangesWhatItStored):
    def after(self, conn: Connection, stored: Stored, before: Any) -> None:
        for obj, receipt in stored:
            if receipt.outcome == "accepted" and obj.document.get("status") == "Passive":
                if obj.kind is erp.SUBSCRIPTION:
                    for table in (BAG, LINKS):
                        conn.execute(table.delete().where(table.c.subscription_id == obj.id))
                conn.execute(obj.kind.table.delete().where(obj.kind.table.c.id == obj.id))


# --- erp.properties-alias, erp.value-type-case, erp.raw-value-kept, erp.bag-defensive ----------------------------


@mutant("ignores-properties-alias", "erp.properties-alias",
        "reads the bag from `characteristic` only: triplets sent under `properties` are kept in the document "
        "but never read")
class IgnoresPropertiesAlias(ChangesWhatItStored):
    def after(self, conn: Connection, stored: Stored, before: Any) -> None:
        for obj in accepted_subscriptions(stored):
            if "properties" in obj.document:
                bag = {"characteristic": obj.document["characteristic"]} if "characteristic" in obj.document else {}
                only = erp.parse(erp.SUBSCRIPTION, json.dumps({"id": obj.id, **bag}).encode())
                conn.execute(BAG.delete().where(BAG.c.subscription_id == obj.id))
                if only.characteristics:
                    conn.execute(BAG.insert(), bag_rows(obj.id, only.characteristics))


# The valueType spellings of the document's example, looked up as they are.
DOCUMENT_SPELLINGS = {"String", "Date", "Float", "Integer", "Boolean", "DateTime"}


@mutant("value-type-case-sensitive", "erp.value-type-case",
        "looks valueType up as the document spells it (String, Date, Float …): `DATE` or `float` is an unknown "
        "type, its value left unread")
class ValueTypeCaseSensitive(ChangesWhatItStored):
    def after(self, conn: Connection, stored: Stored, before: Any) -> None:
        for obj in accepted_subscriptions(stored):
            for position, c in enumerate(obj.characteristics):
                if c.value_type not in DOCUMENT_SPELLINGS:
                    conn.execute(BAG.update().where((BAG.c.subscription_id == obj.id) & (BAG.c.position == position))
                                 .values(type=None, parsed=c.value, problem=None))


@mutant("drops-unparsed-value", "erp.raw-value-kept",
        "stores the parsed value only: a value that does not parse as its valueType is stored as null")
class DropsUnparsedValue(ChangesWhatItStored):
    def after(self, conn: Connection, stored: Stored, before: Any) -> None:
        ids = [obj.id for obj in accepted_subscriptions(stored)]
        conn.execute(BAG.update().where(BAG.c.subscription_id.in_(ids) & BAG.c.problem.is_not(None)).values(value=None))


@mutant("bag-must-be-a-list", "erp.bag-defensive",
        "validates the bag strictly: a subscription whose bag is not a list of complete string triplets is "
        "dead-lettered")
class BagMustBeAList(RefusesSome):
    def refuses(self, notification: Notification, sent: Any) -> str | None:
        if notification.kind is not erp.SUBSCRIPTION or not isinstance(sent, dict):
            return None
        for name in ("characteristic", "properties"):
            bag = sent.get(name)
            if bag is not None and not (isinstance(bag, list) and all(
                    isinstance(t, dict) and all(isinstance(t.get(k), str) for k in ("name", "valueType", "value"))
                    for t in bag)):
                return f"{name} is not a list of {{name, valueType, value}} strings"
        return None


# --- erp.engaged-party, erp.cross-queue-order --------------------------------------------------------------------


@mutant("first-engaged-party-only", "erp.engaged-party",
        "reads `engagedParty[0]` as the subscription's one customer: the other parties are not linked")
class FirstEngagedPartyOnly(ChangesWhatItStored):
    def after(self, conn: Connection, stored: Stored, before: Any) -> None:
        ids = [obj.id for obj in accepted_subscriptions(stored)]
        conn.execute(LINKS.delete().where(LINKS.c.subscription_id.in_(ids) & (LINKS.c.position > 0)))


@mutant("links-known-customers-only", "erp.cross-queue-order",
        "links a subscription only to customers it already holds (a foreign key, the link skipped otherwise): a "
        "subscription that arrives before its customer stays unlinked")
class LinksKnownCustomersOnly(ChangesWhatItStored):
    def after(self, conn: Connection, stored: Stored, before: Any) -> None:
        ids = [obj.id for obj in accepted_subscriptions(stored)]
        known = sa.select(CUSTOMERS.c.id)
        conn.execute(LINKS.delete().where(LINKS.c.subscription_id.in_(ids) & LINKS.c.customer_id.not_in(known)))


# --- erp.forward-compatible, erp.utf8-text, erp.processable-stored ----------------------------------------------


@mutant("drops-unknown-properties", "erp.forward-compatible",
        "maps each message onto a model of the document's example and stores that: properties the example does "
        "not show are lost")
class DropsUnknownProperties(ChangesWhatItStored):
    def after(self, conn: Connection, stored: Stored, before: Any) -> None:
        for obj, receipt in stored:
            if receipt.outcome == "accepted":
                known = {k: v for k, v in obj.document.items() if k in DOCUMENTED[obj.kind.name]}
                conn.execute(obj.kind.table.update().where(obj.kind.table.c.id == obj.id).values(document=known))


@mutant("decodes-windows-1254", "erp.utf8-text",
        "decodes message bodies as Windows-1254 (the Turkish code page of the ERP's servers) instead of UTF-8: "
        "every Turkish letter is stored garbled")
class DecodesWindows1254(Consumer):
    def _store_batch(self, notifications: list[Notification]) -> list[Receipt]:
        return super()._store_batch([dataclasses.replace(n, body=n.body.decode("cp1254", "replace").encode())
                                     for n in notifications])


@mutant("strict-schema", "erp.processable-stored",
        "validates each message against the document's example types (id, name, status and documentNumber "
        "strings) and dead-letters what does not fit")
class StrictSchema(RefusesSome):
    def refuses(self, notification: Notification, sent: Any) -> str | None:
        if not isinstance(sent, dict) or "id" not in sent:
            return None  # poison: the reference dead-letters it
        needed = ("id", "name", "status") + (("documentNumber",) if notification.kind is erp.SUBSCRIPTION else ())
        wrong = [key for key in needed if not isinstance(sent.get(key), str)]
        return f"not a string: {', '.join(wrong)}" if wrong else None


# --- erp.poison-dead-lettered --------------------------------------------------------------------------------------


@mutant("drops-poison", "erp.poison-dead-lettered",
        "acknowledges a message it can never process (so it is lost) instead of dead-lettering it")
class DropsPoison(Consumer):
    def _store_batch(self, notifications: list[Notification]) -> list[Receipt]:
        return [dataclasses.replace(r, outcome="accepted") if r.outcome == "rejected" else r
                for r in super()._store_batch(notifications)]


@dataclass(frozen=True)
class CustomerQueueDeadLetters(Topology):
    """The topology with dead-lettering declared on the customer queue only."""

    def arguments(self, queue: str) -> dict[str, str | bool]:
        arguments = super().arguments(queue)
        if self.queues[queue] is erp.SUBSCRIPTION:
            for key in ("x-dead-letter-exchange", "x-dead-letter-routing-key"):
                del arguments[key]
        return arguments


@mutant("dead-letters-customers-only", "erp.poison-dead-lettered",
        "declares dead-lettering on the customer queue only: a poison subscription is rejected into nothing")
class DeadLettersCustomersOnly(Consumer):
    def __init__(self, config: erp.Config, store: storage.Store, **hooks: Any) -> None:
        super().__init__(config, store, **hooks)
        t = self.topology
        self.topology = CustomerQueueDeadLetters(t.queues, t.dead_letter_exchange, t.dead_letter_suffix,
                                                 t.single_active_consumer)


# Every rule of the ERP has a consumer that breaks it: nothing of this channel in NOT_COVERED.
