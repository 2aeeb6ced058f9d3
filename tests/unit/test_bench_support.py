"""The benchmark's yardsticks: the bare pipeline writes the values the full ingest writes, and
CPU accounting reads real figures (or says it cannot)."""
from __future__ import annotations

import os
import threading
import time

from cloud.ingest import pg_time
from cloud.ingest.batch import build_rows
from cloud.ingest.thread_name import name_os_thread
from gridwatch.bench import bare
from gridwatch.bench.cpu import box_cpu_seconds, cpu_seconds, thread_cpu_seconds
from tests.support.batches import mixed_batch


def test_bare_pipeline_rows_hold_the_full_pipelines_values():
    now_ms = int(time.time() * 1000)
    batch = mixed_batch(now_ms)
    full = build_rows(batch, now_ms, 86_400_000).heartbeat
    assert len(full) == 321
    # The same values; the full ingest carries times as timestamptz's binary value.
    as_datetimes = [r[:2] + (pg_time.to_datetime(r[2]), pg_time.to_datetime(r[3])) + r[4:] for r in full]
    assert list(bare.rows(batch)) == as_datetimes


def test_cpu_seconds_counts_this_process_and_refuses_what_it_cannot_see():
    before = cpu_seconds([os.getpid()])
    deadline = time.process_time() + 0.1
    while time.process_time() < deadline:
        pass
    after = cpu_seconds([os.getpid()])
    assert before is not None and after is not None
    assert after - before >= 0.05
    assert cpu_seconds([os.getpid(), 2**22 + 12345]) is None  # above pid_max: no such process


def test_box_cpu_seconds_counts_a_busy_core():
    before = box_cpu_seconds()
    deadline = time.process_time() + 0.2
    while time.process_time() < deadline:
        pass
    after = box_cpu_seconds()
    assert before is not None and after is not None
    assert after - before >= 0.1  # this process's 0.2 s at least, at 100 ticks a second


def test_thread_cpu_is_read_by_the_name_a_thread_gave_itself():
    burned, done = threading.Event(), threading.Event()

    def burn() -> None:
        name_os_thread("gw-test-burner")
        deadline = time.thread_time() + 0.2
        while time.thread_time() < deadline:
            pass
        burned.set()
        done.wait()  # still running while it is read: an exited thread drops out

    worker = threading.Thread(target=burn)
    worker.start()
    try:
        assert burned.wait(30)
        by_name = thread_cpu_seconds([os.getpid()])
        assert by_name is not None and by_name.get("gw-test-burner", 0.0) >= 0.1
        assert thread_cpu_seconds([os.getpid(), 2**22 + 12345]) is None
    finally:
        done.set()
        worker.join()
