"""`gridwatch components import` and `gridwatch cases report` against a real database."""
from __future__ import annotations

from datetime import datetime, timezone

import orjson
import psycopg

from gridwatch.cli import main
from tests.integration.cases_support import add_fixed_device, at, det, feed

GOOD = "code,kind,department,lat,lon,name\nMH-1,manhole,roads,31.2,121.4,north gate\nHY-2,hydrant,water,31.3,121.5,\n"


def rows(db_url):
    with psycopg.connect(db_url) as conn:
        comps = conn.execute("SELECT code, kind, department, name FROM component ORDER BY code").fetchall()
        version = conn.execute("SELECT version FROM registry_version WHERE name = 'component'").fetchone()[0]
    return comps, version


def test_import_is_idempotent_and_a_bad_file_changes_nothing(db_url, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("GRIDWATCH_DATABASE_URL", db_url)
    good = tmp_path / "components.csv"
    good.write_text(GOOD)
    assert main(["components", "import", str(good)]) == 0
    first = rows(db_url)
    assert first[0] == [("HY-2", "hydrant", "water", None), ("MH-1", "manhole", "roads", "north gate")]
    assert main(["components", "import", str(good)]) == 0
    assert rows(db_url) == first  # nothing changed, not even the registry version
    assert "0 new or changed" in capsys.readouterr().out
    bad = tmp_path / "bad.csv"
    bad.write_text(GOOD.replace("north gate", "moved") + "XX-3,pipe,water,31.3,999,\n")
    assert main(["components", "import", str(bad)]) == 2
    assert "line 4: lon 999.0 is out of range" in capsys.readouterr().err
    assert rows(db_url) == first


def test_cases_report_prints_figures_and_benchmarks(db_url, monkeypatch, capsys):
    monkeypatch.setenv("GRIDWATCH_DATABASE_URL", db_url)
    add_fixed_device(db_url, "cam-1", "camera", *at(0, 0))
    wed = datetime(2026, 11, 18, 2, 0, tzinfo=timezone.utc)
    feed(db_url, [det("cam-1", "garbage", wed), det("cam-1", "fire", wed, pos=at(500, 0))])
    with psycopg.connect(db_url) as conn:  # the garbage handled in 2 h, on time; the fire never
        conn.execute("UPDATE case_file SET status = 'handled', handled_at = opened_at + interval '2 hours' "
                     "WHERE kind = 'garbage'")
    assert main(["cases", "report", "--json"]) == 0
    report = orjson.loads(capsys.readouterr().out)
    by = {(g["dimension"], g["key"]): g for g in report["groups"]}
    assert by[("department", "sanitation")]["on_time_rate"] == 1.0
    assert by[("department", "fire brigade")]["on_time_rate"] == 0.0
    assert by[("kind", "fire")]["overdue"] == 1 and by[("kind", "garbage")]["open"] == 1
    (events, components) = report["benchmarks"]
    assert (events["judged"], events["met"], events["rate"], events["passed"]) == (2, 1, 0.5, False)
    assert components["judged"] == 0 and components["passed"] is None
    assert main(["cases", "report"]) == 0
    assert "events_handled_within_8h: 50.0% of 2 (target 90%): NOT met" in capsys.readouterr().out
