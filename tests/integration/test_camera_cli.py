"""`gridwatch edge camera` and the camera agent against the private broker.

A file source ends with the contract's JSON summary line; detections stored
while the broker is down reach the cloud after it comes back.
"""
from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import orjson
import pytest

from edge.camera.agent import CameraAgent
from edge.camera.config import CameraConfig
from edge.camera.sources import FileSource
from edge.node import EdgeNode
from gridwatch.settings import load_settings
from gwsim.scenes import camera_layout, kind_scene, write_video
from tests.integration.test_edge_uplink import CloudStub, wait_for

GRIDWATCH = str(Path(sys.executable).with_name("gridwatch"))


class DetCloud(CloudStub):
    """The cloud stub, also reading detections."""

    def _on_connect(self, client, userdata, flags, reason, properties) -> None:
        client.subscribe([("gw/v1/+/det", 1), ("gw/v1/+/state", 1)])


@pytest.fixture(scope="module")
def video(tmp_path_factory) -> Path:
    """28 s at 5 fps: a street, and a heap of bags in the no-dumping corner from 8 s to 22 s."""
    return write_video(kind_scene("garbage", 4, 1, lead_s=8, event_s=14, gap_s=6),
                       tmp_path_factory.mktemp("camera") / "street.avi")


def short_dwell_config() -> dict:
    cfg = camera_layout("north")
    for z in cfg["zones"]:
        z["dwell_s"] = 5
    return {**cfg, "update_s": 5}


@pytest.fixture
def dev(broker) -> str:
    name = f"cam-{uuid.uuid4().hex[:8]}"
    broker.add_user(name)
    return name


def test_a_file_source_publishes_flushes_and_ends_with_the_json_summary(broker, dev, video, tmp_path):
    config = tmp_path / "cam.json"
    config.write_text(json.dumps(short_dwell_config()))
    cloud = DetCloud(broker)
    try:
        env = {**os.environ, "GRIDWATCH_MQTT_URL": broker.url(dev)}
        proc = subprocess.run([GRIDWATCH, "edge", "camera", "--device", dev, "--source", str(video),
                               "--config", str(config), "--outbox", str(tmp_path / "outbox.sqlite3")],
                              cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60)
        assert proc.returncode == 0, proc.stderr
        summary = json.loads(proc.stdout.strip().splitlines()[-1])
        assert (summary["frames"], summary["seconds"]) == (140, 28.0) and summary["fps"] > 0
        assert summary["detections"] == {"garbage": 1} and summary["flushed"] is True
        assert wait_for(lambda: len(cloud.distinct(dev, "det")) == summary["messages"])
        with cloud.lock:
            dets = [orjson.loads(p) for _, p in cloud.payloads]
    finally:
        cloud.close()
    phases = [d["phase"] for d in dets]
    assert phases[0] == "start" and phases[-1] == "end" and set(phases) <= {"start", "update", "end"}
    assert {d["track"] for d in dets} == {dets[0]["track"]}
    assert all(d["kind"] == "garbage" and d["zone"] == "no-dumping" and d["cam"] == "north" for d in dets)
    assert base64.b64decode(dets[0]["snapshot"])[:2] == b"\xff\xd8" and "snapshot" not in dets[-1]
    # On video time: reported after the dwell, not before the bags were there.
    assert dets[-1]["ts"] - dets[0]["ts"] < 28_000


def test_detections_made_while_the_broker_is_down_arrive_after_it_returns(broker, dev, video, tmp_path):
    cloud = DetCloud(broker)
    settings = load_settings(edge_reconnect_min_s=0.05, edge_reconnect_max_s=0.3)
    node = EdgeNode.open(settings, dev, url=broker.url(dev), outbox_path=tmp_path / "outbox.sqlite3")
    try:
        broker.stop()
        node.start()
        agent = CameraAgent(dev, node.outbox, FileSource(str(video)), CameraConfig.model_validate(short_dwell_config()),
                            threading.Event())
        summary = agent.run()
        assert summary.messages >= 2 and len(node.outbox) == summary.messages    # all kept, none sent
        time.sleep(0.5)
        broker.start()
        assert wait_for(lambda: cloud.distinct(dev, "det") == set(range(summary.messages)), timeout=20)
        assert node.sender.flush(10)
        assert len(node.outbox) == 0
    finally:
        if broker.proc is None:
            broker.start()         # the broker fixture is shared by the whole session
        node.close()
        cloud.close()
