"""The README's main job: `gridwatch demo` brings up the stack and the fleet, then cleans up."""
from __future__ import annotations

import os
import re
import subprocess
import sys
import time

import httpx2 as httpx
import psycopg

from tests.support.services import ADMIN_DSN, free_port


def test_demo_serves_the_fleet_on_the_dashboard_api_and_removes_its_database(tmp_path):
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("GRIDWATCH_")}
    log = tmp_path / "demo.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen([sys.executable, "-m", "gridwatch.cli", "demo", "--handsets", "3", "--interval", "0.5",
                                 "--duration", "15", "--port", str(port)], stdout=out, stderr=subprocess.STDOUT,
                                env=env, cwd=tmp_path)
    try:
        password, dbname = None, None
        deadline = time.monotonic() + 40
        while time.monotonic() < deadline and password is None:
            text = log.read_text()
            m = re.search(r"user admin, password (\S+)", text)
            d = re.search(r"dbname=(\S+)", text)
            if m and d:
                password, dbname = m[1], d[1]
            time.sleep(0.2)
        assert password, log.read_text()
        base = f"http://127.0.0.1:{port}"
        counts = {}
        while time.monotonic() < deadline:
            try:
                tok = httpx.post(f"{base}/api/v1/token", data={"username": "admin", "password": password}).json()
                auth = {"Authorization": f"Bearer {tok['access_token']}"}
                counts = {d: httpx.get(f"{base}/api/v1/devices/{d}/positions", headers=auth).json()["total"]
                          for d in ("demo-h01", "demo-h02", "demo-h03")}
                if all(n >= 5 for n in counts.values()):
                    break
            except (httpx.HTTPError, KeyError):
                pass
            time.sleep(0.5)
        assert all(n >= 5 for n in counts.values()), counts
        assert httpx.get(f"{base}/").status_code == 200  # the dashboard page
        assert proc.wait(60) == 0, log.read_text()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    with psycopg.connect(ADMIN_DSN) as conn:
        assert conn.execute("SELECT count(*) FROM pg_database WHERE datname = %s", (dbname,)).fetchone()[0] == 0
