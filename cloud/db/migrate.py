"""Numbered, forward-only SQL migrations; `gridwatch db migrate` runs them.

A migration is `NNNN_name.sql`, or a pair `NNNN_name.partitioned.sql` /
`NNNN_name.timescale.sql` of which the storage mode picks one. The mode is
chosen once, on the first migrate (TimescaleDB when the extension is available),
recorded in `schema_meta`, and never changes afterwards.
"""
from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from importlib import resources

import psycopg

log = logging.getLogger(__name__)

_FILE_RE = re.compile(r"^(?P<version>\d{4})_(?P<name>[a-z0-9_]+)(?:\.(?P<mode>partitioned|timescale))?\.sql$")
MODES = ("partitioned", "timescale")
# Any constant will do: it only has to be the same in every gridwatch process.
_MIGRATE_LOCK = 0x67726964


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    mode: str | None
    sql: str


def available() -> list[Migration]:
    out = []
    for entry in resources.files("cloud.db").joinpath("migrations").iterdir():
        m = _FILE_RE.match(entry.name)
        if m:
            out.append(Migration(int(m["version"]), m["name"], m["mode"], entry.read_text("utf-8")))
    return sorted(out, key=lambda mig: (mig.version, mig.mode or ""))


def plan(migrations: list[Migration], mode: str, applied: set[int]) -> list[Migration]:
    """The migrations still to run, in order, for one storage mode."""
    return [m for m in migrations if m.version not in applied and m.mode in (None, mode)]


def _detect_mode(conn: psycopg.Connection, wanted: str | None) -> str:
    row = conn.execute("SELECT value FROM schema_meta WHERE key = 'storage_mode'").fetchone() \
        if _has_table(conn, "schema_meta") else None
    if row:
        if wanted and wanted != row[0]:
            raise RuntimeError(f"storage mode is already {row[0]!r}; it cannot change to {wanted!r}")
        return row[0]
    if wanted:
        return wanted
    has_ts = conn.execute(
        "SELECT EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = 'timescaledb')").fetchone()[0]
    return "timescale" if has_ts else "partitioned"


def _has_table(conn: psycopg.Connection, name: str) -> bool:
    return conn.execute("SELECT to_regclass(%s) IS NOT NULL", (name,)).fetchone()[0]


def migrate(conninfo: str, mode: str | None = None) -> list[str]:
    """Apply what is missing; returns the names applied (empty when up to date)."""
    done: list[str] = []
    with psycopg.connect(conninfo, autocommit=True) as conn:
        conn.execute("SELECT pg_advisory_lock(%s)", (_MIGRATE_LOCK,))
        try:
            conn.execute("""CREATE TABLE IF NOT EXISTS schema_migration (
                version int PRIMARY KEY, name text NOT NULL,
                applied_at timestamptz NOT NULL DEFAULT now())""")
            chosen = _detect_mode(conn, mode)
            applied = {r[0] for r in conn.execute("SELECT version FROM schema_migration")}
            for mig in plan(available(), chosen, applied):
                with conn.transaction():
                    conn.execute(mig.sql)
                    conn.execute("INSERT INTO schema_migration (version, name) VALUES (%s, %s)",
                                 (mig.version, mig.name))
                    if mig.version == 1:
                        conn.execute("INSERT INTO schema_meta VALUES ('storage_mode', %s)", (chosen,))
                log.info("applied migration %04d_%s (%s)", mig.version, mig.name, chosen)
                done.append(f"{mig.version:04d}_{mig.name}")
        finally:
            conn.execute("SELECT pg_advisory_unlock(%s)", (_MIGRATE_LOCK,))
    return done


def status(conninfo: str) -> dict:
    with psycopg.connect(conninfo) as conn:
        if not _has_table(conn, "schema_migration"):
            return {"storage_mode": None, "applied": [], "pending": [m.name for m in available()]}
        mode = conn.execute("SELECT value FROM schema_meta WHERE key = 'storage_mode'").fetchone()
        applied = {r[0]: r[1] for r in conn.execute("SELECT version, name FROM schema_migration ORDER BY version")}
        mode_name = mode[0] if mode else None
        pending = [f"{m.version:04d}_{m.name}" for m in plan(available(), mode_name or "partitioned", set(applied))]
        return {"storage_mode": mode_name,
                "applied": [f"{v:04d}_{n}" for v, n in applied.items()],
                "pending": pending}
