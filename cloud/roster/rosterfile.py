"""Read and check a roster CSV (CONTRACT section 5): pure, no I/O.

Header `worker,device,grid,date,start,end,tz`, or `day_of_week` instead of
(or beside) `date`: each line has exactly one of them. `day_of_week` is a
comma-separated list of `mon`..`sun` (quoted in CSV). `start`/`end` are
`HH:MM` local to `tz` (an IANA zone); an end before the start runs past
midnight, an end equal to the start is refused. A worker may hold several
grids (one line each). Any fault refuses the whole file, naming the line.
"""
from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass
from datetime import date, time
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from cloud.files import FileRefused
from protocols.topics import is_device_id

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
REQUIRED = ("worker", "device", "grid", "start", "end", "tz")
_TIME_RE = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")


class RosterFileError(FileRefused):
    """The roster file is refused whole; `problems` lists every fault found."""

    what = "roster file"


@dataclass(frozen=True, slots=True)
class RosterEntry:
    """One roster line: a dated shift (`day`) or a weekly one (`days_of_week`, 1 = Monday)."""

    worker: str
    dev: str
    grid: str
    day: date | None
    days_of_week: tuple[int, ...] | None
    start: time
    end: time
    tz: str
    line: int = 0


def _time(value: str, what: str) -> time:
    m = _TIME_RE.match(value)
    if not m:
        raise ValueError(f"`{what}` must be HH:MM (00:00..23:59), got {value!r}")
    return time(int(m[1]), int(m[2]))


def _days(value: str) -> tuple[int, ...]:
    names = [d.strip().lower() for d in value.split(",") if d.strip()]
    bad = [d for d in names if d not in DAYS]
    if not names or bad:
        raise ValueError(f"`day_of_week` must list {'/'.join(DAYS)} separated by commas, got {value!r}")
    if len(set(names)) != len(names):
        raise ValueError(f"`day_of_week` repeats a day: {value!r}")
    return tuple(sorted(DAYS.index(d) + 1 for d in names))


def _zone(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {value!r} (an IANA name such as Asia/Shanghai)") from None
    return value


def _entry(row: dict, line: int, grids: dict[str, str]) -> RosterEntry:
    worker, dev, grid = (row.get(k, "").strip() for k in ("worker", "device", "grid"))
    if not 1 <= len(worker) <= 64:
        raise ValueError("`worker` must be 1 to 64 characters")
    if not is_device_id(dev):
        raise ValueError(f"`device` {dev!r} is not a device id (^[a-z0-9][a-z0-9_-]{{0,63}}$)")
    if grid not in grids:
        raise ValueError(f"unknown grid {grid!r} (import the grid file first)")
    if grids[grid] != "grid":
        raise ValueError(f"{grid!r} is a {grids[grid]}, not a grid: shifts are held on leaf grids")
    day_text, dow_text = (row.get("date") or "").strip(), (row.get("day_of_week") or "").strip()
    if bool(day_text) == bool(dow_text):
        raise ValueError("give exactly one of `date` and `day_of_week`")
    try:
        day = date.fromisoformat(day_text) if day_text else None
    except ValueError:
        raise ValueError(f"`date` must be YYYY-MM-DD, got {day_text!r}") from None
    start, end = _time(row.get("start", "").strip(), "start"), _time(row.get("end", "").strip(), "end")
    if start == end:
        raise ValueError(f"`end` equals `start` ({start:%H:%M}): a shift needs a length")
    return RosterEntry(worker, dev, grid, day, _days(dow_text) if dow_text else None, start, end,
                       _zone(row.get("tz", "").strip()), line)


def _header_problems(fields: list[str] | None) -> list[str]:
    if not fields:
        return ["the file is empty (expected a header worker,device,grid,date,start,end,tz)"]
    fields = [f.strip() for f in fields]
    missing = [c for c in REQUIRED if c not in fields]
    unknown = [c for c in fields if c not in REQUIRED + ("date", "day_of_week")]
    problems = [f"line 1: header lacks {', '.join(missing)}"] if missing else []
    if "date" not in fields and "day_of_week" not in fields:
        problems.append("line 1: header needs a `date` or a `day_of_week` column")
    if unknown:
        problems.append(f"line 1: unknown column(s) {', '.join(unknown)}")
    return problems


def parse_roster(text: str, grids: dict[str, str]) -> list[RosterEntry]:
    """Entries of a roster CSV; `grids` maps every known grid code to its level."""
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")), skipinitialspace=True)
    problems = _header_problems(reader.fieldnames)
    if problems:
        raise RosterFileError(problems)
    reader.fieldnames = [f.strip() for f in reader.fieldnames]
    entries, seen = [], {}
    for row in reader:
        line = reader.line_num
        if None in row or any(v is None for v in row.values()):
            problems.append(f"line {line}: expected {len(reader.fieldnames)} fields")
            continue
        if not any(v.strip() for v in row.values()):
            continue
        try:
            e = _entry(row, line, grids)
        except ValueError as exc:
            problems.append(f"line {line}: {exc}")
            continue
        key = (e.worker, e.dev, e.grid, e.day, e.days_of_week, e.start, e.end, e.tz)
        if key in seen:
            problems.append(f"line {line}: repeats line {seen[key]}")
        seen.setdefault(key, line)
        entries.append(e)
    if not entries and not problems:
        problems.append("the file has no shifts")
    if problems:
        raise RosterFileError(problems)
    return entries
