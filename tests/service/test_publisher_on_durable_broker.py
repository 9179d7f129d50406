"""The publisher against the broker as the local stack runs it: tansu on durable (S3) storage.

Every service's relay and every consumer's dead-letter publisher run at the same time; what the
broker acknowledged to any of them must be readable afterwards."""
import os
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest
from plumbing.kafka import Message, Publisher, PublishFailed, ensure_topics

from stack import StackConfig
from support import Processes, free_port_block, read_topic, start_infra

PUBLISHERS, BURSTS, BURST = 4, 25, 40


@pytest.fixture(scope="module")
def durable_broker(request, tmp_path_factory):
    if os.environ.get("TEST_INFRA", "embedded") != "embedded":
        yield request.getfixturevalue("infra").kafka_bootstrap  # a real Kafka is durable already
        return
    data_dir = tmp_path_factory.mktemp("durable")
    config = StackConfig(data_dir=data_dir, base_port=free_port_block())
    config.prepare_data_dir()
    processes = Processes(data_dir)
    try:
        start_infra(processes, config)
        yield config.kafka_bootstrap
    finally:
        processes.stop_all()


def test_concurrent_publishers_lose_nothing_the_broker_acknowledged(durable_broker, service_env, topic):
    service_env("markets", KAFKA_BOOTSTRAP_SERVERS=durable_broker)
    from markets.app import load
    settings = load()
    topics = [topic(f"durable{n}.events") for n in range(PUBLISHERS)]
    ensure_topics(settings, topics)
    acknowledged = {name: [] for name in topics}

    def publish(name: str) -> None:
        publisher = Publisher(settings)
        try:
            for _ in range(BURSTS):
                ids = [uuid.uuid4().hex for _ in range(BURST)]
                try:
                    publisher.publish([Message(name, f"lot-{n % 7}".encode(), i.encode(), []) for n, i in enumerate(ids)])
                except PublishFailed:
                    continue  # not acknowledged: the relay would publish these again
                acknowledged[name] += ids
        finally:
            publisher.close()

    threads = [threading.Thread(target=publish, args=(name,)) for name in topics]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    for name in topics:
        assert len(acknowledged[name]) >= BURSTS * BURST // 2, "the broker refused most publications"

    def read_back(name: str) -> set[str]:
        records = read_topic(durable_broker, name, timeout=30, expect=len(acknowledged[name]))
        return {r.value.decode() for r in records}

    with ThreadPoolExecutor(PUBLISHERS) as pool:
        on_topics = dict(zip(topics, pool.map(read_back, topics)))
    for name in topics:
        lost = set(acknowledged[name]) - on_topics[name]
        assert not lost, f"{len(lost)} of {len(acknowledged[name])} acknowledged events are not on {name}"
