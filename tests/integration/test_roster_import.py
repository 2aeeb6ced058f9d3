"""Roster and calendar imports into PostgreSQL: replace semantics per worker, refusal names the
line and changes nothing, shifts_for_day from the database, the CLI."""
from __future__ import annotations

from datetime import date, datetime, timezone

import psycopg
import pytest

from cloud.geo.gridfile import parse_grid_file
from cloud.geo.registry import import_grids, registry_version
from cloud.roster.calendar import import_calendar, load_calendar, parse_calendar
from cloud.roster.rosterfile import RosterFileError
from cloud.roster.shifts import shifts_for_day
from cloud.roster.store import import_roster
from gridwatch.cli import main
from tests.unit.test_geo_support import city

UTC = timezone.utc
ROSTER = ("worker,device,grid,date,day_of_week,start,end,tz\n"
          'ann,hs-ann,G1,,"mon,tue,wed,thu,fri",08:00,12:00,Asia/Shanghai\n'
          'ann,hs-ann,G2,,"mon,tue,wed,thu,fri",14:00,17:30,Asia/Shanghai\n'
          "bob,hs-bob,G2,2026-10-01,,22:00,06:00,Asia/Shanghai\n")


@pytest.fixture
def conn(db_url):
    with psycopg.connect(db_url) as c:
        import_grids(c, parse_grid_file(city()))
        yield c


def test_import_then_shifts_for_day_with_utc_bounds(conn):
    before = registry_version(conn, "roster")
    r = import_roster(conn, ROSTER)
    assert (r.workers, r.shifts, r.replaced) == (2, 3, 0) and registry_version(conn, "roster") == before + 1
    monday = shifts_for_day(conn, date(2026, 9, 28))
    assert [(s.worker, s.dev, s.grid, s.start, s.end) for s in monday] == [
        ("ann", "hs-ann", "G1", datetime(2026, 9, 28, 0, tzinfo=UTC), datetime(2026, 9, 28, 4, tzinfo=UTC)),
        ("ann", "hs-ann", "G2", datetime(2026, 9, 28, 6, tzinfo=UTC), datetime(2026, 9, 28, 9, 30, tzinfo=UTC))]
    # National Day: a holiday in the calendar cancels ann's weekly shifts; bob's dated night shift runs
    import_calendar(conn, parse_calendar("date,working,note\n2026-10-01,false,National Day\n"))
    assert [(s.worker, s.end) for s in shifts_for_day(conn, date(2026, 10, 1))] == \
        [("bob", datetime(2026, 10, 1, 22, tzinfo=UTC))]


def test_reimport_replaces_only_the_workers_in_the_file_and_is_idempotent(conn):
    import_roster(conn, ROSTER)
    r = import_roster(conn, "worker,device,grid,date,start,end,tz\nann,hs-ann2,G2,2026-09-28,09:00,10:00,UTC\n")
    assert (r.workers, r.shifts, r.replaced) == (1, 1, 2)
    got = conn.execute("SELECT worker, dev, grid FROM roster_shift ORDER BY worker").fetchall()
    assert got == [("ann", "hs-ann2", "G2"), ("bob", "hs-bob", "G2")]
    import_roster(conn, ROSTER)
    import_roster(conn, ROSTER)
    assert conn.execute("SELECT count(*) FROM roster_shift").fetchone()[0] == 3


def test_a_bad_file_changes_nothing(conn):
    import_roster(conn, ROSTER)
    with pytest.raises(RosterFileError, match="line 3: unknown grid 'G7'"):
        import_roster(conn, "worker,device,grid,date,start,end,tz\nann,hs-ann,G1,2026-09-28,09:00,10:00,UTC\n"
                            "ann,hs-ann,G7,2026-09-28,11:00,12:00,UTC\n")
    assert conn.execute("SELECT count(*) FROM roster_shift").fetchone()[0] == 3


def test_calendar_import_replaces_the_years_it_covers(conn):
    import_calendar(conn, parse_calendar("date,working\n2026-10-01,false\n2026-10-02,false\n2027-01-01,false\n"))
    import_calendar(conn, parse_calendar("date,working\n2026-10-01,false\n2026-09-27,true\n"))
    cal = load_calendar(conn)
    assert cal.exceptions == {date(2026, 10, 1): False, date(2026, 9, 27): True, date(2027, 1, 1): False}
    assert registry_version(conn, "calendar") == 2


def test_cli_roster_and_calendar_import(db_url, conn, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("GRIDWATCH_DATABASE_URL", db_url)
    f = tmp_path / "roster.csv"
    f.write_text(ROSTER)
    with psycopg.connect(db_url) as c:
        c.execute("INSERT INTO device (dev, registered) VALUES ('hs-ann', true)")
    assert main(["roster", "import", str(f)]) == 0
    out = capsys.readouterr()
    assert "3 shifts of 2 workers" in out.out and "devices not in the registry yet: hs-bob" in out.err
    f.write_text("worker,device,grid,date,start,end,tz\nann,hs-ann,G1,2026-09-28,09:00,09:00,UTC\n")
    assert main(["roster", "import", str(f)]) == 2
    assert "line 2: `end` equals `start`" in capsys.readouterr().err
    c = tmp_path / "calendar.csv"
    c.write_text("date,working,note\n2026-10-01,no,National Day\n")
    assert main(["calendar", "import", str(c)]) == 0 and "1 days" in capsys.readouterr().out
