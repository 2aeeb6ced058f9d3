"""Composition root of `gridwatch edge sensor`: settings, config, drivers, node, agent."""
from __future__ import annotations

import argparse
import json
import signal
import sys
import threading

from gridwatch.cli import UserError
from gridwatch.settings import load_settings
from protocols import topics

from ..clock import SystemClock
from ..node import EdgeNode
from ..outbox import OutboxError
from .agent import SensorAgent
from .config import SensorConfig, SensorConfigError, load_config
from .drivers import Driver, ModbusClients, ModbusSensor, SimulatedSensor


def make_drivers(config: SensorConfig, clock, clients: ModbusClients) -> dict[str, Driver]:
    out: dict[str, Driver] = {}
    for s in config.sensors:
        if s.driver.type == "sim":
            out[s.id] = SimulatedSensor(s.driver, clock.monotonic)
        else:
            out[s.id] = ModbusSensor(s.driver, clients.get(s.driver))
    return out


def run(args: argparse.Namespace) -> int:
    if not topics.is_device_id(args.device):
        raise UserError(f"{args.device!r} is not a device id (lowercase letters, digits, '-', '_')")
    try:
        config = load_config(args.config)
    except SensorConfigError as exc:
        raise UserError(str(exc)) from exc
    stop = threading.Event()
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        node = EdgeNode.open(load_settings(), args.device, password=args.password, outbox_path=args.outbox)
    except (OutboxError, ValueError, OSError) as exc:
        raise UserError(str(exc)) from exc
    clock, clients = SystemClock(), ModbusClients()
    agent = SensorAgent(args.device, node.outbox, config, make_drivers(config, clock, clients), clock, stop)
    node.start()
    try:
        summary = agent.run(args.duration)
    except KeyboardInterrupt:
        summary = agent.summary
    finally:
        clients.close()
        stats = node.close(args.flush_timeout)
    flushed = stats.queued + stats.inflight == 0
    print(json.dumps({"device": args.device, "polls": summary.polls, "read_errors": summary.read_errors,
                      **summary.alerts, "flushed": flushed}), flush=True)
    if not flushed:
        print(f"gridwatch: {args.device}: some alerts are not confirmed by the cloud yet; "
              f"they stay in the outbox and go out on the next start", file=sys.stderr)
    return 0 if flushed else 1
