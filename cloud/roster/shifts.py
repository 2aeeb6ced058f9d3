"""Concrete shifts of a day, with UTC bounds: what the attendance engine judges.

A shift belongs to the local date it starts on (in its own zone): a Monday
22:00-06:00 shift is Monday's, ending Tuesday 06:00. Local times become UTC
through zoneinfo, so DST is handled: a start that falls in a spring-forward
gap moves to the first instant after it, an ambiguous fall-back time takes its
first occurrence, and a shift across a change is an hour shorter or longer.

Weekly shifts do not run on holidays (calendar days marked not working);
dated shifts always run (an explicit date beats the calendar). Ordinary
weekends are not holidays: a `sat,sun` shift runs every weekend.
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from functools import lru_cache
from zoneinfo import ZoneInfo

import psycopg

from .calendar import WorkingCalendar, load_calendar
from .rosterfile import RosterEntry

UTC = timezone.utc


@dataclass(frozen=True, slots=True)
class Shift:
    worker: str
    dev: str
    grid: str
    day: date               # local date the shift starts on
    start: datetime         # UTC
    end: datetime           # UTC, after start
    tz: str
    start_local: time
    end_local: time

    @property
    def minutes(self) -> float:
        return (self.end - self.start).total_seconds() / 60.0


@lru_cache(maxsize=256)
def _zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


def local_to_utc(day: date, at: time, tz: str) -> datetime:
    """A wall-clock time on a local date as a UTC instant (DST gaps move forward)."""
    # fold=0: an ambiguous time is its first occurrence; a time in a gap takes the offset
    # before the change, which lands just after the gap.
    return datetime.combine(day, at, tzinfo=_zone(tz)).astimezone(UTC)


def applies(entry: RosterEntry, day: date, holidays: frozenset[date] | set[date]) -> bool:
    if entry.day is not None:
        return entry.day == day
    return day.isoweekday() in (entry.days_of_week or ()) and day not in holidays


def shift_of(entry: RosterEntry, day: date) -> Shift:
    end_day = day if entry.end > entry.start else day + timedelta(days=1)
    return Shift(entry.worker, entry.dev, entry.grid, day, local_to_utc(day, entry.start, entry.tz),
                 local_to_utc(end_day, entry.end, entry.tz), entry.tz, entry.start, entry.end)


def expand(entries: Iterable[RosterEntry], day: date, holidays: frozenset[date] | set[date] = frozenset()) -> list[Shift]:
    """The shifts of `day` (a local date in each entry's zone), ordered by start, worker, grid."""
    out = [shift_of(e, day) for e in entries if applies(e, day, holidays)]
    return sorted(out, key=lambda s: (s.start, s.worker, s.grid))


def load_entries(conn: psycopg.Connection, day: date | None = None) -> list[RosterEntry]:
    """Roster entries from the database: all, or only those that can apply on `day`."""
    rows = conn.execute(
        """SELECT worker, dev, grid, day, days_of_week, start_local, end_local, tz FROM roster_shift
           WHERE %(day)s::date IS NULL OR day = %(day)s::date
              OR %(dow)s::smallint = ANY(days_of_week)
           ORDER BY id""", {"day": day, "dow": day.isoweekday() if day else None}).fetchall()
    return [RosterEntry(r[0], r[1], r[2], r[3], tuple(r[4]) if r[4] is not None else None, r[5], r[6], r[7])
            for r in rows]


def shifts_for_day(source: psycopg.Connection | Iterable[RosterEntry], day: date,
                   calendar: WorkingCalendar | None = None) -> list[Shift]:
    """Every shift starting on local date `day`, from the database or from given entries.

    With a connection the calendar is read from it too; with entries, pass
    `calendar` (default: no holidays)."""
    if isinstance(source, psycopg.Connection):
        calendar = calendar if calendar is not None else load_calendar(source)
        source = load_entries(source, day)
    holidays = calendar.holidays if calendar is not None else frozenset()
    return expand(source, day, holidays)


def shifts_between(source: psycopg.Connection | Iterable[RosterEntry], since: datetime, until: datetime,
                   calendar: WorkingCalendar | None = None) -> list[Shift]:
    """Every shift overlapping [since, until) (UTC), e.g. who should be on post now."""
    if isinstance(source, psycopg.Connection):
        calendar = calendar if calendar is not None else load_calendar(source)
        source = load_entries(source)
    entries = list(source)
    holidays = calendar.holidays if calendar is not None else frozenset()
    # Local dates differ from UTC ones by up to 14 h, and shifts run past midnight: look a day wider.
    day, last = (since - timedelta(days=2)).date(), (until + timedelta(days=1)).date()
    out: list[Shift] = []
    while day <= last:
        out += [s for s in expand(entries, day, holidays) if s.start < until and s.end > since]
        day += timedelta(days=1)
    return sorted(out, key=lambda s: (s.start, s.worker, s.grid))
