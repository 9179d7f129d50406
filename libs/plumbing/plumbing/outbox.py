"""Reliable publication: an aggregate stores the events it emits in its own document.

The business write and the intention to publish are one MongoDB document write, so
they succeed or fail together (no multi-document transaction needed). A relay
publishes pending events with acks=all, then removes them from the document. A crash
between the two publishes them again: consumers are idempotent, so nothing is lost
and nothing is counted twice.

Concurrent writers are detected with a revision number (optimistic concurrency):
``commit()`` raises ``ConcurrentUpdate`` when the document changed since it was read.
"""
import functools
import logging
from concurrent.futures import ThreadPoolExecutor
from itertools import islice

import mongoengine as me
from pymongo.errors import DuplicateKeyError
from tenacity import Retrying, retry_if_exception_type, stop_after_attempt, wait_random

from . import events, metrics
from .kafka import Message, Publisher
from .logs import request_id_var

log = logging.getLogger(__name__)


class ConcurrentUpdate(Exception):
    """The document changed since it was read; reload and try again."""


def retry_on_conflict(function):
    """Run ``function`` again (20 times at most) while another writer changed the document meanwhile. A new
    Retrying each call: tenacity's decorator shares its statistics between threads calling it at once, and one
    thread's reset made another's retry fail with KeyError ('idle_for')."""
    @functools.wraps(function)
    def retried(*args, **kwargs):
        return Retrying(retry=retry_if_exception_type(ConcurrentUpdate), stop=stop_after_attempt(20),
                        wait=wait_random(0, 0.05), reraise=True)(function, *args, **kwargs)
    return retried


class VersionedDocument(me.Document):
    """A document written only if nobody changed it since it was read (a revision number)."""
    meta = {"abstract": True}

    revision = me.IntField(default=0)

    def commit(self):
        """Save the whole document in one write, or raise ConcurrentUpdate.

        An existing document is replaced whole, guarded by its revision: the aggregate and its
        outbox are written together, and a concurrent writer is detected rather than merged.
        """
        expected = self.revision
        self.revision = expected + 1
        try:
            if expected == 0:
                self.save(force_insert=True)
                return self
            self.validate()
            result = self._get_collection().replace_one({"_id": self.pk, "revision": expected}, self.to_mongo())
        except DuplicateKeyError as exc:
            self.revision = expected
            raise me.NotUniqueError(str(exc)) from None
        except BaseException:
            self.revision = expected
            raise
        if not result.matched_count:
            self.revision = expected
            raise ConcurrentUpdate(f"{type(self).__name__} {self.pk} changed meanwhile")
        self._clear_changed_fields()
        return self


class OutboxDocument(VersionedDocument):
    """An aggregate that publishes events: ``record()`` them, then ``commit()`` writes both at once."""
    meta = {"abstract": True, "indexes": ["has_outbox"]}

    outbox = me.ListField(me.DictField())
    has_outbox = me.BooleanField(default=False)

    def record(self, event: events.Event) -> None:
        """Queue an event for publication; it is stored by the next ``commit()``."""
        item = {"event": events.to_dict(event), "request_id": request_id_var.get()}
        self.outbox.append(item)
        self.has_outbox = True


ROUND_LIMIT = 10_000  # most documents one round reads (the rest wait for the next round)
CLEARING_THREADS = 3  # batches whose outboxes the store empties at once (FerretDB rewrites each document)


def relay_once(publisher: Publisher, topic: str, documents: list[type[OutboxDocument]],
               batch: int = 500) -> int:
    """Publish the pending events of every document class; returns how many were published.

    The documents one query finds pending (up to ROUND_LIMIT) are handled ``batch`` at a time: a batch's
    events go in one acknowledged publication (one broker write rather than one per document), then leave
    their documents, only after the broker acknowledged them (``PublishFailed`` otherwise). One query a
    round, not one per batch: the store may read every pending document to answer a query with a limit
    (FerretDB does), which made a burst of pending documents cost the square of its size.
    """
    published = backlog = 0
    for cls in documents:
        collection = cls._get_collection()
        found = collection.find({"has_outbox": True}, {"outbox": 1, "revision": 1})
        try:  # read at once: an open cursor holds one of the store's connections while the broker answers
            documents_found = list(islice(found, ROUND_LIMIT))
        finally:
            found.close()
        backlog += len(documents_found)
        clearing = []
        # the next batch is published while the store clears the last ones; the round ends when all are cleared
        with ThreadPoolExecutor(CLEARING_THREADS) as pool:
            for start in range(0, len(documents_found), batch):
                pending = documents_found[start:start + batch]
                messages = [_message(topic, item) for raw in pending for item in raw.get("outbox") or []]
                if not messages:
                    continue
                publisher.publish(messages)
                clearing.append(pool.submit(_forget_all, collection, pending))
                published += len(messages)
                for raw in pending:
                    for item in raw.get("outbox") or []:
                        metrics.EVENTS_PUBLISHED.labels(topic, item["event"]["type"]).inc()
        for cleared in clearing:
            cleared.result()  # a clearing that failed fails the round: its events go again, consumers skip them
    metrics.OUTBOX_PENDING.labels(topic).set(backlog)  # as this round found them (no count query of its own)
    return published


def pending_documents(documents: list[type[OutboxDocument]]) -> int:
    """How many documents hold events the relay has not published yet."""
    return sum(cls._get_collection().count_documents({"has_outbox": True}) for cls in documents)


def _message(topic: str, item: dict) -> Message:
    event = events.from_dict(item["event"])
    return Message(topic, event.key.encode(), events.encode(event),
                   [("request-id", (item.get("request_id") or "").encode())])


def _forget_all(collection, pending: list[dict]) -> None:
    """Empty the published outboxes with one update per revision number read (most documents were
    written once); a document written since it was read keeps the events recorded meanwhile and is
    handled alone."""
    by_revision: dict = {}
    for raw in pending:
        by_revision.setdefault(raw.get("revision"), []).append(raw["_id"])
    cleared = sum(collection.update_many({"_id": {"$in": ids}, "revision": revision},
                                         {"$set": {"outbox": [], "has_outbox": False,
                                                   "revision": (revision or 0) + 1}}).matched_count
                  for revision, ids in by_revision.items())
    if cleared == len(pending):
        return
    for raw in pending:
        _forget(collection, raw["_id"], {i["event"]["id"] for i in raw.get("outbox") or []})


def _forget(collection, doc_id, published_ids: set[str]) -> None:
    """Remove published events, keeping any recorded meanwhile (retried on a concurrent write)."""
    while True:
        current = collection.find_one({"_id": doc_id}, {"outbox": 1, "revision": 1})
        if current is None:
            return
        outbox = current.get("outbox") or []
        remaining = [i for i in outbox if i["event"]["id"] not in published_ids]
        if len(remaining) == len(outbox):
            return  # already forgotten (by the bulk write)
        result = collection.update_one(
            {"_id": doc_id, "revision": current["revision"]},
            {"$set": {"outbox": remaining, "has_outbox": bool(remaining),
                      "revision": current["revision"] + 1}})
        if result.matched_count:
            return
