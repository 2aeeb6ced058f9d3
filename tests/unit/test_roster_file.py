"""Roster and calendar files: good lines parse; each fault refuses the file naming the line;
shifts get UTC bounds across midnight and DST; holidays cancel weekly shifts only."""
from __future__ import annotations

from datetime import date, datetime, time, timezone

import pytest

from cloud.roster.calendar import CalendarFileError, WorkingCalendar, parse_calendar
from cloud.roster.rosterfile import RosterEntry, RosterFileError, parse_roster
from cloud.roster.shifts import expand, shifts_between, shifts_for_day

UTC = timezone.utc
GRIDS = {"G1": "grid", "G2": "grid", "C1": "community"}


def test_dated_and_weekly_lines_parse_and_a_worker_may_hold_several_grids():
    text = ("worker,device,grid,date,day_of_week,start,end,tz\n"
            "ann,hs-1,G1,2026-03-02,,08:00,12:00,Asia/Shanghai\n"
            'ann,hs-1,G2,,"mon, wed,FRI",13:00,17:30,Asia/Shanghai\n')
    a, b = parse_roster(text, GRIDS)
    assert (a.worker, a.dev, a.grid, a.day, a.days_of_week, a.start, a.end, a.line) == \
        ("ann", "hs-1", "G1", date(2026, 3, 2), None, time(8), time(12), 2)
    assert (b.grid, b.day, b.days_of_week, b.end) == ("G2", None, (1, 3, 5), time(17, 30))


def test_a_file_with_only_the_day_of_week_column_parses():
    [e] = parse_roster('worker,device,grid,day_of_week,start,end,tz\nbo,hs-2,G1,"sat,sun",22:00,06:00,UTC\n', GRIDS)
    assert e.days_of_week == (6, 7) and e.end < e.start


HEADER = "worker,device,grid,date,start,end,tz\n"


@pytest.mark.parametrize("line,match", [
    ("ann,hs-1,G9,2026-03-02,08:00,12:00,Asia/Shanghai", "unknown grid 'G9'"),
    ("ann,hs-1,C1,2026-03-02,08:00,12:00,Asia/Shanghai", "is a community, not a grid"),
    ("ann,hs-1,G1,2026-03-02,08:00,12:00,Mars/Olympus", "unknown time zone 'Mars/Olympus'"),
    ("ann,hs-1,G1,2026-03-02,8am,12:00,Asia/Shanghai", "`start` must be HH:MM"),
    ("ann,hs-1,G1,2026-03-02,08:00,24:00,Asia/Shanghai", "`end` must be HH:MM"),
    ("ann,hs-1,G1,2026-03-02,08:00,08:00,Asia/Shanghai", "`end` equals `start`"),
    ("ann,hs-1,G1,2026-02-30,08:00,12:00,Asia/Shanghai", "`date` must be YYYY-MM-DD"),
    ("ann,HS 1,G1,2026-03-02,08:00,12:00,Asia/Shanghai", "not a device id"),
    (",hs-1,G1,2026-03-02,08:00,12:00,Asia/Shanghai", "`worker`"),
    ("ann,hs-1,G1,,08:00,12:00,Asia/Shanghai", "exactly one of `date` and `day_of_week`"),
    ("ann,hs-1,G1,2026-03-02,08:00", "expected 7 fields"),
])
def test_a_bad_line_refuses_the_file_and_is_named(line, match):
    text = HEADER + "bo,hs-2,G2,2026-03-02,08:00,12:00,Asia/Shanghai\n" + line + "\n"
    with pytest.raises(RosterFileError) as info:
        parse_roster(text, GRIDS)
    assert len(info.value.problems) == 1
    assert info.value.problems[0].startswith("line 3: ") and match in info.value.problems[0]


def test_bad_headers_days_and_repeats_are_refused():
    with pytest.raises(RosterFileError, match="header lacks tz"):
        parse_roster("worker,device,grid,date,start,end\n", GRIDS)
    with pytest.raises(RosterFileError, match="unknown column"):
        parse_roster("worker,device,grid,date,start,end,tz,shift\n", GRIDS)
    with pytest.raises(RosterFileError, match="day_of_week` must list"):
        parse_roster('worker,device,grid,day_of_week,start,end,tz\nann,hs-1,G1,"mon,xyz",08:00,12:00,UTC\n', GRIDS)
    line = "ann,hs-1,G1,2026-03-02,08:00,12:00,UTC\n"
    with pytest.raises(RosterFileError, match="line 3: repeats line 2"):
        parse_roster(HEADER + line + line, GRIDS)


def entry(**kw) -> RosterEntry:
    base = dict(worker="ann", dev="hs-1", grid="G1", day=None, days_of_week=(1, 2, 3, 4, 5), start=time(8),
                end=time(17), tz="Asia/Shanghai")
    return RosterEntry(**{**base, **kw})


def test_a_shift_gets_utc_bounds_in_its_zone():
    [s] = expand([entry()], date(2026, 3, 2))  # a Monday
    assert (s.start, s.end) == (datetime(2026, 3, 2, 0, 0, tzinfo=UTC), datetime(2026, 3, 2, 9, 0, tzinfo=UTC))
    assert s.minutes == 540 and (s.worker, s.dev, s.grid, s.day) == ("ann", "hs-1", "G1", date(2026, 3, 2))
    assert expand([entry()], date(2026, 3, 1)) == []  # Sunday


def test_a_shift_past_midnight_belongs_to_the_day_it_starts_and_ends_the_next():
    [s] = expand([entry(start=time(22), end=time(6))], date(2026, 3, 6))  # Friday night
    assert (s.start, s.end) == (datetime(2026, 3, 6, 14, tzinfo=UTC), datetime(2026, 3, 6, 22, tzinfo=UTC))
    assert s.minutes == 480


def test_dst_changes_make_a_shift_an_hour_shorter_or_longer():
    night = dict(tz="Europe/Berlin", start=time(22), end=time(6), days_of_week=(6,))
    [spring] = expand([entry(**night)], date(2026, 3, 28))   # clocks go forward on Sunday 29 March
    [autumn] = expand([entry(**night)], date(2026, 10, 24))  # and back on Sunday 25 October
    assert (spring.minutes, autumn.minutes) == (420, 540)
    assert spring.start == datetime(2026, 3, 28, 21, tzinfo=UTC) and spring.end == datetime(2026, 3, 29, 4, tzinfo=UTC)
    # a start inside the spring gap (02:30 does not exist) starts at the first instant after it
    [gap] = expand([entry(tz="Europe/Berlin", start=time(2, 30), end=time(8), days_of_week=(7,))], date(2026, 3, 29))
    assert gap.start == datetime(2026, 3, 29, 1, 30, tzinfo=UTC) and gap.minutes == 270


def test_holidays_cancel_weekly_shifts_but_not_dated_ones_and_weekends_are_not_holidays():
    cal = WorkingCalendar({date(2026, 10, 1): False, date(2026, 9, 27): True})
    weekly, dated = entry(), entry(day=date(2026, 10, 1), days_of_week=None, grid="G2")
    assert [s.grid for s in shifts_for_day([weekly, dated], date(2026, 10, 1), cal)] == ["G2"]
    weekend = entry(days_of_week=(6, 7))
    assert len(shifts_for_day([weekend], date(2026, 10, 3), cal)) == 1
    assert cal.is_working(date(2026, 9, 27)) and not cal.is_working(date(2026, 10, 1))
    assert cal.is_working(date(2026, 9, 28)) and not cal.is_working(date(2026, 10, 3))


def test_shifts_between_finds_the_shifts_live_in_a_window_including_last_nights():
    night = entry(start=time(22), end=time(6), days_of_week=(1, 2, 3, 4, 5, 6, 7), worker="bo")
    day = entry()
    at = datetime(2026, 3, 3, 21, 30, tzinfo=UTC)  # 05:30 Wednesday in Shanghai
    assert [(s.worker, s.day) for s in shifts_between([night, day], at, at.replace(minute=31))] == \
        [("bo", date(2026, 3, 3))]  # Tuesday night's shift, not Wednesday's day shift (from 08:00)
    later = datetime(2026, 3, 4, 1, 0, tzinfo=UTC)  # 09:00 Wednesday
    assert [(s.worker, s.day) for s in shifts_between([night, day], later, later.replace(minute=1))] == \
        [("ann", date(2026, 3, 4))]


def test_calendar_file():
    days = parse_calendar("date,working,note\n2026-10-01,false,National Day\n2026-09-27,true,make-up\n")
    assert [(d.day, d.working, d.note) for d in days] == [(date(2026, 10, 1), False, "National Day"),
                                                          (date(2026, 9, 27), True, "make-up")]
    with pytest.raises(CalendarFileError, match="line 2: `working` must be true or false"):
        parse_calendar("date,working\n2026-10-01,maybe\n")
    with pytest.raises(CalendarFileError, match="line 3: 2026-10-01 is already on line 2"):
        parse_calendar("date,working\n2026-10-01,no\n2026-10-01,yes\n")
    with pytest.raises(CalendarFileError, match="header"):
        parse_calendar("day,working\n")
