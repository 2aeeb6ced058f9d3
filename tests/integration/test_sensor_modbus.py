"""Modbus TCP sensors through pymodbus's client, against pymodbus's own server in this process."""
from __future__ import annotations

import asyncio
import struct
import threading

import pytest
from pymodbus.client import ModbusTcpClient
from pymodbus.server import ModbusTcpServer
from pymodbus.simulator import DataType, SimData, SimDevice

from edge.clock import ScaledClock
from edge.outbox import Outbox
from edge.sensor.agent import SensorAgent
from edge.sensor.config import ModbusDriver, SensorConfig
from edge.sensor.drivers import DriverError, ModbusClients, ModbusSensor, decode_registers
from gridwatch.localstack import free_port, wait_port


class ModbusServer:
    """pymodbus's TCP server on its own event loop thread, device 1 with registers 0..19."""

    def __init__(self) -> None:
        self.port = free_port()
        self.loop = asyncio.new_event_loop()
        device = SimDevice(id=1, simdata=[SimData(address=0, count=20, values=0, datatype=DataType.REGISTERS)])
        self.thread = threading.Thread(target=self._run, args=(device,), daemon=True)
        self.thread.start()
        wait_port(self.port)
        self.writer = ModbusTcpClient("127.0.0.1", port=self.port)
        self.writer.connect()

    def _run(self, device) -> None:
        async def serve() -> None:   # the server binds to the loop it is made in
            self.server = ModbusTcpServer(device, address=("127.0.0.1", self.port))
            await self.server.serve_forever()

        asyncio.set_event_loop(self.loop)
        self.loop.run_until_complete(serve())

    def set(self, address: int, *words: int) -> None:
        assert not self.writer.write_registers(address, list(words), device_id=1).isError()

    def stop(self) -> None:
        self.writer.close()
        asyncio.run_coroutine_threadsafe(self.server.shutdown(), self.loop).result(5)
        self.thread.join(5)
        self.loop.close()


@pytest.fixture
def server():
    s = ModbusServer()
    yield s
    s.stop()


def spec(port: int, **kw) -> ModbusDriver:
    return ModbusDriver(type="modbus", host="127.0.0.1", port=port, **kw)


def test_registers_decode_to_numbers_with_scale_offset_and_word_order(server):
    server.set(0, 1234)
    server.set(2, *struct.unpack(">HH", struct.pack(">f", -12.5)))
    server.set(4, *struct.unpack(">HH", struct.pack(">i", -70000))[::-1])
    clients = ModbusClients()
    try:
        assert ModbusSensor(spec(server.port, address=0, scale=0.1, offset=-3), clients.get(spec(server.port, address=0))).read() \
            == pytest.approx(120.4)
        assert ModbusSensor(spec(server.port, address=2, datatype="float32"), clients.get(spec(server.port, address=2))).read() == -12.5
        assert ModbusSensor(spec(server.port, address=4, datatype="int32", word_order="little"),
                            clients.get(spec(server.port, address=4))).read() == -70000
    finally:
        clients.close()
    assert decode_registers([0xFFFF], "int16") == -1


def test_agent_raises_and_clears_with_component_code_from_a_modbus_sensor(server):
    config = SensorConfig.model_validate({"poll_s": 0.01, "sensors": [{
        "id": "tilt-1", "sensor": "manhole_tilt", "unit": "deg", "component": "MH-0042",
        "driver": {"type": "modbus", "host": "127.0.0.1", "port": server.port, "address": 7, "scale": 0.1},
        "rules": [{"level": "critical", "above": 15.0, "clear_at": 10.0, "debounce_s": 1.0}]}]})
    clients = ModbusClients()
    outbox = Outbox(":memory:", dev="sensor-1")
    clock = ScaledClock(100.0)
    agent = SensorAgent("sensor-1", outbox, config,
                        {"tilt-1": ModbusSensor(config.sensors[0].driver, clients.get(config.sensors[0].driver))},
                        clock, threading.Event())
    try:
        for value in (50, 200, 200, 120, 80):
            server.set(7, value)
            for _ in range(3):
                agent.poll()
                clock.wait(threading.Event(), 0.6)
        alerts = [m for m in outbox.due() if m.kind == "alert"]
    finally:
        clients.close()
        outbox.close()
    import orjson
    bodies = [orjson.loads(m.payload) for m in alerts]
    assert [(b["state"], b["value"]) for b in bodies] == [("raised", 20.0), ("cleared", 8.0)]
    assert all(b["component"] == "MH-0042" and b["level"] == "critical" and b["sensor"] == "manhole_tilt"
               for b in bodies)


def test_a_device_that_does_not_answer_is_a_driver_error_not_a_crash():
    clients = ModbusClients()
    try:
        s = spec(free_port(), address=0, timeout_s=0.2)
        with pytest.raises(DriverError):
            ModbusSensor(s, clients.get(s)).read()
    finally:
        clients.close()
