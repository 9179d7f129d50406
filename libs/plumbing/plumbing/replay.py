"""Reading the events of consumed topics from their beginning up to their end as it was when reading started:
what a service's rebuild command folds into its model again (the observatory's read model, the markets
service's progress).

Read with librdkafka (confluent-kafka): it fetches and unpacks in C threads, where kafka-python's unpacking
took as much of a rebuild's core as decoding and folding.
"""
import logging
from collections.abc import Callable, Iterator

from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, KafkaException, TopicPartition
from kafka.admin import KafkaAdminClient

from . import events
from .settings import Settings

log = logging.getLogger(__name__)


class WorkerRunning(RuntimeError):
    """A rebuild found the service's worker running; nothing was changed."""


def refuse_while_the_worker_runs(settings: Settings) -> None:
    """A rebuild replaces what the worker writes: it may only run while the worker's group has no member."""
    admin = KafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap_servers)
    try:
        group = admin.describe_groups([settings.consumer_group]).get(settings.consumer_group) or {}
    finally:
        admin.close()
    if group.get("members"):
        raise WorkerRunning(
            f"Le worker du service « {settings.service} » tourne ({len(group['members'])} consommateur(s) dans "
            f"le groupe « {settings.consumer_group} ») : arrêtez-le, puis relancez la reconstruction ; "
            f"rien n'a été modifié. "
            f"(The {settings.service} worker is running: stop it, then rebuild again; nothing was changed.)")


class TopicsReplay:
    """The events of the topics of ``services`` (their events topics), from the beginning up to the end each
    partition had when the replay opened; what is published after that is left to the worker.

        with TopicsReplay(settings, ["hours"]) as replay:
            for event in replay.events(progress):
                ...
            replay.commit_ends()  # optional: the worker's group goes on from there
    """

    def __init__(self, settings: Settings, services: list[str]):
        self.topics = [settings.events_topic(service) for service in services]
        self.consumer = Consumer({
            "bootstrap.servers": ",".join(settings.kafka_bootstrap_servers), "group.id": settings.consumer_group,
            "enable.auto.commit": False, "enable.partition.eof": True,
            "max.partition.fetch.bytes": 16 * 1024 * 1024, "logger": log})
        known = self.consumer.list_topics(timeout=30).topics
        self.ends = {(t, p): self.consumer.get_watermark_offsets(TopicPartition(t, p), timeout=30)[1]
                     for t in self.topics if t in known and not known[t].error for p in sorted(known[t].partitions)}

    def __enter__(self) -> "TopicsReplay":
        return self

    def __exit__(self, *_exc) -> None:
        self.consumer.close()

    def events(self, progress: Callable[[int], None] | None = None) -> Iterator[events.Event]:
        """Every well-formed event, in each partition's order (what does not decode was dead-lettered by the
        worker: it never counted). ``progress`` gets the count read so far, now and then."""
        remaining = {tp for tp, end in self.ends.items() if end > 0}
        self.consumer.assign([TopicPartition(t, p, OFFSET_BEGINNING) for t, p in remaining])
        count = 0
        while remaining:
            for message in self.consumer.consume(num_messages=10_000, timeout=1):
                tp = (message.topic(), message.partition())
                if message.error() is not None:
                    if message.error().code() != KafkaError._PARTITION_EOF:
                        raise KafkaException(message.error())
                    remaining.discard(tp)  # at its end (an empty or emptied partition says only this)
                    continue
                if message.offset() >= self.ends[tp] - 1:
                    remaining.discard(tp)
                    if message.offset() >= self.ends[tp]:
                        continue  # published after the replay opened: the worker applies it
                try:
                    event = events.decode(message.value())
                except ValueError:
                    continue
                count += 1
                yield event
            if progress:
                progress(count)

    def commit_ends(self) -> None:
        """Set the worker's group to go on from where the replay stopped."""
        self.consumer.commit(offsets=[TopicPartition(t, p, end) for (t, p), end in self.ends.items()],
                             asynchronous=False)
