"""Sensor drivers behind one interface: `read() -> float` in the sensor's unit.

`SimulatedSensor` computes its value from the seconds since it was made
(deterministic for a seed). `ModbusSensor` reads registers through pymodbus's synchronous TCP
client; sensors on the same host and port share one client. A read that
fails raises `DriverError`: the agent logs it and tries again next poll.
"""
from __future__ import annotations

import math
import random
import struct
from collections.abc import Callable
from typing import Protocol

from .config import ModbusDriver, SimulatedDriver


class DriverError(IOError):
    """A sensor could not be read this time."""


class Driver(Protocol):
    def read(self) -> float: ...


class SimulatedSensor:
    def __init__(self, spec: SimulatedDriver, clock: Callable[[], float]) -> None:
        self.spec = spec
        self.clock = clock
        self._t0 = clock()              # steps count from when the sensor was made
        self._rng = random.Random(spec.seed)

    def read(self) -> float:
        s, t = self.spec, self.clock() - self._t0
        for start, end, value in s.steps:
            if start <= t < end:
                return value
        wave = s.amplitude * math.sin(2 * math.pi * t / s.period_s)
        return s.base + wave + (self._rng.gauss(0, s.noise) if s.noise else 0.0)


_FORMATS = {"uint16": ">H", "int16": ">h", "uint32": ">I", "int32": ">i", "float32": ">f"}


def decode_registers(registers: list[int], datatype: str, word_order: str = "big") -> float:
    """Registers (16-bit words) as one number; 32-bit types take two words, high word first unless little."""
    words = list(registers)
    if word_order == "little":
        words.reverse()
    return float(struct.unpack(_FORMATS[datatype], b"".join(w.to_bytes(2, "big") for w in words))[0])


class ModbusSensor:
    def __init__(self, spec: ModbusDriver, client) -> None:
        self.spec = spec
        self.client = client
        self.count = 1 if spec.datatype in ("uint16", "int16") else 2

    def read(self) -> float:
        from pymodbus.exceptions import ModbusException

        s = self.spec
        try:
            if not self.client.connected and not self.client.connect():
                raise DriverError(f"Modbus {s.host}:{s.port} does not answer")
            call = self.client.read_holding_registers if s.table == "holding" else self.client.read_input_registers
            rr = call(s.address, count=self.count, device_id=s.device_id)
        except ModbusException as exc:
            raise DriverError(f"Modbus {s.host}:{s.port} device {s.device_id}: {exc}") from exc
        if rr.isError():
            raise DriverError(f"Modbus {s.host}:{s.port} device {s.device_id} address {s.address}: {rr}")
        return decode_registers(rr.registers, s.datatype, s.word_order) * s.scale + s.offset


class ModbusClients:
    """One pymodbus TCP client per (host, port), closed together."""

    def __init__(self) -> None:
        self._clients: dict[tuple[str, int], object] = {}

    def get(self, spec: ModbusDriver):
        from pymodbus.client import ModbusTcpClient

        key = (spec.host, spec.port)
        if key not in self._clients:
            self._clients[key] = ModbusTcpClient(spec.host, port=spec.port, timeout=spec.timeout_s, retries=0)
        return self._clients[key]

    def close(self) -> None:
        for c in self._clients.values():
            c.close()
        self._clients.clear()
