"""The device registry: which devices exist, their kind, fixed position, aliases
for outside clients, and broker credentials (only a `$7$` hash is stored).

A device the ingest sees before anyone registers it exists as
`registered = false` with no credentials; `add_device` registers it in place.
"""
from __future__ import annotations

import math
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

import psycopg

from cloud.broker.config import (PBKDF2_ITERATIONS, hash_password, is_service_account,
                                 new_password)
from protocols.topics import is_device_id

KINDS = ("handset", "camera", "sensor")
FIXED_POSITION_KINDS = ("camera", "sensor")
MIN_PASSWORD_LENGTH = 12
# One path segment of an outside client's topic: no MQTT wildcards or separators.
_SEGMENT = r"[^/+#\s]{1,64}"
_ALIAS_RE = re.compile(rf"^(?:owntracks:{_SEGMENT}/{_SEGMENT}|frigate:{_SEGMENT}|osmand:{_SEGMENT})$")


class DeviceError(ValueError):
    """A registry request that cannot be honoured; the message says what to fix."""


@dataclass(frozen=True)
class Device:
    dev: str
    kind: str | None
    registered: bool
    lat: float | None
    lon: float | None
    aliases: tuple[str, ...]
    has_credentials: bool
    online: bool | None
    first_seen: datetime | None
    last_seen: datetime | None


def owntracks_alias(user: str, device: str) -> str:
    """The alias under which an OwnTracks `owntracks/{user}/{device}` client is registered."""
    return f"owntracks:{user}/{device}"


def frigate_alias(camera: str) -> str:
    """The alias under which a Frigate camera name is registered."""
    return f"frigate:{camera}"


def validate_alias(alias: str) -> str:
    if not _ALIAS_RE.match(alias):
        raise DeviceError(f"alias {alias!r} must look like owntracks:USER/DEVICE, frigate:CAMERA "
                          "or osmand:ID (no spaces, '/', '+' or '#' inside a part)")
    return alias


def validate_device_id(dev: str) -> str:
    if not is_device_id(dev):
        raise DeviceError(f"device id {dev!r} must match ^[a-z0-9][a-z0-9_-]{{0,63}}$")
    if is_service_account(dev):
        raise DeviceError(f"device id {dev!r} is reserved: ids starting with 'gridwatch-' "
                          "are the cloud's own broker accounts")
    return dev


def _validate_position(kind: str, lat: float | None, lon: float | None,
                       old: tuple[float | None, float | None]) -> None:
    if (lat is None) != (lon is None):
        raise DeviceError("give both --lat and --lon, or neither")
    if lat is not None:
        if not (math.isfinite(lat) and -90 <= lat <= 90 and math.isfinite(lon) and -180 <= lon <= 180):
            raise DeviceError(f"position {lat}, {lon} is out of range (lat -90..90, lon -180..180)")
    elif kind in FIXED_POSITION_KINDS and None in old:
        raise DeviceError(f"a {kind} has a fixed position: give --lat and --lon")


def _aliases(dev: str, alias: str | Iterable[str] | None) -> list[str]:
    if alias is None:
        return []
    out = [validate_alias(a) for a in ([alias] if isinstance(alias, str) else alias)]
    for a in out:
        # The broker lets user X publish only under owntracks/X/: an alias whose user part
        # is another device would let X's app plant positions as this one.
        if a.startswith("owntracks:") and a[len("owntracks:"):].split("/", 1)[0] != dev:
            raise DeviceError(f"alias {a!r}: the OwnTracks user must be the device id {dev!r} "
                              "(the app logs in to the broker as that device)")
    return out


def add_device(conn: psycopg.Connection, dev: str, kind: str, alias: str | Iterable[str] | None = None,
               lat: float | None = None, lon: float | None = None, password: str | None = None, *,
               rotate: bool = False, iterations: int = PBKDF2_ITERATIONS) -> str | None:
    """Register (create, or update) a device; returns its new broker password, or
    None when the device keeps the credentials it already has.

    A new password is issued when `password` is given, when `rotate` is set, or
    when the device has none yet (a random one unless `password` is given).
    Atomic: runs in its own transaction, or a savepoint of the caller's.
    """
    validate_device_id(dev)
    if kind not in KINDS:
        raise DeviceError(f"kind {kind!r} must be one of {', '.join(KINDS)}")
    if password is not None and len(password) < MIN_PASSWORD_LENGTH:
        raise DeviceError(f"a broker password needs at least {MIN_PASSWORD_LENGTH} characters")
    aliases = _aliases(dev, alias)
    with conn.transaction():
        # Serialise concurrent adds of the same id, including one not yet in the table.
        conn.execute("SELECT pg_advisory_xact_lock(hashtext('gridwatch.device'), hashtext(%s))", (dev,))
        row = conn.execute("SELECT lat, lon, broker_password_hash IS NOT NULL FROM device WHERE dev = %s",
                           (dev,)).fetchone()
        _validate_position(kind, lat, lon, (row[0], row[1]) if row else (None, None))
        issued = password if password is not None else (
            new_password() if rotate or not (row and row[2]) else None)
        conn.execute(
            """INSERT INTO device (dev, kind, registered, lat, lon, broker_password_hash)
               VALUES (%s, %s, true, %s, %s, %s)
               ON CONFLICT (dev) DO UPDATE SET
                   kind = EXCLUDED.kind, registered = true,
                   lat = COALESCE(EXCLUDED.lat, device.lat), lon = COALESCE(EXCLUDED.lon, device.lon),
                   broker_password_hash = COALESCE(EXCLUDED.broker_password_hash,
                                                   device.broker_password_hash)""",
            (dev, kind, lat, lon, hash_password(issued, iterations) if issued is not None else None))
        _attach_aliases(conn, dev, aliases)
    return issued


def _attach_aliases(conn: psycopg.Connection, dev: str, aliases: list[str]) -> None:
    for alias in aliases:
        owner = conn.execute(
            """INSERT INTO device_alias (alias, dev) VALUES (%s, %s)
               ON CONFLICT (alias) DO UPDATE SET alias = EXCLUDED.alias
               RETURNING dev""", (alias, dev)).fetchone()[0]
        if owner != dev:
            raise DeviceError(f"alias {alias!r} already belongs to device {owner!r}")


def resolve_alias(conn: psycopg.Connection, alias: str) -> str | None:
    """The device id an outside client's alias maps to, or None if unmapped."""
    row = conn.execute("SELECT dev FROM device_alias WHERE alias = %s", (alias,)).fetchone()
    return row[0] if row else None


def list_devices(conn: psycopg.Connection, *, registered: bool | None = None) -> list[Device]:
    """Every device (or only registered / unregistered ones), ordered by id."""
    rows = conn.execute(
        """SELECT d.dev, d.kind, d.registered, d.lat, d.lon,
                  COALESCE(array_agg(a.alias ORDER BY a.alias) FILTER (WHERE a.alias IS NOT NULL), '{}'),
                  d.broker_password_hash IS NOT NULL, d.online, d.first_seen, d.last_seen
           FROM device d LEFT JOIN device_alias a ON a.dev = d.dev
           WHERE %(reg)s::boolean IS NULL OR d.registered = %(reg)s::boolean
           GROUP BY d.dev ORDER BY d.dev""", {"reg": registered}).fetchall()
    return [Device(r[0], r[1], r[2], r[3], r[4], tuple(r[5]), r[6], r[7], r[8], r[9]) for r in rows]


def broker_password_hashes(conn: psycopg.Connection) -> dict[str, str]:
    """Username -> `$7$` hash of every registered device that has credentials."""
    rows = conn.execute("""SELECT dev, broker_password_hash FROM device
                           WHERE registered AND broker_password_hash IS NOT NULL""").fetchall()
    return {dev: h for dev, h in rows if not is_service_account(dev)}


def revoke_device(conn: psycopg.Connection, dev: str) -> bool:
    """Delete a device's broker credentials (the device and its data stay); True
    if it had any. The broker refuses it after the next `broker sync`."""
    with conn.transaction():
        row = conn.execute("""UPDATE device SET broker_password_hash = NULL
                              WHERE dev = %s AND broker_password_hash IS NOT NULL RETURNING dev""",
                           (dev,)).fetchone()
    return row is not None
