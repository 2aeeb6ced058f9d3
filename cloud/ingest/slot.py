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

# A slot's decode side keeps the GIL busy; at CPython's default 5 ms switch interval
# its store side waited up to 5 ms for the GIL at every step of a batch (BEGIN, COPY,
# COMMIT, acks) while PostgreSQL sat idle. Measured, 1M heartbeats in 50-arrays, one
# slot: 72-77k hb/s at 5 ms, 76-80k at 1 ms, 80-91k at 0.5 ms, 81-82k at 0.2 ms.
SWITCH_INTERVAL_S = 0.0005
# Every batch allocates ~3 container objects per heartbeat (rows, timestamps); at the default
# threshold of 700 the cyclic collector ran hundreds of times a batch over a heap of long-lived
# objects. The hot path makes no cycles, so collect far less often (rows+encode: 2.7 -> 2.55 us).
GC_THRESHOLDS = (50_000, 50, 100)


def tune_interpreter() -> None:
    """For a process that is one ingest slot and nothing else."""
    sys.setswitchinterval(SWITCH_INTERVAL_S)
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
    tune_interpreter()
    logging.basicConfig(level=[logging.WARNING, logging.INFO, logging.DEBUG][min(verbose, 2)],
                        format=f"%(asctime)s %(levelname)s ingest-{slot} %(name)s: %(message)s")
    run_slot(Settings.model_validate_json(settings_json), slot, end_session=end_session)
