"""The publisher and committed offsets against a broker killed -9 in the middle of a run.

Four publishers (as every service's relay and dead-letter publisher run at once) publish bursts; the
broker is SIGKILLed and started again on its data folder. Every burst the broker acknowledged must be
readable afterwards, exactly once unless the publisher itself had to publish it again (a burst that
was refused is published again, as the relay does), and a consumer group's committed offsets are
still there."""
import itertools
import os
import threading
import time
import uuid
from collections import Counter

import pytest
from kafka import KafkaConsumer, TopicPartition
from kafka.structs import OffsetAndMetadata
from plumbing.kafka import Message, Publisher, PublishFailed, ensure_topics

from stack import StackConfig
from support import Processes, free_port_block, produce, read_topic, start_infra, wait_for_port, wait_until

PUBLISHERS, BURST = 4, 25


@pytest.fixture
def own_broker(tmp_path):
    if os.environ.get("TEST_INFRA", "embedded") != "embedded":
        pytest.skip("kills the broker: only with the embedded infrastructure this run starts itself")
    config = StackConfig(data_dir=tmp_path, base_port=free_port_block())
    processes = Processes(tmp_path)
    try:
        start_infra(processes, config)
        yield config, processes
    finally:
        processes.stop_all()


def test_an_idempotent_publisher_loses_nothing_when_the_broker_is_killed(own_broker, service_env, topic):
    config, processes = own_broker
    service_env("markets", KAFKA_BOOTSTRAP_SERVERS=config.kafka_bootstrap)
    from markets.app import load
    settings = load()
    topics = [topic(f"killed{n}.events") for n in range(PUBLISHERS)]
    ensure_topics(settings, topics)
    committed = _commit_offsets(config.kafka_bootstrap, topics[0], group=topic("survivor"))

    acknowledged = {name: [] for name in topics}
    published_again = set()  # ids of bursts refused once: they may be on the topic twice
    running, enough = threading.Barrier(PUBLISHERS + 1), threading.Event()

    def publish(name: str) -> None:
        publisher = Publisher(settings, ack_timeout_s=5)
        try:
            for burst in itertools.count():
                if burst == 10:
                    running.wait()  # the broker is killed now, with publishers at full speed
                if burst > 10 and enough.is_set():
                    break
                ids = [uuid.uuid4().hex for _ in range(BURST)]
                deadline = time.monotonic() + 90
                while True:  # as the relay: what was not acknowledged is published again
                    try:
                        publisher.publish([Message(name, f"lot-{n % 7}".encode(), i.encode(), [])
                                           for n, i in enumerate(ids)])
                        break
                    except PublishFailed:
                        published_again.update(ids)
                        assert time.monotonic() < deadline, "the broker never came back"
                        time.sleep(0.2)
                acknowledged[name] += ids
        finally:
            publisher.close()

    threads = [threading.Thread(target=publish, args=(name,)) for name in topics]
    for thread in threads:
        thread.start()
    running.wait()
    processes.kill("kafka")  # SIGKILL mid-run: no clean shutdown, no flush
    at_kill = {name: len(ids) for name, ids in acknowledged.items()}
    processes.restart("kafka")
    wait_for_port(config.kafka_port, timeout=60)
    wait_until(lambda: all(len(acknowledged[name]) > at_kill[name] for name in topics), timeout=90,
               what="every publisher to publish again after the restart")
    enough.set()
    for thread in threads:
        thread.join(timeout=90)

    for name in topics:
        on_topic = [r.value.decode() for r in read_topic(config.kafka_bootstrap, name, timeout=60,
                                                         expect=len(acknowledged[name]))]
        lost = set(acknowledged[name]) - set(on_topic)
        assert not lost, f"{len(lost)} acknowledged events are not on {name}"
        twice = {i for i, times in Counter(on_topic).items() if times > 1} - published_again
        assert not twice, f"{len(twice)} events written twice on {name} though published once"
    assert _committed(config.kafka_bootstrap, topics[0], topic("survivor")) == committed


def _commit_offsets(bootstrap: str, name: str, group: str) -> dict:
    """Put a few records on a topic, read them in a group and commit; returns partition -> offset."""
    values = [uuid.uuid4().hex for _ in range(9)]
    for value in values:
        produce(bootstrap, name, value.encode(), key=value.encode())
    consumer = KafkaConsumer(name, bootstrap_servers=bootstrap, group_id=group, enable_auto_commit=False,
                             auto_offset_reset="earliest")
    try:
        read = 0
        while read < len(values):
            read += sum(len(batch) for batch in consumer.poll(timeout_ms=1000).values())
        positions = {tp: consumer.position(tp) for tp in consumer.assignment()}
        consumer.commit({tp: OffsetAndMetadata(offset, None, -1) for tp, offset in positions.items()})
        return {tp.partition: offset for tp, offset in positions.items()}
    finally:
        consumer.close(autocommit=False)


def _committed(bootstrap: str, name: str, group: str) -> dict:
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, group_id=group, enable_auto_commit=False)
    try:
        partitions = consumer.partitions_for_topic(name)
        return {p: consumer.committed(TopicPartition(name, p)) for p in partitions
                if consumer.committed(TopicPartition(name, p)) is not None}
    finally:
        consumer.close(autocommit=False)
