"""One case per incident: a sighting joins the case it belongs to or opens one.

Runs inside the ingest transaction (a case exists iff its evidence is
committed). Concurrent workers are kept apart by transaction-scoped advisory
locks on the lock cells around each sighting (see `geometry`), taken for the
whole batch at once in ascending key order, so two workers never deadlock on
them. The partial unique index on (kind, incident_cell) is the backstop: an
insert that would make a second open case in a cell joins the first instead.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import psycopg

from . import workflow
from .calendar import WorkingCalendar, due_at
from .catalog import KindSpec
from .geometry import distance_m, incident_cell, lock_cells, lock_key
from .intake import Sighting
from .routing import Route


@dataclass(frozen=True, slots=True)
class Outcome:
    case_id: int
    opened: bool


def lock_keys(s: Sighting, spec: KindSpec) -> set[int]:
    keys = {lock_key("track", s.track_key)} if s.track_key else set()
    if s.lat is None or s.lon is None:
        keys.add(lock_key("dev", s.kind, s.dev))
    else:
        keys.update(lock_key("cell", s.kind, spec.merge_radius_m, r, c)
                    for r, c in lock_cells(s.lat, s.lon, spec.merge_radius_m))
    return keys


# Above this many cell locks a batch (a backlog of far-apart sightings) locks whole kinds
# instead: the shared lock table of PostgreSQL holds only ~64 locks per connection.
MAX_CELL_LOCKS = 512


def take_locks(cur: psycopg.Cursor, keys: set[int], kinds: set[str]) -> None:
    """Every lock of a batch in one ascending pass (a total order: no deadlocks between workers).

    Two levels: a batch shares a lock on each of its kinds and holds its cells exclusively;
    a batch with too many cells holds its kinds exclusively instead, which excludes both."""
    kind_keys = {lock_key("kind", k) for k in kinds}
    coarse = len(keys) > MAX_CELL_LOCKS
    modes = {k: True for k in kind_keys} if coarse else {**{k: True for k in keys},
                                                         **{k: False for k in kind_keys}}
    if modes:
        ordered = sorted(modes)
        cur.execute("SELECT count(CASE WHEN x THEN pg_advisory_xact_lock(k) ELSE pg_advisory_xact_lock_shared(k) "
                    "END) FROM (SELECT k, x FROM unnest(%s::bigint[], %s::bool[]) AS u(k, x) ORDER BY k) ordered",
                    (ordered, [modes[k] for k in ordered]))


def cell_of(s: Sighting, spec: KindSpec) -> str:
    if s.lat is None or s.lon is None:
        return f"dev:{s.dev}"
    return incident_cell(s.lat, s.lon, spec.merge_radius_m)


# A case takes evidence while open; a closed one for the merge window after closing (sightings
# lagging behind the fix); a rejected one while it is still sighted within the window (a false
# alarm the camera keeps seeing does not come back as a new case every few minutes).
_TAKES_EVIDENCE = ("(status NOT IN ('closed', 'rejected') OR (status = 'closed' AND closed_at >= %(since)s) "
                   "OR (status = 'rejected' AND last_evidence_at >= %(since)s))")


def _by_track(cur: psycopg.Cursor, s: Sighting, since: datetime) -> int | None:
    row = cur.execute(
        f"""SELECT c.id FROM case_evidence e JOIN case_file c ON c.id = e.case_id
            WHERE e.track_key = %(track)s AND e.ts >= %(since)s AND c.kind = %(kind)s AND {_TAKES_EVIDENCE}
            ORDER BY e.ts DESC LIMIT 1""", {"track": s.track_key, "since": since, "kind": s.kind}).fetchone()
    return row[0] if row else None


def _by_place(cur: psycopg.Cursor, s: Sighting, spec: KindSpec, since: datetime) -> int | None:
    if s.lat is None or s.lon is None:
        row = cur.execute(f"SELECT id FROM case_file WHERE kind = %(kind)s AND incident_cell = %(cell)s "
                          f"AND {_TAKES_EVIDENCE} ORDER BY id DESC LIMIT 1",
                          {"kind": s.kind, "cell": f"dev:{s.dev}", "since": since}).fetchone()
        return row[0] if row else None
    r = spec.merge_radius_m
    dlat = r / 111_000
    rows = cur.execute(
        f"""SELECT id, lat, lon, status NOT IN ('closed', 'rejected') FROM case_file
            WHERE kind = %(kind)s AND lat BETWEEN %(lat0)s AND %(lat1)s AND {_TAKES_EVIDENCE}""",
        {"kind": s.kind, "lat0": s.lat - dlat, "lat1": s.lat + dlat, "since": since}).fetchall()
    near = [(not is_open, distance_m(s.lat, s.lon, lat, lon), cid) for cid, lat, lon, is_open in rows
            if lon is not None and distance_m(s.lat, s.lon, lat, lon) <= r]
    return min(near)[2] if near else None


def find_case(cur: psycopg.Cursor, s: Sighting, spec: KindSpec) -> int | None:
    """The case this sighting belongs to: its track's, else the nearest open one within the radius."""
    since = s.ts - timedelta(minutes=spec.merge_window_min)
    found = _by_track(cur, s, since) if s.track_key else None
    return found if found is not None else _by_place(cur, s, spec, since)


def add_evidence(cur: psycopg.Cursor, case_id: int, s: Sighting) -> bool:
    cur.execute(
        """INSERT INTO case_evidence (case_id, source, dev, ts, seq, lat, lon, confidence, track_key, note, has_image)
           VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s) ON CONFLICT DO NOTHING""",
        (case_id, s.source, s.dev, s.ts, s.seq, s.lat, s.lon, s.confidence, s.track_key, s.note, s.has_image))
    return cur.rowcount == 1


def join(cur: psycopg.Cursor, case_id: int, s: Sighting, spec: KindSpec, calendar: WorkingCalendar) -> Outcome:
    """Add the sighting to the case; earlier evidence moves its clock back, confident evidence
    registers a case still waiting as `reported`, a resolved field report handles it."""
    if not add_evidence(cur, case_id, s):
        return Outcome(case_id, False)  # this very message is evidence already
    status, opened_at, sla, rtc = cur.execute(
        "UPDATE case_file SET evidence_count = evidence_count + 1, updated_at = now(), "
        "last_evidence_at = greatest(last_evidence_at, %s) WHERE id = %s "
        "RETURNING status, opened_at, sla_hours, round_the_clock", (s.ts, case_id)).fetchone()
    if s.opened_at < opened_at:
        _seen_earlier(cur, case_id, s.opened_at, sla, rtc, calendar)
    if s.resolved:
        for action in ("register", "dispatch", "handle"):
            workflow.apply(cur, case_id, action, f"worker:{s.dev}", "resolved on the spot by a field report")
    elif status == "reported" and s.opens and s.confidence >= spec.auto_register:
        workflow.apply(cur, case_id, "register", f"{s.source}:{s.dev}", f"confirmed by {s.note}")
    return Outcome(case_id, False)


def _seen_earlier(cur: psycopg.Cursor, case_id: int, start: datetime, sla: float, rtc: bool,
                  calendar: WorkingCalendar) -> None:
    """Evidence older than the case (another worker stored it later): the clock starts at the first sighting."""
    cur.execute("UPDATE case_file SET opened_at = %s, warn_at = %s, due_at = %s WHERE id = %s AND opened_at > %s",
                (start, due_at(start, sla * 0.8, rtc, calendar), due_at(start, sla, rtc, calendar), case_id, start))


def initial_status(s: Sighting, spec: KindSpec) -> str:
    if s.resolved:
        return "handled"
    return "registered" if s.confidence >= spec.auto_register else "reported"


_OPEN = """
INSERT INTO case_file (kind, status, department, routed_by, component, grid, lat, lon, incident_cell, origin,
                       confidence, opened_at, last_evidence_at, sla_hours, round_the_clock, warn_at, due_at,
                       handled_at, handled_by)
VALUES (%(kind)s, %(status)s, %(department)s, %(routed_by)s, %(component)s, %(grid)s, %(lat)s, %(lon)s, %(cell)s,
        %(origin)s, %(confidence)s, %(opened_at)s, %(ts)s, %(sla)s, %(rtc)s, %(warn_at)s, %(due_at)s,
        %(handled_at)s, %(handled_by)s)
ON CONFLICT (kind, incident_cell) WHERE status NOT IN ('closed', 'rejected') DO NOTHING
RETURNING id
"""


def open_case(cur: psycopg.Cursor, s: Sighting, spec: KindSpec, route: Route, grid: str | None,
              calendar: WorkingCalendar) -> Outcome:
    status = initial_status(s, spec)
    cell = cell_of(s, spec)
    start = s.opened_at
    row = cur.execute(_OPEN, {
        "kind": s.kind, "status": status, "department": route.department, "routed_by": route.routed_by,
        "component": route.component, "grid": grid, "lat": s.lat, "lon": s.lon, "cell": cell,
        "origin": s.origin, "confidence": s.confidence, "opened_at": start, "ts": s.ts,
        "sla": spec.sla_hours, "rtc": spec.round_the_clock,
        "warn_at": due_at(start, spec.sla_hours * 0.8, spec.round_the_clock, calendar),
        "due_at": due_at(start, spec.sla_hours, spec.round_the_clock, calendar),
        "handled_at": s.received_at if s.resolved else None,
        "handled_by": f"worker:{s.dev}" if s.resolved else None}).fetchone()
    if row is None:  # an open case holds this cell already: it is the same incident
        (existing,) = cur.execute("SELECT id FROM case_file WHERE kind = %s AND incident_cell = %s "
                                  "AND status NOT IN ('closed', 'rejected')", (s.kind, cell)).fetchone()
        return join(cur, existing, s, spec, calendar)
    case_id = row[0]
    add_evidence(cur, case_id, s)
    note = "resolved on the spot; awaiting verification" if s.resolved else s.note
    cur.execute("INSERT INTO case_history (case_id, actor, action, from_status, to_status, note) "
                "VALUES (%s, %s, 'open', NULL, %s, %s)", (case_id, f"{s.source}:{s.dev}", status, note))
    return Outcome(case_id, True)
