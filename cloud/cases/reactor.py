"""The ingest step that turns fresh detections, alerts and reports into cases.

A `Reactor` of `cloud.ingest.steps`: it runs inside the ingest transaction on
the rows that were new, so a case exists iff its evidence is committed, and a
redelivered message (not new) never touches a case twice.
"""
from __future__ import annotations

import logging

import psycopg

from gridwatch.settings import Settings

from . import incidents, intake
from .calendar import WorkingCalendar, load_calendar, make_calendar
from .catalog import Catalog, load_catalog
from .components import ComponentIndex
from .incidents import Outcome
from .places import GridPlaces
from .routing import Router

log = logging.getLogger(__name__)


class CaseReactor:
    tables = intake.TABLES

    def __init__(self, settings: Settings, catalog: Catalog | None = None):
        self.settings = settings
        self.catalog = catalog or load_catalog(settings.cases_catalog_file)
        self.calendar: WorkingCalendar = make_calendar(settings.cases_working_periods, settings.cases_timezone)
        self.components = ComponentIndex([])
        self.places = GridPlaces([])
        self._versions: dict[str, int] = {}

    def refresh(self, conn: psycopg.Connection) -> None:
        """Reload the calendar, and components and grids when their registry version moved."""
        s = self.settings
        self.calendar = load_calendar(conn, s.cases_working_periods, s.cases_timezone)
        versions = dict(conn.execute("SELECT name, version FROM registry_version "
                                     "WHERE name IN ('component', 'grid')").fetchall())
        if versions.get("component") != self._versions.get("component"):
            self.components = ComponentIndex.load(conn)
        if versions.get("grid") != self._versions.get("grid"):
            self.places = GridPlaces.load(conn)
        self._versions = versions

    def router(self) -> Router:
        s = self.settings
        return Router(self.catalog, self.components, self.places, s.cases_component_radius_m,
                      s.cases_territorial_suffix, s.cases_fallback_department)

    def react(self, cur: psycopg.Cursor, fresh: dict[str, list[tuple]]) -> list[Outcome]:
        found = intake.sightings(fresh, self.catalog)
        if not found:
            return []
        unplaced = sorted({s.dev for s in found if s.lat is None})
        devices = {d: (lat, lon) for d, lat, lon in cur.execute(
            "SELECT dev, lat, lon FROM device WHERE dev = ANY(%s) AND lat IS NOT NULL", (unplaced,))} \
            if unplaced else {}
        found = [intake.placed(s, devices, self.components.positions) for s in found]
        keys: set[int] = set()
        for s in found:
            keys |= incidents.lock_keys(s, self.catalog.kinds[s.kind])
        incidents.take_locks(cur, keys, {s.kind for s in found})
        router = self.router()
        return [o for o in (self._one(cur, s, router) for s in found) if o is not None]

    def _one(self, cur: psycopg.Cursor, s: intake.Sighting, router: Router) -> Outcome | None:
        spec = self.catalog.kinds[s.kind]
        case_id = incidents.find_case(cur, s, spec)
        if case_id is not None:
            return incidents.join(cur, case_id, s, spec, self.calendar)
        if not s.opens:
            return None
        grid = self.places.locate(s.lat, s.lon) if s.lat is not None else None
        outcome = incidents.open_case(cur, s, spec, router.route(s, grid), grid, self.calendar)
        log.debug("case %s %s by %s", outcome.case_id, "opened" if outcome.opened else "joined", s.origin)
        return outcome
