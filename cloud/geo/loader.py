"""Build a GridIndex from the database's leaf grids, and reload only on change."""
from __future__ import annotations

import psycopg

from .index import GridIndex
from .registry import load_grids, registry_version


def load_index(conn: psycopg.Connection) -> GridIndex:
    """The leaf grids as an index, tagged with the registry version read before them: an import
    committing in between only causes one more reload, never a missed one."""
    version = registry_version(conn, "grid")
    rows = load_grids(conn, "grid")
    return GridIndex([r.code for r in rows], [r.geom for r in rows], version)


class IndexHolder:
    """The current GridIndex of a long-running process; `refresh` reloads when the registry changed."""

    def __init__(self) -> None:
        self.index = GridIndex([], [], version=-1)

    def refresh(self, conn: psycopg.Connection) -> bool:
        if registry_version(conn, "grid") == self.index.version:
            return False
        self.index = load_index(conn)
        return True
