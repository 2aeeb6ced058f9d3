"""Run one ingest slot as a process until told to stop (SIGTERM/SIGINT)."""
from __future__ import annotations

import gc
import logging
import signal
import sys
import threading

from gridwatch.settings import Settings

from .worker import IngestWorker

log = logging.getLogger(__name__)

# A slot's decode side keeps the GIL busy; at CPython's default 5 ms switch interval its
# store side waited up to 5 ms for the GIL at every step of a batch (BEGIN, COPY, COMMIT,
# acks) while PostgreSQL sat idle, hence `ingest_switch_interval_ms` (compare with
# `gridwatch bench ingest --switch-interval-ms 5`).
# Every batch allocates ~3 container objects per heartbeat (rows, timestamps); at the default
# threshold of 700 the cyclic collector ran hundreds of times a batch over a heap of long-lived
# objects. The hot path makes no cycles, so collect far less often.
GC_THRESHOLDS = (50_000, 50, 100)


def tune_interpreter(settings: Settings) -> None:
    """For a process that is one ingest slot and nothing else."""
    sys.setswitchinterval(settings.ingest_switch_interval_ms / 1000)
    gc.freeze()  # what is loaded by now lives as long as the process: never scan it again
    gc.set_threshold(*GC_THRESHOLDS)


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
    settings = Settings.model_validate_json(settings_json)
    tune_interpreter(settings)
    logging.basicConfig(level=[logging.WARNING, logging.INFO, logging.DEBUG][min(verbose, 2)],
                        format=f"%(asctime)s %(levelname)s ingest-{slot} %(name)s: %(message)s")
    run_slot(settings, slot, end_session=end_session)
