"""Composition root of `gridwatch edge handset`: settings, source, node, agent."""
from __future__ import annotations

import argparse
import json
import logging
import signal
import sys
import threading
from dataclasses import asdict

from gridwatch.cli import UserError
from gridwatch.settings import load_settings
from protocols import topics

from ..node import EdgeNode
from ..outbox import OutboxError, OutboxStats
from .agent import HandsetAgent, system_battery
from .sources import FixSource, SimulatedPath, parse_path

log = logging.getLogger(__name__)


def make_source(args: argparse.Namespace) -> FixSource:
    try:
        if args.nmea:
            from .nmea import NmeaReplay

            return NmeaReplay(args.nmea)
        if args.serial:
            from .nmea import NmeaSerial

            return NmeaSerial(args.serial, args.baud)
        return SimulatedPath(parse_path(args.sim_path), speed_mps=args.walk_speed)
    except (OSError, ValueError) as exc:  # serial.SerialException is an OSError
        raise UserError(f"GPS source: {exc}") from exc


def _stop_on_sigterm(stop: threading.Event) -> None:
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, lambda *_: stop.set())


def run(args: argparse.Namespace) -> int:
    if not topics.is_device_id(args.device):
        raise UserError(f"{args.device!r} is not a device id (lowercase letters, digits, '-', '_')")
    settings = load_settings()
    interval = args.interval or settings.edge_heartbeat_interval_s
    source = make_source(args)
    try:
        node = EdgeNode.open(settings, args.device, password=args.password, outbox_path=args.outbox)
    except (OutboxError, ValueError, OSError) as exc:
        source.close()
        raise UserError(str(exc)) from exc
    agent = HandsetAgent(args.device, node.outbox, source, interval_s=interval,
                         battery=system_battery, count=args.count)
    stop = threading.Event()
    _stop_on_sigterm(stop)
    node.start()
    agent.start()
    try:
        while not stop.is_set() and not agent.wait(0.5):
            pass
    except KeyboardInterrupt:
        log.info("%s: interrupted, flushing", args.device)
    finally:
        agent.stop()
        source.close()
        stats = node.close(args.flush_timeout)
    flushed = stats.queued + stats.inflight == 0
    _report(args, agent, stats, flushed)
    return 0 if flushed else 1


def _report(args: argparse.Namespace, agent: HandsetAgent, stats: OutboxStats, flushed: bool) -> None:
    summary = {"device": args.device, "heartbeats": agent.heartbeats, "no_fix": agent.no_fix,
               "flushed": flushed, **asdict(stats)}
    print(json.dumps(summary), flush=True)
    if not flushed:
        print(f"gridwatch: {args.device}: some messages are not confirmed by the cloud yet; "
              f"they stay in the outbox and go out on the next start", file=sys.stderr)
