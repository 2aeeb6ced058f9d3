"""`gridwatch broker config`: render a deployment's mosquitto.conf, passwd and acl.

Service account passwords come from settings when set (the cloud's also from
GRIDWATCH_MQTT_URL when its user is gridwatch-cloud), else the hash already in
the output's passwd is kept, else a new password is generated and printed
once. Device hashes come from the registry.
"""
from __future__ import annotations

import argparse
import getpass
import os
import pwd
from dataclasses import dataclass
from pathlib import Path

from cloud.broker.config import (CLOUD_USER, FRIGATE_USER, RELAY_USER, TlsFiles, hash_password,
                                 is_password_hash, new_password, parse_password_file, verify_password,
                                 write_broker_dir)

ROLES = {CLOUD_USER: "cloud", RELAY_USER: "relay", FRIGATE_USER: "frigate"}


@dataclass(frozen=True)
class ServiceAccount:
    user: str
    hash: str
    new_password: str | None  # set only when generated now: printed once
    source: str  # "settings", "kept" or "generated"


def choose_service_account(user: str, configured: str | None, existing: str | None, *,
                           rotate: bool = False, iterations: int = 1000) -> ServiceAccount:
    if configured:
        keep = existing is not None and verify_password(configured, existing)
        return ServiceAccount(user, existing if keep else hash_password(configured, iterations), None, "settings")
    if existing and not rotate and is_password_hash(existing):
        return ServiceAccount(user, existing, None, "kept")
    password = new_password()
    return ServiceAccount(user, hash_password(password, iterations), password, "generated")


def configured_passwords(settings) -> dict[str, str | None]:
    cloud = settings.broker_cloud_password
    endpoint = settings.mqtt()
    if not cloud and endpoint.username == CLOUD_USER:
        cloud = endpoint.password
    return {CLOUD_USER: cloud, RELAY_USER: settings.broker_relay_password,
            FRIGATE_USER: settings.broker_frigate_password}


def default_run_user() -> str:
    try:
        return pwd.getpwnam("mosquitto").pw_name
    except KeyError:
        return getpass.getuser()


def _tls_files(args: argparse.Namespace, check: bool) -> TlsFiles | None:
    from gridwatch.cli import UserError

    given = [args.tls_ca, args.tls_cert, args.tls_key]
    if not any(given):
        return None
    if not all(given):
        raise UserError("TLS needs all three of --tls-ca, --tls-cert and --tls-key")
    files = TlsFiles(*(Path(p).resolve() for p in given))
    for path in (files.cafile, files.certfile, files.keyfile):
        if check and not path.is_file():
            raise UserError(f"{path} does not exist")
    return files


def _schema_error(exc):
    from gridwatch.cli import UserError

    return UserError(f"the database schema is not up to date ({exc.diag.message_primary}): "
                     "run `gridwatch db migrate`, or use --no-db")


def stored_accounts(settings) -> dict[str, str]:
    """Service account hashes already in the database (for a config rendered afresh)."""
    import psycopg

    from cloud.broker.commands import _connect

    with _connect(settings) as conn:
        try:
            return dict(conn.execute("SELECT username, password_hash FROM broker_account").fetchall())
        except psycopg.errors.UndefinedTable as exc:
            raise _schema_error(exc) from exc


def exchange_with_db(settings, accounts: list[ServiceAccount]) -> dict[str, str]:
    """Store the service accounts for DB-backed brokers (EMQX: table broker_account,
    dropping the accounts left out) and return every registered device's hash."""
    from cloud.broker.commands import _connect
    from cloud.devices import broker_password_hashes

    with _connect(settings) as conn:
        with conn.transaction():
            conn.execute("DELETE FROM broker_account WHERE NOT (username = ANY(%s))",
                         ([a.user for a in accounts],))
            for a in accounts:
                conn.execute("""INSERT INTO broker_account (username, role, password_hash) VALUES (%s, %s, %s)
                                ON CONFLICT (username) DO UPDATE SET role = EXCLUDED.role,
                                    password_hash = EXCLUDED.password_hash, updated_at = now()""",
                             (a.user, ROLES[a.user], a.hash))
        return broker_password_hashes(conn)


def hand_over(out: Path, run_user: str, data_dir: Path | None) -> None:
    """When root renders for a broker that drops to `run_user`: let that user
    read passwd and acl (group, 0640) and write the data directory it uses."""
    if os.geteuid() != 0 or run_user == "root":
        return
    try:
        entry = pwd.getpwnam(run_user)
    except KeyError:
        return  # rendered for another machine or container: its owner is set there
    for name in ("passwd", "acl"):
        os.chown(out / name, 0, entry.pw_gid)
        (out / name).chmod(0o640)
    if data_dir is not None and data_dir.is_dir():
        os.chown(data_dir, entry.pw_uid, entry.pw_gid)


def render_broker_config(args: argparse.Namespace) -> int:
    from gridwatch.settings import load_settings

    settings = load_settings()
    out = Path(args.out).resolve()
    conf_dir = Path(args.conf_dir) if args.conf_dir else None
    tls = _tls_files(args, check=conf_dir is None)
    port = args.port or (8883 if tls else 1883)
    run_user = args.run_user or default_run_user()
    passwd = out / "passwd"
    existing = {} if args.no_db else stored_accounts(settings)
    existing.update(parse_password_file(passwd.read_text("utf-8")) if passwd.exists() else {})
    wanted = configured_passwords(settings)
    users = [CLOUD_USER] + ([] if args.no_relay else [RELAY_USER]) + ([FRIGATE_USER] if args.frigate else [])
    accounts = [choose_service_account(u, wanted[u], existing.get(u), rotate=args.rotate_service_passwords,
                                       iterations=settings.broker_hash_iterations) for u in users]
    devices = {} if args.no_db else exchange_with_db(settings, accounts)
    write_broker_dir(out, port, {**devices, **{a.user: a.hash for a in accounts}}, bind=args.bind, tls=tls,
                     log_dest=args.log_dest, run_user=run_user, conf_dir=conf_dir,
                     persistence_dir=Path(args.data_dir) if args.data_dir else None,
                     pid_file=Path(args.pid_file) if args.pid_file else None, local_port=args.local_port)
    hand_over(out, run_user, out / "data" if conf_dir is None and not args.data_dir else None)
    _report(out, port, args, tls, accounts, len(devices))
    return 0


def _report(out: Path, port: int, args, tls, accounts: list[ServiceAccount], n_devices: int) -> None:
    print(f"wrote {out}/mosquitto.conf, passwd, acl: listener {args.bind}:{port} "
          f"({'TLS' if tls else 'plain'}), {n_devices} device(s)")
    if not args.no_db:
        print(f"stored {', '.join(a.user for a in accounts)} in the database (broker_account, for EMQX)")
    for a in accounts:
        if a.new_password:
            print(f"{a.user}: new password {a.new_password} (shown once: only its hash is stored)")
        else:
            print(f"{a.user}: password {'from settings' if a.source == 'settings' else 'kept from passwd'}")
    cloud = next(a for a in accounts if a.user == CLOUD_USER)
    if cloud.new_password:
        local = args.local_port or not tls
        host = "127.0.0.1" if args.bind in ("0.0.0.0", "::") else args.bind
        url = (f"mqtt://{CLOUD_USER}:{cloud.new_password}@127.0.0.1:{args.local_port}" if args.local_port
               else f"{'mqtt' if local else 'mqtts'}://{CLOUD_USER}:{cloud.new_password}@{host}:{port}")
        print(f"for the cloud: GRIDWATCH_MQTT_URL={url}")
    print(f"run: mosquitto -c {Path(args.conf_dir or out) / 'mosquitto.conf'}")
