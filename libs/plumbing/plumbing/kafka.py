"""Kafka clients configured once: a reliable producer, explicit topics, group consumers."""
import logging

from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer
from kafka.admin import NewTopic
from kafka.errors import TopicAlreadyExistsError
from tenacity import retry, stop_after_delay, wait_exponential

from .settings import Settings

log = logging.getLogger(__name__)


def make_producer(settings: Settings) -> KafkaProducer:
    return KafkaProducer(
        bootstrap_servers=settings.kafka_bootstrap_servers,
        client_id=f"{settings.service}-producer",
        acks="all",
        enable_idempotence=True,
        linger_ms=5,
    )


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
        max_poll_records=200,
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
