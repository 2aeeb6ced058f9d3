"""Logging in and out: `POST /api/v1/token` (OAuth2 password form), `DELETE /api/v1/token`, `GET /api/v1/me`."""
from __future__ import annotations

import logging
import math
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Response, status
from fastapi.security import OAuth2PasswordRequestForm
from prometheus_client import Counter
from psycopg_pool import ConnectionPool

from cloud.api.deps import AppSettings, CurrentSession, Pool, connection, unauthorized
from cloud.api.models import MeOut, TokenOut
from cloud.users import (NAME_MAX, User, authenticate, clear_login_failures, issue_token, login_locked_for,
                         note_login_failure, revoke_token)

log = logging.getLogger(__name__)
router = APIRouter(tags=["auth"])

LOGIN_FAILURES = Counter("gridwatch_api_login_failures", "Failed or refused logins", ["outcome"])


class LoginLocked(Exception):
    def __init__(self, retry_after_s: float):
        super().__init__(f"locked for {retry_after_s:.0f} s")
        self.retry_after_s = retry_after_s


def attempt_login(pool: ConnectionPool, name: str, password: str) -> User | None:
    """The user for good credentials, None for bad ones; raises LoginLocked while the name is locked.

    A failure is committed before the caller answers, so concurrent guesses all count.
    """
    key = name[:NAME_MAX]  # no real name is longer; bounds what a guesser can store
    with connection(pool) as conn:
        locked = login_locked_for(conn, key)
        if locked > 0:
            raise LoginLocked(locked)
        user = authenticate(conn, name, password)
        if user is None:
            note_login_failure(conn, key)
        else:
            clear_login_failures(conn, key)
    return user


@router.post("/token", response_model=TokenOut, summary="Exchange a user name and password for a bearer token",
             responses={401: {"description": "wrong user name or password"},
                        429: {"description": "too many failures for this user name; see Retry-After"}})
def login(form: Annotated[OAuth2PasswordRequestForm, Depends()], pool: Pool, settings: AppSettings) -> TokenOut:
    try:
        user = attempt_login(pool, form.username, form.password)
    except LoginLocked as locked:
        LOGIN_FAILURES.labels("locked").inc()
        raise HTTPException(status.HTTP_429_TOO_MANY_REQUESTS, "too many failed logins; try again later",
                            headers={"Retry-After": str(math.ceil(locked.retry_after_s))}) from None
    if user is None:
        LOGIN_FAILURES.labels("bad_credentials").inc()
        log.info("failed login for user name %r", form.username[:NAME_MAX])
        raise unauthorized("wrong user name or password")
    with connection(pool) as conn:
        issued = issue_token(conn, user, settings.token_ttl_s)
    log.info("user %s logged in", user.name)
    return TokenOut(access_token=issued.token, expires_in=settings.token_ttl_s)


@router.delete("/token", status_code=status.HTTP_204_NO_CONTENT, summary="Revoke the token of this request")
def logout(session: CurrentSession, pool: Pool) -> Response:
    with connection(pool) as conn:
        revoke_token(conn, session.token)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/me", response_model=MeOut, summary="Who the token belongs to")
def me(session: CurrentSession) -> MeOut:
    u = session.user
    return MeOut(name=u.name, role=u.role, scope=u.scope_grid, department=u.department,
                 expires_at=session.expires_at)
