"""Reading cases for the API and CLI: lists with filters, one case with its history
and evidence. Visibility comes in as an SQL condition on alias `c` (see
`cloud.api.routes.cases.case_scope`), so these functions never decide scope.
"""
from __future__ import annotations

from dataclasses import dataclass

import psycopg

CASE_COLUMNS = ("id", "kind", "status", "department", "grid", "opened_at", "due_at", "evidence_count",
                "lat", "lon", "routed_by", "component", "confidence", "origin", "warn_at", "warned_at",
                "overdue_at", "escalated_to", "handled_at", "handled_by", "verified_by", "closed_at",
                "reopen_count", "updated_at")
_SELECT = ", ".join(f"c.{col}" for col in CASE_COLUMNS)


@dataclass(frozen=True)
class CaseFilter:
    status: str | None = None
    kind: str | None = None
    grid: str | None = None        # the grid and everything below it
    department: str | None = None
    overdue: bool | None = None
    after_id: int | None = None    # polling: only newer cases, oldest first

    def where(self) -> list[str]:
        out = []
        if self.status:
            out.append("c.status = %(status)s")
        if self.kind:
            out.append("c.kind = %(kind)s")
        if self.grid:
            out.append("c.grid IN (SELECT g FROM gw_grid_subtree(%(grid)s) AS g)")
        if self.department:
            out.append("c.department = %(department)s")
        if self.overdue is not None:
            out.append(("" if self.overdue else "NOT ") + "(c.overdue_at IS NOT NULL)")
        if self.after_id is not None:
            out.append("c.id > %(after_id)s")
        return out

    def params(self) -> dict:
        return {"status": self.status, "kind": self.kind, "grid": self.grid, "department": self.department,
                "after_id": self.after_id}


def list_cases(conn: psycopg.Connection, visible: str, vparams: dict, flt: CaseFilter,
               limit: int, offset: int) -> tuple[list[dict], int]:
    cond = " AND ".join([visible, *flt.where()])
    params = {**vparams, **flt.params(), "limit": limit, "offset": offset}
    total = conn.execute(f"SELECT count(*) FROM case_file c WHERE {cond}", params).fetchone()[0]
    order = "c.id" if flt.after_id is not None else "c.id DESC"
    rows = conn.execute(f"SELECT {_SELECT} FROM case_file c WHERE {cond} ORDER BY {order} "
                        "LIMIT %(limit)s OFFSET %(offset)s", params).fetchall()
    return [dict(zip(CASE_COLUMNS, r)) for r in rows], total


def get_case(conn: psycopg.Connection, case_id: int, visible: str, vparams: dict) -> dict | None:
    row = conn.execute(f"SELECT {_SELECT} FROM case_file c WHERE c.id = %(id)s AND {visible}",
                       {**vparams, "id": case_id}).fetchone()
    return dict(zip(CASE_COLUMNS, row)) if row else None


HISTORY_COLUMNS = ("id", "at", "actor", "action", "from_status", "to_status", "note")
EVIDENCE_COLUMNS = ("source", "dev", "seq", "ts", "lat", "lon", "confidence", "track_key", "note", "has_image")


def history(conn: psycopg.Connection, case_id: int) -> list[dict]:
    rows = conn.execute(f"SELECT {', '.join(HISTORY_COLUMNS)} FROM case_history WHERE case_id = %s ORDER BY id",
                        (case_id,)).fetchall()
    return [dict(zip(HISTORY_COLUMNS, r)) for r in rows]


def evidence(conn: psycopg.Connection, case_id: int, limit: int = 100) -> list[dict]:
    rows = conn.execute(f"SELECT {', '.join(EVIDENCE_COLUMNS)} FROM case_evidence WHERE case_id = %s "
                        "ORDER BY ts DESC, dev, seq LIMIT %s", (case_id, limit)).fetchall()
    return [dict(zip(EVIDENCE_COLUMNS, r)) for r in rows]


_IMAGE_COLUMN = {"detection": "snapshot", "field_report": "photo"}


def evidence_image(conn: psycopg.Connection, case_id: int, source: str, dev: str, seq: int) -> bytes | None:
    """The snapshot or photo of one piece of a case's evidence, from its source row; None when it has none."""
    column = _IMAGE_COLUMN.get(source)
    if column is None:
        return None
    row = conn.execute(
        f"""SELECT s.{column} FROM case_evidence e JOIN {source} s ON (s.dev, s.ts, s.seq) = (e.dev, e.ts, e.seq)
            WHERE e.case_id = %s AND e.source = %s AND e.dev = %s AND e.seq = %s LIMIT 1""",
        (case_id, source, dev, seq)).fetchone()
    return bytes(row[0]) if row and row[0] is not None else None
