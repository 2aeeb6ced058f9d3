"""Roster import: one transaction that replaces the shifts of every worker in the file.

A roster file is the full plan of the workers it names: their old shifts (all
dates, weekly and dated) are deleted and the file's inserted; workers not in
the file keep theirs. Re-importing the same file is idempotent. Bumps
registry_version 'roster' so long-running processes can reload.
"""
from __future__ import annotations

from dataclasses import dataclass

import psycopg

from .rosterfile import RosterEntry, parse_roster


@dataclass(frozen=True, slots=True)
class RosterImport:
    workers: int
    shifts: int
    replaced: int
    # Handsets the registry has never seen: allowed (a roster may come before the phones),
    # but worth a warning, since a typo here makes a worker look absent.
    unknown_devices: tuple[str, ...] = ()


def grid_levels(conn: psycopg.Connection) -> dict[str, str]:
    return dict(conn.execute("SELECT code, level FROM grid"))


def import_roster(conn: psycopg.Connection, text: str) -> RosterImport:
    """Check the file against the grid registry and store it (see the module docstring)."""
    with conn.transaction():
        # Grids cannot change under the check: a grid import takes the same lock.
        conn.execute("SELECT pg_advisory_xact_lock(hashtext('gridwatch.grid_import'))")
        entries = parse_roster(text, grid_levels(conn))
        return _replace(conn, entries)


def _replace(conn: psycopg.Connection, entries: list[RosterEntry]) -> RosterImport:
    workers = sorted({e.worker for e in entries})
    replaced = conn.execute("DELETE FROM roster_shift WHERE worker = ANY(%s)", (workers,)).rowcount
    with conn.cursor() as cur:
        cur.executemany(
            """INSERT INTO roster_shift (worker, dev, grid, day, days_of_week, start_local, end_local, tz)
               VALUES (%s, %s, %s, %s, %s, %s, %s, %s)""",
            [(e.worker, e.dev, e.grid, e.day, list(e.days_of_week) if e.days_of_week else None,
              e.start, e.end, e.tz) for e in entries])
    conn.execute("UPDATE registry_version SET version = version + 1, changed_at = now() WHERE name = 'roster'")
    devs = sorted({e.dev for e in entries})
    known = {r[0] for r in conn.execute("SELECT dev FROM device WHERE dev = ANY(%s)", (devs,))}
    return RosterImport(len(workers), len(entries), replaced, tuple(d for d in devs if d not in known))
