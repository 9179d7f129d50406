"""Kafka worker of the participants service: consumes nothing, relays its own events."""
import threading

from plumbing.consumer import run_worker, worker_main
from plumbing.settings import Settings

from . import handlers
from .app import load
from .store import OUTBOX_DOCUMENTS


def run(settings: Settings, stop: threading.Event | None = None) -> None:
    run_worker(settings, handlers.CONSUMES, handlers.EVENT_HANDLERS, OUTBOX_DOCUMENTS, stop)


if __name__ == "__main__":
    worker_main(load, run)
