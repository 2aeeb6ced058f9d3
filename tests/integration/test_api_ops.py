"""/healthz, /metrics and the dashboard: served without a token."""
from __future__ import annotations

import psycopg
from psycopg_pool import ConnectionPool

from cloud.api import deps
from cloud.api.app import create_app
from cloud.api.routes import ops
from gridwatch.settings import load_settings
from tests.integration.test_api_support import (LOCAL_CLIENT, TestClient, add_dead_letter, add_device,  # noqa: F401
                                                add_heartbeats, app, client, minutes_ago, pool)
from tests.support import services


def test_healthz_is_ok_when_the_database_answers(client):
    r = client.get("/healthz")
    assert (r.status_code, r.json()) == (200, {"status": "ok"})


def test_healthz_is_503_when_the_database_is_unreachable(db_url, monkeypatch):
    monkeypatch.setattr(ops, "HEALTH_TIMEOUT_S", 0.5)
    monkeypatch.setattr(deps, "CHECKOUT_TIMEOUT_S", 0.5)
    dead_url = services.dsn_for("gw_no_such_database")
    dead_pool = ConnectionPool(dead_url, min_size=0, max_size=1, open=True, reconnect_timeout=1)
    try:
        with TestClient(create_app(load_settings(database_url=dead_url), dead_pool), client=LOCAL_CLIENT) as c:
            r = c.get("/healthz")
            assert r.status_code == 503 and r.json()["status"] == "unavailable"
            # the other routes answer 503 too, not a traceback
            assert c.post("/api/v1/token", data={"username": "a", "password": "b"}).status_code == 503
            assert "gridwatch_db_up 0.0" in c.get("/metrics").text
    finally:
        dead_pool.close()


def test_metrics_expose_process_counters_and_database_gauges(client, db_url, monkeypatch):
    monkeypatch.delenv("PROMETHEUS_MULTIPROC_DIR", raising=False)  # this process's registry, not the files
    add_device(db_url, "h1", online=True)
    add_heartbeats(db_url, "h1", [(1, minutes_ago(1), 31, 121, None), (2, minutes_ago(0.5), 31, 121, None)])
    add_dead_letter(db_url, "bad_json", b"{")
    add_dead_letter(db_url, "bad_json", b"[")
    add_dead_letter(db_url, "future_ts", b"{}")
    with psycopg.connect(db_url) as conn:  # long ago: not in the last day
        conn.execute("INSERT INTO dead_letter (received_at, topic, payload, reason) "
                     "VALUES (now() - interval '3 days', 't', '', 'bad_json')")
    r = client.get("/metrics")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/plain")
    text = r.text
    assert "gridwatch_db_up 1.0" in text
    assert "gridwatch_heartbeats_received_last_minute 2.0" in text
    assert 'gridwatch_dead_letters_last_day{reason="bad_json"} 2.0' in text
    assert 'gridwatch_dead_letters_last_day{reason="future_ts"} 1.0' in text
    assert 'gridwatch_devices{online="true",registered="true"} 1.0' in text
    assert "process_cpu_seconds_total" in text or "python_info" in text  # the default registry


def test_metrics_answer_only_local_clients_by_default(app):
    with TestClient(app, client=("192.0.2.10", 40000)) as remote:
        assert remote.get("/metrics").status_code == 403
        assert remote.get("/healthz").status_code == 200


def test_metrics_networks_can_be_widened(db_url, pool):
    app = create_app(load_settings(database_url=db_url), pool, metrics_networks=["192.0.2.0/24"])
    with TestClient(app, client=("192.0.2.10", 40000)) as scraper:
        assert scraper.get("/metrics").status_code == 200


def test_the_dashboard_is_served_from_the_package_without_outside_resources(client):
    page = client.get("/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "default-src 'self'" in page.headers["content-security-policy"]
    assert "http://" not in page.text and "https://" not in page.text
    for asset in ("/static/app.js", "/static/style.css"):
        r = client.get(asset)
        assert r.status_code == 200 and "https://" not in r.text and "http://" not in r.text.replace(
            "http://www.w3.org/2000/svg", "")


def test_openapi_documents_the_contract_routes(client):
    paths = client.get("/openapi.json").json()["paths"]
    for path in ("/api/v1/token", "/api/v1/devices", "/api/v1/devices/{dev}/positions", "/api/v1/deadletters",
                 "/api/v1/live"):
        assert path in paths
