"""Read and check a grid registry file (CONTRACT section 5): pure, no I/O.

A GeoJSON FeatureCollection of Polygon/MultiPolygon features with properties
`code` (unique), `name`, `level` (district > street > community > grid) and
`parent` (a code in the same file, or null); an optional top-level
`crs_name` (`gcj02`|`bd09`) says the file was drawn on a Chinese web map and
is converted to WGS-84 first. A file with any fault is refused whole: every
problem is reported with the feature's index and code.

All metric checks run in one equal-area projection around the file
(`metric.LocalProjection`), so areas are exact and tolerances are metres.
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import numpy as np
import orjson
import shapely
from shapely.geometry import shape

from cloud.files import FileRefused

from . import crs
from .metric import LocalProjection

LEVELS = ("district", "street", "community", "grid")
RANK = {level: i for i, level in enumerate(LEVELS)}
GEOMETRY_TYPES = ("Polygon", "MultiPolygon")
_KNOWN_PROPERTIES = ("code", "name", "level", "parent")


class GridFileError(FileRefused):
    """The grid file is refused whole; `problems` lists every fault found."""

    what = "grid file"


@dataclass(frozen=True, slots=True)
class GridFeature:
    index: int
    code: str
    name: str
    level: str
    parent: str | None
    geom: shapely.Geometry          # WGS-84
    area_m2: float
    properties: dict | None         # everything else the feature carried


@dataclass(frozen=True, slots=True)
class Tolerances:
    overlap_m2: float = 1.0         # siblings may share this much area (digitising slivers)
    outside_parent_m: float = 3.0   # a child may stick out of its parent this far


def _where(i: int, code: object = None) -> str:
    return f"feature {i}" + (f" (code {code!r})" if isinstance(code, str) else "")


def _properties(i: int, feature: object) -> tuple[dict, list[str]]:
    if not isinstance(feature, dict) or feature.get("type") != "Feature":
        return {}, [f"{_where(i)}: not a GeoJSON Feature"]
    props = feature.get("properties")
    if not isinstance(props, dict):
        return {}, [f"{_where(i)}: has no properties object"]
    code, errors = props.get("code"), []
    if not isinstance(code, str) or not 1 <= len(code) <= 64 or code != code.strip():
        errors.append(f"{_where(i)}: `code` must be a non-empty string of at most 64 characters, got {code!r}")
    if not isinstance(props.get("name"), str) or not props["name"].strip():
        errors.append(f"{_where(i, code)}: `name` must be a non-empty string")
    if props.get("level") not in LEVELS:
        errors.append(f"{_where(i, code)}: `level` must be one of {', '.join(LEVELS)}, got {props.get('level')!r}")
    if props.get("parent") is not None and not isinstance(props["parent"], str):
        errors.append(f"{_where(i, code)}: `parent` must be a code or null")
    return props, errors


def _unreadable(raw: dict) -> str:
    """Why a geometry the vectorised reader refused cannot be read (one feature, slow path)."""
    try:
        shape(raw)
    except (ValueError, TypeError, IndexError, AttributeError, shapely.errors.GEOSException) as exc:
        return str(exc)
    return "not valid GeoJSON coordinates"


def _geometries(items: list[tuple[int, object, object]], crs_name: str | None) -> tuple[dict, list[str]]:
    """WGS-84 geometries by feature index, read and checked in bulk (GEOS reader, vectorised checks)."""
    problems, todo = [], []
    for i, code, raw in items:
        if not isinstance(raw, dict) or raw.get("type") not in GEOMETRY_TYPES:
            kind = raw.get("type") if isinstance(raw, dict) else raw
            problems.append(f"{_where(i, code)}: geometry must be a Polygon or MultiPolygon, got {kind!r}")
        else:
            todo.append((i, code, raw))
    if not todo:
        return {}, problems
    geoms = shapely.from_geojson([orjson.dumps(raw) for _, _, raw in todo], on_invalid="ignore")
    out = {}
    for (i, code, raw), geom in zip(todo, geoms):
        if geom is None:
            problems.append(f"{_where(i, code)}: unreadable coordinates ({_unreadable(raw)})")
            continue
        xy = shapely.get_coordinates(geom)
        if geom.is_empty or not np.isfinite(xy).all() or (np.abs(xy[:, 0]) > 180).any() or (np.abs(xy[:, 1]) > 90).any():
            problems.append(f"{_where(i, code)}: empty geometry or coordinates outside lon -180..180, lat -90..90")
            continue
        out[i] = geom
    keys = list(out)
    code_of = {i: code for i, code, _ in todo}
    converted = _converter(crs_name)(np.array([out[k] for k in keys], dtype=object))
    valid = shapely.is_valid(converted)
    for k, g, ok in zip(keys, converted, valid):
        if ok:
            out[k] = g
        else:
            del out[k]
            problems.append(f"{_where(k, code_of[k])}: invalid geometry: {shapely.is_valid_reason(g)}")
    return out, problems


def _converter(crs_name: str | None):
    if crs_name in (None, "wgs84"):
        return lambda g: g
    return lambda g: shapely.transform(g, lambda xy: np.column_stack(crs.to_wgs84(xy[:, 0], xy[:, 1], crs_name)))


def _collection(doc: object) -> tuple[list, str | None]:
    if not isinstance(doc, dict) or doc.get("type") != "FeatureCollection" or not isinstance(doc.get("features"), list):
        raise GridFileError(["the file is not a GeoJSON FeatureCollection with a `features` list"])
    crs_name = doc.get("crs_name")
    if crs_name not in (None, "wgs84", "gcj02", "bd09"):
        raise GridFileError([f"`crs_name` must be gcj02 or bd09 (or absent for WGS-84), got {crs_name!r}"])
    if not doc["features"]:
        raise GridFileError(["the file has no features"])
    return doc["features"], crs_name


def parse_grid_file(doc: object, tol: Tolerances = Tolerances()) -> list[GridFeature]:
    """Every feature of a grid file, checked and in WGS-84; GridFileError names every fault."""
    features, crs_name = _collection(doc)
    problems: list[str] = []
    props_of: dict[int, dict] = {}
    for i, feature in enumerate(features):
        props, errors = _properties(i, feature)
        problems += errors
        if not errors:
            props_of[i] = props
    geoms, geom_problems = _geometries([(i, p["code"], features[i].get("geometry")) for i, p in props_of.items()],
                                       crs_name)
    problems += geom_problems
    parsed = [(i, props_of[i], geoms[i]) for i in sorted(geoms)]
    problems += _hierarchy_problems(features, parsed)
    if problems:
        raise GridFileError(problems)
    codes = [p["code"] for _, p, _ in parsed]
    geoms = np.array([g for _, _, g in parsed], dtype=object)
    metric = LocalProjection.around(geoms).geometries(geoms)
    problems = _overlap_problems(parsed, metric, tol) + _containment_problems(parsed, metric, codes, tol)
    if problems:
        raise GridFileError(problems)
    areas = shapely.area(metric)
    return [GridFeature(i, p["code"], p["name"].strip(), p["level"], p.get("parent"), g, float(a),
                        {k: v for k, v in p.items() if k not in _KNOWN_PROPERTIES} or None)
            for (i, p, g), a in zip(parsed, areas)]


def _hierarchy_problems(features: list, parsed: list[tuple[int, dict, shapely.Geometry]]) -> list[str]:
    """Duplicate codes, unknown parents and children not below their parent's level."""
    problems = []
    all_props = [f.get("properties") if isinstance(f, dict) else None for f in features]
    levels = {p["code"]: p.get("level") for p in all_props if isinstance(p, dict) and isinstance(p.get("code"), str)}
    counts = Counter(p["code"] for p in all_props if isinstance(p, dict) and isinstance(p.get("code"), str))
    for i, props, _ in parsed:
        code, parent = props["code"], props.get("parent")
        if counts[code] > 1:
            problems.append(f"{_where(i, code)}: duplicate code ({counts[code]} features use it)")
        if parent is None:
            continue
        if parent not in levels:
            problems.append(f"{_where(i, code)}: unknown parent {parent!r} (not in this file)")
        elif levels[parent] in RANK and RANK[levels[parent]] >= RANK[props["level"]]:
            problems.append(f"{_where(i, code)}: a {props['level']} cannot sit under the {levels[parent]} "
                            f"{parent!r} (order: {' > '.join(LEVELS)})")
    return problems


def _overlap_problems(parsed, metric: np.ndarray, tol: Tolerances) -> list[str]:
    """Siblings (same parent, same level) whose shared area exceeds the tolerance."""
    left, right = shapely.STRtree(metric).query(metric, predicate="intersects")
    keep = left < right
    left, right = left[keep], right[keep]
    group = [(p.get("parent"), p["level"]) for _, p, _ in parsed]
    sib = np.array([group[a] == group[b] for a, b in zip(left.tolist(), right.tolist())], dtype=bool)
    left, right = left[sib], right[sib]
    # Neighbours that only touch along an edge are the common case: a predicate rules them out
    # far cheaper than computing their (empty) intersection.
    meet = shapely.relate_pattern(metric[left], metric[right], "T********") if left.size else np.empty(0, bool)
    left, right = left[meet], right[meet]
    shared = shapely.area(shapely.intersection(metric[left], metric[right])) if left.size else np.empty(0)
    return [f"{_where(parsed[a][0], parsed[a][1]['code'])}: overlaps its sibling "
            f"{_where(parsed[b][0], parsed[b][1]['code'])} by {s:.1f} m² (tolerance {tol.overlap_m2} m²)"
            for a, b, s in zip(left.tolist(), right.tolist(), shared.tolist()) if s > tol.overlap_m2]


def _containment_problems(parsed, metric: np.ndarray, codes: list[str], tol: Tolerances) -> list[str]:
    """Children that reach more than the tolerance outside their parent."""
    pos = {code: k for k, code in enumerate(codes)}
    pairs = [(k, pos[p["parent"]]) for k, (_, p, _) in enumerate(parsed) if p.get("parent") is not None]
    if not pairs:
        return []
    child, parent = (np.array(x, dtype=np.int64) for x in zip(*pairs))
    # Buffer each parent once, not once per child.
    parents, which = np.unique(parent, return_inverse=True)
    grown = shapely.buffer(metric[parents], tol.outside_parent_m)
    inside = shapely.covers(grown[which], metric[child])
    out = []
    for c, p in zip(child[~inside].tolist(), parent[~inside].tolist()):
        beyond = shapely.area(shapely.difference(metric[c], metric[p]))
        out.append(f"{_where(parsed[c][0], codes[c])}: lies partly outside its parent {codes[p]!r} "
                   f"({beyond:.0f} m² beyond it, tolerance {tol.outside_parent_m} m)")
    return out
