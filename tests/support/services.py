"""Private, throwaway services for tests and benchmarks: a Mosquitto started
with the project's own configuration, and PostgreSQL databases cloned from a
migrated template. The shared services are left as they were found."""
from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import psycopg

from cloud.broker.config import CLOUD_USER, RELAY_USER, hash_password, write_broker_dir

ADMIN_DSN = os.environ.get("GRIDWATCH_TEST_ADMIN_DSN", "postgresql://postgres@127.0.0.1:5432/test")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port: int, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
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
        write_broker_dir(self.directory, self.port, {u: hash_password(p, 1000) for u, p in self.passwords.items()})

    def start(self) -> None:
        self._write()
        self.proc = subprocess.Popen(["mosquitto", "-c", str(self.conf)], stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)
        wait_port(self.port)

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(sig)
            self.proc.wait(10)
        self.proc = None

    def restart(self, sig: int = signal.SIGTERM) -> None:
        self.stop(sig)
        self.start()


def start_broker(directory: Path | None = None) -> Broker:
    directory = directory or Path(tempfile.mkdtemp(prefix="gw-broker-"))
    broker = Broker(directory, free_port(), {CLOUD_USER: uuid.uuid4().hex, RELAY_USER: uuid.uuid4().hex})
    broker.start()
    return broker


def dsn_for(dbname: str) -> str:
    return psycopg.conninfo.make_conninfo(ADMIN_DSN, dbname=dbname)


def create_database(name: str, template: str | None = None) -> str:
    with psycopg.connect(ADMIN_DSN, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"' + (f' TEMPLATE "{template}"' if template else ""))
    return dsn_for(name)


def drop_database(name: str) -> None:
    with psycopg.connect(ADMIN_DSN, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def remove_dir(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True)
