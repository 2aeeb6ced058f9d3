"""psycopg errors become domain errors a user can act on, and bugs stay bugs."""
from __future__ import annotations

import psycopg
import pytest
from psycopg import errors as pg

from cloud.db.errors import (DatabaseAccessDenied, DatabaseBusy, DatabaseUnavailable, SchemaOutOfDate,
                             describe_target, translate, wrap_errors)

DSN = "postgresql://gw:s3cret-pw@db.example:6543/grid"


def test_refused_connection_is_unavailable_and_names_the_target_without_password():
    exc = psycopg.OperationalError('connection failed: connection to server at "10.0.0.1", port 6543 failed: '
                                   "Connection refused\n\tIs the server running?")
    mapped = translate(exc, DSN)
    assert isinstance(mapped, DatabaseUnavailable)
    assert "gw@db.example:6543/grid" in str(mapped) and "GRIDWATCH_DATABASE_URL" in str(mapped)
    assert "s3cret" not in str(mapped)


def test_missing_database_and_bad_login_say_what_to_fix():
    missing = translate(psycopg.OperationalError('connection failed: FATAL:  database "grid" does not exist'), DSN)
    assert isinstance(missing, DatabaseUnavailable) and "createdb" in str(missing)
    login = translate(psycopg.OperationalError('connection failed: FATAL:  password authentication failed'), DSN)
    assert isinstance(login, DatabaseAccessDenied)


@pytest.mark.parametrize("error", [pg.UndefinedTable, pg.UndefinedFunction, pg.UndefinedColumn])
def test_missing_schema_objects_mean_migrations_are_pending(error):
    mapped = translate(error("relation \"heartbeat\" does not exist"))
    assert isinstance(mapped, SchemaOutOfDate) and "gridwatch db migrate" in str(mapped)


@pytest.mark.parametrize("error", [pg.DeadlockDetected, pg.SerializationFailure, pg.LockNotAvailable,
                                   pg.QueryCanceled])
def test_transient_conflicts_are_busy(error):
    assert isinstance(translate(error("x")), DatabaseBusy)


@pytest.mark.parametrize("error", [pg.AdminShutdown, pg.TooManyConnections, pg.CannotConnectNow])
def test_server_going_away_is_unavailable(error):
    assert isinstance(translate(error("x")), DatabaseUnavailable)


def test_bugs_are_not_mapped():
    assert translate(pg.SyntaxError("syntax error at or near")) is None
    assert translate(pg.UniqueViolation("duplicate key")) is None
    with pytest.raises(pg.UniqueViolation), wrap_errors(DSN):
        raise pg.UniqueViolation("duplicate key")


def test_wrap_errors_chains_the_original():
    with pytest.raises(SchemaOutOfDate) as info, wrap_errors():
        raise pg.UndefinedFunction("function gw_partition_report() does not exist")
    assert isinstance(info.value.__cause__, pg.UndefinedFunction)


def test_describe_target_defaults():
    assert describe_target("dbname=grid") == "localhost:5432/grid"
    assert describe_target(None) == "the configured database"
