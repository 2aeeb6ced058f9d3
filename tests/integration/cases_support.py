"""Helpers of the case tests: a small grid hierarchy, fixed devices, messages
fed through the real ingest pipeline (decode, store, case reactor) without a broker."""
from __future__ import annotations

import itertools
import json
import time
from datetime import datetime, timezone

import orjson
import psycopg
import shapely
from shapely.geometry import box

from cloud.ingest.batch import Inbound
from cloud.ingest.pipeline import Pipeline
from cloud.cases.reactor import CaseReactor
from cloud.ingest.steps import Steps
from gridwatch.settings import load_settings
from protocols import topics

UTC = timezone.utc
LAT0, LON0 = 31.2300, 121.4700
M_LAT = 1 / 111_320           # degrees of latitude per metre
M_LON = 1 / (111_320 * 0.8551)  # degrees of longitude per metre at LAT0
_seq = itertools.count(1)


def at(lat_m: float, lon_m: float) -> tuple[float, float]:
    """A point `lat_m` metres north and `lon_m` metres east of the origin."""
    return LAT0 + lat_m * M_LAT, LON0 + lon_m * M_LON


# district D > street S (Riverside Street) > community C > grids G1 (west), G2 (east); each 1 km x 1 km grid.
GRIDS = [("D", "Harbour District", "district", None, (-2000, -2000, 2000, 2000)),
         ("S", "Riverside Street", "street", "D", (-1000, -1000, 1000, 1000)),
         ("C", "Elm Community", "community", "S", (-1000, -1000, 1000, 1000)),
         ("G1", "Grid 1", "grid", "C", (-1000, -1000, 0, 1000)),
         ("G2", "Grid 2", "grid", "C", (0, -1000, 1000, 1000))]


def add_grids(db_url: str) -> None:
    with psycopg.connect(db_url) as conn:
        for code, name, level, parent, (x0, y0, x1, y1) in GRIDS:
            (la0, lo0), (la1, lo1) = at(y0, x0), at(y1, x1)
            geom = box(lo0, la0, lo1, la1)
            conn.execute(
                "INSERT INTO grid (code, name, level, parent, geom_wkb, geojson, area_m2, min_lon, min_lat, "
                "max_lon, max_lat) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
                (code, name, level, parent, shapely.to_wkb(geom), json.dumps(shapely.geometry.mapping(geom)),
                 (x1 - x0) * (y1 - y0), lo0, la0, lo1, la1))
        conn.execute("UPDATE registry_version SET version = version + 1 WHERE name = 'grid'")


def add_fixed_device(db_url: str, dev: str, kind: str, lat: float, lon: float) -> None:
    with psycopg.connect(db_url) as conn:
        conn.execute("INSERT INTO device (dev, kind, registered, lat, lon) VALUES (%s, %s, true, %s, %s)",
                     (dev, kind, lat, lon))


def ms(dt: datetime) -> int:
    return int(dt.timestamp() * 1000)


def det(dev: str, kind: str, when: datetime, score: float = 0.9, pos=None, track=None, **extra):
    body = {"v": 1, "seq": next(_seq), "ts": ms(when), "kind": kind, "score": score, "box": [0.1, 0.1, 0.2, 0.2]}
    if pos:
        body["lat"], body["lon"] = pos
    if track:
        body["track"] = track
    return topics.build(dev, "det"), {**body, **extra}


def alert(dev: str, sensor: str, when: datetime, level="critical", state="raised", pos=None, **extra):
    body = {"v": 1, "seq": next(_seq), "ts": ms(when), "sensor": sensor, "value": 1.5, "unit": "m",
            "level": level, "state": state}
    if pos:
        body["lat"], body["lon"] = pos
    return topics.build(dev, "alert"), {**body, **extra}


def report(dev: str, kind: str, when: datetime, pos, text="seen on patrol", **extra):
    body = {"v": 1, "seq": next(_seq), "ts": ms(when), "lat": pos[0], "lon": pos[1], "kind": kind, "text": text}
    return topics.build(dev, "report"), {**body, **extra}


def case_steps(settings) -> Steps:
    """The case reactor alone, so these tests do not depend on other steps' state."""
    return Steps(reactors=[CaseReactor(settings)])


def feed(db_url: str, messages: list[tuple[str, dict]], **settings) -> None:
    """Store the messages as one ingest batch, with the production steps."""
    s = load_settings(database_url=db_url, **settings)
    pipeline = Pipeline(s, case_steps(s))
    batch = [Inbound(t, orjson.dumps(p), i, time.time()) for i, (t, p) in enumerate(messages)]
    with psycopg.connect(db_url) as conn:
        pipeline.refresh(conn, force=True)
        pipeline.commit(conn, batch)


def cases(db_url: str, cols: str = "id, kind, status, department, grid, evidence_count") -> list[tuple]:
    with psycopg.connect(db_url) as conn:
        return conn.execute(f"SELECT {cols} FROM case_file ORDER BY id").fetchall()


def dead_letters(db_url: str) -> list[tuple]:
    with psycopg.connect(db_url) as conn:
        return conn.execute("SELECT reason, detail FROM dead_letter").fetchall()
