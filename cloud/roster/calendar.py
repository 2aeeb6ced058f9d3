"""The working calendar: weekdays work, weekends do not, except the listed days.

`calendar_day` holds the exceptions: public holidays (`working` false) and
make-up working days (`working` true, e.g. a Saturday). The hours of a working
day are not here: the SLA clocks (cases) take them from settings.
"""
from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from datetime import date

import psycopg

_TRUE = {"true", "1", "yes", "y", "t"}
_FALSE = {"false", "0", "no", "n", "f"}


class CalendarFileError(ValueError):
    pass


@dataclass(frozen=True, slots=True)
class WorkingCalendar:
    exceptions: dict[date, bool] = field(default_factory=dict)

    def is_working(self, day: date) -> bool:
        return self.exceptions.get(day, day.isoweekday() <= 5)

    @property
    def holidays(self) -> frozenset[date]:
        """Days marked not working (ordinary weekends are not listed)."""
        return frozenset(d for d, w in self.exceptions.items() if not w)


@dataclass(frozen=True, slots=True)
class CalendarDay:
    day: date
    working: bool
    note: str | None


def parse_calendar(text: str) -> list[CalendarDay]:
    """`date,working,note` lines; any fault refuses the file naming the line."""
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")), skipinitialspace=True)
    fields = [f.strip() for f in reader.fieldnames or []]
    if "date" not in fields or "working" not in fields or not set(fields) <= {"date", "working", "note"}:
        raise CalendarFileError("line 1: the header must be date,working[,note]")
    reader.fieldnames = fields
    out, problems, seen = [], [], {}
    for row in reader:
        line = reader.line_num
        text_day, working = (row.get("date") or "").strip(), (row.get("working") or "").strip().lower()
        try:
            day = date.fromisoformat(text_day)
        except ValueError:
            problems.append(f"line {line}: `date` must be YYYY-MM-DD, got {text_day!r}")
            continue
        if working not in _TRUE | _FALSE:
            problems.append(f"line {line}: `working` must be true or false, got {row.get('working')!r}")
            continue
        if day in seen:
            problems.append(f"line {line}: {day} is already on line {seen[day]}")
        seen.setdefault(day, line)
        out.append(CalendarDay(day, working in _TRUE, (row.get("note") or "").strip() or None))
    if problems:
        raise CalendarFileError("calendar file refused, nothing imported:\n  " + "\n  ".join(problems))
    if not out:
        raise CalendarFileError("the calendar file lists no days")
    return out


def load_calendar(conn: psycopg.Connection) -> WorkingCalendar:
    return WorkingCalendar({d: w for d, w in conn.execute("SELECT day, working FROM calendar_day")})


def import_calendar(conn: psycopg.Connection, days: list[CalendarDay]) -> int:
    """Replace the exceptions of every year the file covers (a file is a year's holiday plan);
    other years stay. Re-importing the same file is idempotent. Returns the days stored."""
    years = sorted({d.day.year for d in days})
    with conn.transaction():
        conn.execute("DELETE FROM calendar_day WHERE extract(year FROM day)::int = ANY(%s)", (years,))
        with conn.cursor() as cur:
            cur.executemany("INSERT INTO calendar_day (day, working, note) VALUES (%s, %s, %s)",
                            [(d.day, d.working, d.note) for d in days])
        conn.execute("UPDATE registry_version SET version = version + 1, changed_at = now() "
                     "WHERE name = 'calendar'")
    return len(days)
