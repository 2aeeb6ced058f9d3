"""What an EMQX cluster would read from gridwatch's database (migration 0005),
checked here without EMQX: the queries of deploy/emqx/emqx.conf run as EMQX
runs them (`${username}` bound as a parameter), EMQX's pbkdf2 check redone
in Python (lowercase hex of PBKDF2 over the raw salt), and the ACL rows
compared with the Mosquitto ACL template so the two cannot drift apart."""
from __future__ import annotations

import getpass
import hashlib
import re
from pathlib import Path

import psycopg
import pytest

from cloud.broker.config import CLOUD_USER, FRIGATE_USER, RELAY_USER, render_acl
from cloud.devices import add_device, revoke_device
from gridwatch.cli import main

EMQX_CONF = Path(__file__).resolve().parents[2] / "deploy" / "emqx" / "emqx.conf"


def emqx_queries() -> dict[str, str]:
    """The authn and authz queries of deploy/emqx/emqx.conf, as psycopg queries."""
    text = EMQX_CONF.read_text()
    queries = [q.replace("${username}", "%(username)s") for q in re.findall(r'^\s*query = "(.*)"$', text, re.M)]
    assert len(queries) == 2, queries
    iterations = int(re.search(r"iterations = (\d+)", text)[1])
    return {"authn": queries[0], "authz": queries[1], "iterations": iterations}


def emqx_pbkdf2_login(conn, username: str, password: str) -> bool:
    """EMQX's check: emqx_passwd:check_pass({pbkdf2, sha512, Salt, Iterations, 64}, Hash, Password)."""
    q = emqx_queries()
    row = conn.execute(q["authn"], {"username": username}).fetchone()
    if row is None:
        return False
    password_hash, salt, is_superuser = row
    assert is_superuser is False
    calc = hashlib.pbkdf2_hmac("sha512", password.encode(), bytes(salt), q["iterations"], 64).hex()
    return calc == password_hash


def emqx_rules(conn, username: str) -> set[tuple[str, str, str]]:
    return set(conn.execute(emqx_queries()["authz"], {"username": username}).fetchall())


def mosquitto_rules(username: str) -> set[tuple[str, str, str]]:
    """The ACL template's rules for one user, in EMQX's vocabulary."""
    action = {"write": ["publish"], "read": ["subscribe"], "readwrite": ["all"]}
    rules, current = set(), None
    for line in render_acl().splitlines():
        words = line.split()
        if words[:1] == ["user"]:
            current = words[1]
        elif words[:1] == ["topic"] and current == username:
            rules |= {("allow", a, words[2]) for a in action[words[1]]}
        elif words[:1] == ["pattern"] and not username.startswith("gridwatch-"):
            rules |= {("allow", a, words[2].replace("%u", username)) for a in action[words[1]]}
    return rules


@pytest.fixture
def conn(db_url):
    with psycopg.connect(db_url, autocommit=True) as c:
        yield c


def test_emqx_pbkdf2_check_accepts_registered_devices_only(conn):
    pw = add_device(conn, "hs-31", "handset")
    assert emqx_pbkdf2_login(conn, "hs-31", pw)
    assert not emqx_pbkdf2_login(conn, "hs-31", pw + "x")
    conn.execute("INSERT INTO device (dev, registered) VALUES ('stray-2', false)")
    assert conn.execute(emqx_queries()["authn"], {"username": "stray-2"}).fetchone() is None
    revoke_device(conn, "hs-31")
    assert not emqx_pbkdf2_login(conn, "hs-31", pw)


def test_hashes_of_another_iteration_count_are_not_offered_to_emqx(conn):
    add_device(conn, "hs-32", "handset", password="chosen-password-2", iterations=20_000)
    assert conn.execute(emqx_queries()["authn"], {"username": "hs-32"}).fetchone() is None


def test_service_accounts_stored_by_broker_config_log_in(conn, db_url, tmp_path, monkeypatch):
    monkeypatch.setenv("GRIDWATCH_DATABASE_URL", db_url)
    monkeypatch.setenv("GRIDWATCH_MQTT_URL", f"mqtt://{CLOUD_USER}:cloud-password-77@emqx:1883")
    monkeypatch.setenv("GRIDWATCH_BROKER_FRIGATE_PASSWORD", "frigate-password-77")
    out = tmp_path / "b"
    assert main(["broker", "config", "--out", str(out), "--run-user", getpass.getuser(), "--frigate"]) == 0
    assert emqx_pbkdf2_login(conn, CLOUD_USER, "cloud-password-77")
    assert emqx_pbkdf2_login(conn, FRIGATE_USER, "frigate-password-77")
    relay_hash = conn.execute("SELECT password_hash FROM broker_account WHERE username = %s",
                              (RELAY_USER,)).fetchone()
    assert relay_hash is not None  # generated: printed once, stored only as a hash
    assert main(["broker", "config", "--out", str(tmp_path / "c"), "--run-user", getpass.getuser(),
                 "--no-relay"]) == 0  # a fresh directory keeps the stored hashes...
    assert emqx_pbkdf2_login(conn, CLOUD_USER, "cloud-password-77")
    # ...and an account left out is removed, for the DB-backed broker too.
    assert conn.execute(emqx_queries()["authn"], {"username": RELAY_USER}).fetchone() is None
    assert conn.execute(emqx_queries()["authn"], {"username": FRIGATE_USER}).fetchone() is None


def test_emqx_acl_rows_match_the_mosquitto_acl(conn):
    add_device(conn, "cam-33", "camera", lat=1.0, lon=2.0)
    conn.execute("""INSERT INTO broker_account (username, role, password_hash) VALUES
                    (%s, 'cloud', '$7$1000$AAAA$BBBB'), (%s, 'relay', '$7$1000$AAAA$BBBB'),
                    (%s, 'frigate', '$7$1000$AAAA$BBBB')""", (CLOUD_USER, RELAY_USER, FRIGATE_USER))
    for user in ("cam-33", CLOUD_USER, RELAY_USER, FRIGATE_USER):
        assert emqx_rules(conn, user) == mosquitto_rules(user), user
    assert ("allow", "publish", "gw/v1/cam-33/hb") in emqx_rules(conn, "cam-33")
    assert emqx_rules(conn, "nobody") == set()
