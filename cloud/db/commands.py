"""`gridwatch db migrate|status`."""
from __future__ import annotations

import argparse
import json


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("db", help="database schema")
    s = p.add_subparsers(dest="action", required=True)
    m = s.add_parser("migrate", help="create or upgrade the schema (idempotent)")
    m.add_argument("--mode", choices=["partitioned", "timescale"],
                   help="storage mode on first migrate (default: timescale when the extension exists)")
    m.set_defaults(handler=_migrate)
    s.add_parser("status", help="storage mode, applied and pending migrations, partitions").set_defaults(handler=_status)


def _migrate(args: argparse.Namespace) -> int:
    from cloud.db.migrate import migrate
    from gridwatch.settings import load_settings

    applied = migrate(load_settings().database_url, args.mode)
    print("applied: " + ", ".join(applied) if applied else "schema is up to date")
    return 0


def _status(args: argparse.Namespace) -> int:
    from cloud.db.migrate import status
    from gridwatch.settings import load_settings

    print(json.dumps(status(load_settings().database_url), indent=2, default=str))
    return 0
