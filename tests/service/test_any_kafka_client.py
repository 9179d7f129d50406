"""The broker is a real Kafka: librdkafka (the C client under kcat, confluent-kafka and most clients
outside Python) reads what the platform's publisher wrote and writes what its consumers read."""
import uuid

from confluent_kafka import Consumer, Producer
from plumbing.events import Event, decode, encode
from plumbing.kafka import Message, Publisher, ensure_topics

from support import read_topic


def test_librdkafka_reads_the_platform_events_and_writes_events_the_platform_reads(infra, service_env, topic):
    service_env("hours")
    from hours.app import load
    settings = load()
    ensure_topics(settings, [settings.topic])
    published = Event(type="declaration.submitted", producer="hours", key="lot-1", territories=["aude-departement"],
                      payload={"declaration_id": uuid.uuid4().hex})
    publisher = Publisher(settings)
    publisher.publish([Message(settings.topic, b"lot-1", encode(published), [])])
    publisher.close()

    consumer = Consumer({"bootstrap.servers": infra.kafka_bootstrap, "group.id": topic("librdkafka"),
                         "auto.offset.reset": "earliest"})
    consumer.subscribe([settings.topic])
    try:
        received = None
        for _ in range(60):
            message = consumer.poll(1.0)
            if message is not None and message.error() is None:
                received = message
                break
    finally:
        consumer.close()
    assert received is not None, "librdkafka read nothing from the platform's topic"
    assert received.key() == b"lot-1" and decode(received.value()).id == published.id

    written = Event(type="lot.awarded", producer="markets", key="lot-2", territories=["aude-departement"],
                    payload={"lot_id": "lot-2"})
    producer = Producer({"bootstrap.servers": infra.kafka_bootstrap, "enable.idempotence": True, "acks": "all"})
    producer.produce(settings.topic, key=b"lot-2", value=encode(written))
    assert producer.flush(30) == 0
    assert written.id in {decode(r.value).id for r in read_topic(infra.kafka_bootstrap, settings.topic, expect=2)}
