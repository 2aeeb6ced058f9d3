"""Render a Mosquitto configuration, password file and ACL from deploy/ templates.

Password hashes use Mosquitto's own `$7$` format (PBKDF2-HMAC-SHA512), so the
database can keep them and rewrite the broker's file without ever holding a
plaintext password.
"""
from __future__ import annotations

import base64
import getpass
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

CLOUD_USER = "gridwatch-cloud"
RELAY_USER = "gridwatch-relay"
PBKDF2_ITERATIONS = 20_000
TEMPLATE_DIR = Path(__file__).resolve().parents[2] / "deploy" / "mosquitto"


@dataclass(frozen=True)
class TlsFiles:
    cafile: Path
    certfile: Path
    keyfile: Path


def hash_password(password: str, iterations: int = PBKDF2_ITERATIONS) -> str:
    salt = secrets.token_bytes(12)
    digest = hashlib.pbkdf2_hmac("sha512", password.encode(), salt, iterations)
    return f"$7${iterations}${base64.b64encode(salt).decode()}${base64.b64encode(digest).decode()}"


def verify_password(password: str, encoded: str) -> bool:
    try:
        _, alg, iterations, salt, digest = encoded.split("$")
    except ValueError:
        return False
    if alg != "7":
        return False
    calc = hashlib.pbkdf2_hmac("sha512", password.encode(), base64.b64decode(salt), int(iterations))
    return hmac.compare_digest(base64.b64encode(calc).decode(), digest)


def new_password() -> str:
    return secrets.token_urlsafe(18)


def _template(name: str) -> str:
    return (TEMPLATE_DIR / name).read_text("utf-8")


def render_password_file(hashes: dict[str, str]) -> str:
    """username -> `$7$` hash, one line each, sorted so rewrites are diff-friendly."""
    for user in hashes:
        if ":" in user or "\n" in user:
            raise ValueError(f"a broker username may not contain ':' or a newline: {user!r}")
    return "".join(f"{user}:{hashes[user]}\n" for user in sorted(hashes))


def render_acl() -> str:
    return _template("acl.template").format(cloud_user=CLOUD_USER, relay_user=RELAY_USER)


def write_broker_dir(directory: Path, port: int, hashes: dict[str, str], *, bind: str = "127.0.0.1",
                     tls: TlsFiles | None = None, log_dest: str | None = None,
                     run_user: str | None = None) -> Path:
    """Write mosquitto.conf, passwd and acl into `directory`; returns the conf path."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "data").mkdir(exist_ok=True)
    passwd = directory / "passwd"
    acl = directory / "acl"
    passwd.write_text(render_password_file(hashes))
    passwd.chmod(0o600)
    acl.write_text(render_acl())
    tls_block = ""
    if tls:
        tls_block = (f"cafile {tls.cafile}\ncertfile {tls.certfile}\nkeyfile {tls.keyfile}\n"
                     "tls_version tlsv1.2\n")
    conf = directory / "mosquitto.conf"
    conf.write_text(_template("mosquitto.conf.template").format(
        password_file=passwd, acl_file=acl, persistence_dir=directory / "data",
        log_dest=log_dest or f"file {directory / 'mosquitto.log'}", pid_file=directory / "mosquitto.pid",
        port=port, bind=bind, tls_block=tls_block, run_user=run_user or getpass.getuser()))
    return conf
