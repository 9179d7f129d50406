"""Prometheus metrics of every service, defined once: the web apps' requests, and what the workers
consume, publish and still have to do.

gunicorn runs several processes per web app. Under gunicorn (``plumbing/gunicorn_config.py``) each
process writes its values to files in ``PROMETHEUS_MULTIPROC_DIR`` and ``GET /metrics`` adds them up;
without that variable (tests, ``flask run``) the process's own default registry answers. A worker
process serves the default registry on ``METRICS_PORT`` (see ``serve``).
"""
import os

from flask import Blueprint, Response
from prometheus_client import (CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, Counter, Gauge, Histogram,
                               generate_latest, multiprocess, start_http_server)

# --- web apps
HTTP_REQUESTS = Counter("clause_http_requests_total", "HTTP requests answered, by endpoint, method and status.",
                        ["endpoint", "method", "status"])
HTTP_DURATION = Histogram("clause_http_request_duration_seconds", "Time taken to answer an HTTP request, by endpoint.",
                          ["endpoint"])

# --- workers. Every one has labels: a metric with labels writes nothing until a worker sets it, so
# the web processes' /metrics does not list workers' metrics at zero.
EVENTS_CONSUMED = Counter(
    "clause_events_consumed_total",
    "Events read by the worker's consumer, by topic, type and outcome: applied, skipped_duplicate (applied "
    "before), dead_lettered (sent to <service>.deadletter), ignored (a type this service does not apply).",
    ["topic", "type", "outcome"])
EVENTS_PUBLISHED = Counter("clause_events_published_total",
                           "Events the outbox relay published (acknowledged by the broker), by topic and type.",
                           ["topic", "type"])
CONSUMER_LAG = Gauge("clause_consumer_lag",
                     "Events of a partition the worker has still to read (end offset minus position), after each poll.",
                     ["group", "topic", "partition"])
OUTBOX_PENDING = Gauge("clause_outbox_pending_documents",
                       "Documents whose events waited for the outbox relay, as its last round found them, by the "
                       "topic they go to.", ["topic"])


def count_request(endpoint: str, method: str, status: int, seconds: float) -> None:
    HTTP_REQUESTS.labels(endpoint, method, str(status)).inc()
    HTTP_DURATION.labels(endpoint).observe(seconds)


blueprint = Blueprint("metrics", __name__)


@blueprint.get("/metrics")
def metrics():
    """Every metric of this web app, in Prometheus' text format (all gunicorn processes added up)."""
    registry = REGISTRY
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
    return Response(generate_latest(registry), mimetype=CONTENT_TYPE_LATEST)


def serve(host: str, port: int):
    """Serve the default registry over HTTP from a thread (a worker process); returns a function that
    stops it. Port 0 serves nothing."""
    if not port:
        return lambda: None
    server, thread = start_http_server(port, addr=host)

    def stop():
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
    return stop

