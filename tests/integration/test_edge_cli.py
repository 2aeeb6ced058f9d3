"""`gridwatch edge handset` as a process against the private broker."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from tests.integration.test_edge_uplink import CloudStub, wait_for

# The installed console script, as users run it (`python -m gridwatch.cli` would
# load cli.py twice, as __main__ and as gridwatch.cli).
GRIDWATCH = str(Path(sys.executable).with_name("gridwatch"))
GOLDEN = Path(__file__).parents[1] / "unit" / "data" / "edge_handset_walk.nmea"
SIM_PATH = "31.2300,121.4700;31.2310,121.4712"


@pytest.fixture
def dev(broker) -> str:
    name = f"cli-{uuid.uuid4().hex[:8]}"
    broker.add_user(name)
    return name


def handset(tmp_path: Path, url: str, dev: str, *args: str) -> subprocess.Popen:
    env = {**os.environ, "GRIDWATCH_MQTT_URL": url, "GRIDWATCH_EDGE_RECONNECT_MIN_S": "0.05",
           "GRIDWATCH_EDGE_RECONNECT_MAX_S": "0.5"}
    cmd = [GRIDWATCH, "edge", "handset", "--device", dev,
           "--outbox", str(tmp_path / "outbox.sqlite3"), *args]
    # cwd: a directory without a .env file of someone's.
    return subprocess.Popen(cmd, cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def finish(proc: subprocess.Popen, timeout: float = 30) -> tuple[int, dict, str]:
    out, err = proc.communicate(timeout=timeout)
    lines = out.strip().splitlines()
    return proc.returncode, json.loads(lines[-1]) if lines else {}, err


def test_count_heartbeats_then_flush_with_receipts_exits_zero(broker, dev, tmp_path):
    cloud = CloudStub(broker)
    try:
        proc = handset(tmp_path, broker.url(dev), dev, "--sim-path", SIM_PATH, "--interval", "0.05",
                       "--count", "8")
        code, summary, err = finish(proc)
        assert code == 0, err
        assert summary["heartbeats"] == 8 and summary["flushed"] is True
        assert (summary["confirmed"], summary["queued"], summary["inflight"]) == (8, 0, 0)
        assert cloud.distinct(dev) == set(range(8))
    finally:
        cloud.close()


def test_without_receipts_it_exits_one_and_keeps_them_for_the_next_run(broker, dev, tmp_path):
    url = f"mqtt://127.0.0.1:{broker.port}"  # the password comes from --password
    password = broker.passwords[dev]
    silent = CloudStub(broker, receipts=False)
    try:
        proc = handset(tmp_path, url, dev, "--password", password, "--nmea", str(GOLDEN),
                       "--interval", "0.01", "--flush-timeout", "0.5")
        code, summary, err = finish(proc)
        assert code == 1 and "stay in the outbox" in err
        assert (summary["heartbeats"], summary["no_fix"]) == (3, 2)
        assert summary["queued"] + summary["inflight"] == 3 and summary["confirmed"] == 0
        assert wait_for(lambda: silent.distinct(dev) == {0, 1, 2})
    finally:
        silent.close()
    cloud = CloudStub(broker)
    try:
        # The next run sends what the first kept, then its own: seqs go on from 3.
        proc = handset(tmp_path, url, dev, "--password", password, "--sim-path", SIM_PATH,
                       "--interval", "0.05", "--count", "2")
        code, summary, err = finish(proc)
        assert code == 0, err
        assert summary["confirmed"] == 5
        assert cloud.distinct(dev) == {0, 1, 2, 3, 4}
    finally:
        cloud.close()


def test_a_killed_agent_is_reported_offline_by_its_will(broker, dev, tmp_path):
    cloud = CloudStub(broker, receipts=False)
    proc = handset(tmp_path, broker.url(dev), dev, "--sim-path", SIM_PATH, "--interval", "0.2")
    try:
        assert wait_for(lambda: cloud.states.get(dev, {}).get("online") is True, timeout=15)
        proc.send_signal(signal.SIGKILL)
        proc.communicate(timeout=10)
        assert wait_for(lambda: cloud.states[dev].get("online") is False, timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
        cloud.close()


def test_bad_arguments_are_refused_with_a_message(tmp_path):
    proc = subprocess.run([GRIDWATCH, "edge", "handset", "--device", "Bad Id",
                           "--sim-path", SIM_PATH], cwd=tmp_path, capture_output=True, text=True, timeout=30)
    assert proc.returncode == 2 and "not a device id" in proc.stderr
    proc = subprocess.run([GRIDWATCH, "edge", "handset", "--device", "w1",
                           "--sim-path", "31.2,121.4;oops"], cwd=tmp_path, capture_output=True, text=True,
                          timeout=30)
    assert proc.returncode == 2 and "waypoint 2" in proc.stderr
