"""Kafka worker of the participants service: consumes nothing, relays its own events."""
import threading

from plumbing.consumer import run_worker
from plumbing.logs import configure_logging
from plumbing.settings import Settings
from plumbing.web import connect_database

from . import handlers
from .app import load, quiet_driver_logs
from .store import OUTBOX_DOCUMENTS


def run(settings: Settings, stop: threading.Event | None = None) -> None:
    run_worker(settings, handlers.CONSUMES, handlers.EVENT_HANDLERS, OUTBOX_DOCUMENTS, stop)


def main() -> None:
    settings = load()
    configure_logging(f"{settings.service}-worker", settings.log_level)
    quiet_driver_logs()
    connect_database(settings)
    run(settings)


if __name__ == "__main__":
    main()
