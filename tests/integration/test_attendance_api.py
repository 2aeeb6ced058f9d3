"""Attendance from the database: the job and `recompute` on stored heartbeats, the API's three
routes, and scope isolation on each of them. Heartbeats come from gwsim's track generator."""
from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone

import numpy as np
import psycopg
import pytest

from cloud.attendance.job import recompute_day, run_once
from cloud.attendance.rules import Rules
from cloud.geo.gridfile import parse_grid_file
from cloud.geo.registry import import_grids
from gwsim.city import City
from gwsim.tracks import fleet_specs, generate, truth
from tests.integration.test_api_support import app, client, login_as, pool  # noqa: F401

UTC = timezone.utc
DAY = date(2026, 11, 20)
TZ = "Asia/Shanghai"                       # 08:30-17:30 local = 00:30-09:30 UTC
START = datetime(2026, 11, 20, 0, 30, tzinfo=UTC)
END = datetime(2026, 11, 20, 9, 30, tzinfo=UTC)
MIX = {"diligent": 2, "late": 1, "absent": 1, "mock_location": 1, "outage": 1}


def city() -> City:
    return City.synthetic((31.23, 121.47), 1, 2, 400.0, 0.1, np.random.default_rng(5))


def load_city(db_url: str, c: City) -> None:
    with psycopg.connect(db_url) as conn:
        import_grids(conn, parse_grid_file(c.geojson()))


def add_roster(db_url: str, rows: list[tuple[str, str, str, date, time, time, str]]) -> None:
    with psycopg.connect(db_url) as conn:
        conn.cursor().executemany("""INSERT INTO roster_shift (worker, dev, grid, day, start_local, end_local, tz)
                                     VALUES (%s, %s, %s, %s, %s, %s, %s)""", rows)


def store_track(db_url: str, dev: str, track, seq0: int = 0) -> None:
    rows = [(dev, i, datetime.fromtimestamp(t, UTC), datetime.fromtimestamp(r, UTC), la, lo, a, bool(m))
            for i, (t, r, la, lo, a, m) in enumerate(zip(track.t, track.received, track.lat, track.lon, track.acc,
                                                          track.mock), start=seq0)]
    with psycopg.connect(db_url) as conn, conn.cursor() as cur:
        with cur.copy("COPY heartbeat (dev, seq, ts, received_at, lat, lon, acc, mock) FROM STDIN") as cp:
            for row in rows:
                cp.write_row(row)


@pytest.fixture
def day_of_shifts(db_url):
    """Six workers over two grids on DAY, their fixes stored; returns the ground truth by worker."""
    c = city()
    load_city(db_url, c)
    specs = fleet_specs(c, 6, MIX, START.timestamp(), END.timestamp(), seed=3)
    truths = {}
    for spec in specs:
        track, plan = generate(spec, c, START.timestamp() - 3600, END.timestamp() + 3600)
        store_track(db_url, spec.dev, track)
        truths[spec.worker] = truth(spec, plan)
    add_roster(db_url, [(s.worker, s.dev, s.grid.code, DAY, time(8, 30), time(17, 30), TZ) for s in specs])
    with psycopg.connect(db_url) as conn:
        assert recompute_day(conn, DAY, Rules(), timedelta(minutes=30)) == 6
    return truths


def test_recompute_judges_every_shift_of_the_day_like_the_ground_truth(client, db_url, day_of_shifts):
    admin = login_as(db_url, "root", "admin")
    body = client.get("/api/v1/attendance", params={"day": "2026-11-20"}, headers=admin).json()
    assert body["total"] == 6
    got = {r["worker"]: (r["verdict"], r["flags"]) for r in body["items"]}
    assert got == {w: (t["verdict"], t["flags"]) for w, t in day_of_shifts.items()}
    row = body["items"][0]
    assert set(row) >= {"worker", "grid", "start", "end", "on_post_minutes", "coverage", "verdict", "flags"}
    assert row["start"] == "2026-11-20T00:30:00.000Z" and 0 <= row["coverage"] <= 1
    page = client.get("/api/v1/attendance", params={"day": "2026-11-20", "limit": 2, "offset": 2}, headers=admin)
    assert (len(page.json()["items"]), page.json()["total"]) == (2, 6)
    # recomputing is idempotent: same rows, no duplicates
    with psycopg.connect(db_url) as conn:
        recompute_day(conn, DAY, Rules(), timedelta(minutes=30))
        assert conn.execute("SELECT count(*) FROM attendance").fetchone()[0] == 6


def test_a_supervisor_sees_only_its_grid_on_every_attendance_route(client, db_url, day_of_shifts):
    g1, g2 = "D01-S01-G01", "D01-S01-G02"
    sup = login_as(db_url, "sue", "supervisor", scope=g1)
    items = client.get("/api/v1/attendance", params={"day": "2026-11-20"}, headers=sup).json()["items"]
    assert items and {r["grid"] for r in items} == {g1}
    assert client.get("/api/v1/attendance", params={"day": "2026-11-20", "grid": g2},
                      headers=sup).json()["total"] == 0
    mine = next(w for w, t in day_of_shifts.items() if t["grid"] == g1)
    other = next(w for w, t in day_of_shifts.items() if t["grid"] == g2)
    track = client.get(f"/api/v1/workers/{mine}/track", params={"day": "2026-11-20"}, headers=sup)
    assert track.status_code == 200
    feature = track.json()["features"][0]
    assert feature["geometry"]["type"] == "LineString" and len(feature["geometry"]["coordinates"]) > 500
    assert feature["properties"]["grid"] == g1
    r = client.get(f"/api/v1/workers/{other}/track", params={"day": "2026-11-20"}, headers=sup)
    assert (r.status_code, r.json()) == (404, {"detail": f"no shift of worker '{other}' on 2026-11-20"})
    assert client.get(f"/api/v1/grids/{g2}/on-post", headers=sup).status_code == 404
    assert client.get(f"/api/v1/grids/{g1}/on-post", headers=sup).status_code == 200
    # the district's supervisor sees both grids through the hierarchy
    district = login_as(db_url, "dee", "supervisor", scope="D01")
    assert client.get("/api/v1/attendance", params={"day": "2026-11-20"}, headers=district).json()["total"] == 6
    assert client.get(f"/api/v1/workers/{other}/track", params={"day": "2026-11-20"},
                      headers=district).status_code == 200


def test_the_job_keeps_a_shift_under_way_current_and_reports_who_is_on_post_now(client, db_url):
    c = city()
    load_city(db_url, c)
    now = datetime.now(UTC).replace(microsecond=0)
    start = now - timedelta(hours=3)
    end = start + timedelta(hours=8)
    specs = fleet_specs(c, 2, {"diligent": 1, "late": 1}, start.timestamp(), end.timestamp(), seed=8)
    for spec in specs:
        track, _ = generate(spec, c, start.timestamp() - 3600, now.timestamp() - 20)
        store_track(db_url, spec.dev, track)
    add_roster(db_url, [(s.worker, s.dev, s.grid.code, start.date(), start.time(), end.time(), "UTC") for s in specs])
    with psycopg.connect(db_url) as conn:
        report = run_once(conn, Rules(), timedelta(minutes=30), now)
        rows = conn.execute("SELECT worker, final, verdict, on_post_now FROM attendance ORDER BY worker").fetchall()
        events = conn.execute("SELECT worker, kind FROM attendance_event").fetchall()
        # a second run with nothing new: the open shifts are judged again, no event twice
        run_once(conn, Rules(), timedelta(minutes=30), now + timedelta(minutes=1))
        assert conn.execute("SELECT count(*) FROM attendance_event").fetchone()[0] == len(events)
    assert report.shifts == 2 and report.devices_touched == 2
    by_behaviour = {s.behaviour: s.worker for s in specs}
    assert {w: (f, v, on) for w, f, v, on in rows} == {by_behaviour["diligent"]: (False, "present", True),
                                                       by_behaviour["late"]: (False, "late", True)}
    # the late worker was off post for the first 25+ minutes: a live event for the supervisor
    assert (by_behaviour["late"], "off_post") in events
    admin = login_as(db_url, "root", "admin")
    grid = specs[0].grid.code
    body = client.get(f"/api/v1/grids/{grid}/on-post", headers=admin).json()
    assert [r["worker"] for r in body["items"]] == [s.worker for s in specs if s.grid.code == grid]


def test_off_post_events_stream_live_to_the_supervisor_of_that_grid_only(client, db_url):
    from tests.integration.test_api_live import read_stream

    def events_appear():
        with psycopg.connect(db_url) as conn:
            for worker, grid in (("ann", "A"), ("bob", "B")):
                conn.execute("""INSERT INTO attendance_event (kind, worker, grid, dev, shift_start, since, until)
                                VALUES ('off_post', %s, %s, %s, now() - interval '2 hours',
                                        now() - interval '25 minutes', now())""", (worker, grid, f"h-{worker}"))

    events = read_stream(client, login_as(db_url, "sue", "supervisor", scope="A"), events_appear)
    got = [d for e, d in events if e == "attendance"]
    assert [(d["worker"], d["grid"], d["kind"], d["minutes"]) for d in got] == [("ann", "A", "off_post", 25.0)]


def test_a_worker_holding_two_grids_at_once_is_on_post_in_either(db_url):
    c = city()
    load_city(db_url, c)
    spec = fleet_specs(c, 1, {"diligent": 1}, START.timestamp(), END.timestamp(), seed=9)[0]
    track, _ = generate(spec, c, START.timestamp() - 3600, END.timestamp() + 3600)
    store_track(db_url, spec.dev, track)
    add_roster(db_url, [(spec.worker, spec.dev, g.code, DAY, time(8, 30), time(17, 30), TZ) for g in c.grids])
    with psycopg.connect(db_url) as conn:
        recompute_day(conn, DAY, Rules(), timedelta(minutes=30))
        rows = dict((g, (v, cov)) for g, v, cov in conn.execute("SELECT grid, verdict, coverage FROM attendance"))
    patrolled, other = spec.grid.code, next(g.code for g in c.grids if g.code != spec.grid.code)
    assert rows[patrolled][0] == rows[other][0] == "present"
    assert rows[patrolled][1] > 0.3 and rows[other][1] < 0.1     # coverage stays per grid


def test_gridwatch_attendance_recompute_prints_the_day(db_url, day_of_shifts, monkeypatch, capsys):
    from gridwatch.cli import main

    monkeypatch.setenv("GRIDWATCH_DATABASE_URL", db_url)
    with psycopg.connect(db_url) as conn:
        conn.execute("DELETE FROM attendance")
    assert main(["attendance", "recompute", "--day", "2026-11-20"]) == 0
    out = capsys.readouterr().out
    verdicts = sorted(t["verdict"] for t in day_of_shifts.values())
    assert out.startswith("2026-11-20: 6 shifts judged; ")
    assert all(f"{v} {verdicts.count(v)}" in out for v in set(verdicts))


def test_a_late_backlog_recomputes_a_shift_that_was_already_final(db_url):
    c = city()
    load_city(db_url, c)
    spec = fleet_specs(c, 1, {"diligent": 1}, START.timestamp(), END.timestamp(), seed=12)[0]
    track, _ = generate(spec, c, START.timestamp() - 3600, END.timestamp() + 3600)
    add_roster(db_url, [(spec.worker, spec.dev, spec.grid.code, DAY, time(8, 30), time(17, 30), TZ)])
    now = datetime.now(UTC)
    cut = START.timestamp() + 3 * 3600
    first, rest = track.t < cut, track.t >= cut
    # the first three hours arrived live-ish ten minutes ago, the rest only now (a phone back online)
    store_track(db_url, spec.dev, _part(track, first, now - timedelta(minutes=10)))
    with psycopg.connect(db_url) as conn:
        run_once(conn, Rules(), timedelta(minutes=30), now)
        before = conn.execute("SELECT verdict, final FROM attendance").fetchone()
        store_track(db_url, spec.dev, _part(track, rest, now), seq0=int(first.sum()))
        report = run_once(conn, Rules(), timedelta(minutes=30), now + timedelta(minutes=1))
        after = conn.execute("SELECT verdict, final FROM attendance").fetchone()
    assert before == ("left_early", True) and report.devices_touched == 1
    assert after == ("present", True)


def _part(track, mask, received: datetime):
    from dataclasses import replace

    return replace(track, t=track.t[mask], lat=track.lat[mask], lon=track.lon[mask], acc=track.acc[mask],
                   mock=track.mock[mask], received=np.full(int(mask.sum()), received.timestamp()),
                   true_t=track.true_t[mask])
