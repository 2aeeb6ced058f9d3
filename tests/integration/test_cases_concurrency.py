"""Two ingest workers deciding about one incident at the same moment open one case:
the second waits for the first's commit, then joins its case. Far-apart evidence never waits."""
from __future__ import annotations

import threading
from datetime import datetime, timezone

import psycopg

from cloud.cases import incidents
from cloud.cases.geometry import incident_cell
from cloud.cases.reactor import CaseReactor
from gridwatch.settings import load_settings
from tests.integration.cases_support import at, cases

WHEN = datetime(2026, 11, 18, 2, 0, tzinfo=timezone.utc)


def detection_row(seq: int, pos: tuple[float, float], kind: str = "garbage") -> tuple:
    """A fresh `detection` row as the ingest hands it to reactors (store.TABLES order)."""
    return ("cam-1", seq, WHEN, WHEN, kind, 0.9, [0.1, 0.1, 0.2, 0.2], None, None, None, pos[0], pos[1], None, None)


def race(db_url: str, first: tuple | list, second: tuple) -> bool:
    """Worker A decides and holds its transaction open while worker B decides; True when B had to wait."""
    settings = load_settings(database_url=db_url)
    a, b = CaseReactor(settings), CaseReactor(settings)
    with psycopg.connect(db_url) as conn_a, psycopg.connect(db_url) as conn_b:
        a.refresh(conn_a)
        b.refresh(conn_b)
        conn_a.commit()
        conn_b.commit()
        a.react(conn_a.cursor(), {"detection": first if isinstance(first, list) else [first]})

        def worker_b():
            b.react(conn_b.cursor(), {"detection": [second]})
            conn_b.commit()

        thread = threading.Thread(target=worker_b)
        thread.start()
        thread.join(1.0)
        waited = thread.is_alive()
        conn_a.commit()
        thread.join(10)
    return waited


def test_nearby_evidence_in_another_incident_cell_waits_and_joins_the_first_case(db_url):
    p, q = at(0, 0), at(0, 21)  # 21 m apart: within the 30 m radius, different incident cells
    assert incident_cell(*p, 30) != incident_cell(*q, 30)
    assert race(db_url, detection_row(1, p), detection_row(2, q)) is True
    assert cases(db_url, "kind, evidence_count") == [("garbage", 2)]


def test_far_apart_or_other_kinds_do_not_wait(db_url):
    assert race(db_url, detection_row(1, at(0, 0)), detection_row(2, at(0, 500))) is False
    assert race(db_url, detection_row(3, at(300, 0)), detection_row(4, at(300, 0), kind="obstruction")) is False
    assert len(cases(db_url)) == 4


def test_a_batch_with_too_many_cells_locks_its_kind_and_still_excludes_nearby_workers(db_url, monkeypatch):
    monkeypatch.setattr(incidents, "MAX_CELL_LOCKS", 8)
    backlog = [detection_row(10 + i, at(0, 300 * i)) for i in range(5)]  # ~20 cells: the kind is locked
    assert race(db_url, backlog, detection_row(2, at(21, 0))) is True   # a single sighting (cells) waits
    assert cases(db_url, "kind, evidence_count") == [("garbage", 2)] + [("garbage", 1)] * 4
    # a kind lock does not hold up other kinds
    assert race(db_url, [detection_row(20 + i, at(900, 300 * i)) for i in range(5)],
                detection_row(4, at(900, 0), kind="fire")) is False
