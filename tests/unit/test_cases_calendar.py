"""due_at: SLA deadlines in working hours of the calendar, or round the clock."""
from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from cloud.cases.calendar import CalendarError, due_at, make_calendar, parse_periods

SH = ZoneInfo("Asia/Shanghai")
CAL = make_calendar("08:30-12:00,14:00-17:30", "Asia/Shanghai")


def local(y, m, d, hh, mm=0):
    return datetime(y, m, d, hh, mm, tzinfo=SH)


# 2026-11-18 is a Wednesday.
@pytest.mark.parametrize("opened,hours,expected", [
    (local(2026, 11, 18, 9, 0), 1, local(2026, 11, 18, 10, 0)),          # inside the morning
    (local(2026, 11, 18, 11, 0), 2, local(2026, 11, 18, 15, 0)),         # crosses lunch
    (local(2026, 11, 18, 12, 30), 1, local(2026, 11, 18, 15, 0)),        # opened during lunch
    (local(2026, 11, 18, 7, 0), 1, local(2026, 11, 18, 9, 30)),          # opened before work
    (local(2026, 11, 18, 17, 0), 1, local(2026, 11, 19, 9, 0)),          # crosses the night
    (local(2026, 11, 18, 22, 0), 3.5, local(2026, 11, 19, 12, 0)),       # ends exactly at lunch
    (local(2026, 11, 18, 10, 0), 8, local(2026, 11, 19, 11, 0)),         # the 8 h SLA
    (local(2026, 11, 20, 16, 0), 2, local(2026, 11, 23, 9, 0)),          # Friday into Monday
    (local(2026, 11, 21, 10, 0), 1, local(2026, 11, 23, 9, 30)),         # opened on a Saturday
    (local(2026, 11, 18, 10, 0), 72, local(2026, 12, 2, 12, 0)),         # 72 working hours
])
def test_working_hours_skip_lunch_nights_and_weekends(opened, hours, expected):
    assert due_at(opened, hours, False, CAL) == expected


def test_holidays_are_skipped_and_make_up_days_count():
    cal = make_calendar("08:30-12:00,14:00-17:30", "Asia/Shanghai",
                        {date(2026, 11, 19): False, date(2026, 11, 21): True})
    # Wednesday 17:00 + 2 h: Thursday is a holiday, Friday takes 2 h
    assert due_at(local(2026, 11, 18, 17, 0), 2, False, cal) == local(2026, 11, 20, 10, 0)
    # Friday 17:00 + 1 h: the make-up Saturday counts
    assert due_at(local(2026, 11, 20, 17, 0), 1, False, cal) == local(2026, 11, 21, 9, 0)


def test_round_the_clock_kinds_count_wall_clock_hours():
    opened = local(2026, 11, 21, 23, 30)  # a Saturday night
    assert due_at(opened, 1, True, CAL) == opened + timedelta(hours=1)


def test_the_deadline_keeps_the_time_zone_of_the_opening_instant():
    opened = datetime(2026, 11, 18, 2, 0, tzinfo=timezone.utc)  # 10:00 in Shanghai
    got = due_at(opened, 1, False, CAL)
    assert got.tzinfo == timezone.utc and got == datetime(2026, 11, 18, 3, 0, tzinfo=timezone.utc)


def test_other_working_periods_are_configurable():
    cal = make_calendar("09:00-17:00", "UTC")
    assert due_at(datetime(2026, 11, 18, 16, 0, tzinfo=timezone.utc), 2, False, cal) == \
        datetime(2026, 11, 19, 10, 0, tzinfo=timezone.utc)


@pytest.mark.parametrize("text", ["", "8-12", "12:00-08:30", "08:00-12:00,11:00-13:00", "14:00-17:00,08:00-12:00"])
def test_unusable_working_periods_are_refused(text):
    with pytest.raises(CalendarError):
        parse_periods(text)


def test_a_calendar_without_working_days_fails_instead_of_looping():
    cal = make_calendar("08:30-12:00", "UTC", {date(2026, 1, 1) + timedelta(days=i): False for i in range(4000)})
    with pytest.raises(CalendarError):
        due_at(datetime(2026, 1, 1, tzinfo=timezone.utc), 1, False, cal)
