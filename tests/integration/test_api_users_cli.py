"""`gridwatch users add`: password from the option or standard input, clear errors."""
from __future__ import annotations

import io

import psycopg
import pytest

from cloud.users import authenticate
from gridwatch.cli import main


@pytest.fixture
def env_db(db_url, monkeypatch):
    monkeypatch.setenv("GRIDWATCH_DATABASE_URL", db_url)
    return db_url


def _user_row(db_url, name):
    with psycopg.connect(db_url) as conn:
        return conn.execute("SELECT role, scope_grid, department FROM app_user WHERE name = %s", (name,)).fetchone()


def test_users_add_with_password_option(env_db, capsys):
    assert main(["users", "add", "ann", "--role", "supervisor", "--scope", "G-01", "--department", "sanitation",
                 "--password", "s3cret"]) == 0
    assert "ann" in capsys.readouterr().out
    assert _user_row(env_db, "ann") == ("supervisor", "G-01", "sanitation")
    with psycopg.connect(env_db) as conn:
        assert authenticate(conn, "ann", "s3cret") is not None
        assert authenticate(conn, "ann", "wrong") is None


def test_users_add_reads_the_password_from_standard_input(env_db, monkeypatch):
    monkeypatch.setattr("sys.stdin", io.StringIO("from stdin\n"))
    assert main(["users", "add", "bob", "--role", "operator"]) == 0
    with psycopg.connect(env_db) as conn:
        assert authenticate(conn, "bob", "from stdin") is not None


def test_an_empty_password_is_refused(env_db, monkeypatch, capsys):
    monkeypatch.setattr("sys.stdin", io.StringIO("\n"))
    assert main(["users", "add", "bob", "--role", "operator"]) == 2
    assert "password must not be empty" in capsys.readouterr().err
    assert main(["users", "add", "bob", "--role", "operator", "--password", ""]) == 2
    assert _user_row(env_db, "bob") is None


def test_a_duplicate_name_is_a_clear_error_with_exit_code_2(env_db, capsys):
    assert main(["users", "add", "ann", "--role", "admin", "--password", "a"]) == 0
    assert main(["users", "add", "ann", "--role", "operator", "--password", "b"]) == 2
    assert "a user named 'ann' already exists" in capsys.readouterr().err
    assert _user_row(env_db, "ann")[0] == "admin"


def test_an_unknown_role_is_refused_by_the_parser(env_db, capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["users", "add", "ann", "--role", "root", "--password", "a"])
    assert exit_.value.code == 2
    assert "invalid choice" in capsys.readouterr().err
