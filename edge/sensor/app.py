"""Composition root of `gridwatch edge sensor`: settings, config, drivers, node, agent."""
from __future__ import annotations

import argparse
import json
import sys
import threading

from gridwatch.cli import UserError
from gridwatch.settings import load_settings

from ..appkit import checked_device, open_node, stop_on_sigterm
from ..clock import SystemClock
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
    checked_device(args.device)
    try:
        config = load_config(args.config)
    except SensorConfigError as exc:
        raise UserError(str(exc)) from exc
    stop = threading.Event()
    stop_on_sigterm(stop)
    node = open_node(load_settings(), args)
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
