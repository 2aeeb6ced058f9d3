"""Keep attendance current: a job every minute recomputes the shifts that new heartbeats touched.

Why a job and not an ingest Reactor: a shift's result depends on fixes on both
sides of each one (debounce dates an arrival back to its first fix, spikes
need the next fix), so every new fix means judging the shift again, and a
backlog uploaded hours late touches shifts long over. Recomputing whole
shifts from the table is idempotent, costs ~1 ms per shift, and keeps that
work out of the ingest transaction, whose latency every device waits on.

Each run: heartbeats that arrived since the cursor (by `received_at`, read
with an overlap because the ingest stamps it before committing) name the
devices and fix times touched; the shifts of those devices around those
times, plus every shift under way or just ended and not yet final, are judged
again and upserted. A shift becomes final once `final_after_minutes` past its
end; a later backlog for it still recomputes it. Off-post periods longer than
the alert time become live events.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING

import psycopg

from . import store
from .engine import judge_shift
from .geometry import GridShape
from .model import UTC, Fixes, Shift
from .rules import Rules

if TYPE_CHECKING:
    from apscheduler.job import Job
    from apscheduler.schedulers.base import BaseScheduler

    from gridwatch.settings import Settings

log = logging.getLogger(__name__)

JOB_ID = "gridwatch.attendance"
OVERLAP = timedelta(minutes=2)
# A shift under way whose device sent nothing new is judged again this often (its verdict still
# moves with the clock: a worker who never comes turns from "not yet" to absent).
UNTOUCHED_REFRESH = timedelta(minutes=5)
FIRST_LOOK_BACK = timedelta(days=1)
_LOCK = "gridwatch.attendance"


@dataclass(frozen=True)
class RunReport:
    shifts: int
    events: int
    devices_touched: int


def judge_and_save(conn: psycopg.Connection, shifts: list[tuple[Shift, date]], rules: Rules, now: datetime,
                   final_after: timedelta, events: bool) -> tuple[int, int]:
    """Judge `shifts` from the stored fixes and upsert them; returns (shifts, new events)."""
    shifts = [(s, d) for s, d in shifts if s.start <= now]
    if not shifts:
        return 0, 0
    margin = timedelta(seconds=rules.margin_s)
    lo, hi = min(s.start for s, _ in shifts) - margin, max(s.end for s, _ in shifts) + margin
    devs = sorted({s.dev for s, _ in shifts})
    fixes = store.device_fixes(conn, devs, lo, hi)
    offline = store.offline_periods(conn, devs, lo, hi)
    shapes = store.grid_shapes(conn, {s.grid for s, _ in shifts})
    posts = posts_of([s for s, _ in shifts], shapes)
    results, alerts = [], []
    for shift, day in shifts:
        if shift.grid not in shapes:
            log.warning("shift of %s: grid %s is not in the registry; skipped", shift.worker, shift.grid)
            continue
        final = now >= shift.end + final_after
        r = judge_shift(fixes.get(shift.dev, Fixes.empty()), posts[shift], shift, rules,
                        offline.get(shift.dev, []), None if now >= shift.end else now.timestamp(),
                        cover=shapes[shift.grid])
        results.append((shift, day, r, final))
        if events and r.excursions and not final:  # a backlog of a long-closed shift is history, not news
            alerts.append((shift, r))
    store.save(conn, results)
    return len(results), store.save_events(conn, alerts) if alerts else 0


def posts_of(shifts: list[Shift], shapes: dict[str, GridShape]) -> dict[Shift, GridShape]:
    """Each shift's post: its grid, or the union of the grids a worker holds over the same hours
    (on post in any of them is on post; coverage is still reported per grid)."""
    together: dict[tuple, list[str]] = {}
    for s in shifts:
        if s.grid in shapes:
            together.setdefault((s.worker, s.dev, s.start, s.end), []).append(s.grid)
    out = {}
    for s in shifts:
        codes = sorted(set(together.get((s.worker, s.dev, s.start, s.end), [])))
        if len(codes) > 1:
            out[s] = store.union_shape([shapes[c] for c in codes])
        elif codes:
            out[s] = shapes[s.grid]
    return out


def recompute_day(conn: psycopg.Connection, day: date, rules: Rules, final_after: timedelta,
                  now: datetime | None = None) -> int:
    """Judge every shift of local date `day` again (no live events: they are history)."""
    now = now or datetime.now(UTC)
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (_LOCK,))
        return judge_and_save(conn, store.day_shifts(conn, day), rules, now, final_after, events=False)[0]


def run_once(conn: psycopg.Connection, rules: Rules, final_after: timedelta, now: datetime | None = None) -> RunReport:
    """One pass of the job, in one transaction (runs of several processes queue on a lock)."""
    now = now or datetime.now(UTC)
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (_LOCK,))
        row = conn.execute("SELECT received_at FROM attendance_cursor").fetchone()
        cursor = row[0] if row else now - FIRST_LOOK_BACK
        touched = conn.execute(
            """SELECT dev, min(ts), max(ts), max(received_at) FROM heartbeat
               WHERE received_at > %s GROUP BY dev""", (cursor - OVERLAP,)).fetchall()
        shifts = _due(conn, touched, rules, final_after, now)
        n, events = judge_and_save(conn, shifts, rules, now, final_after, events=True)
        newest = max([r[3] for r in touched], default=cursor)
        conn.execute("""INSERT INTO attendance_cursor (id, received_at) VALUES (true, %s)
                        ON CONFLICT (id) DO UPDATE SET received_at = GREATEST(attendance_cursor.received_at,
                                                                              EXCLUDED.received_at)""", (newest,))
    return RunReport(n, events, len(touched))


def _due(conn: psycopg.Connection, touched: list[tuple], rules: Rules, final_after: timedelta,
         now: datetime) -> list[tuple[Shift, date]]:
    """Shifts touched by new fixes, and shifts under way or ended but not yet final."""
    margin = timedelta(seconds=rules.margin_s)
    due: dict[tuple, tuple[Shift, date]] = {}
    if touched:
        ranges = {dev: (lo - margin, hi + margin) for dev, lo, hi, _ in touched}
        lo, hi = min(r[0] for r in ranges.values()), max(r[1] for r in ranges.values())
        for shift, day in store.shifts_overlapping(conn, lo, hi):
            r = ranges.get(shift.dev)
            if r and shift.start < r[1] and shift.end > r[0]:
                due[(shift.worker, shift.grid, shift.start)] = (shift, day)
    recent = now - final_after - timedelta(hours=1)
    settled, final = store.settled_keys(conn, recent, now - UNTOUCHED_REFRESH)
    for shift, day in store.shifts_overlapping(conn, recent, now):
        key = (shift.worker, shift.grid, shift.start)
        if key not in settled or (shift.end + final_after <= now and key not in final):
            due[key] = (shift, day)
    return list(due.values())


def add_attendance_job(scheduler: "BaseScheduler", database_url: str, settings: "Settings") -> "Job":
    """Schedule the job every `attendance_job_interval_s` in the process's APScheduler, first right away."""
    return scheduler.add_job(run_job, "interval", seconds=settings.attendance_job_interval_s,
                             args=(database_url, settings), id=JOB_ID, name="attendance",
                             next_run_time=datetime.now(UTC), replace_existing=True, coalesce=True,
                             misfire_grace_time=None, max_instances=1)


def run_job(database_url: str, settings: "Settings") -> RunReport | None:
    try:
        with psycopg.connect(database_url) as conn:
            report = run_once(conn, Rules.from_settings(settings),
                              timedelta(minutes=settings.attendance_final_after_minutes))
        log.info("attendance: %d shifts judged, %d events, %d devices with new fixes",
                 report.shifts, report.events, report.devices_touched)
        return report
    except psycopg.Error as exc:
        log.error("attendance job failed, retried next run: %s", exc)
    except Exception:
        # The scheduler's thread must survive whatever happens here; the traceback shows the bug.
        log.exception("attendance job failed, retried next run")
    return None
