"""Run one ingest slot as a process until told to stop (SIGTERM/SIGINT)."""
from __future__ import annotations

import logging
import signal
import threading

from gridwatch.settings import Settings

from .worker import IngestWorker

log = logging.getLogger(__name__)


def run_slot(settings: Settings, slot: int, stop: threading.Event | None = None) -> None:
    stop = stop or threading.Event()
    if threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: stop.set())
    IngestWorker(settings, slot).run(stop)


def slot_process_main(settings_json: str, slot: int, verbose: int) -> None:
    """Entry point of a spawned worker process (settings travel as JSON)."""
    logging.basicConfig(level=[logging.WARNING, logging.INFO, logging.DEBUG][min(verbose, 2)],
                        format=f"%(asctime)s %(levelname)s ingest-{slot} %(name)s: %(message)s")
    run_slot(Settings.model_validate_json(settings_json), slot)
