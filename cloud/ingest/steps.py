"""The pluggable steps of the ingest pipeline, in the order they run.

    translate  outside formats (OwnTracks, Frigate, ...) -> contract topic + JSON
    decode     protocols.decode: models or named rejections        (batch.py)
    enrich     fill derived columns in place (grid of a fix, ...)
    store      COPY + idempotent insert                             (store.py)
    react      inside the same transaction, on the rows that were new
               (attendance transitions, cases, live events)

Each step that needs registry state loads it in `refresh(conn)`, which the
worker calls at most every `refresh_s`; `translate`, `enrich` are then pure.
`default_steps` is the one place that lists them.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

import psycopg

from protocols.decode import Rejection

if TYPE_CHECKING:
    from gridwatch.settings import Settings

    from .batch import Inbound, Rows


class Translator(Protocol):
    """Turns one outside client's message into contract (topic, payload) pairs."""

    subscriptions: tuple[str, ...]  # MQTT filters to consume (shared subscriptions are added by the consumer)

    def matches(self, topic: str) -> bool: ...

    def translate(self, msg: "Inbound", now_ms: int) -> list[tuple[str, bytes]] | Rejection: ...


class Enricher(Protocol):
    def enrich(self, rows: "Rows") -> None: ...


class Reactor(Protocol):
    tables: tuple[str, ...]  # tables whose freshly inserted rows it receives

    def react(self, cur: psycopg.Cursor, fresh: dict[str, list[tuple]]) -> None: ...


class Refreshable(Protocol):
    def refresh(self, conn: psycopg.Connection) -> None: ...


@dataclass
class Steps:
    translators: list[Translator] = field(default_factory=list)
    enrichers: list[Enricher] = field(default_factory=list)
    reactors: list[Reactor] = field(default_factory=list)

    def stateful(self) -> list[Refreshable]:
        return [s for s in (*self.translators, *self.enrichers, *self.reactors) if hasattr(s, "refresh")]

    def extra_subscriptions(self) -> list[str]:
        return [sub for t in self.translators for sub in t.subscriptions]


def default_steps(settings: "Settings") -> Steps:
    """Every step a production ingest slot runs."""
    from cloud.cases.reactor import CaseReactor

    from .enrich_grid import GridEnricher
    from .frigate import FrigateTranslator
    from .owntracks import OwnTracksTranslator

    frigate = FrigateTranslator(settings.camera_frigate_labels, settings.camera_frigate_update_s,
                                settings.camera_frigate_detect_size)
    # GridEnricher first: it converts coordinates to WGS-84 before any other enricher looks at them.
    return Steps(translators=[OwnTracksTranslator(), frigate], enrichers=[GridEnricher()],
                 reactors=[CaseReactor(settings)])
