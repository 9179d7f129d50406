"""Kafka worker of the notifications service: turns markets, hours and participants events into alerts,
and delivers them (e-mails, webhooks) from a thread beside the consumer, retrying what fails."""
import threading

from plumbing.consumer import run_worker, worker_main
from plumbing.settings import Settings

from . import handlers
from .app import load
from .delivery import delivery_loop
from .store import OUTBOX_DOCUMENTS


def run(settings: Settings, stop: threading.Event | None = None) -> None:
    stop = stop or threading.Event()  # the same event stops the consumer, the relay and the sender
    handlers.configure(settings.extra)
    sender = threading.Thread(target=delivery_loop, args=(settings.extra, stop), name="delivery", daemon=True)
    sender.start()
    try:
        run_worker(settings, handlers.CONSUMES, handlers.EVENT_HANDLERS, OUTBOX_DOCUMENTS, stop)
    finally:
        stop.set()
        sender.join(timeout=30)


def main() -> None:
    worker_main(load, run)


if __name__ == "__main__":
    main()
