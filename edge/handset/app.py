"""Composition root of `gridwatch edge handset`: settings, source, node, agent."""
from __future__ import annotations

import argparse
import json
import logging
import sys
import threading
from dataclasses import asdict

from gridwatch.cli import UserError
from gridwatch.settings import load_settings

from ..appkit import checked_device, open_node, stop_on_sigterm
from ..outbox import OutboxStats
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


def run(args: argparse.Namespace) -> int:
    checked_device(args.device)
    settings = load_settings()
    interval = args.interval or settings.edge_heartbeat_interval_s
    source = make_source(args)
    node = open_node(settings, args, on_error=source.close)
    agent = HandsetAgent(args.device, node.outbox, source, interval_s=interval,
                         battery=system_battery, count=args.count)
    stop = threading.Event()
    stop_on_sigterm(stop)
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
