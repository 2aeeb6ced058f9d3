"""Users of the API and dashboard: passwords, bearer tokens, login throttling.

Passwords are hashed with Argon2id. Tokens are opaque random strings; only their
SHA-256 is stored, so a copy of the database holds no usable session. Functions
take an open connection and never commit: the caller's step owns the transaction.
"""
from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache

import psycopg
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

ROLES = ("admin", "supervisor", "operator")
NAME_MAX = 64
# Login throttling: after this many failures in a row a name is locked for a while.
MAX_LOGIN_FAILURES = 10
LOCKOUT_S = 60
# A failure older than this no longer counts towards a lockout.
FAILURE_WINDOW_S = 15 * 60

_USER_COLUMNS = "u.id, u.name, u.role, u.scope_grid, u.department"


class UserInputError(ValueError):
    """A user record that cannot be created as asked."""


class UserExists(UserInputError):
    """The user name is taken."""


@dataclass(frozen=True, slots=True)
class User:
    id: int
    name: str
    role: str
    scope_grid: str | None
    department: str | None


@dataclass(frozen=True, slots=True)
class IssuedToken:
    token: str
    expires_at: datetime


@lru_cache(maxsize=1)
def _hasher() -> PasswordHasher:
    return PasswordHasher()


@lru_cache(maxsize=1)
def _dummy_hash() -> str:
    # Verified against when the user name is unknown, so both cases cost the same time.
    return _hasher().hash(secrets.token_hex(16))


def hash_password(password: str) -> str:
    return _hasher().hash(password)


def _check_new_user(name: str, role: str, password: str, scope: str | None) -> None:
    if not name or len(name) > NAME_MAX or name != name.strip():
        raise UserInputError(f"a user name has 1 to {NAME_MAX} characters and no surrounding spaces: {name!r}")
    if role not in ROLES:
        raise UserInputError(f"role must be one of {', '.join(ROLES)}, not {role!r}")
    if not password:
        raise UserInputError("the password must not be empty")
    if scope is not None and not scope.strip():
        raise UserInputError("a scope is a grid code and must not be empty")


def add_user(conn: psycopg.Connection, name: str, role: str, password: str,
             scope: str | None = None, department: str | None = None) -> User:
    """Create a user; raises UserExists when the name is taken, UserInputError when a field is bad."""
    _check_new_user(name, role, password, scope)
    try:
        with conn.transaction():
            row = conn.execute(
                """INSERT INTO app_user (name, password_hash, role, scope_grid, department)
                   VALUES (%s, %s, %s, %s, %s) RETURNING id""",
                (name, hash_password(password), role, scope, department or None)).fetchone()
    except psycopg.errors.UniqueViolation:
        raise UserExists(f"a user named {name!r} already exists") from None
    return User(row[0], name, role, scope, department or None)


def authenticate(conn: psycopg.Connection, name: str, password: str) -> User | None:
    """The user when name and password match an enabled account, else None."""
    row = conn.execute(
        f"SELECT {_USER_COLUMNS}, u.password_hash FROM app_user u WHERE u.name = %s AND NOT u.disabled",
        (name,)).fetchone()
    stored = row[5] if row else _dummy_hash()
    try:
        _hasher().verify(stored, password)
    except (VerificationError, InvalidHashError):
        return None
    if row is None:
        return None
    if _hasher().check_needs_rehash(stored):
        conn.execute("UPDATE app_user SET password_hash = %s WHERE id = %s", (hash_password(password), row[0]))
    return User(*row[:5])


def _digest(token: str) -> bytes:
    return hashlib.sha256(token.encode("utf-8")).digest()


def issue_token(conn: psycopg.Connection, user: User, ttl_s: int) -> IssuedToken:
    """A new bearer token for the user, valid for ttl_s seconds."""
    token = secrets.token_urlsafe(32)
    # Expired tokens are useless; dropping them here keeps the table small.
    conn.execute("DELETE FROM api_token WHERE user_id = %s AND expires_at < now()", (user.id,))
    expires_at = conn.execute(
        """INSERT INTO api_token (token_hash, user_id, expires_at)
           VALUES (%s, %s, now() + make_interval(secs => %s)) RETURNING expires_at""",
        (_digest(token), user.id, ttl_s)).fetchone()[0]
    return IssuedToken(token, expires_at)


def lookup_token(conn: psycopg.Connection, token: str) -> tuple[User, datetime] | None:
    """The user of a valid token and when it expires; None for unknown, expired or disabled."""
    row = conn.execute(
        f"""SELECT {_USER_COLUMNS}, t.expires_at FROM api_token t JOIN app_user u ON u.id = t.user_id
            WHERE t.token_hash = %s AND t.expires_at > now() AND NOT u.disabled""",
        (_digest(token),)).fetchone()
    return (User(*row[:5]), row[5]) if row else None


def revoke_token(conn: psycopg.Connection, token: str) -> bool:
    return conn.execute("DELETE FROM api_token WHERE token_hash = %s", (_digest(token),)).rowcount > 0


def login_locked_for(conn: psycopg.Connection, name: str) -> float:
    """Seconds until the name may try to log in again (0 when it may now)."""
    row = conn.execute(
        """SELECT greatest(0, extract(epoch FROM locked_until - now()))::float8
           FROM login_failure WHERE name = %s AND locked_until > now()""", (name,)).fetchone()
    return row[0] if row else 0.0


def note_login_failure(conn: psycopg.Connection, name: str) -> None:
    """Count a failed login; the MAX_LOGIN_FAILURES-th in a row locks the name for LOCKOUT_S."""
    conn.execute(
        """INSERT INTO login_failure AS f (name, failures) VALUES (%(name)s, 1)
           ON CONFLICT (name) DO UPDATE SET
               failures = CASE WHEN f.last_failure < now() - make_interval(secs => %(window)s)
                               THEN 1 ELSE f.failures + 1 END,
               last_failure = now()""",
        {"name": name, "window": FAILURE_WINDOW_S})
    conn.execute(
        """UPDATE login_failure SET failures = 0, locked_until = now() + make_interval(secs => %s)
           WHERE name = %s AND failures >= %s""", (LOCKOUT_S, name, MAX_LOGIN_FAILURES))
    # Forget old failures (of names tried once and never again) so the table stays small.
    conn.execute(
        "DELETE FROM login_failure WHERE last_failure < now() - make_interval(secs => %s) "
        "AND (locked_until IS NULL OR locked_until < now())", (FAILURE_WINDOW_S,))


def clear_login_failures(conn: psycopg.Connection, name: str) -> None:
    conn.execute("DELETE FROM login_failure WHERE name = %s", (name,))
