"""Camera gateway parts: config, track phases, snapshots, sources that drop, the agent's messages."""
from __future__ import annotations

import base64
import threading

import cv2
import numpy as np
import orjson
import pytest
from pydantic import ValidationError

from edge.camera.agent import CameraAgent
from edge.camera.config import CameraConfig, CameraConfigError, load_config
from edge.camera.detectors.base import Observation
from edge.camera.reporter import Reporter
from edge.camera.snapshot import snapshot
from edge.camera.sources import LiveSource, SourceError, parse_source
from edge.outbox import Outbox
from gwsim.scenes import camera_layout
from protocols.models import MAX_SNAPSHOT_BYTES, Detection


def obs(key="a", box=(0.1, 0.1, 0.2, 0.2), kind="garbage") -> Observation:
    return Observation(kind, key, 0.8, box, "z")


def test_config_refuses_unknown_keys_and_frame_kinds_in_zones(tmp_path):
    CameraConfig.model_validate(camera_layout())
    with pytest.raises(ValidationError):
        CameraConfig.model_validate({**camera_layout(), "detect_fsp": 5})
    with pytest.raises(ValidationError, match="whole frame"):
        CameraConfig.model_validate({"zones": [{"name": "a", "type": "walkway", "polygon": [[0, 0], [1, 0], [1, 1]],
                                                "kinds": ["fire"]}]})
    bad = tmp_path / "cam.toml"
    bad.write_text('detect_fps = 5\n[[zones]]\nname = "w"\ntype = "walkway"\npolygon = [[0, 0], [9, 0], [9, 9]]\n'
                   'dwel_s = 3\n')
    with pytest.raises(CameraConfigError, match=r"zones\.0\.dwel_s"):
        load_config(bad)


def test_reporter_starts_updates_at_most_every_n_seconds_and_ends_after_absence():
    r = Reporter(update_s=10, end_after_s=4, prefix="p")
    phases = []
    for t in range(0, 25):
        phases += [(t, x.phase, x.track) for x in r.step(float(t), [obs()] if t < 18 else [])]
    assert [(t, p) for t, p, _ in phases] == [(0, "start"), (10, "update"), (21, "end")]
    assert len({tr for *_, tr in phases}) == 1


def test_a_blob_that_splits_or_changes_key_keeps_its_track():
    r = Reporter(update_s=60, end_after_s=4, prefix="p")
    [start] = r.step(0.0, [obs("a")])
    assert r.step(1.0, [obs("b", (0.15, 0.1, 0.2, 0.2)), obs("c", (0.12, 0.2, 0.1, 0.1))]) == []
    assert r.step(2.0, [obs("d", (0.6, 0.6, 0.1, 0.1))])[0].phase == "start"       # elsewhere: a new thing
    ends = r.finish(3.0)
    assert start.track in {e.track for e in ends} and len(ends) == 2


def test_snapshot_is_a_jpeg_with_the_box_drawn_within_200_kib():
    rng = np.random.default_rng(1)
    noisy = rng.integers(0, 256, (576, 768, 3), dtype=np.uint8)     # worst case for JPEG
    jpeg = base64.b64decode(snapshot(noisy, (0.25, 0.25, 0.5, 0.5), "fire 0.9", "fire", quality=95))
    assert jpeg[:2] == b"\xff\xd8" and len(jpeg) <= MAX_SNAPSHOT_BYTES
    img = cv2.imdecode(np.frombuffer(base64.b64decode(snapshot(np.zeros((576, 768, 3), np.uint8),
                                                               (0.25, 0.25, 0.5, 0.5), "x", "fire")), np.uint8), 1)
    assert img[144, 300, 2] > 150 and img[300, 300].max() < 30        # red edge, dark inside


class FlakyCapture:
    """Delivers `n` frames, then fails (a stream that drops)."""

    def __init__(self, n: int) -> None:
        self.n = n

    def isOpened(self) -> bool:
        return True

    def grab(self) -> bool:
        self.n -= 1
        return self.n >= 0

    def retrieve(self):
        return True, np.zeros((4, 4, 3), np.uint8)

    def get(self, prop):
        return 25.0

    def release(self) -> None:
        pass


class Closed(FlakyCapture):
    def isOpened(self) -> bool:
        return False


def test_a_live_source_that_drops_is_reopened_with_backoff_and_keeps_delivering():
    opened = []
    script = [FlakyCapture(3), Closed(0), Closed(0), FlakyCapture(2), FlakyCapture(4)]

    def opener(target):
        opened.append(target)
        return script[len(opened) - 1]

    stop = threading.Event()
    src = LiveSource("rtsp://user:pw@cam/stream", stop, opener=opener, backoff=(0.01, 0.02))
    times = []
    while len(times) < 9:
        t = src.grab()
        assert t is not None and src.retrieve() is not None
        times.append(t)
    assert src.reconnects == 2 and len(opened) == 5
    assert times == sorted(times)
    stop.set()
    assert src.grab() is None or True


def test_parse_source_tells_files_devices_and_streams_apart(tmp_path):
    f = tmp_path / "v.avi"
    f.write_bytes(b"x")
    assert parse_source(str(f)) == ("file", str(f))
    assert parse_source("0") == ("device", 0)
    assert parse_source("rtsp://h/s") == ("stream", "rtsp://h/s")
    with pytest.raises(SourceError):
        parse_source(str(tmp_path / "missing.avi"))


class ListSource:
    live = False

    def __init__(self, frames, fps=10.0):
        self.frames_, self.fps, self.i = frames, fps, 0
        self.reconnects = 0

    def grab(self):
        if self.i >= len(self.frames_):
            return None
        self.i += 1
        return (self.i - 1) / self.fps

    def retrieve(self):
        return self.frames_[self.i - 1]

    @property
    def seconds(self):
        return self.i / self.fps


def test_agent_samples_at_the_detection_rate_on_video_time_and_stores_valid_detections():
    street = cv2.resize(np.random.default_rng(2).integers(40, 200, (18, 24, 3), dtype=np.uint8), (192, 144),
                        interpolation=cv2.INTER_NEAREST)
    frames = [street.copy() for _ in range(40)]
    for f in frames[20:]:
        f[:] = 15                          # the lens gets covered at 2.0 s
    config = CameraConfig(detect_fps=5, end_after_s=1, tamper={"dwell_s": 0.5}, cam="north", lat=31.2, lon=121.4)
    outbox = Outbox(":memory:", dev="cam-1")
    try:
        agent = CameraAgent("cam-1", outbox, ListSource(frames), config, threading.Event(), wall_ms=lambda: 1_763_800_000_000)
        summary = agent.run()
        msgs = [orjson.loads(m.payload) for m in outbox.due()]
    finally:
        outbox.close()
    assert summary.frames == 40 and summary.detected == 20 and summary.seconds == 4.0
    assert summary.detections == {"camera_tamper": 1}
    assert [m["phase"] for m in msgs] == ["start", "end"]
    start, end = (Detection.model_validate(m) for m in msgs)
    assert start.track == end.track and start.snapshot and end.snapshot is None
    assert start.ts == 1_763_800_000_000 + 2600 and start.cam == "north"
    assert (start.lat, start.lon, start.box) == (31.2, 121.4, [0.0, 0.0, 1.0, 1.0])


def test_the_shipped_example_configs_load():
    from pathlib import Path

    from edge.sensor.config import load_config as load_sensors

    root = Path(__file__).parents[2] / "edge"
    cam = load_config(root / "camera" / "example-camera.toml")
    assert [z.name for z in cam.zones] == ["walkway", "no-dumping", "roadway"] and cam.zones[1].watched == ("garbage",)
    sensors = load_sensors(root / "sensor" / "example-sensors.toml")
    assert [s.driver.type for s in sensors.sensors] == ["modbus", "sim"]


class Truncated:
    """A real capture that drops after `n` frames, as a stream does when its server goes away."""

    def __init__(self, cap, n: int) -> None:
        self.cap, self.n = cap, n

    def isOpened(self) -> bool:
        return self.cap.isOpened()

    def grab(self) -> bool:
        self.n -= 1
        return self.n >= 0 and self.cap.grab()

    def retrieve(self):
        return self.cap.retrieve()

    def get(self, prop):
        return self.cap.get(prop)

    def release(self) -> None:
        self.cap.release()


def test_the_agent_rides_out_a_stream_that_drops_mid_way(tmp_path):
    from gwsim.scenes import clean_scene, write_video

    video = str(write_video(clean_scene(3, 4.0), tmp_path / "s.avi"))      # 20 frames
    stop = threading.Event()
    opened = []

    def opener(target):
        opened.append(target)
        if len(opened) == 1:
            return Truncated(cv2.VideoCapture(video), 12)      # drops after 12 frames
        if len(opened) == 2:
            return cv2.VideoCapture(video)                     # back: 20 more, then the stream ends
        stop.set()                                             # the operator stops the agent
        return Closed(0)

    source = LiveSource(video, stop, opener=opener, backoff=(0.01, 0.02))
    outbox = Outbox(":memory:", dev="cam-2")
    try:
        summary = CameraAgent("cam-2", outbox, source, CameraConfig(), stop).run()
    finally:
        outbox.close()
    assert summary.frames == 32 and source.reconnects == 1 and len(opened) == 3 and summary.detected >= 1
