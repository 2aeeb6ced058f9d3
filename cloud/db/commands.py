"""`gridwatch db migrate|status`."""
from __future__ import annotations

import argparse
import dataclasses
import json
from collections.abc import Iterator
from contextlib import contextmanager


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("db", help="database schema")
    s = p.add_subparsers(dest="action", required=True)
    m = s.add_parser("migrate", help="create or upgrade the schema (idempotent), then create partitions")
    m.add_argument("--mode", choices=["partitioned", "timescale"],
                   help="storage mode on first migrate (default: timescale when the extension is preloaded)")
    m.set_defaults(handler=_migrate)
    s.add_parser("status", help="storage mode, applied and pending migrations, partitions").set_defaults(handler=_status)


@contextmanager
def _as_user_errors() -> Iterator[None]:
    # A database problem is the user's to fix: printed without a traceback.
    from cloud.db.errors import DatabaseError
    from gridwatch.cli import UserError

    try:
        yield
    except DatabaseError as exc:
        raise UserError(str(exc)) from exc


def _migrate(args: argparse.Namespace) -> int:
    import psycopg

    from cloud.db.errors import wrap_errors
    from cloud.db.migrate import migrate
    from cloud.db.partitions import apply_policies, ensure_partitions
    from gridwatch.settings import load_settings

    settings = load_settings()
    with _as_user_errors():
        applied = migrate(settings.database_url, args.mode)
        with wrap_errors(settings.database_url), psycopg.connect(settings.database_url) as conn:
            actions = ensure_partitions(conn, settings) + apply_policies(conn, settings)
    print("applied: " + ", ".join(applied) if applied else "schema is up to date")
    _print_actions(actions)
    return 0


def _print_actions(actions: list) -> None:
    created = [a for a in actions if a.action == "created"]
    if created:
        moved = sum(a.row_count or 0 for a in created)
        print(f"partitions created: {len(created)} ({moved} rows moved out of DEFAULT)")
    for a in actions:
        if a.action != "created":
            print(f"{a.relation}: {a.action}")


def _status(args: argparse.Namespace) -> int:
    import psycopg

    from cloud.db.errors import wrap_errors
    from cloud.db.migrate import status
    from cloud.db.partitions import partition_report
    from gridwatch.settings import load_settings

    url = load_settings().database_url
    with _as_user_errors():
        out = status(url)
        out["partitions"] = None  # before migration 0003 there is nothing to report
        if "0003_partition_maintenance" in out["applied"]:
            with wrap_errors(url), psycopg.connect(url) as conn:
                out["partitions"] = [dataclasses.asdict(r) for r in partition_report(conn)]
    print(json.dumps(out, indent=2, default=str))
    return 0
