"""Cases (CONTRACT section 6): `GET /api/v1/cases`, `GET /api/v1/cases/{id}`,
`POST /api/v1/cases/{id}/actions`, and the evaluation `GET /api/v1/cases/report`.

Who sees which case is decided in one dependency, `case_scope`: the caller's
grid scope (a supervisor sees its grid subtree), narrowed for operators to
their own department's cases.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Response, status
from pydantic import BaseModel, Field

from cloud.api.deps import Conn, CurrentSession, InstantParam, PageParams, Session
from cloud.api.models import Instant, Page
from cloud.cases import queries, report, workflow
from cloud.cases.errors import ActionForbidden, ActionNotAllowed, CaseNotFound

router = APIRouter(tags=["cases"])

Status = Literal["reported", "registered", "dispatched", "handled", "verified", "closed", "rejected"]
Action = Literal["register", "dispatch", "handle", "verify", "close", "reopen", "reject"]


@dataclass(frozen=True, slots=True)
class CaseScope:
    """An SQL condition on case alias `c` and its parameters, plus the acting user."""

    sql: str
    params: dict
    actor: workflow.Actor


def case_visibility(session: Session) -> tuple[str, dict]:
    """The one rule of who sees which case, as an SQL condition on alias `c` (API and live feed)."""
    user = session.user
    conds = [session.scope.rows("c.grid")]
    params = dict(session.scope.params)
    if user.role == "operator":
        conds.append("c.department = %(scope_department)s")
        params["scope_department"] = user.department or ""
    return " AND ".join(conds), params


def case_scope(session: CurrentSession) -> CaseScope:
    user = session.user
    sql, params = case_visibility(session)
    return CaseScope(sql, params, workflow.Actor(user.name, user.role, user.department))


VisibleCases = Annotated[CaseScope, Depends(case_scope)]
CaseId = Annotated[int, Path(ge=1, description="case id")]


class CaseOut(BaseModel):
    id: int
    kind: str
    status: Status
    department: str
    grid: str | None
    opened_at: Instant
    due_at: Instant
    evidence_count: int
    lat: float | None
    lon: float | None
    routed_by: str
    component: str | None
    confidence: float
    origin: str
    warn_at: Instant
    warned_at: Instant | None
    overdue_at: Instant | None
    escalated_to: str | None
    handled_at: Instant | None
    handled_by: str | None
    verified_by: str | None
    closed_at: Instant | None
    reopen_count: int
    updated_at: Instant


class HistoryOut(BaseModel):
    id: int
    at: Instant
    actor: str
    action: str
    from_status: str | None
    to_status: str | None
    note: str


class EvidenceOut(BaseModel):
    source: str
    dev: str
    seq: int
    ts: Instant
    lat: float | None
    lon: float | None
    confidence: float
    track_key: str | None
    note: str
    has_image: bool
    image: str | None = Field(default=None, description="URL of the snapshot or photo, when there is one")


class CaseDetail(CaseOut):
    history: list[HistoryOut]
    evidence: list[EvidenceOut]
    actions: list[str] = Field(description="actions the caller may take now")


class ActionIn(BaseModel):
    action: Action
    note: str = Field(default="", max_length=2000)


@router.get("/cases", response_model=Page[CaseOut], summary="Cases visible to the caller, newest first")
def cases(scope: VisibleCases, conn: Conn, page: PageParams,
          status_: Annotated[Status | None, Query(alias="status")] = None,
          kind: str | None = None,
          grid: Annotated[str | None, Query(description="this grid and every grid below it")] = None,
          department: str | None = None,
          overdue: bool | None = None,
          after_id: Annotated[int | None, Query(ge=0, description="only cases with a larger id, oldest first "
                                                 "(polling: ids are taken at insert and may commit out of order, so "
                                                 "re-read a margin below the highest id seen)")] = None) -> Page[CaseOut]:
    flt = queries.CaseFilter(status_, kind, grid, department, overdue, after_id)
    items, total = queries.list_cases(conn, scope.sql, scope.params, flt, page.limit, page.offset)
    return Page[CaseOut](items=[CaseOut(**i) for i in items], total=total)


@router.get("/cases/report", summary="On-time rate, time to close, rework, open and overdue; benchmarks")
def case_report(scope: VisibleCases, conn: Conn,
                since: Annotated[InstantParam | None, Query(description="cases opened from")] = None,
                until: Annotated[InstantParam | None, Query(description="cases opened before")] = None) -> dict:
    return report.evaluate(conn, since, until, scope.sql, scope.params)


def _detail(conn, case_id: int, scope: CaseScope) -> CaseDetail:
    found = queries.get_case(conn, case_id, scope.sql, scope.params)
    if found is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no case {case_id}")
    actions = workflow.allowed_actions(scope.actor, found["status"], found["department"], found["handled_by"])
    evidence = [EvidenceOut(**e, image=f"/api/v1/cases/{case_id}/images/{e['source']}/{e['dev']}/{e['seq']}"
                            if e["has_image"] else None) for e in queries.evidence(conn, case_id)]
    return CaseDetail(**found, history=queries.history(conn, case_id), evidence=evidence, actions=actions)


@router.get("/cases/{case_id}", response_model=CaseDetail, summary="One case with its history and evidence",
            responses={404: {"description": "no such case, or none the caller may see"}})
def case(case_id: CaseId, scope: VisibleCases, conn: Conn) -> CaseDetail:
    return _detail(conn, case_id, scope)


@router.get("/cases/{case_id}/images/{source}/{dev}/{seq}", response_class=Response,
            summary="The snapshot (detection) or photo (field report) of one piece of evidence",
            responses={200: {"content": {"image/jpeg": {}}}, 404: {"description": "no such case or image"}})
def evidence_image(case_id: CaseId, source: Literal["detection", "field_report"], dev: str,
                   seq: Annotated[int, Path(ge=0)], scope: VisibleCases, conn: Conn) -> Response:
    if queries.get_case(conn, case_id, scope.sql, scope.params) is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no case {case_id}")
    image = queries.evidence_image(conn, case_id, source, dev, seq)
    if image is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no such image in this case's evidence")
    return Response(image, media_type="image/jpeg", headers={"Cache-Control": "private, max-age=3600"})


@router.post("/cases/{case_id}/actions", response_model=CaseDetail, summary="Take a workflow action",
             responses={403: {"description": "the caller may not take this action (role, department, "
                                             "or verifying its own handling)"},
                        404: {"description": "no such case, or none the caller may see"},
                        409: {"description": "the action is not allowed from the case's current status"}})
def act(case_id: CaseId, body: ActionIn, scope: VisibleCases, conn: Conn) -> CaseDetail:
    try:
        workflow.perform(conn, case_id, body.action, scope.actor, body.note, scope.sql, scope.params)
    except CaseNotFound as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, str(exc)) from None
    except ActionForbidden as exc:
        raise HTTPException(status.HTTP_403_FORBIDDEN, str(exc)) from None
    except ActionNotAllowed as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, str(exc)) from None
    return _detail(conn, case_id, scope)
