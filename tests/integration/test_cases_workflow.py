"""The case workflow through the API: every legal and illegal transition, who may act,
the four-eyes rule, the full loop with reopen, history, and who sees which case."""
from __future__ import annotations

from datetime import datetime, timezone

import psycopg
import pytest

from cloud.cases.workflow import ACTIONS, STATUSES
from cloud.users import add_user, issue_token
from tests.integration.cases_support import add_fixed_device, add_grids, at, det, feed, report
from tests.integration.test_api_support import app, bearer, client, pool  # noqa: F401

UTC = timezone.utc
WED_10 = datetime(2026, 11, 18, 2, 0, tzinfo=UTC)


def login(db_url, name, role, department=None, scope=None) -> dict:
    with psycopg.connect(db_url) as conn:
        user = add_user(conn, name, role, "pw", scope=scope, department=department)
        return bearer(issue_token(conn, user, 600).token)


@pytest.fixture
def city(db_url):
    add_grids(db_url)
    add_fixed_device(db_url, "cam-1", "camera", *at(100, -500))
    feed(db_url, [det("cam-1", "garbage", WED_10, score=0.3),                      # 1: sanitation, G1, reported
                  det("cam-1", "obstruction", WED_10, score=0.9, pos=at(0, 500))])  # 2: urban management, G2
    return db_url


def act(client, case_id, action, headers, note=""):
    return client.post(f"/api/v1/cases/{case_id}/actions", json={"action": action, "note": note}, headers=headers)


def test_every_action_from_every_status_is_taken_or_refused_with_409(client, city):
    admin = login(city, "root", "admin")
    with psycopg.connect(city) as conn:
        template = conn.execute("SELECT * FROM case_file WHERE id = 1").fetchone()
        cols = [d.name for d in conn.execute("SELECT * FROM case_file LIMIT 0").description if d.name != "id"]
        pairs = [(s, a) for s in STATUSES for a in ACTIONS]
        ids = {}
        for n, (st, action) in enumerate(pairs):
            values = dict(zip(["id", *cols], template))
            values.update(status=st, incident_cell=f"t{n}", handled_by="someone else")
            del values["id"]
            ids[(st, action)] = conn.execute(
                f"INSERT INTO case_file ({', '.join(cols)}) VALUES ({', '.join(['%s'] * len(cols))}) RETURNING id",
                [values[c] for c in cols]).fetchone()[0]
    for (st, action), case_id in ids.items():
        r = act(client, case_id, action, admin)
        legal = st in ACTIONS[action].sources
        assert r.status_code == (200 if legal else 409), (st, action, r.text)
        if legal:
            assert r.json()["status"] == ACTIONS[action].target
            assert r.json()["history"][-1] | {"at": None, "id": None} == {
                "id": None, "at": None, "actor": "root", "action": action, "from_status": st,
                "to_status": ACTIONS[action].target, "note": ""}


def test_the_full_loop_with_a_failed_verification_and_reopen(client, city):
    sup = login(city, "sue", "supervisor")
    ola = login(city, "ola", "operator", department="sanitation")
    steps = [("register", sup, "registered"), ("dispatch", ola, "dispatched"), ("handle", ola, "handled"),
             ("reopen", sup, "dispatched"), ("handle", ola, "handled"), ("verify", sup, "verified"),
             ("close", sup, "closed")]
    for action, who, expected in steps:
        r = act(client, 1, action, who, note=f"{action} note")
        assert (r.status_code, r.json()["status"]) == (200, expected), r.text
    body = client.get("/api/v1/cases/1", headers=sup).json()
    assert [(h["action"], h["actor"], h["from_status"], h["to_status"]) for h in body["history"]] == [
        ("open", "detection:cam-1", None, "reported"), ("register", "sue", "reported", "registered"),
        ("dispatch", "ola", "registered", "dispatched"), ("handle", "ola", "dispatched", "handled"),
        ("reopen", "sue", "handled", "dispatched"), ("handle", "ola", "dispatched", "handled"),
        ("verify", "sue", "handled", "verified"), ("close", "sue", "verified", "closed")]
    assert body["history"][1]["note"] == "register note"
    assert (body["reopen_count"], body["handled_by"], body["verified_by"]) == (1, "ola", "sue")
    assert body["closed_at"] is not None and body["evidence_count"] == 1 and body["actions"] == []


def test_who_may_act_403(client, city):
    sup = login(city, "sue", "supervisor")
    ola = login(city, "ola", "operator", department="sanitation")
    assert act(client, 1, "register", ola).status_code == 403      # operators do not register
    assert act(client, 1, "register", sup).status_code == 200
    assert act(client, 1, "dispatch", sup).status_code == 403      # the centre does not dispatch
    other = login(city, "oto", "operator", department="urban management")
    assert act(client, 1, "dispatch", other).status_code == 404    # not even visible to another department
    assert act(client, 2, "dispatch", ola).status_code == 404
    assert act(client, 1, "dispatch", ola).status_code == 200
    assert act(client, 1, "close", ola).status_code == 403         # 403 wins over 409: never the operator's
    assert act(client, 1, "close", sup).status_code == 409


def test_verification_must_be_by_someone_other_than_the_handler(client, city):
    root = login(city, "root", "admin")
    for action in ("register", "dispatch", "handle"):
        assert act(client, 1, action, root).status_code == 200
    r = act(client, 1, "verify", root)
    assert r.status_code == 403 and "someone else" in r.json()["detail"]
    assert "verify" not in client.get("/api/v1/cases/1", headers=root).json()["actions"]
    assert act(client, 1, "verify", login(city, "sue", "supervisor")).status_code == 200


def test_a_worker_resolved_report_is_verified_by_the_centre(client, city):
    feed(city, [report("worker-9", "garbage", WED_10, pos=at(-600, 600), resolved=True)])
    sup = login(city, "sue", "supervisor")
    assert act(client, 3, "verify", sup).json()["status"] == "verified"


def test_scopes_an_operator_sees_its_department_and_a_supervisor_its_grid_subtree(client, city):
    ola = login(city, "ola", "operator", department="sanitation")
    g2 = login(city, "sam", "supervisor", scope="G2")
    street = login(city, "sal", "supervisor", scope="S")
    nobody = login(city, "oli", "operator")

    def ids(headers, query=""):
        body = client.get(f"/api/v1/cases{query}", headers=headers).json()
        assert body["total"] == len(body["items"])
        return [c["id"] for c in body["items"]]

    assert ids(ola) == [1] and ids(g2) == [2] and ids(street) == [2, 1] and ids(nobody) == []
    assert client.get("/api/v1/cases/1", headers=g2).status_code == 404
    assert ids(street, "?status=reported") == [1] and ids(street, "?kind=obstruction") == [2]
    assert ids(street, "?grid=G1") == [1] and ids(street, "?grid=C") == [2, 1]
    assert ids(street, "?after_id=1") == [2]
    one = client.get("/api/v1/cases/2", headers=street).json()
    assert {k: one[k] for k in ("id", "kind", "status", "department", "grid", "evidence_count")} == {
        "id": 2, "kind": "obstruction", "status": "registered", "department": "urban management", "grid": "G2",
        "evidence_count": 1}
    assert one["opened_at"] == "2026-11-18T02:00:00.000Z" and one["due_at"] == "2026-11-19T03:00:00.000Z"
    assert one["evidence"][0]["source"] == "detection"


def test_the_live_feed_carries_new_and_changed_cases_the_caller_may_see(client, city):
    from tests.integration.test_api_live import read_stream

    sup = login(city, "sue", "supervisor")
    ola = login(city, "ola", "operator", department="sanitation")

    def traffic():
        feed(city, [det("cam-1", "garbage", WED_10, pos=at(-700, -700)),          # 3: sanitation
                    det("cam-1", "fire", WED_10, pos=at(700, 700))])              # 4: fire brigade
        act(client, 1, "register", sup)

    events = [d for e, d in read_stream(client, ola, traffic) if e == "case"]
    assert sorted((d["id"], d["event"], d["to"]) for d in events) == [(1, "register", "registered"),
                                                                      (3, "open", "registered")]
    assert {d["department"] for d in events} == {"sanitation"}


def test_the_report_route_evaluates_only_the_callers_cases(client, city):
    ola = login(city, "ola", "operator", department="sanitation")
    body = client.get("/api/v1/cases/report", headers=ola).json()
    assert {(g["dimension"], g["key"]) for g in body["groups"]} == {
        ("department", "sanitation"), ("kind", "garbage"), ("grid", "G1")}
    assert [b["name"] for b in body["benchmarks"]] == ["events_handled_within_8h",
                                                      "component_problems_handled_within_3d"]
    assert client.get("/api/v1/cases/report?since=2026-11-19T00:00:00Z", headers=ola).json()["groups"] == []


def test_evidence_points_at_its_snapshot_which_the_api_serves(client, city):
    jpeg = "/9j/4AAQSkZJRgABAQ=="
    feed(city, [det("cam-1", "fire", WED_10, pos=at(900, 900), snapshot=jpeg)])
    sup = login(city, "sue", "supervisor")
    (ev,) = client.get("/api/v1/cases/3", headers=sup).json()["evidence"]
    assert ev["has_image"] and ev["image"].startswith("/api/v1/cases/3/images/detection/cam-1/")
    r = client.get(ev["image"], headers=sup)
    assert (r.status_code, r.headers["content-type"], r.content[:2]) == (200, "image/jpeg", b"\xff\xd8")
    assert client.get(ev["image"].replace("/3/", "/1/"), headers=sup).status_code == 404
    assert client.get(ev["image"], headers=login(city, "ola", "operator", department="sanitation")).status_code == 404


def test_metrics_count_open_and_overdue_cases(client, city):
    text = client.get("/metrics").text
    assert 'gridwatch_cases_open{kind="garbage",status="reported"} 1.0' in text
    assert 'gridwatch_cases_overdue{department="urban management"} 1.0' in text
