"""One device's outbox, link and sender, wired and started together.

The composition root of an edge process: agents get `node.outbox` and only
write to it. For many simulated devices over one relay link, build a Sender per
device on a shared Link instead.
"""
from __future__ import annotations

from pathlib import Path

from gridwatch.settings import Settings

from .link import Link
from .outbox import Outbox, OutboxStats
from .sender import Sender


class EdgeNode:
    """Device `dev`: its outbox, its link and the sender between them."""

    def __init__(self, dev: str, link: Link, outbox: Outbox) -> None:
        self.dev = dev
        self.link = link
        self.outbox = outbox
        self.sender = Sender(dev, outbox, link)

    @classmethod
    def open(cls, settings: Settings, dev: str, *, url: str | None = None, password: str | None = None,
             outbox_path: Path | str | None = None) -> "EdgeNode":
        """From settings: GRIDWATCH_MQTT_URL (or `url`), username = `dev` unless the URL names one."""
        outbox = Outbox.from_settings(settings, outbox_path, dev=dev)
        return cls(dev, Link.from_settings(settings, dev, url=url, password=password), outbox)

    def start(self) -> None:
        self.link.start()
        self.sender.start()

    def close(self, flush_timeout: float = 0.0) -> OutboxStats:
        """Stop, after waiting up to `flush_timeout` for receipts of everything stored.

        Returns the outbox's last stats: what is left (queued + inflight) stays
        stored and goes out after the next start.
        """
        if flush_timeout > 0:
            self.sender.flush(flush_timeout)
        self.sender.stop()
        self.link.stop()
        stats = self.outbox.stats()
        self.outbox.close()
        return stats

    def stats(self) -> OutboxStats:
        return self.outbox.stats()

    def __enter__(self) -> "EdgeNode":
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
