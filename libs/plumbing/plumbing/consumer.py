"""The consumer loop every worker runs: apply each event once, dead-letter what cannot be applied.

Order of operations for each batch: apply every event (skipping ids already applied),
record each applied id under a unique index, then commit the offsets. A crash before the
commit redelivers the batch; the recorded ids make that harmless. Handlers must also be
idempotent for the one event in flight when a crash hits between its write and the
record of its id (write facts keyed by the event or the business id, never blind
increments).
"""
import logging
import signal
import threading
from collections.abc import Callable
from datetime import datetime, timezone

import mongoengine as me
from kafka.structs import OffsetAndMetadata
from pymongo.errors import PyMongoError
from tenacity import retry, retry_if_exception_type, wait_exponential

from . import events
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


_transient = retry(retry=retry_if_exception_type(PyMongoError), wait=wait_exponential(max=5), reraise=True)


class EventConsumer:
    def __init__(self, settings: Settings, topics: list[str], handlers: dict[str, Handler]):
        self.settings = settings
        self.topics = topics
        self.handlers = handlers
        self.dead_letters = Publisher(settings)
        self.consumer = None

    def start(self):
        self.consumer = make_consumer(self.settings, self.topics)

    def poll_once(self, timeout_ms: int = 500) -> int:
        """Apply one batch and commit it; returns how many messages were read."""
        batch = self.consumer.poll(timeout_ms=timeout_ms)
        offsets = {}
        for tp, messages in batch.items():
            for message in messages:
                self._apply(message)
                offsets[tp] = OffsetAndMetadata(message.offset + 1, None, -1)
        if offsets:
            self.consumer.commit(offsets)
        return sum(len(m) for m in batch.values())

    def close(self):
        if self.consumer is not None:
            consumer, self.consumer = self.consumer, None
            consumer.close(autocommit=False)
        self.dead_letters.close()

    def _apply(self, message) -> None:
        headers = dict(message.headers or [])
        token = request_id_var.set((headers.get("request-id") or b"").decode() or None)
        try:
            try:
                event = events.decode(message.value)
            except ValueError as exc:
                self._dead_letter(message, str(exc))
                return
            handler = self.handlers.get(event.type)
            if handler is None:
                return  # an event this service does not need
            if _transient(ProcessedEvent.objects(id=event.id).count)():
                return
            try:
                _transient(handler)(event)
            except PyMongoError:
                raise
            except Exception as exc:  # noqa: BLE001 - anything else can never succeed on retry
                self._dead_letter(message, f"{type(exc).__name__}: {exc}")
                return
            _transient(self._remember)(event)
        finally:
            request_id_var.reset(token)

    @staticmethod
    def _remember(event: events.Event) -> None:
        try:
            ProcessedEvent(id=event.id, type=event.type, applied_at=datetime.now(timezone.utc)).save(
                force_insert=True)
        except me.NotUniqueError:
            pass

    def _dead_letter(self, message, reason: str) -> None:
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


def run_worker(settings: Settings, consumes: list[str], handlers: dict[str, Handler],
               outbox_documents: list, stop: threading.Event | None = None) -> None:
    """Run the consumer loop and the outbox relay until SIGTERM/SIGINT (or ``stop``).

    ``consumes`` names the services whose events this worker applies.
    """
    stop = stop or threading.Event()
    if threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: stop.set())
    consumes = [settings.events_topic(service) for service in consumes]
    ensure_topics(settings, sorted({settings.topic, settings.dead_letter_topic, *consumes}))
    relay = threading.Thread(target=_relay_loop, args=(settings, outbox_documents, stop),
                             name="outbox-relay", daemon=True)
    relay.start()
    consumer = EventConsumer(settings, consumes, handlers) if consumes else None
    log.info("worker started", extra={"consumes": consumes})
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
        log.info("worker stopped")


def worker_main(load_settings: Callable[[], Settings], run: Callable[[Settings], None]) -> None:
    """The ``python -m <service>.worker`` entrypoint: settings, logs, database, then ``run``."""
    settings = load_settings()
    configure_logging(f"{settings.service}-worker", settings.log_level)
    connect_database(settings)
    run(settings)


def _relay_loop(settings: Settings, documents: list, stop: threading.Event) -> None:
    publisher = Publisher(settings)
    try:
        while not stop.is_set():
            try:
                if not relay_once(publisher, settings.topic, documents):
                    stop.wait(settings.relay_interval_s)
            except Exception:  # noqa: BLE001 - keep relaying; pending events stay in their documents
                log.exception("outbox relay failed; retrying")
                stop.wait(1)
    finally:
        publisher.close()
