"""The grid enricher on heartbeat rows: crs conversion first, then grids in bulk; rows keep their crs."""
from __future__ import annotations

from datetime import datetime, timezone

import pytest
import shapely

from cloud.geo import crs
from cloud.geo.index import GridIndex
from cloud.ingest.batch import Rows
from cloud.ingest.enrich_grid import GridEnricher, to_wgs84_rows, with_grids

T = datetime(2026, 9, 21, tzinfo=timezone.utc)
WEST, EAST = shapely.box(121.40, 31.20, 121.425, 31.25), shapely.box(121.425, 31.20, 121.45, 31.25)


def row(lon, lat, crs_name="wgs84", seq=1):
    return ("hs-1", seq, T, T, lat, lon, 5.0, None, None, None, None, None, None, None, crs_name, None, None)


def test_rows_declared_gcj02_or_bd09_are_converted_and_keep_their_crs():
    wgs = (121.4249, 31.22)
    g, b = (tuple(map(float, f(*wgs))) for f in (crs.wgs84_to_gcj02, crs.wgs84_to_bd09))
    out = to_wgs84_rows([row(*wgs), row(*g, "gcj02", 2), row(*b, "bd09", 3)])
    for r, name in zip(out, ("wgs84", "gcj02", "bd09")):
        assert (r[5], r[4]) == pytest.approx(wgs, abs=5e-6) and r[14] == name


def test_grids_are_filled_in_bulk_and_none_outside():
    index = GridIndex(["W", "E"], [WEST, EAST])
    out = with_grids([row(121.41, 31.22), row(121.44, 31.22, seq=2), row(121.50, 31.22, seq=3)], index)
    assert [r[15] for r in out] == ["W", "E", None]
    assert with_grids([], index) == []


def test_the_enricher_converts_before_locating():
    # Drawn on a GCJ-02 map this fix appears ~500 m east, in E; in WGS-84 it is in W.
    enricher = GridEnricher()
    enricher._holder.index = GridIndex(["W", "E"], [WEST, EAST])
    rows = Rows(heartbeat=[row(*map(float, crs.wgs84_to_gcj02(121.4245, 31.22)), "gcj02")])
    assert rows.heartbeat[0][5] > 121.425
    enricher.enrich(rows)
    assert rows.heartbeat[0][15] == "W"
