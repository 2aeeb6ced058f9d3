"""What every `gridwatch edge ...` composition root does first: check the device id,
turn SIGTERM into a stop, open the device's node with user-facing errors."""
from __future__ import annotations

import argparse
import signal
import threading
from collections.abc import Callable

from gridwatch.cli import UserError
from gridwatch.settings import Settings
from protocols import topics

from .node import EdgeNode
from .outbox import OutboxError


def checked_device(dev: str) -> str:
    if not topics.is_device_id(dev):
        raise UserError(f"{dev!r} is not a device id (lowercase letters, digits, '-', '_')")
    return dev


def stop_on_sigterm(stop: threading.Event) -> None:
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, lambda *_: stop.set())


def open_node(settings: Settings, args: argparse.Namespace, on_error: Callable[[], None] | None = None) -> EdgeNode:
    """The device's outbox, link and sender; `on_error` releases what the caller opened before."""
    try:
        return EdgeNode.open(settings, args.device, password=args.password, outbox_path=args.outbox)
    except (OutboxError, ValueError, OSError) as exc:
        if on_error:
            on_error()
        raise UserError(str(exc)) from exc
