"""Simulated cameras and sensors run the REAL edge agents (camera agent on a rendered synthetic
scene, sensor agent on a simulated driver), each with its outbox and sender on one relay link,
through the private broker and a real ingest slot: the injected anomalies are in the database
as the simulator's truth says, and nothing else is."""
from __future__ import annotations

import time

import psycopg

from cloud.broker.config import RELAY_USER
from gwsim.devices import camera_plans, run_devices, sensor_plans
from gwsim.run import relay_link
from tests.integration.ingest_helpers import ingest_settings, running_worker

CENTRE = (31.23, 121.47)


def test_simulated_cameras_and_sensors_report_their_injected_anomalies_into_the_database(broker, db_url, tmp_path):
    cameras = camera_plans(2, 40.0, ["garbage", "fire"], seed=5, centre=CENTRE)
    sensors = sensor_plans(3, 300.0, ["water_level", "gas", "pipe_pressure"], centre=CENTRE)
    start_ms = int(time.time() * 1000) - 600_000     # observations in the recent past, never in the future
    with running_worker(ingest_settings(broker, db_url)):
        report = run_devices(relay_link(broker.url(RELAY_USER), cameras[0].dev), cameras, sensors, tmp_path,
                             start_ms=start_ms, speed=100, workers=2, flush_timeout=30)
    assert report.left_in_outboxes == 0           # every message confirmed by a cloud receipt
    with psycopg.connect(db_url) as conn:
        dets = conn.execute("SELECT dev, kind, extract(epoch FROM ts) * 1000, extra->>'phase' FROM detection "
                            "ORDER BY ts").fetchall()
        alerts = conn.execute("SELECT dev, state, extract(epoch FROM ts) * 1000 FROM sensor_alert "
                              "ORDER BY ts").fetchall()
        assert conn.execute("SELECT count(*) FROM dead_letter").fetchone()[0] == 0
    assert sum(s["messages"] for s in report.cameras.values()) == len(dets)
    for plan in cameras:
        truth = plan.truth(start_ms)
        mine = [d for d in dets if d[0] == plan.dev]
        assert {d[1] for d in mine} == {plan.kind}, (plan.dev, mine)         # found, and nothing else
        first = mine[0][2]
        assert truth["start_ms"] <= first <= truth["end_ms"], (plan.dev, first - truth["start_ms"])
        assert mine[-1][3] == "end"
    for plan in sensors:
        truth = plan.truth(start_ms)
        mine = [a for a in alerts if a[0] == plan.dev]
        assert [a[1] for a in mine] == truth["alerts"], (plan.dev, mine)
        raised, cleared = mine[0][2], mine[1][2]
        assert truth["start_ms"] <= raised <= truth["start_ms"] + 10_000
        assert truth["end_ms"] <= cleared <= truth["end_ms"] + 10_000
