"""Kafka worker of the markets service: applies the events it consumes, relays its own."""
import threading

from plumbing.consumer import run_worker, worker_main
from plumbing.settings import Settings

from . import handlers
from .app import load
from .promotion import PromotionAction
from .store import OUTBOX_DOCUMENTS


def run(settings: Settings, stop: threading.Event | None = None) -> None:
    run_worker(settings, handlers.CONSUMES, handlers.EVENT_HANDLERS, [*OUTBOX_DOCUMENTS, PromotionAction], stop)


if __name__ == "__main__":
    worker_main(load, run)
