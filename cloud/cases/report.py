"""Evaluation: how departments, kinds and grids do against their deadlines, and
against the seeds' benchmarks (90% of events handled within 8 hours, 80% of
component problems within 3 days).

A case counts towards on-time when it is judged: handled (on time when
handled by its deadline), or still unhandled past its deadline (late).
Rejected cases count nowhere but in `cases`.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime

import psycopg

BENCHMARKS = (
    # name, which cases, hours, target share
    ("events_handled_within_8h", "c.routed_by <> 'component'", 8, 0.90),
    ("component_problems_handled_within_3d", "c.routed_by = 'component'", 72, 0.80),
)


@dataclass(frozen=True)
class GroupFigures:
    dimension: str          # department | kind | grid
    key: str | None
    cases: int
    open: int
    overdue: int
    on_time_rate: float | None
    mean_hours_to_close: float | None
    rework_rate: float | None


@dataclass(frozen=True)
class Benchmark:
    name: str
    target: float
    judged: int
    met: int
    rate: float | None
    passed: bool | None


_GROUPS = """
SELECT CASE WHEN grouping(c.department) = 0 THEN 'department'
            WHEN grouping(c.kind) = 0 THEN 'kind' ELSE 'grid' END,
       coalesce(c.department, c.kind, c.grid),
       count(*),
       count(*) FILTER (WHERE c.status NOT IN ('closed', 'rejected')),
       count(*) FILTER (WHERE c.status IN ('reported', 'registered', 'dispatched') AND c.due_at < now()),
       count(*) FILTER (WHERE c.handled_at IS NOT NULL AND c.handled_at <= c.due_at),
       count(*) FILTER (WHERE c.handled_at IS NOT NULL
                        OR (c.status IN ('reported', 'registered', 'dispatched') AND c.due_at < now())),
       avg(extract(epoch FROM c.closed_at - c.opened_at) / 3600) FILTER (WHERE c.closed_at IS NOT NULL),
       count(*) FILTER (WHERE c.reopen_count > 0),
       count(*) FILTER (WHERE c.handled_at IS NOT NULL)
FROM case_file c
WHERE {where}
GROUP BY GROUPING SETS ((c.department), (c.kind), (c.grid))
ORDER BY 1, 2 NULLS LAST
"""

_BENCH = """
SELECT count(*) FILTER (WHERE c.handled_at IS NOT NULL OR c.opened_at < now() - make_interval(hours => %(h)s)),
       count(*) FILTER (WHERE c.handled_at <= c.opened_at + make_interval(hours => %(h)s))
FROM case_file c WHERE c.status <> 'rejected' AND {which} AND {where}
"""


def _rate(num: int, den: int) -> float | None:
    return round(num / den, 4) if den else None


def _where(visible: str, since: datetime | None, until: datetime | None) -> str:
    parts = [visible]
    if since is not None:
        parts.append("c.opened_at >= %(since)s")
    if until is not None:
        parts.append("c.opened_at < %(until)s")
    return " AND ".join(parts)


def evaluate(conn: psycopg.Connection, since: datetime | None = None, until: datetime | None = None,
             visible: str = "TRUE", vparams: dict | None = None) -> dict:
    """Figures per department, kind and grid, and each benchmark with whether it is met."""
    where = _where(visible, since, until)
    params = {**(vparams or {}), "since": since, "until": until}
    groups = []
    for dim, key, cases, opened, overdue, on_time, judged, mean_h, reworked, handled in conn.execute(
            _GROUPS.format(where=where), params):
        groups.append(GroupFigures(dim, key, cases, opened, overdue, _rate(on_time, judged),
                                   round(float(mean_h), 3) if mean_h is not None else None,
                                   _rate(reworked, handled)))
    benchmarks = []
    for name, which, hours, target in BENCHMARKS:
        judged, met = conn.execute(_BENCH.format(which=which, where=where), {**params, "h": hours}).fetchone()
        rate = _rate(met, judged)
        benchmarks.append(Benchmark(name, target, judged, met, rate, None if rate is None else rate >= target))
    return {"groups": [asdict(g) for g in groups], "benchmarks": [asdict(b) for b in benchmarks]}


def format_report(report: dict) -> str:
    lines = [f"{'dimension':<11} {'key':<28} {'cases':>6} {'open':>5} {'overdue':>7} {'on-time':>8} "
             f"{'close h':>8} {'rework':>7}"]
    for g in report["groups"]:
        lines.append(f"{g['dimension']:<11} {str(g['key']):<28.28} {g['cases']:>6} {g['open']:>5} "
                     f"{g['overdue']:>7} {_pct(g['on_time_rate']):>8} {_num(g['mean_hours_to_close']):>8} "
                     f"{_pct(g['rework_rate']):>7}")
    lines.append("")
    for b in report["benchmarks"]:
        verdict = "n/a" if b["passed"] is None else ("met" if b["passed"] else "NOT met")
        lines.append(f"{b['name']}: {_pct(b['rate'])} of {b['judged']} (target {b['target']:.0%}): {verdict}")
    return "\n".join(lines)


def _pct(x: float | None) -> str:
    return "-" if x is None else f"{x:.1%}"


def _num(x: float | None) -> str:
    return "-" if x is None else f"{x:.2f}"
