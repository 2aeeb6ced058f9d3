"""The closed loop: statuses, actions, who may take them, and the guarded transition.

    reported --register--> registered --dispatch--> dispatched --handle--> handled
    handled --verify--> verified --close--> closed
    handled | verified --reopen--> dispatched          (verification failed)
    reported | registered --reject--> rejected         (not worth a case)

The supervision centre (admin, supervisor) registers, rejects, verifies, closes
and reopens; operators of the owning department dispatch and handle; admins
may do both. Verification must be by someone other than the handler (four
eyes), which the guarded UPDATE itself enforces. Every transition appends one
history row in the caller's transaction.
"""
from __future__ import annotations

from dataclasses import dataclass

import psycopg

from .errors import ActionForbidden, ActionNotAllowed, CaseNotFound

STATUSES = ("reported", "registered", "dispatched", "handled", "verified", "closed", "rejected")
FINAL = ("closed", "rejected")
OPEN = tuple(s for s in STATUSES if s not in FINAL)
# Statuses whose SLA clock still runs (the deadline is for handling).
CLOCKED = ("reported", "registered", "dispatched")
CENTRE, DEPARTMENT = "centre", "department"


@dataclass(frozen=True, slots=True)
class Rule:
    sources: tuple[str, ...]
    target: str
    who: str


ACTIONS: dict[str, Rule] = {
    "register": Rule(("reported",), "registered", CENTRE),
    "reject": Rule(("reported", "registered"), "rejected", CENTRE),
    "dispatch": Rule(("registered",), "dispatched", DEPARTMENT),
    "handle": Rule(("dispatched",), "handled", DEPARTMENT),
    "verify": Rule(("handled",), "verified", CENTRE),
    "close": Rule(("verified",), "closed", CENTRE),
    "reopen": Rule(("handled", "verified"), "dispatched", CENTRE),
}


@dataclass(frozen=True, slots=True)
class Actor:
    name: str
    role: str                   # admin | supervisor | operator
    department: str | None = None


@dataclass(frozen=True, slots=True)
class Transition:
    case_id: int
    action: str
    from_status: str
    to_status: str


def may_take(actor: Actor, action: str, case_department: str) -> bool:
    """Whether the actor's role (and department) allows the action at all."""
    who = ACTIONS[action].who
    if actor.role == "admin":
        return True
    if who == CENTRE:
        return actor.role == "supervisor"
    return actor.role == "operator" and actor.department == case_department


def allowed_actions(actor: Actor, status: str, department: str, handled_by: str | None) -> list[str]:
    """The actions this actor could take on a case now (for the API's case view)."""
    return [a for a, rule in ACTIONS.items()
            if status in rule.sources and may_take(actor, a, department)
            and not (a == "verify" and handled_by == actor.name)]


_APPLY = """
UPDATE case_file c SET status = %(to)s, updated_at = now(),
    handled_at = CASE WHEN %(to)s = 'handled' THEN now() ELSE c.handled_at END,
    handled_by = CASE WHEN %(to)s = 'handled' THEN %(actor)s ELSE c.handled_by END,
    verified_by = CASE WHEN %(to)s = 'verified' THEN %(actor)s ELSE c.verified_by END,
    closed_at = CASE WHEN %(to)s = 'closed' THEN now() ELSE c.closed_at END,
    reopen_count = c.reopen_count + CASE WHEN %(action)s = 'reopen' THEN 1 ELSE 0 END
FROM (SELECT id, status FROM case_file WHERE id = %(id)s FOR UPDATE) old
WHERE c.id = old.id AND c.status = ANY(%(sources)s)
  AND (%(action)s <> 'verify' OR c.handled_by IS DISTINCT FROM %(actor)s)
RETURNING old.status
"""


def apply(cur: psycopg.Cursor, case_id: int, action: str, actor: str, note: str = "") -> Transition | None:
    """Take the action if the case's status (and the four-eyes rule) allow it, with its
    history row; None when the guard refused. No permission check: callers decide who."""
    rule = ACTIONS[action]
    row = cur.execute(_APPLY, {"to": rule.target, "actor": actor, "action": action, "id": case_id,
                               "sources": list(rule.sources)}).fetchone()
    if row is None:
        return None
    cur.execute("INSERT INTO case_history (case_id, actor, action, from_status, to_status, note) "
                "VALUES (%s, %s, %s, %s, %s, %s)", (case_id, actor, action, row[0], rule.target, note))
    return Transition(case_id, action, row[0], rule.target)


def perform(conn: psycopg.Connection, case_id: int, action: str, actor: Actor, note: str = "",
            visible: str = "TRUE", params: dict | None = None) -> Transition:
    """A user's action, in one transaction: 404 when the case is not visible (`visible` is an
    SQL condition on alias c), 403 when the actor may not, 409 when the status does not allow it."""
    if action not in ACTIONS:
        raise ActionNotAllowed(f"unknown action {action!r}; one of {', '.join(ACTIONS)}")
    with conn.transaction(), conn.cursor() as cur:
        found = cur.execute(f"SELECT c.department FROM case_file c WHERE c.id = %(id)s AND {visible}",
                            {**(params or {}), "id": case_id}).fetchone()
        if found is None:
            raise CaseNotFound(f"no case {case_id}")
        if not may_take(actor, action, found[0]):
            raise ActionForbidden(f"{actor.role} {actor.name!r} may not {action} a case of {found[0]!r}")
        done = apply(cur, case_id, action, actor.name, note)
        if done is not None:
            return done
        status, handled_by = cur.execute("SELECT status, handled_by FROM case_file WHERE id = %s",
                                         (case_id,)).fetchone()
    if action == "verify" and status == "handled" and handled_by == actor.name:
        raise ActionForbidden(f"case {case_id} was handled by {actor.name!r}: someone else must verify it")
    raise ActionNotAllowed(f"cannot {action} case {case_id}: it is {status} "
                           f"(allowed from {', '.join(ACTIONS[action].sources)})")
