"""`gridwatch sim` with [incidents], [cameras] and [sensors]: the scenario's injected incidents,
camera anomalies and sensor alarms reach the broker from the real edge code, and truth.json
states what was injected."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import Counter
from datetime import datetime, timedelta, timezone
from pathlib import Path

import orjson

from cloud.broker.config import RELAY_USER
from protocols import topics
from tests.support.mqtt import Collector

GRIDWATCH = str(Path(sys.executable).with_name("gridwatch"))


def scenario_text(day) -> str:
    return f"""
seed = 9
day = "{day.isoformat()}"
tz = "UTC"
start = "08:00"
end = "12:00"
workers = 1
speed = 20000
lead_minutes = 0
tail_minutes = 0
city = {{rows = 2, cols = 2, cell_m = 1000}}

[incidents]
count = 6
speed = 100000

[cameras]
count = 1
seconds = 24
kinds = ["fire"]

[sensors]
count = 2
seconds = 60
types = ["manhole_tilt", "pipe_pressure"]
speed = 60
"""


def test_sim_runs_incidents_cameras_and_sensors_through_the_broker_and_writes_their_truth(broker, tmp_path):
    day = (datetime.now(timezone.utc) - timedelta(days=1)).date()
    (tmp_path / "s.toml").write_text(scenario_text(day))
    collector = Collector(broker.url(), "gw/v1/+/+")
    try:
        proc = subprocess.run([GRIDWATCH, "sim", "--scenario", str(tmp_path / "s.toml"), "--out", str(tmp_path / "out"),
                               "--mqtt-url", broker.url(RELAY_USER), "--no-receipts", "--flush-timeout", "20"],
                              env={**os.environ}, capture_output=True, text=True, timeout=90)
        assert proc.returncode == 0, proc.stderr
        got = [(topics.parse(t), orjson.loads(p)) for t, p in collector.drain()]
    finally:
        collector.close()
    summary = json.loads(proc.stdout.strip().splitlines()[-1])
    truth = json.loads((tmp_path / "out" / "truth.json").read_text())
    assert summary["incidents"] == len(truth["incidents"]["incidents"]) == 6
    seen = Counter((t.dev, t.kind) for t, _ in got)
    sent = Counter((s["dev"], s["kind"]) for inc in truth["incidents"]["incidents"] for s in inc["sightings"])
    assert all(seen[k] >= n for k, n in sent.items()), (sent, seen)
    cam = truth["devices"]["cameras"][0]
    dets = [p for t, p in got if t.dev == cam["dev"] and t.kind == "det"]
    assert {d["kind"] for d in dets} == {"fire"} and cam["start_ms"] <= dets[0]["ts"] <= cam["end_ms"]
    for s in truth["devices"]["sensors"]:
        states = [p["state"] for t, p in got if t.dev == s["dev"] and t.kind == "alert"]
        assert states == s["alerts"], (s, states)
    assert summary["sensors"] == {s["dev"]: {"raised": 1, "cleared": 1} for s in truth["devices"]["sensors"]}
