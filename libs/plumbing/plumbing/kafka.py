"""Kafka clients configured once: a reliable producer, explicit topics, group consumers."""
import logging
from dataclasses import dataclass

from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer, TopicPartition
from kafka.admin import NewTopic, OffsetSpec
from kafka.errors import TopicAlreadyExistsError
from tenacity import retry, stop_after_delay, wait_exponential

from .settings import Settings

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Message:
    topic: str
    key: bytes | None
    value: bytes
    headers: list[tuple[str, bytes]]


# The relay sends up to 500 documents' events at once: 512 kB batches (kafka-python's default is
# 16 kB) take them in a few requests.
PRODUCER_BATCH_BYTES = 512 * 1024


class PublishFailed(Exception):
    """The broker did not acknowledge every message; nothing may be treated as published."""


class Publisher:
    """Publishes with acks=all and says so only once the broker has acknowledged every message.
    A producer that met an error is replaced by a fresh one."""

    def __init__(self, settings: Settings, ack_timeout_s: float = 30):
        self.settings = settings
        self.ack_timeout_s = ack_timeout_s
        self._producer = None

    def publish(self, messages: list[Message]) -> None:
        try:
            producer = self._producer or self._connect()
            futures = [producer.send(m.topic, key=m.key, value=m.value, headers=m.headers) for m in messages]
            producer.flush(timeout=self.ack_timeout_s)
            for future in futures:
                future.get(timeout=self.ack_timeout_s)  # flush() does not raise for failed sends
        except Exception as exc:  # noqa: BLE001 - any failure: start again with a fresh producer
            self.close()
            raise PublishFailed(f"{type(exc).__name__}: {exc}") from exc

    def _connect(self) -> KafkaProducer:
        self._producer = KafkaProducer(
            bootstrap_servers=self.settings.kafka_bootstrap_servers,
            client_id=f"{self.settings.service}-producer",
            acks="all",
            # The broker drops the duplicates of a retried batch: a lost acknowledgement never writes
            # an event twice, and order holds per partition with several requests in flight.
            enable_idempotence=True,
            linger_ms=5,
            batch_size=PRODUCER_BATCH_BYTES,
            max_block_ms=int(self.ack_timeout_s * 1000),  # a broker that is down fails the publication in time
        )
        return self._producer

    def close(self) -> None:
        if self._producer is not None:
            producer, self._producer = self._producer, None
            try:
                producer.close(timeout=5)
            except Exception:  # noqa: BLE001 - it is being discarded anyway
                log.warning("producer did not close cleanly")
                # kafka-python's close() gives up at a flush that times out (a broker down) and leaves
                # its sender thread reconnecting forever: stop it, or every outage leaks a thread.
                if getattr(producer, "_sender", None) is not None:
                    producer._sender.force_close()


def make_consumer(settings: Settings, topics: list[str], group: str | None = None) -> KafkaConsumer:
    return KafkaConsumer(
        *topics,
        bootstrap_servers=settings.kafka_bootstrap_servers,
        client_id=f"{settings.service}-consumer",
        group_id=group or settings.consumer_group,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        session_timeout_ms=settings.kafka_session_timeout_ms,
        heartbeat_interval_ms=settings.kafka_heartbeat_interval_ms,
        max_poll_records=500,
    )


@retry(stop=stop_after_delay(60), wait=wait_exponential(max=2), reraise=True)
def ensure_topics(settings: Settings, topics: list[str]) -> list[str]:
    """Create the topics that do not exist yet, with the configured partition count.

    Retried for a minute so that a service started alongside its broker waits for it.
    Returns the topics it created.
    """
    admin = KafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap_servers,
                             client_id=f"{settings.service}-admin")
    try:
        existing = set(admin.list_topics())
        missing = [t for t in topics if t not in existing]
        created = []
        for topic in missing:
            try:
                admin.create_topics([NewTopic(topic, settings.kafka_topic_partitions,
                                              settings.kafka_replication_factor)])
                created.append(topic)
            except TopicAlreadyExistsError:
                pass  # another process created it meanwhile
        if created:
            log.info("topics created", extra={"topics": created})
        return created
    finally:
        admin.close()


def broker_reachable(settings: Settings) -> bool:
    """True when the broker answers a metadata request (for readiness probes)."""
    try:
        admin = KafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap_servers,
                                 client_id=f"{settings.service}-health", request_timeout_ms=2000,
                                 bootstrap_timeout_ms=2000)  # a probe must answer quickly
    except Exception:
        return False
    try:
        admin.list_topics()
        return True
    except Exception:
        return False
    finally:
        admin.close()


def consumer_group_lag(settings: Settings, topics: list[str]) -> dict[str, int]:
    """Events of each topic that the service's consumer group has not committed yet (end offset minus
    committed offset, summed over the partitions), with the short timeouts of a probe."""
    if not topics:
        return {}
    admin = KafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap_servers,
                             client_id=f"{settings.service}-health", request_timeout_ms=2000,
                             bootstrap_timeout_ms=2000)
    try:
        partitions = [TopicPartition(topic["name"], partition["partition_index"])
                      for topic in admin.describe_topics(topics) for partition in topic["partitions"]]
        if not partitions:
            return {topic: 0 for topic in topics}
        ends = admin.list_partition_offsets({tp: OffsetSpec.LATEST for tp in partitions})
        committed = admin.list_group_offsets({settings.consumer_group: partitions})[settings.consumer_group]
        never = [tp for tp in partitions if tp not in committed or committed[tp].offset < 0]
        # a partition the group never committed is read from its first offset (auto_offset_reset=earliest)
        starts = admin.list_partition_offsets({tp: OffsetSpec.EARLIEST for tp in never}) if never else {}
        lag = {topic: 0 for topic in topics}
        for tp in partitions:
            done = starts[tp].offset if tp in starts else committed[tp].offset
            lag[tp.topic] += max(0, ends[tp].offset - done)
        return lag
    finally:
        admin.close()
