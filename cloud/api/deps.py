"""Dependencies shared by the routes: the pool, the caller's session, its grid scope,
role checks, paging and time parameters.

Every scope check of the API goes through `user_scope()`: routes only ask the
resulting `Scope` for SQL conditions, never look at roles or grids themselves.
"""
from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Annotated

import psycopg
from fastapi import Depends, HTTPException, Query, Request, status
from fastapi.security import OAuth2PasswordBearer
from psycopg_pool import ConnectionPool
from pydantic import BeforeValidator

from cloud.users import User, lookup_token
from gridwatch.settings import Settings

UTC = timezone.utc
MAX_LIMIT = 10_000
# How long a request waits for a pooled connection before it is answered 503.
CHECKOUT_TIMEOUT_S = 5.0
DEFAULT_WINDOW = timedelta(hours=24)

_bearer = OAuth2PasswordBearer(tokenUrl="/api/v1/token", auto_error=False)


def get_pool(request: Request) -> ConnectionPool:
    return request.app.state.pool


def get_settings(request: Request) -> Settings:
    return request.app.state.settings


Pool = Annotated[ConnectionPool, Depends(get_pool)]
AppSettings = Annotated[Settings, Depends(get_settings)]


def connection(pool: ConnectionPool) -> AbstractContextManager[psycopg.Connection]:
    """A pooled connection, committed when the block ends normally; PoolTimeout (a 503) when
    none is free within CHECKOUT_TIMEOUT_S."""
    return pool.connection(timeout=CHECKOUT_TIMEOUT_S)


def get_conn(pool: Pool) -> Iterator[psycopg.Connection]:
    """One pooled connection for the request."""
    with connection(pool) as conn:
        yield conn


Conn = Annotated[psycopg.Connection, Depends(get_conn)]


# --- scope ------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class Scope:
    """The grids a caller may see: None means all of them.

    Conditions are SQL text using the named parameter %(scope_grids)s; merge
    `params` into the query's parameters.
    """

    grids: tuple[str, ...] | None

    @property
    def params(self) -> dict:
        return {"scope_grids": list(self.grids or ())}

    def rows(self, grid_column: str) -> str:
        """Condition on rows carrying a grid code (a heartbeat's `grid`)."""
        return "TRUE" if self.grids is None else f"{grid_column} = ANY(%(scope_grids)s)"

    def devices(self, dev_column: str) -> str:
        """Condition on a device id: the device has reported a position inside the scope."""
        if self.grids is None:
            return "TRUE"
        return (f"EXISTS (SELECT 1 FROM heartbeat scope_hb WHERE scope_hb.dev = {dev_column}"
                f" AND scope_hb.grid = ANY(%(scope_grids)s))")


def user_scope(conn: psycopg.Connection, user: User) -> Scope:
    """What a user may see. Admins and unscoped users see everything; a scoped user
    sees its grid and the grids below it, as the database's gw_grid_subtree() says."""
    if user.role == "admin" or user.scope_grid is None:
        return Scope(None)
    rows = conn.execute("SELECT g FROM gw_grid_subtree(%s) AS g", (user.scope_grid,)).fetchall()
    return Scope(tuple(sorted({r[0] for r in rows if r[0] is not None})))


# --- authentication ----------------------------------------------------------

@dataclass(frozen=True, slots=True)
class Session:
    user: User
    token: str
    expires_at: datetime
    scope: Scope


def unauthorized(detail: str) -> HTTPException:
    return HTTPException(status.HTTP_401_UNAUTHORIZED, detail, headers={"WWW-Authenticate": "Bearer"})


def open_session(conn: psycopg.Connection, token: str) -> Session | None:
    """The session of a bearer token, with the user's scope; None when the token is not valid now."""
    found = lookup_token(conn, token)
    if found is None:
        return None
    user, expires_at = found
    return Session(user, token, expires_at, user_scope(conn, user))


def current_session(pool: Pool, token: Annotated[str | None, Depends(_bearer)]) -> Session:
    if not token:
        raise unauthorized("not authenticated: send Authorization: Bearer <token> from POST /api/v1/token")
    with connection(pool) as conn:
        session = open_session(conn, token)
    if session is None:
        raise unauthorized("invalid or expired token")
    return session


CurrentSession = Annotated[Session, Depends(current_session)]


def require_roles(*roles: str):
    """A dependency admitting only callers with one of these roles (403 otherwise)."""

    def check(session: CurrentSession) -> Session:
        if session.user.role not in roles:
            raise HTTPException(status.HTTP_403_FORBIDDEN, f"this needs the role {' or '.join(roles)}")
        return session

    return check


DeadLetterReader = Annotated[Session, Depends(require_roles("admin", "operator"))]


# --- query parameters ----------------------------------------------------------

_EPOCH_MS = re.compile(r"^-?\d{1,16}$")


def parse_instant(value: object) -> datetime:
    """An instant from ISO-8601 (UTC when no offset is given) or integer epoch milliseconds."""
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    text = str(value).strip()
    if _EPOCH_MS.match(text):
        try:
            return datetime.fromtimestamp(int(text) / 1000, UTC)
        except (OverflowError, OSError, ValueError):
            raise ValueError(f"epoch milliseconds out of range: {text}") from None
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError("expected ISO-8601 (2024-05-01T08:00:00Z) or epoch milliseconds") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


InstantParam = Annotated[datetime, BeforeValidator(parse_instant)]


@dataclass(frozen=True, slots=True)
class Paging:
    limit: int
    offset: int


def paging(limit: Annotated[int, Query(ge=1, le=MAX_LIMIT, description="page size")] = 100,
           offset: Annotated[int, Query(ge=0, description="rows to skip")] = 0) -> Paging:
    return Paging(limit, offset)


PageParams = Annotated[Paging, Depends(paging)]


@dataclass(frozen=True, slots=True)
class Window:
    since: datetime
    until: datetime | None


def time_window(
    since: Annotated[InstantParam | None, Query(description="from (inclusive); ISO-8601 or epoch ms; "
                                                "default 24 h before `until` or now")] = None,
    until: Annotated[InstantParam | None, Query(description="to (inclusive); default open-ended")] = None,
) -> Window:
    if since is None:
        try:
            since = (until or datetime.now(UTC)) - DEFAULT_WINDOW
        except OverflowError:
            raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, "`until` is too far in the past") from None
    if until is not None and until < since:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, "`until` is before `since`")
    return Window(since, until)


TimeWindow = Annotated[Window, Depends(time_window)]
