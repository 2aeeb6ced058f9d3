"""Logging in, token checks on every route, lockout after repeated failures."""
from __future__ import annotations

import psycopg
from cloud.users import MAX_LOGIN_FAILURES
from tests.integration.test_api_support import (app, bearer, client, login_as, make_user, pool,  # noqa: F401
                                                token_for)


def _login(client, name, password):
    return client.post("/api/v1/token", data={"username": name, "password": password})


def test_password_login_returns_a_bearer_token_that_works(client, db_url):
    make_user(db_url, "ann", "supervisor", password="correct horse")
    r = _login(client, "ann", "correct horse")
    assert r.status_code == 200
    body = r.json()
    assert body["token_type"] == "bearer"
    assert body["expires_in"] == 12 * 3600
    me = client.get("/api/v1/me", headers=bearer(body["access_token"]))
    assert me.status_code == 200
    assert me.json()["name"] == "ann" and me.json()["role"] == "supervisor"
    with psycopg.connect(db_url) as conn:
        stored = conn.execute("SELECT token_hash FROM api_token").fetchone()[0]
    assert body["access_token"].encode() not in bytes(stored)  # only the digest is kept


def test_wrong_password_and_unknown_user_get_the_same_401(client, db_url):
    make_user(db_url, "ann", "admin", password="right")
    wrong_pw = _login(client, "ann", "wrong")
    no_user = _login(client, "nobody", "right")
    assert wrong_pw.status_code == no_user.status_code == 401
    assert wrong_pw.json() == no_user.json()
    assert wrong_pw.headers["www-authenticate"] == "Bearer"


def test_ten_failures_lock_the_name_for_a_minute_even_for_the_right_password(client, db_url):
    make_user(db_url, "ann", "admin", password="right")
    for _ in range(MAX_LOGIN_FAILURES):
        assert _login(client, "ann", "guess").status_code == 401
    locked = _login(client, "ann", "right")
    assert locked.status_code == 429
    assert 0 < int(locked.headers["retry-after"]) <= 60
    with psycopg.connect(db_url) as conn:  # the minute passes
        conn.execute("UPDATE login_failure SET locked_until = now() - interval '1 second'")
    assert _login(client, "ann", "right").status_code == 200


def _seed_failures(db_url, name, failures):
    with psycopg.connect(db_url) as conn:
        conn.execute("INSERT INTO login_failure (name, failures) VALUES (%s, %s)", (name, failures))


def test_unknown_names_are_locked_too_so_a_lockout_reveals_nothing(client, db_url):
    _seed_failures(db_url, "ghost", MAX_LOGIN_FAILURES - 1)
    assert _login(client, "ghost", "x").status_code == 401
    assert _login(client, "ghost", "x").status_code == 429


def test_a_successful_login_resets_the_failure_count(client, db_url):
    make_user(db_url, "ann", "admin", password="right")
    _seed_failures(db_url, "ann", MAX_LOGIN_FAILURES - 1)
    assert _login(client, "ann", "right").status_code == 200
    assert _login(client, "ann", "guess").status_code == 401
    with psycopg.connect(db_url) as conn:
        assert conn.execute("SELECT failures FROM login_failure WHERE name = 'ann'").fetchone()[0] == 1


def test_old_failures_do_not_count_towards_a_lockout(client, db_url):
    _seed_failures(db_url, "ann", MAX_LOGIN_FAILURES - 1)
    with psycopg.connect(db_url) as conn:
        conn.execute("UPDATE login_failure SET last_failure = now() - interval '1 hour'")
    assert _login(client, "ann", "x").status_code == 401
    assert _login(client, "ann", "x").status_code == 401


def _protected_routes(app):
    """Every /api/v1 operation of the OpenAPI document except the login itself, with a device id filled in."""
    for path, operations in app.openapi()["paths"].items():
        if path.startswith("/api/v1"):
            for method in operations:
                if (method, path) != ("post", "/api/v1/token"):
                    yield method.upper(), path.replace("{dev}", "h1")


def test_every_route_rejects_missing_invalid_and_expired_tokens(app, client, db_url):
    user = make_user(db_url, "ann", "admin")
    expired = token_for(db_url, user)
    with psycopg.connect(db_url) as conn:
        conn.execute("UPDATE api_token SET expires_at = now() - interval '1 second'")
    routes = sorted(_protected_routes(app))
    assert {p for _, p in routes} >= {"/api/v1/devices", "/api/v1/devices/h1/positions", "/api/v1/deadletters",
                                      "/api/v1/live", "/api/v1/me"}
    for method, path in routes:
        for headers in ({}, bearer("not-a-token"), bearer(expired), {"Authorization": "Basic YTpi"}):
            r = client.request(method, path, headers=headers)
            assert r.status_code == 401, (method, path, headers, r.status_code)
            assert r.headers["www-authenticate"] == "Bearer"


def test_logout_revokes_the_token(client, db_url):
    headers = login_as(db_url, "ann", "operator")
    assert client.delete("/api/v1/token", headers=headers).status_code == 204
    assert client.get("/api/v1/me", headers=headers).status_code == 401


def test_a_disabled_user_loses_its_tokens(client, db_url):
    headers = login_as(db_url, "ann", "operator")
    with psycopg.connect(db_url) as conn:
        conn.execute("UPDATE app_user SET disabled = true WHERE name = 'ann'")
    assert client.get("/api/v1/devices", headers=headers).status_code == 401


def test_supervisors_may_not_read_dead_letters(client, db_url):
    assert client.get("/api/v1/deadletters", headers=login_as(db_url, "sue", "supervisor")).status_code == 403
    assert client.get("/api/v1/deadletters", headers=login_as(db_url, "oli", "operator")).status_code == 200
