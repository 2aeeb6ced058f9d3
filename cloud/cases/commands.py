"""`gridwatch components import FILE`, `gridwatch cases report|webhook|catalog`.

Only argparse at import time; the handlers import what they need.
"""
from __future__ import annotations

import argparse
from pathlib import Path


def register(sub: argparse._SubParsersAction) -> None:
    c = sub.add_parser("components", help="the city component registry (manhole covers, hydrants, cameras...)")
    cs = c.add_subparsers(dest="action", required=True)
    ci = cs.add_parser("import", help="add or update components from a CSV; a bad file is refused whole")
    ci.add_argument("file", type=Path, help="CSV code,kind,department,lat,lon[,name] (CONTRACT section 5)")
    ci.set_defaults(handler=_components_import)

    k = sub.add_parser("cases", help="cases: evaluation, webhooks, the event catalog")
    ks = k.add_subparsers(dest="action", required=True)
    r = ks.add_parser("report", help="on-time rate, time to close, rework, open and overdue; the benchmarks")
    r.add_argument("--since", help="cases opened from (ISO-8601)")
    r.add_argument("--until", help="cases opened before (ISO-8601)")
    r.add_argument("--json", action="store_true", help="print JSON instead of a table")
    r.set_defaults(handler=_report)
    w = ks.add_parser("webhook", help="signed webhooks to department systems")
    ws = w.add_subparsers(dest="webhook_action", required=True)
    wa = ws.add_parser("add", help="subscribe a URL; prints the HMAC secret")
    wa.add_argument("url")
    wa.add_argument("--department", help="only this department's cases (default: all)")
    wa.add_argument("--secret", help="HMAC secret, at least 16 characters (default: generated)")
    wa.set_defaults(handler=_webhook_add)
    g = ks.add_parser("catalog", help="check an event catalog file (default: the configured one) and print it")
    g.add_argument("file", type=Path, nargs="?")
    g.set_defaults(handler=_catalog)


def _connect(settings):
    import psycopg

    from cloud.db.errors import wrap_errors

    with wrap_errors(settings.database_url):
        return psycopg.connect(settings.database_url)


def _components_import(args: argparse.Namespace) -> int:
    from cloud.cases.components import ComponentFileError, import_components, parse_components
    from cloud.db.errors import DatabaseError, wrap_errors
    from gridwatch.cli import UserError
    from gridwatch.settings import load_settings

    try:
        text = args.file.read_text(encoding="utf-8-sig")
        components = parse_components(text)
    except (OSError, UnicodeDecodeError) as exc:
        raise UserError(f"cannot read {args.file}: {exc}") from None
    except ComponentFileError as exc:
        raise UserError(f"{args.file}: {exc}; nothing imported") from None
    settings = load_settings()
    try:
        with _connect(settings) as conn, wrap_errors(settings.database_url):
            changed = import_components(conn, components)
    except DatabaseError as exc:
        raise UserError(str(exc)) from None
    print(f"components imported from {args.file}: {len(components)} in the file, {changed} new or changed")
    return 0


def _report(args: argparse.Namespace) -> int:
    import orjson

    from cloud.api.deps import parse_instant
    from cloud.cases.report import evaluate, format_report
    from cloud.db.errors import DatabaseError, wrap_errors
    from gridwatch.cli import UserError
    from gridwatch.settings import load_settings

    try:
        since = parse_instant(args.since) if args.since else None
        until = parse_instant(args.until) if args.until else None
    except ValueError as exc:
        raise UserError(str(exc)) from None
    settings = load_settings()
    try:
        with _connect(settings) as conn, wrap_errors(settings.database_url):
            result = evaluate(conn, since, until)
    except DatabaseError as exc:
        raise UserError(str(exc)) from None
    print(orjson.dumps(result, option=orjson.OPT_INDENT_2).decode() if args.json else format_report(result))
    return 0


def _webhook_add(args: argparse.Namespace) -> int:
    from cloud.cases.webhooks import add_subscription
    from cloud.db.errors import DatabaseError, wrap_errors
    from gridwatch.cli import UserError
    from gridwatch.settings import load_settings

    if not args.url.startswith(("http://", "https://")):
        raise UserError("the webhook URL must start with http:// or https://")
    if args.secret is not None and len(args.secret) < 16:
        raise UserError("the secret must have at least 16 characters")
    settings = load_settings()
    try:
        with _connect(settings) as conn, wrap_errors(settings.database_url):
            wid, secret = add_subscription(conn, args.url, args.department, args.secret)
    except DatabaseError as exc:
        raise UserError(str(exc)) from None
    print(f"webhook {wid}: {args.url} for {args.department or 'every department'}; secret {secret}")
    return 0


def _catalog(args: argparse.Namespace) -> int:
    from cloud.cases.catalog import CatalogError, load_catalog
    from gridwatch.cli import UserError
    from gridwatch.settings import load_settings

    try:
        catalog = load_catalog(args.file or load_settings().cases_catalog_file)
    except CatalogError as exc:
        raise UserError(str(exc)) from None
    for kind, spec in catalog.kinds.items():
        clock = "round the clock" if spec.round_the_clock else "working hours"
        print(f"{kind:<14} {spec.department or '(owner of the component)':<26} {spec.sla_hours:g} h {clock}, "
              f"register at {spec.auto_register:g}, merge {spec.merge_radius_m:g} m / {spec.merge_window_min:g} min")
    return 0
