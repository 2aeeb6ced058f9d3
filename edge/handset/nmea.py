"""NMEA 0183 positions: a recorded file or a live serial receiver.

A receiver sends a burst of sentences per fix (an "epoch": GGA, RMC, GST, ...
sharing one UTC time). NmeaParser gathers a burst and, when the next one begins,
turns it into a Fix, or into "no fix" when the receiver says the position is
not valid (GGA quality 0, RMC status V or mode N): pynmea2 reads an empty
latitude as 0.0, which would put the worker in the Gulf of Guinea.

Accuracy: from GST when present (DRMS, the root of the summed latitude and
longitude variances), else HDOP times a typical user range error of 5 m, else
a conservative 50 m for receivers that say nothing about it (RMC only).
"""
from __future__ import annotations

import datetime as dt
import logging
import math
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import pynmea2
import serial

from .sources import Fix

log = logging.getLogger(__name__)

UERE_M = 5.0
UNKNOWN_ACCURACY_M = 50.0
KNOT_MPS = 1852.0 / 3600.0


@dataclass(frozen=True, slots=True)
class Epoch:
    """One completed burst: its UTC time (if given) and the fix, or None when it had none."""

    time: dt.time | None
    fix: Fix | None


@dataclass(slots=True)
class _Burst:
    time: dt.time | None
    invalid: bool = False
    lat: float | None = None
    lon: float | None = None
    alt: float | None = None
    sat: int | None = None
    hdop: float | None = None
    spd: float | None = None
    hdg: float | None = None
    sigmas: tuple[float, float] | None = None

    def fix(self) -> Fix | None:
        if self.invalid or self.lat is None or self.lon is None:
            return None
        if self.sigmas is not None:
            acc = math.hypot(*self.sigmas)
        elif self.hdop is not None:
            acc = self.hdop * UERE_M
        else:
            acc = UNKNOWN_ACCURACY_M
        return Fix(lat=self.lat, lon=self.lon, acc=round(acc, 2), spd=self.spd, hdg=self.hdg,
                   alt=self.alt, sat=self.sat, src="gps")


def _float(text: str | None) -> float | None:
    try:
        return float(text) if text not in (None, "") else None
    except ValueError:
        return None


@dataclass
class NmeaParser:
    """Feed lines; get an Epoch each time a burst completes."""

    bad_lines: int = 0
    _burst: _Burst | None = field(default=None, repr=False)

    def feed(self, line: str) -> Epoch | None:
        line = line.strip()
        if not line.startswith("$"):
            return None
        try:
            msg = pynmea2.parse(line, check=True)
        except (pynmea2.ParseError, pynmea2.ChecksumError, ValueError, AttributeError):
            self.bad_lines += 1
            return None
        if not isinstance(msg, (pynmea2.GGA, pynmea2.RMC, pynmea2.GST)):
            return None  # GSA, GSV, VTG, ...: nothing a heartbeat needs
        done = None
        if self._burst is not None and self._burst.time != msg.timestamp:
            done = self.end()
        if self._burst is None:
            self._burst = _Burst(msg.timestamp)
        self._merge(self._burst, msg)
        return done

    def end(self) -> Epoch | None:
        """The burst in progress, as complete (at the end of a file)."""
        burst, self._burst = self._burst, None
        return Epoch(burst.time, burst.fix()) if burst else None

    @staticmethod
    def _merge(b: _Burst, msg: pynmea2.NMEASentence) -> None:
        if isinstance(msg, pynmea2.GGA):
            if not msg.gps_qual or not msg.lat:
                b.invalid = True
                return
            b.lat, b.lon, b.alt = msg.latitude, msg.longitude, msg.altitude
            b.sat = int(msg.num_sats) if (msg.num_sats or "").isdigit() else None
            b.hdop = _float(msg.horizontal_dil)
        elif isinstance(msg, pynmea2.RMC):
            if msg.status != "A" or getattr(msg, "mode_indicator", "") == "N" or not msg.lat:
                b.invalid = True
                return
            b.lat, b.lon = msg.latitude, msg.longitude
            b.spd = None if msg.spd_over_grnd is None else round(msg.spd_over_grnd * KNOT_MPS, 3)
            b.hdg = msg.true_course if msg.true_course is not None and 0 <= msg.true_course <= 360 else None
        else:
            lat_sd, lon_sd = _float(msg.data[5]), _float(msg.data[6])
            if lat_sd is not None and lon_sd is not None:
                b.sigmas = (lat_sd, lon_sd)


class NmeaReplay:
    """A recorded NMEA file, replayed one epoch per read (the read's time is ignored)."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        self._file = self.path.open(encoding="ascii", errors="replace")
        self._parser = NmeaParser()
        self.exhausted = False

    def read(self, now_ms: int) -> Fix | None:
        for line in self._file:
            epoch = self._parser.feed(line)
            if epoch is not None:
                return epoch.fix
        epoch = self._parser.end()
        self.exhausted = epoch is None
        return epoch.fix if epoch else None

    def close(self) -> None:
        self._file.close()


class NmeaSerial:
    """A live receiver on a serial port (or any pyserial URL, e.g. `socket://host:port`).

    A reader thread keeps the latest epoch; `read` returns its fix while it is
    younger than `max_age_s`, so a receiver that went quiet yields no fix rather
    than a stale one.
    """

    exhausted = False

    def __init__(self, port: str, baud: int = 9600, *, max_age_s: float = 5.0) -> None:
        self.port = port
        self.max_age_s = max_age_s
        self._serial = serial.serial_for_url(port, baudrate=baud, timeout=0.2)
        self._parser = NmeaParser()
        self._lock = threading.Lock()
        self._latest: tuple[Fix | None, float] = (None, -math.inf)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._read_loop, name=f"nmea-{port}", daemon=True)
        self._thread.start()

    def _read_loop(self) -> None:
        while not self._stop.is_set():
            try:
                raw = self._serial.readline()
            except serial.SerialException as exc:
                log.error("GPS receiver %s failed: %s", self.port, exc)
                return
            epoch = self._parser.feed(raw.decode("ascii", "replace")) if raw else None
            if epoch is not None:
                with self._lock:
                    self._latest = (epoch.fix, time.monotonic())

    def read(self, now_ms: int) -> Fix | None:
        with self._lock:
            fix, at = self._latest
        return fix if time.monotonic() - at <= self.max_age_s else None

    def close(self) -> None:
        self._stop.set()
        self._thread.join(2.0)
        self._serial.close()
