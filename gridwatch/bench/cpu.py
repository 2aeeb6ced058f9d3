"""CPU seconds that processes on this machine have used, read from /proc (Linux).

Benchmarks report CPU per heartbeat next to throughput: on a shared 2-core box
the throughput of a case drifts with whatever else runs, while the CPU a
pipeline spends per heartbeat is what decides how far it scales.
"""
from __future__ import annotations

import os
from pathlib import Path

_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def cpu_seconds(pids: list[int]) -> float | None:
    """User + system CPU of these processes (all their threads); None when one is not
    visible here (another machine, another OS, or it has exited)."""
    total = 0.0
    for pid in pids:
        try:
            total += _stat_cpu(Path(f"/proc/{pid}/stat"))
        except OSError:
            return None
    return total


def thread_cpu_seconds(pids: list[int]) -> dict[str, float] | None:
    """User + system CPU of these processes' threads, summed by thread name (the slots name
    theirs: cloud/ingest/thread_name.py); None when a process is not visible here. A thread
    that has exited by the second reading drops out of a difference: read while they run."""
    totals: dict[str, float] = {}
    for pid in pids:
        try:
            tasks = list(Path(f"/proc/{pid}/task").iterdir())
        except OSError:
            return None
        for task in tasks:
            try:
                name = (task / "comm").read_text().strip()
                cpu = _stat_cpu(task / "stat")
            except OSError:
                continue  # the thread has just exited
            totals[name] = totals.get(name, 0.0) + cpu
    return totals


def _stat_cpu(stat: Path) -> float:
    """utime + stime of a /proc stat file, in seconds (fields after the parenthesised name,
    which may itself hold spaces and parentheses)."""
    fields = stat.read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / _TICKS


def box_cpu_seconds() -> float | None:
    """Busy CPU of the whole machine (every core, every process: broker and publishers too),
    from /proc/stat; None where there is none."""
    try:
        fields = Path("/proc/stat").read_text().split("\n", 1)[0].split()
    except OSError:
        return None
    if fields[0] != "cpu":
        return None
    # user nice system idle iowait irq softirq steal ...: busy is all but idle and iowait
    ticks = [int(v) for v in fields[1:9]]
    return (sum(ticks) - ticks[3] - ticks[4]) / _TICKS
