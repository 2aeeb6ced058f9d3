"""`gridwatch grids|roster|calendar import FILE`: load the registry files of CONTRACT section 5.

(The roster and calendar live in cloud/roster; their commands are registered
here, with the grids they refer to.)
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path


def register(sub: argparse._SubParsersAction) -> None:
    g = sub.add_parser("grids", help="the grid registry (district > street > community > grid)")
    gs = g.add_subparsers(dest="action", required=True)
    gi = gs.add_parser("import", help="replace the registry with a GeoJSON file; a bad file is refused whole")
    gi.add_argument("file", type=Path, help="GeoJSON FeatureCollection (CONTRACT section 5)")
    gi.set_defaults(handler=_grids_import)

    r = sub.add_parser("roster", help="who holds which grid, when, with which handset")
    rs = r.add_subparsers(dest="action", required=True)
    ri = rs.add_parser("import", help="replace the shifts of every worker in a roster CSV")
    ri.add_argument("file", type=Path, help="CSV worker,device,grid,date|day_of_week,start,end,tz")
    ri.set_defaults(handler=_roster_import)

    c = sub.add_parser("calendar", help="the working calendar: holidays and make-up working days")
    cs = c.add_subparsers(dest="action", required=True)
    ci = cs.add_parser("import", help="replace the listed years' exceptions with a CSV date,working,note")
    ci.add_argument("file", type=Path)
    ci.set_defaults(handler=_calendar_import)


def _read(path: Path) -> str:
    from gridwatch.cli import UserError

    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise UserError(f"cannot read {path}: {exc}") from None


def _grids_import(args: argparse.Namespace) -> int:
    import orjson
    import psycopg

    from cloud.geo.gridfile import GridFileError, Tolerances, parse_grid_file
    from cloud.geo.registry import GridImportError, import_grids
    from gridwatch.cli import UserError
    from gridwatch.settings import load_settings

    settings = load_settings()
    try:
        doc = orjson.loads(_read(args.file))
    except orjson.JSONDecodeError as exc:
        raise UserError(f"{args.file} is not JSON: {exc}") from None
    try:
        features = parse_grid_file(doc, Tolerances(settings.geo_overlap_tolerance_m2, settings.geo_outside_parent_m))
        with psycopg.connect(settings.database_url) as conn:
            result = import_grids(conn, features)
    except (GridFileError, GridImportError) as exc:
        raise UserError(str(exc)) from None
    print(f"grids imported from {args.file}: {result.inserted} new, {result.updated} updated, "
          f"{result.deleted} removed; registry version {result.version}")
    return 0


def _roster_import(args: argparse.Namespace) -> int:
    import psycopg

    from cloud.roster.rosterfile import RosterFileError
    from cloud.roster.store import import_roster
    from gridwatch.cli import UserError
    from gridwatch.settings import load_settings

    text = _read(args.file)
    try:
        with psycopg.connect(load_settings().database_url) as conn:
            result = import_roster(conn, text)
    except RosterFileError as exc:
        raise UserError(str(exc)) from None
    print(f"roster imported from {args.file}: {result.shifts} shifts of {result.workers} workers "
          f"(replacing {result.replaced})")
    if result.unknown_devices:
        print(f"warning: devices not in the registry yet: {', '.join(result.unknown_devices)} "
              "(check for typos: their workers will look absent)", file=sys.stderr)
    return 0


def _calendar_import(args: argparse.Namespace) -> int:
    import psycopg

    from cloud.roster.calendar import CalendarFileError, import_calendar, parse_calendar
    from gridwatch.cli import UserError
    from gridwatch.settings import load_settings

    try:
        days = parse_calendar(_read(args.file))
        with psycopg.connect(load_settings().database_url) as conn:
            n = import_calendar(conn, days)
    except CalendarFileError as exc:
        raise UserError(str(exc)) from None
    print(f"calendar imported from {args.file}: {n} days")
    return 0
