"""Fixtures shared by every test layer.

The infrastructure is real and reached over sockets. ``TEST_INFRA`` chooses it:
- ``embedded`` (default): Apache Kafka and FerretDB started as processes for this run;
- ``url``: existing servers given by ``TEST_MONGODB_URL`` and ``TEST_KAFKA_BOOTSTRAP_SERVERS``;
- ``docker``: official MongoDB and Apache Kafka images through testcontainers.
"""
import importlib
import os
import threading
import uuid
from dataclasses import dataclass

import pymongo
import pytest
from plumbing.auth import issue_token

from stack import StackConfig
from support import TEST_JWT_SECRET, Processes, docker_engine_answers, free_port_block, start_infra


@dataclass(frozen=True)
class Infra:
    mongodb_url: str
    kafka_bootstrap: str


@pytest.fixture(scope="session")
def infra(tmp_path_factory):
    mode = os.environ.get("TEST_INFRA", "embedded")
    if mode == "url":
        yield Infra(os.environ["TEST_MONGODB_URL"], os.environ["TEST_KAFKA_BOOTSTRAP_SERVERS"])
    elif mode == "docker":
        yield from _docker_infra()
    else:
        yield from _embedded_infra(tmp_path_factory.mktemp("infra"))


def _embedded_infra(data_dir):
    config = StackConfig(data_dir=data_dir, base_port=free_port_block())
    processes = Processes(data_dir)
    try:
        start_infra(processes, config)
        yield Infra(config.mongodb_url, config.kafka_bootstrap)
    finally:
        processes.stop_all()


def _docker_infra():
    """The official MongoDB and Apache Kafka (KRaft, single node) images, started by testcontainers."""
    if not docker_engine_answers():
        pytest.skip("TEST_INFRA=docker needs a running Docker engine; none answers on this machine")
    from testcontainers.community.mongodb import MongoDbContainer
    from testcontainers.core.container import DockerContainer
    from testcontainers.core.waiting_utils import wait_for_logs

    port = free_port_block(1)
    kafka = DockerContainer("apache/kafka:3.9.1").with_bind_ports(9092, port)
    for name, value in {"KAFKA_NODE_ID": "1", "KAFKA_PROCESS_ROLES": "broker,controller",
                        "KAFKA_CONTROLLER_QUORUM_VOTERS": "1@localhost:9093",
                        "KAFKA_LISTENERS": "PLAINTEXT://:9092,CONTROLLER://:9093",
                        "KAFKA_ADVERTISED_LISTENERS": f"PLAINTEXT://127.0.0.1:{port}",
                        "KAFKA_LISTENER_SECURITY_PROTOCOL_MAP": "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
                        "KAFKA_CONTROLLER_LISTENER_NAMES": "CONTROLLER",
                        "KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR": "1",
                        "KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR": "1",
                        "KAFKA_TRANSACTION_STATE_LOG_MIN_ISR": "1",
                        "KAFKA_GROUP_INITIAL_REBALANCE_DELAY_MS": "0"}.items():
        kafka = kafka.with_env(name, value)
    with MongoDbContainer("mongo:7") as mongo, kafka:
        wait_for_logs(kafka, "Kafka Server started", timeout=120)
        yield Infra(mongo.get_connection_url(), f"127.0.0.1:{port}")


@pytest.fixture
def isolation():
    """A unique suffix: one database per test and one topic namespace per test."""
    return uuid.uuid4().hex[:10]


@pytest.fixture
def service_env(infra, isolation, monkeypatch):
    """Point the environment of a service at the test infrastructure; returns a setter."""
    databases = []

    def configure(service: str, **extra: str) -> str:
        database = f"t_{service}_{isolation}"
        databases.append(database)
        values = {"MONGODB_URL": infra.mongodb_url, "MONGODB_DB": database,
                  "KAFKA_BOOTSTRAP_SERVERS": infra.kafka_bootstrap, "KAFKA_TOPIC_PREFIX": f"t{isolation}.",
                  "AUTH_JWT_SECRET": TEST_JWT_SECRET, "ENVIRONMENT": "development", "KAFKA_SESSION_TIMEOUT_MS": "2000", "KAFKA_HEARTBEAT_INTERVAL_MS": "500",
                  "OUTBOX_RELAY_INTERVAL_S": "0.05", "LOG_LEVEL": "WARNING",
                  "HOURS_READ_CACHE_SECONDS": "0",  # tests see each event's effect at once (one test turns it on)
                  "REGION_FILE": str(StackConfig.region_file),  # the Aude example (deploy/regions/aude.yaml)
                  **extra}
        for name, value in values.items():
            monkeypatch.setenv(name, value)
        return database

    yield configure
    client = pymongo.MongoClient(infra.mongodb_url)
    for database in databases:
        client.drop_database(database)
    client.close()


@pytest.fixture
def topic(isolation):
    """The name of a service's topic in this test's namespace: ``topic("hours.events")``."""
    return lambda name: f"t{isolation}.{name}"


def bearer(role: str, *territories: str, subject: str = "someone", buyer_id: str | None = None,
           siret: str | None = None) -> dict:
    token = issue_token(TEST_JWT_SECRET, subject, role, list(territories), buyer_id=buyer_id, siret=siret)
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def auth():
    """``auth("facilitator", "aude-departement")`` -> headers carrying a signed token (a company's staff member:
    ``auth("contractor", territory, siret=...)``)."""
    return bearer


@pytest.fixture
def start_worker():
    """Run a service's real worker (consumer loop and outbox relay) in a thread, stopped at teardown."""
    running = []

    def start(service: str):
        module = importlib.import_module(f"{service}.worker")
        settings = importlib.import_module(f"{service}.app").load()
        stop = threading.Event()
        thread = threading.Thread(target=module.run, args=(settings, stop), daemon=True)
        thread.start()
        running.append((stop, thread))
        return settings

    yield start
    for stop, thread in running:
        stop.set()
        thread.join(timeout=30)
