"""Composition root of `gridwatch cloud`: ingest slot processes, the API and scheduled jobs.

Ingest slots run as separate processes (the MQTT client is CPU-bound and holds
the GIL), each with the stable client id `<prefix>-ingest-<slot>`; a dead slot
is restarted under the same id so its broker session, and what it holds, is
picked up again.
"""
from __future__ import annotations

import logging
import multiprocessing as mp
import os
import signal
import tempfile
import threading
import time

from gridwatch.settings import Settings

log = logging.getLogger(__name__)


class SlotSupervisor:
    """Keeps N ingest slot processes alive."""

    def __init__(self, settings: Settings, slots: list[int], verbose: int = 0, end_sessions: bool = False):
        self.settings = settings
        self.slots = slots
        self.verbose = verbose
        self.end_sessions = end_sessions
        self.ctx = mp.get_context("spawn")
        self.procs: dict[int, mp.Process] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, name="slot-supervisor", daemon=True)

    def _spawn(self, slot: int) -> None:
        from cloud.ingest.slot import slot_process_main

        proc = self.ctx.Process(target=slot_process_main, name=f"ingest-{slot}",
                                args=(self.settings.model_dump_json(), slot, self.verbose, self.end_sessions))
        proc.start()
        self.procs[slot] = proc

    def start(self) -> None:
        for slot in self.slots:
            self._spawn(slot)
        self._thread.start()

    def _watch(self) -> None:
        while not self._stop.wait(1.0):
            for slot, proc in list(self.procs.items()):
                if not proc.is_alive() and not self._stop.is_set():
                    log.error("ingest slot %s exited with %s; restarting it", slot, proc.exitcode)
                    _forget_metrics(proc.pid)
                    self._spawn(slot)

    def stop(self, timeout: float = 15.0) -> None:
        self._stop.set()
        for proc in self.procs.values():
            if proc.is_alive():
                proc.terminate()
        deadline = time.monotonic() + timeout
        for proc in self.procs.values():
            proc.join(max(0.1, deadline - time.monotonic()))
            if proc.is_alive():
                proc.kill()


def _forget_metrics(pid: int | None) -> None:
    if pid is not None and "PROMETHEUS_MULTIPROC_DIR" in os.environ:
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(pid)


def prepare_metrics_dir() -> None:
    """Prometheus multiprocess mode: every process writes its samples to one folder."""
    if "PROMETHEUS_MULTIPROC_DIR" not in os.environ:
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="gridwatch-metrics-")


def run_cloud(settings: Settings, workers: int, api: bool = True, jobs: bool = True, verbose: int = 0,
              first_slot: int = 1, end_sessions: bool = False) -> int:
    """Run until SIGINT/SIGTERM. `end_sessions` retires the slots on exit (throwaway runs only:
    a production slot keeps its broker session so a restart picks up what it holds)."""
    prepare_metrics_dir()
    import psycopg
    from psycopg_pool import ConnectionPool

    from cloud.db.migrate import check_schema

    from cloud.db.errors import wrap_errors

    with wrap_errors(settings.database_url), psycopg.connect(settings.database_url) as conn:
        check_schema(conn)  # a clear refusal now beats errors on first use
    supervisor = SlotSupervisor(settings, list(range(first_slot, first_slot + workers)), verbose, end_sessions)
    supervisor.start()
    pool = ConnectionPool(settings.database_url, min_size=1, max_size=8, open=True)
    scheduler = None
    stop = threading.Event()
    try:
        if jobs:
            scheduler = _start_jobs(settings)
        if api:
            _serve_api(settings, pool)
        else:
            for sig in (signal.SIGTERM, signal.SIGINT):
                signal.signal(sig, lambda *_: stop.set())
            stop.wait()
    finally:
        if scheduler is not None:
            scheduler.shutdown(wait=False)
        supervisor.stop()
        pool.close()
    return 0


def _start_jobs(settings: Settings):
    from apscheduler.schedulers.background import BackgroundScheduler

    from cloud.attendance.job import add_attendance_job
    from cloud.jobs.cases import add_case_jobs
    from cloud.jobs.maintenance import add_maintenance_jobs

    scheduler = BackgroundScheduler(timezone="UTC")
    add_maintenance_jobs(scheduler, settings.database_url, settings)
    add_case_jobs(scheduler, settings.database_url, settings)
    add_attendance_job(scheduler, settings.database_url, settings)
    scheduler.start()
    return scheduler


def _serve_api(settings: Settings, pool) -> None:
    import uvicorn

    from cloud.api.app import create_app

    config = uvicorn.Config(create_app(settings, pool), host=settings.api_host, port=settings.api_port,
                            log_level="warning", access_log=False)
    uvicorn.Server(config).run()
