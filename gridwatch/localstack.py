"""Private, throwaway services for the demo, the benchmarks and the tests.

A Mosquitto started with the project's own configuration (auth, ACL, queue
limits) on a free port, and a PostgreSQL database: on the configured server,
on a local one if it answers, or in a private cluster started with initdb.
"""
from __future__ import annotations

import getpass
import glob
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import uuid
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import psycopg

from cloud.broker.config import CLOUD_USER, RELAY_USER, hash_password, write_broker_dir


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def port_open(port: int, host: str = "127.0.0.1") -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.3):
            return True
    except OSError:
        return False


def wait_port(port: int, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if port_open(port):
            return
        time.sleep(0.05)
    raise TimeoutError(f"nothing listens on 127.0.0.1:{port} after {timeout} s")


@dataclass
class Broker:
    """A private Mosquitto with gridwatch's configuration, and credentials for it."""

    directory: Path
    port: int
    passwords: dict[str, str] = field(default_factory=dict)
    proc: subprocess.Popen | None = None

    @property
    def conf(self) -> Path:
        return self.directory / "mosquitto.conf"

    def url(self, user: str = CLOUD_USER) -> str:
        return f"mqtt://{user}:{self.passwords[user]}@127.0.0.1:{self.port}"

    def add_user(self, name: str, password: str | None = None) -> str:
        self.passwords[name] = password or uuid.uuid4().hex
        self._write()
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGHUP)  # reloads the password file
            time.sleep(0.2)
        return self.passwords[name]

    def _write(self) -> None:
        # Few PBKDF2 rounds: these are throwaway credentials and tests connect often.
        write_broker_dir(self.directory, self.port, {u: hash_password(p, 1000) for u, p in self.passwords.items()})

    def start(self) -> None:
        if shutil.which("mosquitto") is None:
            raise RuntimeError("mosquitto is not installed: run `make services` or `apt-get install mosquitto`")
        self._write()
        self.proc = subprocess.Popen(["mosquitto", "-c", str(self.conf)], stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)
        wait_port(self.port)

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                # SIGTERM makes Mosquitto save its store first: after a benchmark that can take a while.
                self.proc.wait(60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        self.proc = None


def start_broker(directory: Path | None = None) -> Broker:
    directory = directory or Path(tempfile.mkdtemp(prefix="gw-broker-"))
    broker = Broker(directory, free_port(), {CLOUD_USER: uuid.uuid4().hex, RELAY_USER: uuid.uuid4().hex})
    broker.start()
    return broker


@dataclass
class PrivatePostgres:
    """A throwaway PostgreSQL cluster (initdb) for machines without a running server."""

    directory: Path
    port: int
    proc_user: str | None = None

    @property
    def dsn(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, *cmd: str) -> None:
        prefix = ["runuser", "-u", self.proc_user, "--"] if self.proc_user else []
        subprocess.run(prefix + list(cmd), check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)

    def start(self) -> None:
        bindir = _pg_bindir()
        self.directory.mkdir(parents=True, exist_ok=True)
        if self.proc_user:
            shutil.chown(self.directory, self.proc_user)
        data = self.directory / "data"
        if not data.exists():
            self._run(f"{bindir}/initdb", "-D", str(data), "-U", "postgres", "--auth=trust", "-E", "UTF8")
        self._run(f"{bindir}/pg_ctl", "-D", str(data), "-l", str(self.directory / "log"), "-w", "-o",
                  f"-p {self.port} -k {self.directory} -c listen_addresses=127.0.0.1", "start")

    def stop(self) -> None:
        self._run(f"{_pg_bindir()}/pg_ctl", "-D", str(self.directory / "data"), "-m", "fast", "stop")


def _pg_bindir() -> str:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if found:
        return str(Path(found[-1]).parent)
    initdb = shutil.which("initdb")
    if initdb:
        return str(Path(initdb).parent)
    raise RuntimeError("no PostgreSQL server binaries: `apt-get install postgresql` or set GRIDWATCH_DATABASE_URL")


def start_private_postgres(directory: Path) -> PrivatePostgres:
    """`directory` must be reachable by the cluster's account (as root: `postgres`), e.g.
    a fresh `tempfile.mkdtemp()` directly under /tmp, which is handed over to it."""
    # initdb refuses to run as root: run the cluster as the postgres account.
    user = "postgres" if os.geteuid() == 0 else None
    pg = PrivatePostgres(directory, free_port(), user)
    pg.start()
    return pg


def admin_dsn_guess() -> str | None:
    """A server already running on this machine's default port, if any."""
    if port_open(5432):
        return f"postgresql://{'postgres' if getpass.getuser() == 'root' else getpass.getuser()}@127.0.0.1:5432/postgres"
    return None


@contextmanager
def throwaway_database(prefix: str):
    """A new database on the configured or local server, or in a private cluster; dropped afterwards."""
    admin = os.environ.get("GRIDWATCH_ADMIN_DATABASE_URL") or admin_dsn_guess()
    private = None
    if admin is None:
        private = start_private_postgres(Path(tempfile.mkdtemp(prefix="gw-pg-")))
        admin = private.dsn
    name = f"{prefix}_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield psycopg.conninfo.make_conninfo(admin, dbname=name)
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        if private:
            private.stop()
            shutil.rmtree(private.directory, ignore_errors=True)
