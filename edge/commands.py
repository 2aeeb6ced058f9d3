"""`gridwatch edge <agent> ...`: run one edge agent. Only argparse at import time.

Each agent (handset, camera, sensor) adds its subparser to the
one `edge` parser through a `_register_<agent>` function below, and its handler
imports the agent lazily.
"""
from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("edge", help="run an edge agent (handset, camera, sensor)")
    agents = p.add_subparsers(dest="agent", required=True, metavar="AGENT")
    _register_handset(agents)
    _register_camera(agents)
    _register_sensor(agents)


def _add_common(p: argparse.ArgumentParser) -> None:
    """Options every agent shares: who it is, how it reaches the broker, where it queues."""
    p.add_argument("--device", required=True, metavar="DEV", help="device id (also the broker username)")
    p.add_argument("--password", metavar="PW",
                   help="broker password of DEV (default: the one in GRIDWATCH_MQTT_URL)")
    p.add_argument("--outbox", metavar="PATH",
                   help="SQLite outbox file (default: GRIDWATCH_EDGE_OUTBOX_PATH); one per device")
    p.add_argument("--flush-timeout", type=float, default=10.0, metavar="S",
                   help="on exit, wait up to S seconds for the cloud's receipts (default 10)")


def _register_handset(agents: argparse._SubParsersAction) -> None:
    p = agents.add_parser(
        "handset", help="a grid worker's handset: GPS heartbeats",
        description="Publish a heartbeat every interval from an NMEA file or serial GPS, or a "
                    "simulated walk. Exits 0 when every heartbeat is confirmed by the cloud, 1 "
                    "when some stay in the outbox (they are sent on the next start).")
    _add_common(p)
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--nmea", metavar="FILE", help="replay an NMEA 0183 recording, one fix per heartbeat")
    src.add_argument("--serial", metavar="PORT", help="live NMEA receiver (/dev/ttyUSB0, socket://host:port)")
    src.add_argument("--sim-path", metavar="LAT,LON;...", help="walk these waypoints back and forth")
    p.add_argument("--baud", type=int, default=9600, help="serial speed (default 9600)")
    p.add_argument("--walk-speed", type=float, default=1.3, metavar="M/S",
                   help="simulated walking speed (default 1.3)")
    p.add_argument("--interval", type=float, metavar="S",
                   help="seconds between heartbeats (default: GRIDWATCH_EDGE_HEARTBEAT_INTERVAL_S)")
    p.add_argument("--count", type=int, metavar="N", help="stop after N heartbeats, flush and exit")
    p.set_defaults(handler=_handset)


def _handset(args: argparse.Namespace) -> int:
    from edge.handset.app import run

    return run(args)


def _register_camera(agents: argparse._SubParsersAction) -> None:
    p = agents.add_parser(
        "camera", help="a camera gateway: anomaly detections from video",
        description="Watch a video file, a device index or an RTSP URL and publish anomaly detections "
                    "(obstruction, garbage, crowd, fire, smoke, waterlogging, camera_tamper). A file runs on "
                    "video time as fast as the machine allows, then flushes and prints one JSON line: frames, "
                    "seconds, fps, detections per kind. Exits 1 when detections stay in the outbox.")
    _add_common(p)
    p.add_argument("--source", required=True, metavar="SRC", help="video file, device index (0) or rtsp:// URL")
    p.add_argument("--config", metavar="FILE", help="camera config, TOML or JSON: zones, rates, limits")
    p.set_defaults(handler=_camera)


def _camera(args: argparse.Namespace) -> int:
    from edge.camera.app import run

    return run(args)


def _register_sensor(agents: argparse._SubParsersAction) -> None:
    p = agents.add_parser(
        "sensor", help="a sensor gateway: threshold alerts from simulated or Modbus TCP sensors",
        description="Poll the sensors of a config file, apply each one's thresholds (hysteresis and "
                    "debounce) and publish raised / cleared alerts.")
    _add_common(p)
    p.add_argument("--config", required=True, metavar="FILE", help="sensor config, TOML or JSON")
    p.add_argument("--duration", type=float, metavar="S", help="stop after S seconds, flush and exit")
    p.set_defaults(handler=_sensor)


def _sensor(args: argparse.Namespace) -> int:
    from edge.sensor.app import run

    return run(args)
