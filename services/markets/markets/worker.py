"""Kafka worker of the markets service: applies the events it consumes, relays its own."""
import threading

from plumbing.consumer import run_worker, worker_main
from plumbing.settings import Settings

from . import handlers
from .app import load
from .promotion import PromotionAction
from .store import OUTBOX_DOCUMENTS


# A bulk validation's events leave the hours service over several relay rounds (every 0.2 s): reading on while
# that request's keep coming applies them as one batch, so the lot's status is judged once (no "at risk" on the
# way); single declarations are not held back (EventConsumer._gather).
GATHER_MS = 500


def run(settings: Settings, stop: threading.Event | None = None) -> None:
    run_worker(settings, handlers.CONSUMES, handlers.EVENT_HANDLERS, [*OUTBOX_DOCUMENTS, PromotionAction], stop,
               gather_ms=GATHER_MS)


if __name__ == "__main__":
    worker_main(load, run)
