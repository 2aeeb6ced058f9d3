"""`gridwatch devices add|list|revoke` and `gridwatch broker config|sync`.

Only argparse at import time; each handler imports what it needs.
"""
from __future__ import annotations

import argparse
import sys


def register(sub: argparse._SubParsersAction) -> None:
    _register_devices(sub)
    _register_broker(sub)


def _register_devices(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("devices", help="device registry and broker credentials")
    s = p.add_subparsers(dest="action", required=True)
    a = s.add_parser("add", help="register a device (or update it) and print its broker credentials once",
                     description="Register DEV, or update it. A new device gets a random broker password, "
                                 "printed once with its username and MQTT URL; only the hash is stored. "
                                 "When GRIDWATCH_BROKER_DIR is set, the broker's password file is "
                                 "refreshed and Mosquitto reloaded, so the device can connect at once.")
    a.add_argument("dev", metavar="DEV", help="device id, also its broker username")
    a.add_argument("--kind", required=True, choices=["handset", "camera", "sensor"])
    a.add_argument("--alias", action="append", metavar="ALIAS",
                   help="owntracks:USER/DEVICE or frigate:CAMERA (or osmand:ID) mapped to DEV; repeatable")
    a.add_argument("--lat", type=float, help="fixed position (required for a camera or sensor)")
    a.add_argument("--lon", type=float)
    pw = a.add_mutually_exclusive_group()
    pw.add_argument("--password", metavar="PW", help="set this broker password instead of a random one")
    pw.add_argument("--password-stdin", action="store_true", help="read the password from standard input")
    pw.add_argument("--rotate-password", action="store_true",
                    help="issue a new random password to a device that already has one")
    a.set_defaults(handler=_devices_add)
    ls = s.add_parser("list", help="registered and unregistered devices")
    ls.add_argument("--unregistered", action="store_true", help="only devices first seen by the ingest")
    ls.add_argument("--json", action="store_true", help="one JSON object per line")
    ls.set_defaults(handler=_devices_list)
    r = s.add_parser("revoke", help="delete a device's broker credentials (takes effect on the next sync)")
    r.add_argument("dev", metavar="DEV")
    r.set_defaults(handler=_devices_revoke)


def _register_broker(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("broker", help="Mosquitto configuration, password file and ACL")
    s = p.add_subparsers(dest="action", required=True)
    c = s.add_parser("config", help="write mosquitto.conf, passwd and acl",
                     description="Write mosquitto.conf, passwd and acl into DIR: the cloud and relay "
                                 "service accounts plus every registered device from the database. A "
                                 "service password is taken from settings, else kept from DIR/passwd, "
                                 "else generated and printed once. The service accounts' hashes are also "
                                 "stored in the database (table broker_account) for DB-backed brokers.")
    c.add_argument("--out", required=True, metavar="DIR")
    c.add_argument("--port", type=int, help="listener port (default 8883 with TLS, else 1883)")
    c.add_argument("--bind", default="127.0.0.1", metavar="ADDR", help="listener address (default 127.0.0.1)")
    c.add_argument("--local-port", type=int, metavar="N", help="also a plain listener on 127.0.0.1:N")
    c.add_argument("--tls-ca", metavar="FILE", help="CA certificate (with --tls-cert, --tls-key)")
    c.add_argument("--tls-cert", metavar="FILE")
    c.add_argument("--tls-key", metavar="FILE")
    c.add_argument("--run-user", metavar="USER",
                   help="account the broker drops to (default: mosquitto when it exists)")
    c.add_argument("--conf-dir", metavar="DIR", help="where the broker will read these files (default: --out)")
    c.add_argument("--data-dir", metavar="DIR", help="persistence directory (default: CONF_DIR/data)")
    c.add_argument("--pid-file", metavar="FILE", help="default: DATA_DIR/mosquitto.pid")
    c.add_argument("--log-dest", metavar="DEST", help="mosquitto log_dest, e.g. stderr, syslog, 'file PATH'")
    c.add_argument("--no-relay", action="store_true", help="leave out the relay account (production)")
    c.add_argument("--frigate", action="store_true", help="add the gridwatch-frigate account for a Frigate NVR")
    c.add_argument("--no-db", action="store_true",
                   help="service accounts only: no device from the database, nothing stored there")
    c.add_argument("--rotate-service-passwords", action="store_true",
                   help="generate new service passwords even when DIR/passwd has them")
    c.set_defaults(handler=_broker_config)
    y = s.add_parser("sync", help="rewrite passwd from the registry and reload Mosquitto (SIGHUP)")
    y.add_argument("--dir", metavar="DIR", help="the broker's files (default: GRIDWATCH_BROKER_DIR)")
    y.add_argument("--pid-file", metavar="FILE",
                   help="Mosquitto's pid file (default: GRIDWATCH_BROKER_PID_FILE, else the conf's pid_file)")
    y.add_argument("--no-reload", action="store_true", help="write the file only")
    y.set_defaults(handler=_broker_sync)


def _connect(settings):
    """A database connection, with a message a user can act on when there is none."""
    import psycopg

    from gridwatch.cli import UserError

    try:
        return psycopg.connect(settings.database_url, connect_timeout=10)
    except psycopg.OperationalError as exc:
        raise UserError(f"cannot reach the database (GRIDWATCH_DATABASE_URL): {exc}".strip()) from exc


def device_url(base_url: str, dev: str, password: str | None) -> str:
    """`base_url`'s scheme, host and port with the device's credentials."""
    from urllib.parse import quote, urlsplit

    parts = urlsplit(base_url)
    host = parts.hostname or "127.0.0.1"
    host = f"[{host}]" if ":" in host else host
    user = quote(dev, safe="") + (f":{quote(password, safe='')}" if password is not None else "")
    return f"{parts.scheme}://{user}@{host}" + (f":{parts.port}" if parts.port else "")


def _devices_add(args: argparse.Namespace) -> int:
    from cloud.devices import DeviceError, add_device
    from gridwatch.cli import UserError
    from gridwatch.settings import load_settings

    settings = load_settings()
    password = args.password
    if args.password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    try:
        with _connect(settings) as conn:
            issued = add_device(conn, args.dev, args.kind, args.alias, args.lat, args.lon, password,
                                rotate=args.rotate_password, iterations=settings.broker_hash_iterations)
    except DeviceError as exc:
        raise UserError(str(exc)) from exc
    base = settings.broker_public_url or settings.mqtt_url
    print(f"device:   {args.dev} ({args.kind}, registered)")
    print(f"username: {args.dev}")
    if issued is None:
        print("password: unchanged (only its hash is stored; --rotate-password issues a new one)")
    else:
        print(f"password: {issued}")
    print(f"mqtt url: {device_url(base, args.dev, issued)}")
    if issued is not None:
        print("(the password is shown this once: only its hash is stored)")
    return _refresh_broker(settings) if settings.broker_dir else 0


def _refresh_broker(settings) -> int:
    from cloud.broker.sync import BrokerSyncError, sync_password_file

    try:
        with _connect(settings) as conn:
            result = sync_password_file(conn, settings.broker_dir, settings.broker_pid_file)
    except (BrokerSyncError, OSError) as exc:
        print(f"gridwatch: error: the device is registered but the broker was not refreshed: {exc}; "
              "fix that and run `gridwatch broker sync`", file=sys.stderr)
        return 1
    _print_sync(result)
    return 0


def _print_sync(result) -> None:
    done = f"signalled mosquitto (pid {result.signalled_pid})" if result.signalled_pid else result.note
    print(f"broker: wrote {result.path} ({result.devices} device(s), kept {', '.join(result.kept) or 'none'}); "
          f"{done}")


def _devices_list(args: argparse.Namespace) -> int:
    import json

    from cloud.devices import list_devices
    from gridwatch.settings import load_settings

    with _connect(load_settings()) as conn:
        devices = list_devices(conn, registered=False if args.unregistered else None)
    for d in devices:
        if args.json:
            print(json.dumps({**d.__dict__, "aliases": list(d.aliases)}, default=str))
        else:
            pos = f"{d.lat:.6f},{d.lon:.6f}" if d.lat is not None else "-"
            state = "registered" if d.registered else "unregistered"
            creds = "credentials" if d.has_credentials else "no-credentials"
            print(f"{d.dev}\t{d.kind or '-'}\t{state}\t{creds}\t{pos}\t{' '.join(d.aliases) or '-'}")
    return 0


def _devices_revoke(args: argparse.Namespace) -> int:
    from cloud.devices import revoke_device
    from gridwatch.cli import UserError
    from gridwatch.settings import load_settings

    settings = load_settings()
    with _connect(settings) as conn:
        if not revoke_device(conn, args.dev):
            raise UserError(f"no device {args.dev!r} with broker credentials")
    print(f"revoked the broker credentials of {args.dev}")
    return _refresh_broker(settings) if settings.broker_dir else 0


def _broker_sync(args: argparse.Namespace) -> int:
    from pathlib import Path

    from cloud.broker.sync import BrokerSyncError, sync_password_file
    from gridwatch.cli import UserError
    from gridwatch.settings import load_settings

    settings = load_settings()
    directory = Path(args.dir) if args.dir else settings.broker_dir
    if directory is None:
        raise UserError("give --dir DIR (or set GRIDWATCH_BROKER_DIR)")
    pid_file = Path(args.pid_file) if args.pid_file else settings.broker_pid_file
    try:
        with _connect(settings) as conn:
            result = sync_password_file(conn, directory, pid_file, reload=not args.no_reload)
    except BrokerSyncError as exc:
        raise UserError(str(exc)) from exc
    _print_sync(result)
    return 0


def _broker_config(args: argparse.Namespace) -> int:
    from cloud.broker.setup import render_broker_config

    return render_broker_config(args)
