"""End to end: simulated handsets running the real edge code (agents, outboxes, senders, one relay
link) through the private broker and a real ingest slot into PostgreSQL; attendance computed
from the database matches the simulator's ground truth."""
from __future__ import annotations

from datetime import datetime, time, timedelta, timezone

import psycopg

from cloud.attendance.job import recompute_day
from cloud.attendance.rules import Rules
from cloud.broker.config import RELAY_USER
from gwsim.run import prepare, run_mqtt
from gwsim.scenario import Scenario
from tests.integration.ingest_helpers import ingest_settings, running_worker
from tests.integration.test_attendance_api import add_roster, load_city


def test_simulated_handsets_through_broker_and_ingest_are_judged_as_the_truth_says(broker, db_url):
    # Yesterday (never "in the future" for the ingest), a 4-hour shift played at 1,500x: ~11 s.
    day = (datetime.now(timezone.utc) - timedelta(days=1)).date()
    scenario = Scenario(seed=4, day=day, tz="UTC", start=time(8, 0), end=time(12, 0), workers=7, speed=1500,
                        lead_minutes=20, tail_minutes=20, city={"rows": 1, "cols": 2},
                        mix={"diligent": 1, "late": 1, "leaves_early": 1, "absent": 1, "mock_location": 1,
                             "outage": 1, "phone_left": 1})
    sim = prepare(scenario)
    load_city(db_url, sim.city)
    add_roster(db_url, [(spec.worker, spec.dev, spec.grid.code, day, time(8, 0), time(12, 0), "UTC")
                        for spec, _, _ in sim.workers])
    with running_worker(ingest_settings(broker, db_url)):
        report = run_mqtt(sim, broker.url(RELAY_USER), flush_timeout=30)
    assert report.left_in_outboxes == 0          # every heartbeat confirmed by a cloud receipt
    with psycopg.connect(db_url) as conn:
        stored = conn.execute("SELECT count(*) FROM heartbeat").fetchone()[0]
        assert stored == report.heartbeats
        recompute_day(conn, day, Rules(), timedelta(minutes=30))
        got = {w: (v, list(f)) for w, v, f in conn.execute("SELECT worker, verdict, flags FROM attendance")}
    assert got == {t["worker"]: (t["verdict"], t["flags"]) for t in sim.truths}
