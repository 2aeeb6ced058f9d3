"""The one place that turns psycopg errors into gridwatch's database errors.

Callers catch these domain types, never psycopg's, and their messages say what
to do (start the server, fix GRIDWATCH_DATABASE_URL, run `gridwatch db
migrate`, retry). An error that means a bug in gridwatch (a syntax error, a
constraint the code should have respected) is not mapped: it propagates as it
is, with its traceback.
"""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
from psycopg import errors as pg_errors
from psycopg.conninfo import conninfo_to_dict


class DatabaseError(Exception):
    """Base of gridwatch's database errors; the message is meant for a user."""


class DatabaseUnavailable(DatabaseError):
    """The server cannot be reached, or does not accept connections now."""


class DatabaseAccessDenied(DatabaseError):
    """The server refused these credentials or this role lacks a privilege."""


class SchemaOutOfDate(DatabaseError):
    """The database schema is not the one this gridwatch expects."""


class StorageModeConflict(DatabaseError):
    """A storage mode other than the one recorded on the first migrate was asked for."""


class DatabaseBusy(DatabaseError):
    """A transient conflict (deadlock, serialization, lock or statement timeout): retry."""


_MIGRATE_HINT = "run `gridwatch db migrate`"

# SQLSTATE classes and codes, by the domain error they map to.
_UNAVAILABLE_CLASSES = ("08", "57P", "53")  # connection, operator intervention, resources
_ACCESS_DENIED = ("28000", "28P01", "42501")
_SCHEMA = ("42P01", "42883", "42703", "3F000", "42704")  # undefined table/function/column/schema/object
_BUSY = ("40001", "40P01", "55P03", "57014")  # serialization, deadlock, lock timeout, statement timeout


def describe_target(conninfo: str | None) -> str:
    """`user@host:port/dbname` of a connection string, never its password."""
    if not conninfo:
        return "the configured database"
    try:
        parts = conninfo_to_dict(conninfo)
    except psycopg.ProgrammingError:
        return "an unparsable GRIDWATCH_DATABASE_URL"
    user = f"{parts['user']}@" if parts.get("user") else ""
    return f"{user}{parts.get('host', 'localhost')}:{parts.get('port', 5432)}/{parts.get('dbname', '')}"


def translate(exc: psycopg.Error, conninfo: str | None = None) -> DatabaseError | None:
    """The domain error for `exc`, or None when it is a bug to let through unchanged."""
    target = describe_target(conninfo)
    detail = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    state = exc.sqlstate or ""
    if not state and isinstance(exc, psycopg.OperationalError):
        return _connection_failure(detail, target)
    if state in _ACCESS_DENIED:
        return DatabaseAccessDenied(f"PostgreSQL at {target} refused access: {detail}")
    if state in _SCHEMA:
        return SchemaOutOfDate(f"the schema of {target} is older than this gridwatch ({detail}); {_MIGRATE_HINT}")
    if state in _BUSY:
        return DatabaseBusy(f"PostgreSQL at {target} is busy ({detail}); retry")
    if state.startswith(_UNAVAILABLE_CLASSES) or isinstance(exc, pg_errors.InterfaceError):
        return DatabaseUnavailable(
            f"PostgreSQL at {target} cannot serve now: {detail}; check that the server runs and has resources")
    return None


def _connection_failure(detail: str, target: str) -> DatabaseError:
    # libpq reports failures to connect without a SQLSTATE: only the text tells them apart.
    if "password authentication failed" in detail or ("role" in detail and "does not exist" in detail):
        return DatabaseAccessDenied(
            f"PostgreSQL at {target} refused the login: {detail}; fix the user or password in GRIDWATCH_DATABASE_URL")
    if "database" in detail and "does not exist" in detail:
        return DatabaseUnavailable(
            f"database missing at {target}: {detail}; create it (createdb) or fix GRIDWATCH_DATABASE_URL")
    return DatabaseUnavailable(
        f"cannot connect to PostgreSQL at {target}: {detail}; "
        "check that the server runs and that GRIDWATCH_DATABASE_URL points at it")


@contextmanager
def wrap_errors(conninfo: str | None = None) -> Iterator[None]:
    """Raise the domain error for any mapped psycopg error inside the block.

    Usable as a decorator too. `conninfo` only names the database in messages.
    """
    try:
        yield
    except psycopg.Error as exc:
        mapped = translate(exc, conninfo)
        if mapped is None:
            raise
        raise mapped from exc
