"""`gridwatch edge sensor` against the private broker: a simulated reading crosses its threshold and
comes back; the alerts (raised, cleared, with the component code) reach the cloud."""
from __future__ import annotations

import json
import os
import subprocess
import uuid

import orjson

from tests.integration.test_camera_cli import GRIDWATCH
from tests.integration.test_edge_uplink import CloudStub, wait_for


def test_sensor_agent_cli_raises_and_clears_a_simulated_alert(broker, tmp_path):
    dev = f"sensor-{uuid.uuid4().hex[:8]}"
    broker.add_user(dev)
    (tmp_path / "sensors.toml").write_text("""
poll_s = 0.1
[[sensors]]
id = "well-3"
sensor = "water_level"
unit = "cm"
component = "WL-0003"
driver = { type = "sim", base = 5.0, noise = 0.5, steps = [[1.0, 3.0, 42.0]] }
rules = [{ level = "warning", above = 30.0, clear_at = 20.0, debounce_s = 0.3 }]
""")
    cloud = CloudStub(broker)
    try:
        env = {**os.environ, "GRIDWATCH_MQTT_URL": broker.url(dev)}
        proc = subprocess.run([GRIDWATCH, "edge", "sensor", "--device", dev, "--config", str(tmp_path / "sensors.toml"),
                               "--duration", "4", "--outbox", str(tmp_path / "outbox.sqlite3")],
                              cwd=tmp_path, env=env, capture_output=True, text=True, timeout=30)
        assert proc.returncode == 0, proc.stderr
        summary = json.loads(proc.stdout.strip().splitlines()[-1])
        assert (summary["raised"], summary["cleared"], summary["flushed"]) == (1, 1, True)
        assert wait_for(lambda: cloud.distinct(dev, "alert") == {0, 1})
        with cloud.lock:
            alerts = [orjson.loads(p) for t, p in cloud.payloads if t.endswith("/alert")]
    finally:
        cloud.close()
    assert [(a["state"], a["component"], a["level"]) for a in alerts] == [
        ("raised", "WL-0003", "warning"), ("cleared", "WL-0003", "warning")]
    assert alerts[0]["value"] == 42.0
