"""Run one ingest slot as a process until told to stop (SIGTERM/SIGINT)."""
from __future__ import annotations

import logging
import signal
import threading

from gridwatch.settings import Settings

from .worker import IngestWorker

log = logging.getLogger(__name__)


def run_slot(settings: Settings, slot: int, stop: threading.Event | None = None, end_session: bool = False) -> None:
    stop = stop or threading.Event()
    if threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: stop.set())
    IngestWorker(settings, slot).run(stop, end_session=end_session)


def slot_process_main(settings_json: str, slot: int, verbose: int, end_session: bool = False) -> None:
    """Entry point of a spawned worker process (settings travel as JSON).

    `end_session` retires the slot on exit: for throwaway runs (benchmarks,
    demo) whose share group must not keep collecting messages afterwards.
    """
    logging.basicConfig(level=[logging.WARNING, logging.INFO, logging.DEBUG][min(verbose, 2)],
                        format=f"%(asctime)s %(levelname)s ingest-{slot} %(name)s: %(message)s")
    run_slot(Settings.model_validate_json(settings_json), slot, end_session=end_session)
