"""The demo's fallback when no PostgreSQL answers: a private throwaway cluster."""
from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import psycopg

from gridwatch.localstack import start_private_postgres


def test_a_private_cluster_starts_serves_and_stops():
    # Not pytest's tmp_path: as root the cluster runs as `postgres`, which cannot enter that tree.
    where = Path(tempfile.mkdtemp(prefix="gw-pg-test-"))
    pg = start_private_postgres(where)
    try:
        with psycopg.connect(pg.dsn) as conn:
            assert conn.execute("SELECT current_setting('listen_addresses')").fetchone()[0] == "127.0.0.1"
    finally:
        pg.stop()
    assert not (where / "data" / "postmaster.pid").exists()
    shutil.rmtree(where, ignore_errors=True)
