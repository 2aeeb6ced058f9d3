"""Give the calling thread a name the OS shows (Linux: `top -H`, `ps -L`, /proc/<pid>/task/<tid>/comm).

A slot process runs four busy threads (MQTT network, decode, store, receipts);
CPython 3.11 leaves them all with the process's name, so neither an operator
nor `gridwatch bench ingest --threads` could tell which one burns the CPU.
"""
from __future__ import annotations

import threading
from pathlib import Path


def name_os_thread(name: str) -> None:
    """At most 15 bytes (the kernel's limit); silently nothing where there is no /proc."""
    try:
        Path(f"/proc/self/task/{threading.get_native_id()}/comm").write_bytes(name.encode()[:15])
    except OSError:
        pass
