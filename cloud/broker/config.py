"""Render a Mosquitto configuration, password file and ACL from deploy/ templates.

Password hashes use Mosquitto's own `$7$` format (PBKDF2-HMAC-SHA512), so the
database can keep them and rewrite the broker's file without ever holding a
plaintext password.
"""
from __future__ import annotations

import base64
import binascii
import getpass
import hashlib
import hmac
import secrets
import sys
from dataclasses import dataclass
from pathlib import Path

CLOUD_USER = "gridwatch-cloud"
RELAY_USER = "gridwatch-relay"
FRIGATE_USER = "gridwatch-frigate"
# Broker usernames starting with this belong to gridwatch's own services: the
# device registry refuses them, and `broker sync` never rewrites their lines.
SERVICE_PREFIX = "gridwatch-"
# Mosquitto verifies a password on every CONNECT, on its one thread. Measured
# with 2.0.11 here: 20,000 iterations = 20 ms of broker CPU per CONNECT (at most
# ~27 connects/s: a 10,000-device reconnect storm stalls routing for minutes),
# 1,000 = 1.0 ms (~870/s), 101 = 0.2 ms. Generated
# device passwords carry 144 random bits, so stretching adds nothing for them;
# `mosquitto_passwd` itself uses 101.
PBKDF2_ITERATIONS = 1_000
# The templates live in the repository's deploy/mosquitto; an installed package
# (`pip install .`, the Docker image) finds them under <prefix>/share/gridwatch.
TEMPLATE_DIRS = (Path(__file__).resolve().parents[2] / "deploy" / "mosquitto",
                 Path(sys.prefix) / "share" / "gridwatch" / "mosquitto")


@dataclass(frozen=True)
class TlsFiles:
    cafile: Path
    certfile: Path
    keyfile: Path


def is_service_account(user: str) -> bool:
    return user.startswith(SERVICE_PREFIX)


def hash_password(password: str, iterations: int = PBKDF2_ITERATIONS) -> str:
    salt = secrets.token_bytes(12)
    digest = hashlib.pbkdf2_hmac("sha512", password.encode(), salt, iterations)
    return f"$7${iterations}${base64.b64encode(salt).decode()}${base64.b64encode(digest).decode()}"


def verify_password(password: str, encoded: str) -> bool:
    try:
        _, alg, iterations, salt, digest = encoded.split("$")
        if alg != "7":
            return False
        calc = hashlib.pbkdf2_hmac("sha512", password.encode(), base64.b64decode(salt), int(iterations))
    except (ValueError, binascii.Error):
        return False
    return hmac.compare_digest(base64.b64encode(calc).decode(), digest)


def is_password_hash(encoded: str) -> bool:
    """True for a well-formed `$7$iterations$salt$digest` string."""
    parts = encoded.split("$")
    if len(parts) != 5 or parts[0] or parts[1] != "7" or not parts[2].isdigit():
        return False
    try:
        return len(base64.b64decode(parts[3], validate=True)) > 0 and \
            len(base64.b64decode(parts[4], validate=True)) == 64
    except binascii.Error:
        return False


def new_password() -> str:
    return secrets.token_urlsafe(18)


def _template(name: str) -> str:
    for directory in TEMPLATE_DIRS:
        if (directory / name).is_file():
            return (directory / name).read_text("utf-8")
    raise FileNotFoundError(f"broker template {name} not found in " + " or ".join(map(str, TEMPLATE_DIRS)))


def render_password_file(hashes: dict[str, str]) -> str:
    """username -> `$7$` hash, one line each, sorted so rewrites are diff-friendly."""
    for user in hashes:
        if not user or ":" in user or "\n" in user:
            raise ValueError(f"a broker username may not be empty or contain ':' or a newline: {user!r}")
    return "".join(f"{user}:{hashes[user]}\n" for user in sorted(hashes))


def parse_password_file(text: str) -> dict[str, str]:
    """The inverse of render_password_file; blank lines and `#` comments are skipped."""
    out: dict[str, str] = {}
    for line in text.splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        user, sep, encoded = line.partition(":")
        if not sep:
            raise ValueError(f"not a password file line (no ':'): {line[:40]!r}")
        out[user] = encoded
    return out


def render_acl() -> str:
    return _template("acl.template").format(cloud_user=CLOUD_USER, relay_user=RELAY_USER,
                                            frigate_user=FRIGATE_USER)


def _listener_block(port: int, bind: str, tls: TlsFiles | None) -> str:
    block = f"listener {port} {bind}\nprotocol mqtt\n"
    if tls:
        block += (f"cafile {tls.cafile}\ncertfile {tls.certfile}\nkeyfile {tls.keyfile}\n"
                  "tls_version tlsv1.2\n")
    return block


def write_broker_dir(directory: Path, port: int, hashes: dict[str, str], *, bind: str = "127.0.0.1",
                     tls: TlsFiles | None = None, log_dest: str | None = None,
                     run_user: str | None = None, conf_dir: Path | None = None,
                     persistence_dir: Path | None = None, pid_file: Path | None = None,
                     local_port: int | None = None) -> Path:
    """Write mosquitto.conf, passwd and acl into `directory`; returns the conf path.

    `conf_dir` is where the broker will read these files (default: `directory`),
    for a config rendered in one place and installed or mounted in another.
    `local_port` adds a plain listener on 127.0.0.1 beside the main one (for a
    cloud on the broker's own host when the main listener is TLS). The pid and
    log files default to the persistence directory: Mosquitto writes them after
    dropping root privileges to `run_user`, so they go where that user can write.
    """
    conf_dir = conf_dir or directory
    directory.mkdir(parents=True, exist_ok=True)
    if persistence_dir is None:
        persistence_dir = conf_dir / "data"
        if conf_dir == directory:
            persistence_dir.mkdir(exist_ok=True)
    passwd = directory / "passwd"
    passwd.write_text(render_password_file(hashes))
    passwd.chmod(0o600)
    (directory / "acl").write_text(render_acl())
    listeners = _listener_block(port, bind, tls)
    if local_port:
        listeners += "\n" + _listener_block(local_port, "127.0.0.1", None)
    conf = directory / "mosquitto.conf"
    conf.write_text(_template("mosquitto.conf.template").format(
        password_file=conf_dir / "passwd", acl_file=conf_dir / "acl", persistence_dir=persistence_dir,
        log_dest=log_dest or f"file {persistence_dir / 'mosquitto.log'}",
        pid_file=pid_file or persistence_dir / "mosquitto.pid", listeners=listeners,
        run_user=run_user or getpass.getuser()))
    return conf


def conf_setting(conf_text: str, key: str) -> str | None:
    """The value of the first `key value` line of a mosquitto.conf, or None."""
    for line in conf_text.splitlines():
        name, _, value = line.strip().partition(" ")
        if name == key and value.strip():
            return value.strip()
    return None
