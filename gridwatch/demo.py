"""`gridwatch demo`: the cloud stack plus a simulated fleet, dashboard on localhost.

Uses the configured database (GRIDWATCH_DATABASE_URL) when set, else a
throwaway database on the local server, else a private PostgreSQL cluster;
and a private Mosquitto started with the project's own configuration. Every
handset runs the real edge code (outbox, link, sender, agent) with its own
broker credentials. Ctrl-C stops everything and removes what it created.
"""
from __future__ import annotations

import argparse
import math
import os
import secrets
import signal
import tempfile
import threading
from contextlib import ExitStack, contextmanager
from pathlib import Path

# The demo city: a few streets around People's Square, Shanghai (WGS-84).
CENTRE = (31.2304, 121.4737)


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("demo", help="run the cloud and a simulated fleet; dashboard on localhost")
    p.add_argument("--handsets", type=int, default=6, help="simulated handsets (default 6)")
    p.add_argument("--interval", type=float, default=2.0, help="seconds between heartbeats (default 2)")
    p.add_argument("--duration", type=float, default=None, help="stop after this many seconds (default: Ctrl-C)")
    p.add_argument("--port", type=int, default=None, help="API port (default GRIDWATCH_API_PORT or 8080)")
    p.set_defaults(handler=_demo)


def patrol_loop(index: int, radius_m: float = 250.0) -> list[tuple[float, float]]:
    """A closed walk around its own block, each handset in another direction from the centre."""
    angle = 2 * math.pi * index / 7
    lat0 = CENTRE[0] + math.sin(angle) * 600 / 111_320
    lon0 = CENTRE[1] + math.cos(angle) * 600 / (111_320 * math.cos(math.radians(CENTRE[0])))
    dlat, dlon = radius_m / 111_320, radius_m / (111_320 * math.cos(math.radians(lat0)))
    return [(lat0, lon0), (lat0 + dlat, lon0), (lat0 + dlat, lon0 + dlon), (lat0, lon0 + dlon), (lat0, lon0)]


@contextmanager
def _database(settings_env: dict):
    from gridwatch.localstack import throwaway_database

    if "GRIDWATCH_DATABASE_URL" in settings_env:
        yield settings_env["GRIDWATCH_DATABASE_URL"]
    else:
        with throwaway_database("gridwatch_demo") as dsn:
            yield dsn


def _provision(dsn: str, broker, handsets: int) -> tuple[dict[str, str], str]:
    """Schema, devices with broker credentials, and an admin user; returns (passwords, admin password)."""
    import psycopg

    from cloud.db.migrate import migrate
    from cloud.devices import add_device
    from cloud.users import add_user

    migrate(dsn)
    passwords, admin_pw = {}, secrets.token_urlsafe(12)
    with psycopg.connect(dsn) as conn:
        for i in range(handsets):
            dev = f"demo-h{i + 1:02d}"
            pw = add_device(conn, dev, "handset", password=secrets.token_urlsafe(16), rotate=True)
            passwords[dev] = pw
            broker.add_user(dev, pw)
        if conn.execute("SELECT 1 FROM app_user WHERE name = 'admin'").fetchone() is None:
            add_user(conn, "admin", "admin", admin_pw)
        else:
            admin_pw = "(unchanged: the admin user existed already)"
    return passwords, admin_pw


def _start_fleet(settings, passwords: dict[str, str], interval: float, workdir: Path, stack: ExitStack) -> None:
    from edge.handset.agent import HandsetAgent
    from edge.handset.sources import SimulatedPath
    from edge.node import EdgeNode

    for i, (dev, pw) in enumerate(sorted(passwords.items())):
        node = EdgeNode.open(settings, dev, password=pw, outbox_path=workdir / f"{dev}.outbox")
        node.start()
        stack.callback(node.close)
        agent = HandsetAgent(dev, node.outbox, SimulatedPath(patrol_loop(i), noise_m=6.0, acc_m=8.0, seed=i),
                             interval_s=interval)
        agent.start()
        stack.callback(agent.stop)


def _demo(args: argparse.Namespace) -> int:
    from cloud.app import run_cloud
    from gridwatch.localstack import start_broker
    from gridwatch.settings import load_settings

    workdir = Path(tempfile.mkdtemp(prefix="gridwatch-demo-"))
    with ExitStack() as stack:
        broker = start_broker(workdir / "broker")
        stack.callback(broker.stop)
        dsn = stack.enter_context(_database(dict(os.environ)))
        passwords, admin_pw = _provision(dsn, broker, args.handsets)
        overrides = {"database_url": dsn, "mqtt_url": broker.url(), "ingest_share_group": f"demo{secrets.token_hex(3)}"}
        if args.port:
            overrides["api_port"] = args.port
        settings = load_settings(**overrides)
        fleet_settings = settings.model_copy(update={"mqtt_url": f"mqtt://127.0.0.1:{broker.port}"})
        _start_fleet(fleet_settings, passwords, args.interval, workdir, stack)
        print(f"gridwatch demo: {args.handsets} handsets reporting every {args.interval:g} s\n"
              f"  dashboard  http://{settings.api_host}:{settings.api_port}/   user admin, password {admin_pw}\n"
              f"  database   {dsn}\n  broker     127.0.0.1:{broker.port} (private, project configuration)\n"
              "  Ctrl-C stops the demo and removes what it created.", flush=True)
        if args.duration:
            threading.Timer(args.duration, lambda: os.kill(os.getpid(), signal.SIGINT)).start()
        try:
            return run_cloud(settings, workers=1, api=True, jobs=True, verbose=args.verbose, end_sessions=True)
        except KeyboardInterrupt:
            return 0  # Ctrl-C (or --duration) is how a demo ends
