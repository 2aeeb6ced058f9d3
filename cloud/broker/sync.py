"""Keep Mosquitto's password file in step with the device registry, without a restart.

The file is replaced atomically (temp file in the same directory, fsync, rename,
keeping the old file's owner, group and mode, which the broker needs to read it
after dropping privileges), then Mosquitto is sent SIGHUP: it re-reads its
password file and ACL, so a new device can connect and a revoked one cannot
log in again.
"""
from __future__ import annotations

import logging
import os
import signal
import tempfile
from dataclasses import dataclass
from pathlib import Path

import psycopg

from cloud.broker.config import conf_setting, is_service_account, parse_password_file, render_password_file
from protocols.topics import is_device_id

log = logging.getLogger(__name__)


class BrokerSyncError(RuntimeError):
    """The password file or the broker could not be updated; the message says why."""


@dataclass(frozen=True)
class SyncResult:
    path: Path
    devices: int
    kept: tuple[str, ...]
    signalled_pid: int | None
    note: str = ""


def merge_hashes(existing: dict[str, str], devices: dict[str, str]) -> dict[str, str]:
    """The new file's entries: every device line comes from the registry (so a
    device revoked there loses access); lines the registry does not manage
    (`gridwatch-*` service accounts, names that are not device ids) are kept."""
    kept = {u: h for u, h in existing.items() if is_service_account(u) or not is_device_id(u)}
    return {**{d: h for d, h in devices.items() if d not in kept}, **kept}


def replace_file(path: Path, text: str, default_mode: int = 0o600) -> None:
    """Atomically replace `path` with `text`, keeping the owner, group and mode of the old file."""
    old = path.stat() if path.exists() else None
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fchmod(f.fileno(), old.st_mode & 0o7777 if old else default_mode)
            if old and (old.st_uid, old.st_gid) != (os.geteuid(), os.getegid()):
                try:
                    os.fchown(f.fileno(), old.st_uid, old.st_gid)
                except PermissionError as exc:
                    raise BrokerSyncError(f"cannot give the new {path} the owner of the old one "
                                          f"(uid {old.st_uid}, gid {old.st_gid}): run as root or as "
                                          "that user") from exc
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def pid_file_of(directory: Path) -> Path | None:
    """The `pid_file` that the mosquitto.conf in `directory` names, if any."""
    conf = directory / "mosquitto.conf"
    value = conf_setting(conf.read_text("utf-8"), "pid_file") if conf.exists() else None
    return Path(value) if value else None


def signal_broker(pid_file: Path, sig: int = signal.SIGHUP) -> int:
    """Send `sig` to the Mosquitto whose pid `pid_file` holds; returns the pid."""
    try:
        pid = int(pid_file.read_text().strip())
    except (OSError, ValueError) as exc:
        raise BrokerSyncError(f"cannot read a pid from {pid_file}: {exc}") from exc
    comm = Path(f"/proc/{pid}/comm")
    if comm.parent.parent.exists() and (not comm.exists() or comm.read_text().strip() != "mosquitto"):
        # A stale pid file may name a recycled pid: never signal another program.
        raise BrokerSyncError(f"process {pid} from {pid_file} is not a running mosquitto")
    try:
        os.kill(pid, sig)
    except ProcessLookupError as exc:
        raise BrokerSyncError(f"no process {pid} (stale pid file {pid_file})") from exc
    except PermissionError as exc:
        raise BrokerSyncError(f"not allowed to signal mosquitto (pid {pid}): run as root or as the "
                              "broker's user, or `systemctl reload mosquitto`") from exc
    return pid


def sync_password_file(conn: psycopg.Connection, directory: Path, pid_file: Path | None = None, *,
                       reload: bool = True) -> SyncResult:
    """Rewrite `directory`/passwd from the registry and make Mosquitto reload it.

    Without an explicit `pid_file`, the one named in `directory`/mosquitto.conf is
    used when it exists; a broker that is not running is not an error then.
    """
    from cloud.devices import broker_password_hashes

    path = directory / "passwd"
    if not path.exists():
        raise BrokerSyncError(f"{path} does not exist: render the broker's files first "
                              "with `gridwatch broker config --out DIR`")
    try:
        existing = parse_password_file(path.read_text("utf-8"))
    except ValueError as exc:
        raise BrokerSyncError(f"{path}: {exc}") from exc
    devices = broker_password_hashes(conn)
    merged = merge_hashes(existing, devices)
    replace_file(path, render_password_file(merged))
    kept = tuple(sorted(u for u in merged if u not in devices))
    log.info("wrote %s: %d device(s), kept %s", path, len(devices), ", ".join(kept) or "nothing else")
    if not reload:
        return SyncResult(path, len(devices), kept, None, "broker not signalled (--no-reload)")
    explicit = pid_file is not None
    pid_file = pid_file or pid_file_of(directory)
    if not explicit and (pid_file is None or not pid_file.exists()):
        return SyncResult(path, len(devices), kept, None,
                          "no running broker found (no pid file): it reads the new file when it starts")
    return SyncResult(path, len(devices), kept, signal_broker(pid_file))
