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

from cloud.db.errors import DatabaseError, SchemaOutOfDate, StorageModeConflict, wrap_errors

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

    @property
    def label(self) -> str:
        return f"{self.version:04d}_{self.name}"


class MigrationFailed(DatabaseError):
    """A migration's SQL failed; its transaction was rolled back."""


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
            raise StorageModeConflict(f"storage mode is already {row[0]!r}; it cannot change to {wanted!r} "
                                      "(migrate a new database to use another mode)")
        return row[0]
    if wanted:
        return wanted
    return _default_mode(conn)


def _default_mode(conn: psycopg.Connection) -> str:
    # An installed package is not enough: CREATE EXTENSION timescaledb fails
    # unless the library is preloaded, and the first migrate fixes the mode for good.
    available, usable = conn.execute(
        """SELECT EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = 'timescaledb'),
                  EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'timescaledb')
                  OR current_setting('shared_preload_libraries') ~ '(^|[\\s,])timescaledb([\\s,]|$)'"""
    ).fetchone()
    if available and not usable:
        log.warning("TimescaleDB is installed but not in shared_preload_libraries: using native partitions; "
                    "to use TimescaleDB instead, preload it, restart PostgreSQL and migrate a new database")
    return "timescale" if usable else "partitioned"


def _has_table(conn: psycopg.Connection, name: str) -> bool:
    return conn.execute("SELECT to_regclass(%s) IS NOT NULL", (name,)).fetchone()[0]


def migrate(conninfo: str, mode: str | None = None) -> list[str]:
    """Apply what is missing; returns the names applied (empty when up to date)."""
    done: list[str] = []
    with wrap_errors(conninfo):
        conn = psycopg.connect(conninfo, autocommit=True)
    with conn:
        conn.execute("SELECT pg_advisory_lock(%s)", (_MIGRATE_LOCK,))
        try:
            conn.execute("""CREATE TABLE IF NOT EXISTS schema_migration (
                version int PRIMARY KEY, name text NOT NULL,
                applied_at timestamptz NOT NULL DEFAULT now())""")
            chosen = _detect_mode(conn, mode)
            applied = {r[0] for r in conn.execute("SELECT version FROM schema_migration")}
            for mig in plan(available(), chosen, applied):
                _apply(conn, mig, chosen)
                log.info("applied migration %s (%s)", mig.label, chosen)
                done.append(mig.label)
        finally:
            conn.execute("SELECT pg_advisory_unlock(%s)", (_MIGRATE_LOCK,))
    return done


def _apply(conn: psycopg.Connection, mig: Migration, mode: str) -> None:
    try:
        with conn.transaction():
            conn.execute(mig.sql)
            conn.execute("INSERT INTO schema_migration (version, name) VALUES (%s, %s)", (mig.version, mig.name))
            if mig.version == 1:
                conn.execute("INSERT INTO schema_meta VALUES ('storage_mode', %s)", (mode,))
    except psycopg.Error as exc:
        hint = f" ({exc.diag.message_hint})" if exc.diag.message_hint else ""
        raise MigrationFailed(f"migration {mig.label} ({mode}) failed and was rolled back: {exc}{hint}") from exc


def status(conninfo: str) -> dict:
    with wrap_errors(conninfo), psycopg.connect(conninfo) as conn:
        if not _has_table(conn, "schema_migration"):
            pending = plan(available(), _default_mode(conn), set())
            return {"storage_mode": None, "applied": [], "pending": [m.label for m in pending]}
        mode = conn.execute("SELECT value FROM schema_meta WHERE key = 'storage_mode'").fetchone()
        applied = {r[0]: r[1] for r in conn.execute("SELECT version, name FROM schema_migration ORDER BY version")}
        mode_name = mode[0] if mode else None
        pending = [m.label for m in plan(available(), mode_name or "partitioned", set(applied))]
        return {"storage_mode": mode_name,
                "applied": [f"{v:04d}_{n}" for v, n in applied.items()],
                "pending": pending}


def check_schema(conn: psycopg.Connection) -> None:
    """Raise SchemaOutOfDate unless the database has exactly the migrations this code ships.

    For a process's start-up: better a clear refusal than errors on first use.
    """
    with wrap_errors():
        if not _has_table(conn, "schema_migration"):
            raise SchemaOutOfDate("the database has no gridwatch schema; run `gridwatch db migrate`")
        applied = {r[0] for r in conn.execute("SELECT version FROM schema_migration")}
    known = {m.version for m in available()}
    if applied - known:
        newer = ", ".join(f"{v:04d}" for v in sorted(applied - known))
        raise SchemaOutOfDate(f"the database was migrated by a newer gridwatch (migrations {newer} are "
                              "unknown here); upgrade this gridwatch")
    if known - applied:
        missing = ", ".join(f"{v:04d}" for v in sorted(known - applied))
        raise SchemaOutOfDate(f"migrations {missing} are pending; run `gridwatch db migrate`")
