"""The consumer loop every worker runs: apply each event once, dead-letter what cannot be applied.

Order of operations for each batch: apply every event (skipping ids already applied; a
``Batched`` handler gets all its events at once), record the applied ids under a unique
index, then commit the offsets. A crash before the commit redelivers the batch; the
recorded ids make that harmless. Handlers must also be idempotent for the events applied
before a crash but not yet recorded (write facts keyed by the event or the business id,
never blind increments).
"""
import logging
import signal
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone

import mongoengine as me
from kafka.structs import OffsetAndMetadata
from pymongo.errors import BulkWriteError, PyMongoError
from tenacity import retry, retry_if_exception_type, wait_exponential

from . import events, metrics
from .database import connect_database
from .kafka import Message, Publisher, ensure_topics, make_consumer
from .logs import configure_logging, request_id_var
from .outbox import relay_once
from .settings import Settings

log = logging.getLogger(__name__)

Handler = Callable[[events.Event], None]


class Unapplicable(Exception):
    """An event that can never be applied (bad payload, unknown reference): dead-letter it."""


class ProcessedEvent(me.Document):
    """Ids of the events this service has applied; the primary key is the unique index."""
    id = me.StringField(primary_key=True)
    type = me.StringField()
    applied_at = me.DateTimeField()
    meta = {"collection": "processed_events"}


@dataclass(frozen=True)
class Batched:
    """A handler that takes every event of its types in a poll at once, in their order, so that it
    can write in bulk and recompute a total once for a thousand events. ``apply`` returns the ids of
    the events it could not apply, each with the reason (they are dead-lettered), or None."""
    apply: Callable[[list[events.Event]], "dict[str, str] | None"]


_IN_CHUNK = 1000
MAX_GATHERED = 5000  # most messages a gathered batch holds (EventConsumer._gather)


def _request_ids(batch: dict) -> list[str]:
    """The request id of each message read that has one (the relay sends it as a header)."""
    return [value.decode() for records in batch.values() for record in records
            for name, value in record.headers or [] if name == "request-id" and value]


def _already_applied(event_ids: list[str]) -> set[str]:
    return {doc["_id"] for start in range(0, len(event_ids), _IN_CHUNK)
            for doc in ProcessedEvent._get_collection().find({"_id": {"$in": event_ids[start:start + _IN_CHUNK]}},
                                                             {"_id": 1})}


def _remember(applied: list[events.Event]) -> None:
    now = datetime.now(timezone.utc)
    try:
        ProcessedEvent._get_collection().insert_many(
            [ProcessedEvent(id=e.id, type=e.type, applied_at=now).to_mongo() for e in applied], ordered=False)
    except BulkWriteError as exc:  # ids already there: applied by an earlier run of this batch
        if any(error.get("code") != 11000 for error in exc.details.get("writeErrors", [])):
            raise


_transient = retry(retry=retry_if_exception_type(PyMongoError), wait=wait_exponential(max=5), reraise=True)


class EventConsumer:
    def __init__(self, settings: Settings, topics: list[str], handlers: dict[str, Handler | Batched],
                 gather_ms: int = 0):
        self.settings = settings
        self.topics = topics
        self.handlers = handlers
        self.gather_ms = gather_ms
        self.dead_letters = Publisher(settings)
        self.consumer = None
        self._lag_labels = set()  # the partitions whose lag this consumer reports

    def start(self):
        self.consumer = make_consumer(self.settings, self.topics)

    def poll_once(self, timeout_ms: int = 500) -> int:
        """Apply one batch and commit it; returns how many messages were read."""
        batch = self.consumer.poll(timeout_ms=timeout_ms)
        if batch and self.gather_ms:
            batch = self._gather(batch)
        messages = [message for partition in batch.values() for message in partition]
        if messages:
            self._apply_all(messages)
            self.consumer.commit({tp: OffsetAndMetadata(partition[-1].offset + 1, None, -1)
                                  for tp, partition in batch.items()})
        self._report_lag()
        return len(messages)

    def _gather(self, batch: dict) -> dict:
        """A bulk validation's events leave their service over several rounds of its relay while the request
        runs: when what was read holds several events of one request, keep reading while more of them come
        within ``gather_ms`` (up to MAX_GATHERED, for at most ten such waits), to apply them as one batch.
        Events of separate requests, such as single declarations at a steady rate, are applied as they come:
        waiting for more would only delay them (by up to ten waits at 20 lines a second)."""
        bursting = {request for request, count in Counter(_request_ids(batch)).items() if count > 1}
        deadline = time.monotonic() + 10 * self.gather_ms / 1000
        while bursting and time.monotonic() < deadline and sum(map(len, batch.values())) < MAX_GATHERED:
            more = self.consumer.poll(timeout_ms=self.gather_ms)
            for tp, records in more.items():
                batch.setdefault(tp, []).extend(records)
            if not bursting.intersection(_request_ids(more)):
                break
        return batch

    def _report_lag(self) -> None:
        """Lag of each assigned partition: the end offset the last fetch saw (no request) minus the
        position. Partitions this consumer no longer has stop being reported."""
        labels = set()
        for tp in self.consumer.assignment():
            end, position = self.consumer.highwater(tp), self.consumer.position(tp, timeout_ms=100)
            if end is not None and position is not None:
                label = (self.settings.consumer_group, tp.topic, str(tp.partition))
                metrics.CONSUMER_LAG.labels(*label).set(max(0, end - position))
                labels.add(label)
        self._forget_lag(self._lag_labels - labels)
        self._lag_labels = labels

    def _forget_lag(self, labels) -> None:
        for label in labels:
            metrics.CONSUMER_LAG.remove(*label)

    def close(self):
        if self.consumer is not None:
            consumer, self.consumer = self.consumer, None
            consumer.close(autocommit=False)
        self._forget_lag(self._lag_labels)
        self._lag_labels = set()
        self.dead_letters.close()

    def _apply_all(self, messages: list) -> None:
        """Apply each new event of the batch once, dead-letter what cannot be applied, remember the rest.

        Events for a ``Batched`` handler are applied together after the batch's other events."""
        decoded = [(message, self._decode(message)) for message in messages]
        wanted = [event.id for _, event in decoded if event is not None and event.type in self.handlers]
        seen = _transient(_already_applied)(wanted)
        applied, grouped = [], {}
        for message, event in decoded:
            if event is None:
                continue  # dead-lettered (and counted) by _decode
            if event.type not in self.handlers:
                _count(message, event.type, "ignored")
                continue
            if event.id in seen:
                _count(message, event.type, "skipped_duplicate")
                continue
            seen.add(event.id)  # the same event twice in one batch
            handler = self.handlers[event.type]
            if isinstance(handler, Batched):
                grouped.setdefault(handler, []).append((message, event))
            elif self._apply(message, event, handler):
                applied.append(event)
        for handler, items in grouped.items():
            applied += self._apply_batched(handler, items)
        if applied:
            _transient(_remember)(applied)

    def _apply(self, message, event: events.Event, handler: Handler) -> bool:
        headers = dict(message.headers or [])
        token = request_id_var.set((headers.get("request-id") or b"").decode() or None)
        try:
            _transient(handler)(event)
            _count(message, event.type, "applied")
            return True
        except PyMongoError:
            raise
        except Exception as exc:  # noqa: BLE001 - anything else can never succeed on retry
            self._dead_letter(message, f"{type(exc).__name__}: {exc}", event.type)
            return False
        finally:
            request_id_var.reset(token)

    def _apply_batched(self, handler: Batched, items: list) -> list[events.Event]:
        try:
            refused = _transient(handler.apply)([event for _, event in items]) or {}
        except PyMongoError:
            raise
        except Exception as exc:  # noqa: BLE001 - as for a single handler: it would fail again
            refused = {event.id: f"{type(exc).__name__}: {exc}" for _, event in items}
        for message, event in items:
            if event.id in refused:
                self._dead_letter(message, refused[event.id], event.type)
            else:
                _count(message, event.type, "applied")
        return [event for _, event in items if event.id not in refused]

    def _decode(self, message) -> events.Event | None:
        try:
            return events.decode(message.value)
        except ValueError as exc:
            self._dead_letter(message, str(exc))
            return None

    def _dead_letter(self, message, reason: str, event_type: str = "unknown") -> None:
        log.warning("event dead-lettered", extra={"topic": message.topic, "partition": message.partition,
                                                   "offset": message.offset, "reason": reason})
        headers = list(message.headers or []) + [
            ("dead-letter-reason", reason.encode()),
            ("source-topic", message.topic.encode()),
            ("source-partition", str(message.partition).encode()),
            ("source-offset", str(message.offset).encode()),
            ("consumer-group", self.settings.service.encode()),
        ]
        # raises PublishFailed when the broker does not take it: the batch is then not committed
        self.dead_letters.publish([Message(self.settings.dead_letter_topic, message.key, message.value, headers)])
        _count(message, event_type, "dead_lettered")


def _count(message, event_type: str, outcome: str) -> None:
    metrics.EVENTS_CONSUMED.labels(message.topic, event_type, outcome).inc()


def run_worker(settings: Settings, consumes: list[str], handlers: dict[str, Handler | Batched],
               outbox_documents: list, stop: threading.Event | None = None, gather_ms: int = 0) -> None:
    """Run the consumer loop and the outbox relay until SIGTERM/SIGINT (or ``stop``).

    ``consumes`` names the services whose events this worker applies; ``gather_ms``: see EventConsumer._gather.
    """
    stop = stop or threading.Event()
    if threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: stop.set())
    consumes = [settings.events_topic(service) for service in consumes]
    ensure_topics(settings, sorted({settings.topic, settings.dead_letter_topic, *consumes}))
    stop_metrics = metrics.serve(settings.metrics_host, settings.metrics_port)
    relay = threading.Thread(target=_relay_loop, args=(settings, outbox_documents, stop),
                             name="outbox-relay", daemon=True)
    relay.start()
    consumer = EventConsumer(settings, consumes, handlers, gather_ms) if consumes else None
    log.info("worker started", extra={"consumes": consumes, "metrics_port": settings.metrics_port})
    try:
        while not stop.is_set():
            if consumer is None:
                stop.wait(0.5)
                continue
            try:
                if consumer.consumer is None:
                    consumer.start()
                consumer.poll_once()
            except Exception:  # noqa: BLE001 - start again from the last committed offsets
                log.exception("consumer failed; reconnecting from the committed offsets")
                consumer.close()
                stop.wait(1)
    finally:
        stop.set()
        relay.join(timeout=10)
        if consumer:
            consumer.close()
        stop_metrics()
        log.info("worker stopped")


def worker_main(load_settings: Callable[[], Settings], run: Callable[[Settings], None]) -> None:
    """The ``python -m <service>.worker`` entrypoint: settings, logs, database, then ``run``."""
    settings = load_settings()
    configure_logging(f"{settings.service}-worker", settings.log_level)
    connect_database(settings)
    run(settings)


QUICK_RELAY_WAIT_S = 0.05
BACKLOG_EVENTS = 100  # a round that published this many left more behind it, likely: the next goes at once


def relay_wait(idle_rounds: int, longest: float) -> float:
    """How long the relay waits after a round, ``idle_rounds`` being how many rounds in a row found nothing:
    briefly after a round that published, since single declarations at a steady rate come tens of milliseconds
    apart, then doubling up to ``longest`` (an idle service asks its store a few times a second)."""
    return min(longest, QUICK_RELAY_WAIT_S * 2 ** min(idle_rounds, 20))


def _relay_loop(settings: Settings, documents: list, stop: threading.Event) -> None:
    publisher = Publisher(settings)
    idle_rounds = 0
    try:
        while not stop.is_set():
            try:
                published = relay_once(publisher, settings.topic, documents)
                idle_rounds = 0 if published else idle_rounds + 1
                if published < BACKLOG_EVENTS:
                    stop.wait(relay_wait(idle_rounds, settings.relay_interval_s))
            except Exception:  # noqa: BLE001 - keep relaying; pending events stay in their documents
                log.exception("outbox relay failed; retrying")
                stop.wait(1)
    finally:
        publisher.close()
