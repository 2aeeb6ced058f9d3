"""Frigate events through the ingest's default steps into the database, with the camera's alias
loaded from the registry: new/update/end stored as one track, a repeat stored once."""
from __future__ import annotations

import time

import orjson
import psycopg

from cloud.devices import add_device, frigate_alias
from cloud.ingest.batch import Inbound
from cloud.ingest.pipeline import Pipeline
from cloud.ingest.steps import default_steps
from gridwatch.settings import load_settings
from protocols import topics


def event(kind_of: str, frame_time: float, camera: str = "gate") -> Inbound:
    body = {"type": kind_of, "after": {"id": "ev-1", "camera": camera, "label": "fire", "top_score": 0.9,
                                       "box": [100, 100, 300, 400], "frame_time": frame_time,
                                       "end_time": frame_time if kind_of == "end" else None, "current_zones": []}}
    return Inbound(topics.FRIGATE_EVENTS, orjson.dumps(body), 1, time.time())


def test_frigate_events_land_as_one_track_of_the_aliased_camera(db_url):
    settings = load_settings(database_url=db_url, camera_frigate_update_s=5)
    pipeline = Pipeline(settings, default_steps(settings))
    now = time.time()
    with psycopg.connect(db_url) as conn:
        add_device(conn, "cam-gate", "camera", alias=frigate_alias("gate"), lat=31.23, lon=121.47, iterations=1)
        conn.commit()
        pipeline.refresh(conn, force=True)
        batch = [event("new", now - 30), event("new", now - 30), event("update", now - 28), event("update", now - 20),
                 event("end", now - 10), event("new", now - 30, camera="side")]
        pipeline.commit(conn, batch)
        conn.commit()
        rows = conn.execute("SELECT kind, track, extra->>'phase', box FROM detection WHERE dev = 'cam-gate' "
                            "ORDER BY ts, seq").fetchall()
        dead = conn.execute("SELECT reason FROM dead_letter").fetchall()
    assert [(k, tr, ph) for k, tr, ph, _ in rows] == [("fire", "frigate-ev-1", "start"), ("fire", "frigate-ev-1", "update"),
                                                      ("fire", "frigate-ev-1", "end")]
    assert [round(v, 4) for v in rows[0][3]] == [0.0781, 0.1389, 0.1562, 0.4167]
    assert dead == [("unknown_alias",)]
