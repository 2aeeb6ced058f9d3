"""Grid import into PostgreSQL: replace semantics, idempotence, version bumps, scope subtree,
roster references, the CLI refusing a bad file whole."""
from __future__ import annotations

import json

import psycopg
import pytest
import shapely

from cloud.geo.gridfile import parse_grid_file
from cloud.geo.loader import IndexHolder, load_index
from cloud.geo.registry import GridImportError, import_grids, load_grids, registry_version
from gridwatch.cli import main
from tests.unit.test_geo_support import BOXES, IN_G1, IN_G2, OUTSIDE, city, feature


@pytest.fixture
def conn(db_url):
    with psycopg.connect(db_url) as c:
        yield c


def test_import_stores_the_hierarchy_and_bumps_the_version(conn):
    before = registry_version(conn, "grid")
    r = import_grids(conn, parse_grid_file(city()))
    assert (r.inserted, r.updated, r.deleted) == (6, 0, 0) and r.version == before + 1
    row = conn.execute("SELECT name, level, parent, area_m2, geojson->>'type', min_lon, max_lat "
                       "FROM grid WHERE code = 'G1'").fetchone()
    assert row[:3] == ("G1 name", "grid", "C1") and row[3] > 1.3e7 and row[4] == "Polygon"
    assert (row[5], row[6]) == (121.40, 31.25)
    subtree = {r[0] for r in conn.execute("SELECT gw_grid_subtree('S1')")}
    assert subtree == {"S1", "C1", "G1", "G2"}
    assert [g.code for g in load_grids(conn)] == ["G1", "G2"]


def test_reimporting_the_same_file_is_idempotent_and_a_smaller_file_replaces(conn):
    import_grids(conn, parse_grid_file(city()))
    snapshot = conn.execute("SELECT code, name, level, parent, geom_wkb, area_m2 FROM grid ORDER BY code").fetchall()
    r = import_grids(conn, parse_grid_file(city()))
    assert (r.inserted, r.updated, r.deleted) == (0, 6, 0)
    assert conn.execute("SELECT code, name, level, parent, geom_wkb, area_m2 FROM grid ORDER BY code").fetchall() \
        == snapshot
    r = import_grids(conn, parse_grid_file(city(S2=None)))
    assert r.deleted == 1 and "S2" not in {g.code for g in load_grids(conn, None)}


def test_a_grid_still_on_the_roster_cannot_be_dropped(conn):
    import_grids(conn, parse_grid_file(city()))
    conn.execute("INSERT INTO roster_shift (worker, dev, grid, day, start_local, end_local, tz) "
                 "VALUES ('ann', 'hs-1', 'G2', '2026-03-02', '08:00', '12:00', 'UTC')")
    conn.commit()
    merged = feature("G1", "grid", "C1", shapely.box(*BOXES["C1"][2]))
    with pytest.raises(GridImportError, match="roster shifts still use: G2"):
        import_grids(conn, parse_grid_file(city(G1=merged, G2=None)))
    assert len(load_grids(conn)) == 2


def test_the_index_follows_the_registry_version(conn):
    holder = IndexHolder()
    assert holder.refresh(conn) and len(holder.index) == 0
    import_grids(conn, parse_grid_file(city()))
    assert holder.refresh(conn) and not holder.refresh(conn)
    lon, lat = zip(IN_G1, IN_G2, OUTSIDE)
    assert holder.index.locate(list(lon), list(lat)).tolist() == ["G1", "G2", None]
    assert load_index(conn).version == registry_version(conn, "grid")


def test_cli_imports_and_refuses_a_bad_file_whole(db_url, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("GRIDWATCH_DATABASE_URL", db_url)
    good = tmp_path / "city.geojson"
    good.write_text(json.dumps(city(crs_name="gcj02")))
    assert main(["grids", "import", str(good)]) == 0
    assert "6 new" in capsys.readouterr().out
    bad = tmp_path / "bad.geojson"
    bad.write_text(json.dumps(city(S2=feature("S2", "street", "D1", shapely.box(121.44, 31.20, 121.50, 31.25)),
                                   G2=feature("G2", "grid", "C1", shapely.box(121.425, 31.20, 121.45, 31.26)))))
    assert main(["grids", "import", str(bad)]) == 2
    err = capsys.readouterr().err
    assert "nothing imported" in err and "(code 'S1'): overlaps its sibling" in err and "(code 'G2'): lies partly" in err
    with psycopg.connect(db_url) as conn:
        assert conn.execute("SELECT count(*) FROM grid").fetchone()[0] == 6
        # the gcj02 file was stored in WGS-84
        assert conn.execute("SELECT min_lon FROM grid WHERE code = 'G1'").fetchone()[0] == pytest.approx(121.40, abs=5e-6)
