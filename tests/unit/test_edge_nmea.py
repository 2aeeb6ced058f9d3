"""NMEA 0183 parsing: golden sentences to fixes, accuracy rules, no-fix epochs, live receivers."""
from __future__ import annotations

import socket
import threading
import time
from pathlib import Path

import pytest

from edge.handset.nmea import UNKNOWN_ACCURACY_M, NmeaParser, NmeaReplay, NmeaSerial

GOLDEN = Path(__file__).parent / "data" / "edge_handset_walk.nmea"


def epochs(lines):
    parser = NmeaParser()
    out = [e for e in map(parser.feed, lines) if e is not None]
    last = parser.end()
    return out + ([last] if last else []), parser


def test_golden_recording_gives_one_epoch_per_utc_second():
    found, parser = epochs(GOLDEN.read_text().splitlines())
    assert [str(e.time)[:8] for e in found] == ["08:00:00", "08:00:01", "08:00:02", "08:00:03"]
    assert parser.bad_lines == 1  # the line with a wrong checksum


def test_gga_rmc_gst_epoch_takes_accuracy_from_gst():
    first = epochs(GOLDEN.read_text().splitlines())[0][0].fix
    assert (first.lat, first.lon) == pytest.approx((31.2, 121.4))
    assert first.acc == pytest.approx(2.77, abs=0.01)  # hypot(2.1, 1.8): DRMS of GST's sigmas
    assert first.spd == pytest.approx(2.0 * 1852 / 3600, abs=1e-3)
    assert (first.hdg, first.alt, first.sat, first.src) == (45.0, 12.3, 9, "gps")


def test_without_gst_accuracy_is_hdop_times_five_metres():
    second = epochs(GOLDEN.read_text().splitlines())[0][1].fix
    assert second.acc == pytest.approx(6.0)
    assert second.lat == pytest.approx(31.2001)
    assert (second.spd, second.hdg, second.sat) == (0.0, None, 7)


def test_an_epoch_the_receiver_marks_invalid_is_no_fix_not_null_island():
    third = epochs(GOLDEN.read_text().splitlines())[0][2]
    assert third.fix is None


def test_rmc_only_southern_western_fix_has_the_conservative_accuracy():
    fourth = epochs(GOLDEN.read_text().splitlines())[0][3].fix
    assert (fourth.lat, fourth.lon) == pytest.approx((-33.866667, -151.2), abs=1e-6)
    assert fourth.acc == UNKNOWN_ACCURACY_M
    assert fourth.hdg == 270.0
    assert fourth.alt is None and fourth.sat is None


def test_a_fix_maps_to_heartbeat_fields_without_unknowns():
    fourth = epochs(GOLDEN.read_text().splitlines())[0][3].fix
    assert set(fourth.fields()) == {"lat", "lon", "acc", "spd", "hdg", "src"}


def test_replay_yields_one_epoch_per_read_then_is_exhausted():
    replay = NmeaReplay(GOLDEN)
    try:
        reads = [replay.read(0) for _ in range(4)]
        assert [f is not None for f in reads] == [True, True, False, True]
        assert not replay.exhausted
        assert replay.read(0) is None and replay.exhausted
    finally:
        replay.close()


@pytest.fixture
def nmea_server():
    """A TCP port that streams the golden recording once a client connects (like a GPS over TCP)."""
    srv = socket.create_server(("127.0.0.1", 0))
    done = threading.Event()

    def serve() -> None:
        conn, _ = srv.accept()
        with conn:
            # pyserial empties its input buffer when it opens: speak a moment later.
            done.wait(0.3)
            data = GOLDEN.read_bytes()
            conn.sendall(data[: data.index(b"$GPGGA,080002")])
            done.wait(5)

    t = threading.Thread(target=serve, daemon=True)
    t.start()
    yield f"socket://127.0.0.1:{srv.getsockname()[1]}"
    done.set()
    t.join(5)
    srv.close()


def test_live_receiver_returns_the_latest_complete_fix_and_forgets_stale_ones(nmea_server):
    gps = NmeaSerial(nmea_server, max_age_s=0.5)
    try:
        deadline = time.monotonic() + 5
        while gps.read(0) is None and time.monotonic() < deadline:
            time.sleep(0.02)
        fix = gps.read(0)
        assert fix is not None
        # The 08:00:01 burst completed when 08:00:02 began; only 08:00:00 had.
        assert fix.lat == pytest.approx(31.2)
        time.sleep(0.7)
        assert gps.read(0) is None  # the receiver went quiet: no stale position
    finally:
        gps.close()
