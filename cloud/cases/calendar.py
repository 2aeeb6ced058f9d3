"""The working calendar of SLA clocks, and `due_at`, the one deadline function.

Working days are Monday to Friday unless `calendar_day` says otherwise
(holidays off, make-up days on); a working day has the same working periods
(08:30-12:00 and 14:00-17:30 by default), in local time of one zone.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import psycopg

# A calendar with no working time at all would loop for ever; give up after this.
_MAX_DAYS = 3660


class CalendarError(ValueError):
    """Working periods that cannot be used (bad format, overlapping, empty)."""


@dataclass(frozen=True)
class WorkingCalendar:
    tz: ZoneInfo
    periods: tuple[tuple[time, time], ...]
    special_days: dict[date, bool] = field(default_factory=dict)  # day -> working

    def is_working_day(self, day: date) -> bool:
        return self.special_days.get(day, day.isoweekday() <= 5)

    def working_spans(self, day: date) -> list[tuple[datetime, datetime]]:
        if not self.is_working_day(day):
            return []
        return [(datetime.combine(day, s, self.tz), datetime.combine(day, e, self.tz)) for s, e in self.periods]


def parse_periods(text: str) -> tuple[tuple[time, time], ...]:
    """`08:30-12:00,14:00-17:30` -> ordered, non-overlapping (start, end) pairs."""
    out: list[tuple[time, time]] = []
    for part in (p.strip() for p in text.split(",") if p.strip()):
        try:
            start, end = (time.fromisoformat(x.strip()) for x in part.split("-"))
        except ValueError:
            raise CalendarError(f"working period {part!r} is not HH:MM-HH:MM") from None
        if end <= start:
            raise CalendarError(f"working period {part!r} ends before it starts")
        if out and start < out[-1][1]:
            raise CalendarError(f"working period {part!r} overlaps or precedes the one before it")
        out.append((start, end))
    if not out:
        raise CalendarError("no working periods given")
    return tuple(out)


def make_calendar(periods: str, tz: str, special_days: dict[date, bool] | None = None) -> WorkingCalendar:
    return WorkingCalendar(ZoneInfo(tz), parse_periods(periods), dict(special_days or {}))


def load_calendar(conn: psycopg.Connection, periods: str, tz: str) -> WorkingCalendar:
    """The calendar with the holidays and make-up days of `calendar_day`."""
    days = {d: w for d, w in conn.execute("SELECT day, working FROM calendar_day")}
    return make_calendar(periods, tz, days)


def due_at(opened_at: datetime, sla_hours: float, round_the_clock: bool, calendar: WorkingCalendar) -> datetime:
    """When `sla_hours` of clock time have run from `opened_at`: wall-clock hours for a
    round-the-clock kind, else only the working periods of the calendar count."""
    remaining = timedelta(hours=sla_hours)
    if round_the_clock:
        return opened_at + remaining
    local = opened_at.astimezone(calendar.tz)
    day = local.date()
    for _ in range(_MAX_DAYS):
        for start, end in calendar.working_spans(day):
            start = max(start, local)
            if start >= end:
                continue
            if remaining <= end - start:
                return (start + remaining).astimezone(opened_at.tzinfo)
            remaining -= end - start
        day += timedelta(days=1)
    raise CalendarError(f"no working time within {_MAX_DAYS} days of {opened_at.isoformat()}")
