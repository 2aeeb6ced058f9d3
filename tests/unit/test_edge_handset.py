"""The handset agent and its simulated walker, on fast and scaled clocks."""
from __future__ import annotations

import threading
import time
from pathlib import Path

import orjson
import pytest

from edge.clock import ScaledClock
from edge.handset.agent import HandsetAgent, system_battery
from edge.handset.nmea import NmeaReplay
from edge.handset.sources import Fix, SimulatedPath, distance_m, parse_path
from edge.outbox import Outbox
from protocols.decode import decode

GOLDEN = Path(__file__).parent / "data" / "edge_handset_walk.nmea"
A, B = (31.2000, 121.4000), (31.2000, 121.4010)   # ~95 m apart, due east


@pytest.fixture
def outbox(tmp_path):
    with Outbox(tmp_path / "o.sqlite3", durable=False) as ob:
        yield ob


def stored(outbox: Outbox) -> list[dict]:
    return [orjson.loads(p.payload) for p in outbox.due()]


def test_parse_path_reads_waypoints_and_names_a_bad_one():
    assert parse_path("31.2,121.4; 31.3,121.5;") == [(31.2, 121.4), (31.3, 121.5)]
    with pytest.raises(ValueError, match="waypoint 2"):
        parse_path("31.2,121.4;31.3")
    with pytest.raises(ValueError, match="out of range"):
        parse_path("91,0")


def test_walker_follows_the_path_back_and_forth_at_its_speed():
    walk = SimulatedPath([A, B], speed_mps=1.0, noise_m=0.0)
    leg = distance_m(A, B)
    t0 = 1_700_000_000_000
    start = walk.read(t0)
    middle = walk.read(t0 + int(leg / 2 * 1000))
    back = walk.read(t0 + int(leg * 1.25 * 1000))
    assert distance_m((start.lat, start.lon), A) < 0.01
    assert distance_m((middle.lat, middle.lon), A) == pytest.approx(leg / 2, abs=0.05)
    assert middle.hdg == pytest.approx(90.0, abs=0.01)
    assert distance_m((back.lat, back.lon), B) == pytest.approx(leg / 4, abs=0.05)
    assert back.hdg == pytest.approx(270.0, abs=0.01)
    assert (back.spd, back.acc, back.src) == (1.0, 5.0, "gps")


def test_walker_noise_is_reproducible_with_a_seed_and_mock_passes_through():
    a = SimulatedPath([A, B], noise_m=3.0, seed=4, mock=True)
    b = SimulatedPath([A, B], noise_m=3.0, seed=4, mock=True)
    fixes = [(a.read(t), b.read(t)) for t in range(0, 10_000, 1000)]
    assert all(x == y for x, y in fixes)
    assert all(x.mock is True for x, _ in fixes)
    assert 0 < distance_m((fixes[0][0].lat, fixes[0][0].lon), A) < 20  # noisy, near the start


def test_agent_stores_count_heartbeats_the_cloud_decoder_accepts(outbox):
    agent = HandsetAgent("w1", outbox, SimulatedPath([A, B], seed=1), interval_s=0.01,
                         battery=lambda: 0.8, count=5)
    agent.run()
    assert agent.finished.is_set()
    beats = stored(outbox)
    assert [b["seq"] for b in beats] == [0, 1, 2, 3, 4]
    assert {b["batt"] for b in beats} == {0.8}
    result = decode("gw/v1/w1/hb", orjson.dumps(beats), now_ms=beats[-1]["ts"])
    assert result.rejections == [] and len(result.messages) == 5


def test_scaled_clock_spaces_timestamps_by_the_interval_in_clock_time(outbox):
    clock = ScaledClock(speed=600, start_ms=1_700_000_000_000)
    agent = HandsetAgent("w1", outbox, SimulatedPath([A, B], seed=1), interval_s=30.0,
                         clock=clock, count=4)
    started = time.monotonic()
    agent.run()
    assert time.monotonic() - started < 2.0  # 90 s of clock time
    ts = [b["ts"] for b in stored(outbox)]
    gaps = [b - a for a, b in zip(ts, ts[1:])]
    assert all(29_000 <= g <= 31_500 for g in gaps), gaps


class NoFixUntil:
    exhausted = False

    def __init__(self, n: int) -> None:
        self.n = n

    def read(self, now_ms: int) -> Fix | None:
        self.n -= 1
        return None if self.n >= 0 else Fix(lat=1.0, lon=2.0, acc=3.0)

    def close(self) -> None:
        pass


def test_intervals_without_a_fix_send_nothing_and_are_counted(outbox):
    agent = HandsetAgent("w1", outbox, NoFixUntil(3), interval_s=0.01, count=2)
    agent.run()
    assert (agent.no_fix, agent.heartbeats, len(outbox)) == (3, 2, 2)


def test_a_replayed_recording_stops_the_agent_at_its_end(outbox):
    replay = NmeaReplay(GOLDEN)
    try:
        agent = HandsetAgent("w1", outbox, replay, interval_s=0.01)
        agent.run()
    finally:
        replay.close()
    assert (agent.heartbeats, agent.no_fix) == (3, 2)  # 4 epochs, one without a fix, then the end
    assert [round(b["lat"], 4) for b in stored(outbox)] == [31.2, 31.2001, -33.8667]


def test_stop_ends_a_running_agent_promptly(outbox):
    agent = HandsetAgent("w1", outbox, SimulatedPath([A]), interval_s=60.0)
    agent.start()
    time.sleep(0.1)
    started = time.monotonic()
    agent.stop()
    assert time.monotonic() - started < 1.0
    assert agent.finished.is_set() and agent.heartbeats == 1


def test_an_external_stop_event_works_for_callers_running_their_own_threads(outbox):
    stop = threading.Event()
    agent = HandsetAgent("w1", outbox, SimulatedPath([A]), interval_s=0.01)
    t = threading.Thread(target=agent.run, args=(stop,))
    t.start()
    time.sleep(0.1)
    stop.set()
    t.join(2)
    assert not t.is_alive() and agent.heartbeats >= 2


def test_system_battery_reads_sysfs(tmp_path):
    (tmp_path / "AC").mkdir()
    (tmp_path / "AC" / "type").write_text("Mains\n")
    (tmp_path / "BAT0").mkdir()
    (tmp_path / "BAT0" / "type").write_text("Battery\n")
    (tmp_path / "BAT0" / "capacity").write_text("57\n")
    assert system_battery(tmp_path) == 0.57
    assert system_battery(tmp_path / "missing") is None
