"""A small city for grid tests (no tests here): district D1 > streets S1, S2 > community C1
(= S1) > grids G1 (west half of C1) and G2 (east half), around Shanghai, WGS-84."""
from __future__ import annotations

import shapely
from shapely.geometry import mapping

from cloud.geo import crs

BOXES = {
    "D1": ("district", None, (121.40, 31.20, 121.50, 31.30)),
    "S1": ("street", "D1", (121.40, 31.20, 121.45, 31.25)),
    "S2": ("street", "D1", (121.45, 31.20, 121.50, 31.25)),
    "C1": ("community", "S1", (121.40, 31.20, 121.45, 31.25)),
    "G1": ("grid", "C1", (121.40, 31.20, 121.425, 31.25)),
    "G2": ("grid", "C1", (121.425, 31.20, 121.45, 31.25)),
}
IN_G1 = (121.41, 31.22)   # lon, lat
IN_G2 = (121.44, 31.22)
OUTSIDE = (121.47, 31.27)


def feature(code, level, parent, geom, **props):
    return {"type": "Feature", "geometry": mapping(geom),
            "properties": {"code": code, "name": f"{code} name", "level": level, "parent": parent, **props}}


def city(boxes=None, crs_name=None, **overrides) -> dict:
    """The city as a FeatureCollection; `overrides` replaces features by code (None drops one)."""
    feats = []
    for code, (level, parent, b) in (boxes or BOXES).items():
        if code in overrides:
            if overrides[code] is not None:
                feats.append(overrides[code])
            continue
        geom = shapely.box(*b)
        if crs_name:
            geom = shapely.transform(geom, lambda xy: __import__("numpy").column_stack(
                (crs.wgs84_to_gcj02 if crs_name == "gcj02" else crs.wgs84_to_bd09)(xy[:, 0], xy[:, 1])))
        feats.append(feature(code, level, parent, geom))
    doc = {"type": "FeatureCollection", "features": feats}
    if crs_name:
        doc["crs_name"] = crs_name
    return doc
