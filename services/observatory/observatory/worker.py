"""Kafka worker of the observatory: folds the markets, hours and participants events into its read model."""
import threading

from plumbing.consumer import run_worker, worker_main
from plumbing.settings import Settings

from . import handlers
from .app import load


def run(settings: Settings, stop: threading.Event | None = None) -> None:
    run_worker(settings, handlers.CONSUMES, handlers.EVENT_HANDLERS, [], stop)


if __name__ == "__main__":
    worker_main(load, run)
