"""Prometheus metrics: the web apps' requests (one process, and several gunicorn processes added up),
a real worker's consumed, dead-lettered and published events, its consumer lag and outbox backlog, and
the lag /health/ready reports."""
import json
import urllib.request
from concurrent.futures import ThreadPoolExecutor

import pymongo
from plumbing.events import Event, encode
from prometheus_client.parser import text_string_to_metric_families

from stack import StackConfig, wait_for_port
from support import Processes, free_port_block, produce, wait_until

# Apache Kafka refuses consumer sessions shorter than its group.min.session.timeout.ms (6 s by default)
# kafka-python's default session; 6 s expelled the worker from its group on a loaded 2-core machine (CI, 2026-12-03)
KAFKA_SESSION = {"KAFKA_SESSION_TIMEOUT_MS": "10000", "KAFKA_HEARTBEAT_INTERVAL_MS": "1000"}


def samples(text: str) -> dict:
    """{(name, ((label, value), ...)): value} of a Prometheus text exposition."""
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def value(text: str, name: str, **labels) -> float | None:
    """The sample's value; None when the exposition has no such sample."""
    return samples(text).get((name, tuple(sorted(labels.items()))))


def scrape(url: str) -> str:
    with urllib.request.urlopen(url, timeout=20) as response:
        return response.read().decode()


def test_metrics_count_requests_by_endpoint_method_and_status_with_their_latency(service_env, auth):
    service_env("markets")
    from markets.app import create_app
    client = create_app().test_client()
    before = client.get("/metrics").text

    assert client.get("/api/v1/markets").status_code == 401
    assert client.get("/api/v1/markets").status_code == 401
    assert client.get("/api/v1/markets", headers=auth("facilitator", "aude-departement")).status_code == 200

    after = client.get("/metrics")
    assert after.status_code == 200 and after.mimetype == "text/plain"
    requests = lambda text, status: value(text, "clause_http_requests_total", endpoint="markets.Markets",
                                          method="GET", status=status) or 0
    assert {status: requests(after.text, status) - requests(before, status) for status in ("401", "200")} \
        == {"401": 2, "200": 1}
    latency = lambda text, suffix, **more: value(text, f"clause_http_request_duration_seconds_{suffix}",
                                                 endpoint="markets.Markets", **more) or 0
    assert latency(after.text, "count") - latency(before, "count") == 3
    assert latency(after.text, "bucket", le="+Inf") - latency(before, "bucket", le="+Inf") == 3
    assert latency(after.text, "sum") > latency(before, "sum")


def run_markets_web(infra, isolation, tmp_path, extra_argv=(), extra_env=None, requests=40) -> tuple[str, str]:
    """The local stack's markets web command on the test's broker and store: ``requests`` GETs of /health/live
    from 4 clients, then /metrics. Returns the metrics' text and gunicorn's log."""
    config = StackConfig(data_dir=tmp_path, base_port=free_port_block(), topic_prefix=f"t{isolation}.",
                         external_kafka=infra.kafka_bootstrap, external_mongodb=infra.mongodb_url)
    argv, env = config.web_command("markets")
    processes = Processes(tmp_path)
    try:
        processes.start("markets-web", [*argv[:-1], *extra_argv, argv[-1]], {**env, **(extra_env or {})})
        wait_for_port(config.web_port("markets"))
        url = config.url("markets")
        with ThreadPoolExecutor(4) as pool:
            list(pool.map(lambda _: scrape(f"{url}/health/live"), range(requests)))
        return scrape(f"{url}/metrics"), processes.log("markets-web")
    finally:
        processes.stop_all()
        pymongo.MongoClient(infra.mongodb_url).drop_database(env["MONGODB_DB"])


def test_metrics_add_up_every_gunicorn_process(infra, isolation, tmp_path):
    """The local stack's web command, whose gunicorn processes are replaced every 5 requests: one
    /metrics counts what every process answered, those gone included."""
    text, _ = run_markets_web(infra, isolation, tmp_path, ["--max-requests", "5"])
    assert value(text, "clause_http_requests_total", endpoint="health.live", method="GET", status="200") == 40
    assert len(list((tmp_path / "metrics" / "markets").glob("counter_*.db"))) >= 8  # one file per process


def test_a_web_worker_grown_past_its_memory_bound_answers_then_is_replaced(infra, isolation, tmp_path):
    """WEB_WORKER_MAX_RSS_MB: every process is past 1 MB, so each answers one request and gives way to a fresh
    one; nothing is refused meanwhile."""
    text, log = run_markets_web(infra, isolation, tmp_path, extra_env={"WEB_WORKER_MAX_RSS_MB": "1"}, requests=12)
    assert value(text, "clause_http_requests_total", endpoint="health.live", method="GET", status="200") == 12
    assert log.count("replaced by a fresh one") >= 12
    assert len(list((tmp_path / "metrics" / "markets").glob("counter_*.db"))) >= 12


def test_a_worker_counts_what_it_consumes_and_publishes_and_readiness_reports_its_lag(
        service_env, start_worker, infra, topic, auth):
    port = free_port_block(1)
    service_env("markets", METRICS_HOST="127.0.0.1", METRICS_PORT=str(port), **KAFKA_SESSION)
    from markets.app import create_app
    from markets.store import OUTBOX_DOCUMENTS
    from plumbing.outbox import pending_documents
    app = create_app()
    client = app.test_client()
    assert app.test_cli_runner().invoke(args=["create-topics"]).exit_code == 0
    hours = topic("hours.events")

    key = Event(type="api_key.created", producer="hours", key="12345678900011", territories=["aude-departement"],
                payload={"key_id": "k1", "contractor_siret": "12345678900011", "key_hash": "h"})
    incomplete = Event(type="api_key.created", producer="hours", key="12345678900011", territories=[],
                       payload={"key_id": "k2"})
    other = Event(type="contractor.registered", producer="hours", key="12345678900011", territories=[], payload={})
    for raw in (encode(key), encode(key), b"not an event", encode(incomplete), encode(other)):
        produce(infra.kafka_bootstrap, hours, raw, key=b"12345678900011")  # one key: one partition, in order
    # on a broker just started, the group coordinator takes a moment to exist: the lag is unknown until then
    wait_until(lambda: client.get("/health/ready").json["lag"] == {hours: 5}, 30, "the lag of the five events")

    facilitator = auth("facilitator", "aude-departement")
    buyer = client.post("/api/v1/buyers", headers=facilitator, json={
        "name": "Département de l'Aude", "siret": "22000111000018", "buyer_type": "departement",
        "territory": "aude-departement"}).json
    assert client.post("/api/v1/markets", headers=facilitator, json={
        "reference": "R1", "title": "T", "buyer_id": buyer["id"], "nature": "services",
        "lead_territory": "aude-departement", "start_date": "2026-01-01", "end_date": "2026-12-31"}).status_code == 201
    assert pending_documents(OUTBOX_DOCUMENTS) == 1  # the market, with its market.created event

    start_worker("markets")
    wait_for_port(port)
    metrics_url = f"http://127.0.0.1:{port}/metrics"
    consumed = lambda text, type_, outcome: value(text, "clause_events_consumed_total", topic=hours, type=type_,
                                                  outcome=outcome)
    wait_until(lambda: consumed(scrape(metrics_url), "contractor.registered", "ignored") == 1, 90,
               what="the worker read every event")  # joining its group can take a while on a busy machine
    text = scrape(metrics_url)
    assert consumed(text, "api_key.created", "applied") == 1
    assert consumed(text, "api_key.created", "skipped_duplicate") == 1
    assert consumed(text, "api_key.created", "dead_lettered") == 1
    assert consumed(text, "unknown", "dead_lettered") == 1

    # the lag is set after the poll whose events were just counted: a scrape may come between the two
    lag = lambda: {partition: value(scrape(metrics_url), "clause_consumer_lag", group=topic("markets"), topic=hours,
                                    partition=partition) for partition in ("0", "1", "2")}
    wait_until(lambda: lag() == {"0": 0, "1": 0, "2": 0}, 30, what="the worker's lag of each partition at 0")
    wait_until(lambda: client.get("/health/ready").json["lag"] == {hours: 0}, what="readiness shows no lag")

    wait_until(lambda: value(scrape(metrics_url), "clause_events_published_total", topic=topic("markets.events"),
                             type="market.created") == 1, what="the relay published the market's event")
    wait_until(lambda: value(scrape(metrics_url), "clause_outbox_pending_documents", topic=topic("markets.events"))
               == 0, what="the relay's next round finds nothing pending")
    assert pending_documents(OUTBOX_DOCUMENTS) == 0


def test_readiness_of_a_service_that_consumes_nothing_reports_no_lag(service_env):
    service_env("participants")
    from participants.app import create_app
    assert create_app().test_client().get("/health/ready").json["lag"] == {}
