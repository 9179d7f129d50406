"""Shared plumbing against the real broker and store: outbox, optimistic writes, request ids, health, docs."""
import importlib
import threading

import mongoengine as me
import pytest
from plumbing.auth import TokenVerifier
from plumbing.events import Event, to_dict
from plumbing.kafka import Publisher, PublishFailed
from plumbing.logs import request_id_var
from plumbing.outbox import ConcurrentUpdate, OutboxDocument, relay_once, retry_on_conflict

from support import create_topic, events_of, read_topic, wait_until

SERVICES = ("markets", "participants", "hours", "notifications", "observatory")


class Folder(OutboxDocument):
    id = me.StringField(primary_key=True)
    name = me.StringField()
    meta = {"collection": "test_folders"}


def event(n: int) -> Event:
    return Event(type="folder.renamed", producer="test", key="f1", territories=["aude-departement"],
                 payload={"n": n})


@pytest.fixture
def database(service_env):
    service_env("markets")
    from plumbing.database import connect_database
    from markets.app import load
    connect_database(load())


@pytest.fixture
def producer(database):
    from markets.app import load
    publisher = Publisher(load())
    yield publisher
    publisher.close()


def test_the_relay_publishes_pending_events_with_their_request_id_then_forgets_them(database, producer, infra,
                                                                                   topic):
    token = request_id_var.set("req-42")
    folder = Folder(id="f1", name="a")
    folder.record(event(1))
    folder.record(event(2))
    folder.commit()
    request_id_var.reset(token)
    create_topic(infra.kafka_bootstrap, topic("test.events"))  # as the worker does at start-up

    assert relay_once(producer, topic("test.events"), [Folder]) == 2
    records = read_topic(infra.kafka_bootstrap, topic("test.events"), expect=2)
    assert [e["payload"]["n"] for e in events_of(records)] == [1, 2]
    assert dict(records[0].headers)["request-id"] == b"req-42"
    assert Folder.objects.get(id="f1").outbox == []
    assert relay_once(producer, topic("test.events"), [Folder]) == 0


def test_events_stay_in_their_document_until_the_broker_has_them(database, producer):
    folder = Folder(id="f1", name="a")
    folder.record(event(1))
    folder.commit()

    with pytest.raises(PublishFailed):
        relay_once(producer, "not a valid topic name!", [Folder])

    assert len(Folder.objects.get(id="f1").outbox) == 1


def test_concurrent_writers_of_one_document_lose_no_write(database):
    """Optimistic writes need the store to apply "replace if the revision is still r" atomically.
    Stock FerretDB 1.24 does not (it reads, then writes: FerretDB issue 3040): 4 writers doing 300
    increments each counted ~900 successful writes for a total of ~300. deploy/local/infra.sh builds
    it with deploy/local/ferretdb-atomic-writes.patch, which serialises writes per collection."""
    Folder(id="f1", name="0").commit()
    threads, per_thread = 4, 40

    @retry_on_conflict
    def increment():
        folder = Folder.objects.get(id="f1")
        folder.name = str(int(folder.name) + 1)
        folder.commit()

    def writer():
        for _ in range(per_thread):
            increment()

    workers = [threading.Thread(target=writer) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()

    assert Folder.objects.get(id="f1").name == str(threads * per_thread)


def test_a_stale_copy_cannot_overwrite_a_newer_write(database):
    Folder(id="f1", name="a").commit()
    first, second = Folder.objects.get(id="f1"), Folder.objects.get(id="f1")
    first.name = "b"
    first.commit()
    second.name = "c"
    with pytest.raises(ConcurrentUpdate):
        second.commit()
    assert Folder.objects.get(id="f1").name == "b"


def test_the_request_id_of_an_http_call_travels_in_the_event_headers(service_env, auth, start_worker, infra,
                                                                      topic):
    service_env("markets")
    from markets.app import create_app
    client = create_app().test_client()
    facilitator = auth("facilitator", "aude-departement")
    buyer = client.post("/api/v1/buyers", headers=facilitator, json={
        "name": "Département de l'Aude", "siret": "22000111000018", "buyer_type": "departement",
        "territory": "aude-departement"}).json
    response = client.post("/api/v1/markets", headers={**facilitator, "X-Request-ID": "req-from-the-gateway"},
                           json={"reference": "R1", "title": "T", "buyer_id": buyer["id"], "nature": "services",
                                 "lead_territory": "aude-departement", "start_date": "2026-01-01",
                                 "end_date": "2026-12-31"})
    assert response.headers["X-Request-ID"] == "req-from-the-gateway"
    start_worker("markets")

    records = read_topic(infra.kafka_bootstrap, topic("markets.events"))
    assert dict(records[0].headers)["request-id"] == b"req-from-the-gateway"


def test_readiness_reports_an_unreachable_broker_in_french(service_env):
    service_env("markets", KAFKA_BOOTSTRAP_SERVERS="127.0.0.1:9")
    from markets.app import create_app
    client = create_app().test_client()
    assert client.get("/health/live").status_code == 200
    ready = client.get("/health/ready")
    assert ready.status_code == 503
    assert ready.json["checks"] == {"database": True, "broker": False}
    assert ready.json["detail"] == "Le service n'est pas prêt : broker injoignable."


@pytest.mark.parametrize("service", SERVICES)
def test_every_service_is_ready_documents_every_operation_and_its_callers(service_env, service):
    service_env(service)
    client = importlib.import_module(f"{service}.app").create_app().test_client()
    assert client.get("/health/ready").json["status"] == "ok"
    spec = client.get(f"/docs/{service}/openapi.json").json
    assert set(spec["components"]["securitySchemes"]) == {"bearerAuth", "apiKeyAuth"}
    operations = [op for path in spec["paths"].values() for op in path.values() if isinstance(op, dict)]
    assert operations
    for operation in operations:
        if operation.get("x-public"):  # anyone, without signing in: documented as needing no credentials
            assert operation["security"] == [] and "401" not in operation["responses"], operation
            continue
        assert operation["x-allowed-roles"], operation
        assert "401" in operation["responses"] or operation["security"], operation
    page = client.get(f"/docs/{service}/")
    assert page.status_code == 200 and b"swagger-ui" in page.data
    assert client.get(f"/docs/{service}/swagger-ui/swagger-ui-bundle.js").status_code == 200  # works offline


def test_unknown_addresses_and_methods_get_problem_details(service_env):
    service_env("hours")
    from hours.app import create_app
    client = create_app().test_client()
    missing = client.get("/api/v1/nothing-here")
    assert missing.status_code == 404 and missing.mimetype == "application/problem+json"
    assert missing.json["detail"] == "La ressource demandée n'existe pas."
    assert client.put("/api/v1/declarations").status_code == 405


def test_the_cli_issues_development_tokens(service_env):
    service_env("participants")
    from participants.app import create_app
    app = create_app()
    result = app.test_cli_runner().invoke(args=["dev-token", "--role", "facilitator", "--territory",
                                                "aude-departement", "--territory", "aude-grand-narbonne"])
    assert result.exit_code == 0, result.output
    principal = TokenVerifier(app.extensions["settings"]).verify(result.output.strip())
    assert principal.territories == {"aude-departement", "aude-grand-narbonne"}
    staff = app.test_cli_runner().invoke(args=["dev-token", "--role", "contractor", "--territory", "aude-departement",
                                               "--siret", "73282932000074"])
    assert TokenVerifier(app.extensions["settings"]).verify(staff.output.strip()).siret == "73282932000074"
    no_siret = app.test_cli_runner().invoke(args=["dev-token", "--role", "contractor", "--territory", "aude-departement"])
    assert no_siret.exit_code != 0 and "--siret" in no_siret.output


def test_the_cli_creates_the_topics_explicitly(service_env, infra, topic):
    service_env("hours", KAFKA_TOPIC_PARTITIONS="5")
    from hours.app import create_app
    from kafka import KafkaAdminClient
    result = create_app().test_cli_runner().invoke(args=["create-topics"])
    assert result.exit_code == 0, result.output
    admin = KafkaAdminClient(bootstrap_servers=infra.kafka_bootstrap)
    try:
        wait_until(lambda: topic("hours.events") in admin.list_topics(), what="the topic")
        described = admin.describe_topics([topic("hours.events"), topic("markets.events")])
        assert [len(t["partitions"]) for t in described] == [5, 5]
    finally:
        admin.close()


def test_a_batched_handler_gets_a_whole_poll_at_once_and_its_refusals_are_dead_lettered(database, producer,
                                                                                        infra, topic):
    from markets.app import load
    from plumbing.consumer import Batched, EventConsumer
    from plumbing.kafka import ensure_topics
    from plumbing.outbox import _message

    settings = load()
    source = topic("test.events")
    ensure_topics(settings, [source, settings.dead_letter_topic])
    renamed = [Event(type="folder.renamed", producer="test", key="f1", territories=[], payload={"n": n})
               for n in range(300)]
    producer.publish([_message(source, {"event": to_dict(e)}) for e in renamed])
    calls = []

    def apply(events):
        calls.append([e.payload["n"] for e in events])
        return {e.id: "n is a multiple of 100" for e in events if e.payload["n"] % 100 == 0}

    consumer = EventConsumer(settings, [source], {"folder.renamed": Batched(apply)})
    consumer.start()
    try:
        wait_until(lambda: consumer.poll_once() == 0 and sum(map(len, calls)) >= 300, what="every event applied")
    finally:
        consumer.close()

    assert sorted(n for call in calls for n in call) == list(range(300))  # each event once
    assert len(calls) < 30  # whole polls, not one call per event
    dead = read_topic(infra.kafka_bootstrap, settings.dead_letter_topic, expect=3)
    assert sorted(events_of(dead), key=lambda e: e["payload"]["n"])[0]["payload"]["n"] == 0
    assert {dict(r.headers)["dead-letter-reason"] for r in dead} == {b"n is a multiple of 100"}
    assert len(dead) == 3
