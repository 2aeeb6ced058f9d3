"""A slot's decode side gathers batches from its inbox without ever blocking in a way a signal
can turn into a hang (SimpleQueue.get with a timeout does, on CPython 3.11), and returns on time."""
from __future__ import annotations

import queue
import subprocess
import sys
import textwrap
import time

from cloud.ingest.worker import gather


def test_gather_returns_what_is_there_and_gives_up_when_idle():
    inbox: queue.SimpleQueue = queue.SimpleQueue()
    for i in range(7):
        inbox.put(i)
    assert gather(inbox, max_items=5, flush_s=0.05) == [0, 1, 2, 3, 4]
    assert gather(inbox, max_items=5, flush_s=0.05) == [5, 6]
    started = time.monotonic()
    assert gather(inbox, max_items=5, flush_s=0.05, idle_s=0.1) == []
    assert 0.09 <= time.monotonic() - started < 1.0


def test_gather_in_a_main_thread_pestered_by_signals_keeps_returning():
    # SIGUSR1 every ~0.7 ms: an interrupted SimpleQueue.get(timeout=...) near its deadline
    # waited forever here (this script hung within a second with the old gather).
    script = textwrap.dedent("""
        import os, queue, signal, threading, time
        from cloud.ingest.worker import gather
        signal.signal(signal.SIGUSR1, lambda *_: None)
        def pester():
            for _ in range(3000):
                os.kill(os.getpid(), signal.SIGUSR1)
                time.sleep(0.0007)
        threading.Thread(target=pester, daemon=True).start()
        inbox = queue.SimpleQueue()
        t0 = time.monotonic()
        while time.monotonic() - t0 < 2:
            gather(inbox, 50, 0.01, idle_s=0.01)
        print("done")
    """)
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=20)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "done"
