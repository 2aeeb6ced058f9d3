"""`gridwatch cloud` (ingest + API + jobs) and `gridwatch ingest run|drain` (one slot)."""
from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("cloud", help="run ingest workers, the API and scheduled jobs in one process tree")
    p.add_argument("--ingest-workers", type=int, default=None,
                   help="ingest consumers on the shared subscription (default: GRIDWATCH_INGEST_WORKERS or 1)")
    p.add_argument("--first-slot", type=int, default=1,
                   help="slot number of the first worker; give each host its own range (default 1)")
    p.add_argument("--no-api", action="store_true", help="do not serve the HTTP API")
    p.add_argument("--no-jobs", action="store_true", help="do not run scheduled jobs")
    p.set_defaults(handler=_cloud)

    i = sub.add_parser("ingest", help="run or retire one ingest slot")
    s = i.add_subparsers(dest="action", required=True)
    r = s.add_parser("run", help="run one ingest slot in the foreground")
    r.add_argument("--slot", type=int, required=True, help="slot number: the client id is <prefix>-ingest-<slot>")
    r.set_defaults(handler=_run_slot)
    d = s.add_parser("drain", help="retire a slot: store what the broker holds for it, then end its session")
    d.add_argument("--slot", type=int, required=True)
    d.add_argument("--idle", type=float, default=5.0, help="seconds without messages before it ends")
    d.set_defaults(handler=_drain)


def _cloud(args: argparse.Namespace) -> int:
    from cloud.app import run_cloud
    from cloud.db.errors import DatabaseError
    from gridwatch.cli import UserError
    from gridwatch.settings import load_settings

    settings = load_settings()
    workers = args.ingest_workers or settings.ingest_workers
    try:
        return run_cloud(settings, workers, api=not args.no_api, jobs=not args.no_jobs, verbose=args.verbose,
                         first_slot=args.first_slot)
    except DatabaseError as exc:
        raise UserError(str(exc)) from exc


def _run_slot(args: argparse.Namespace) -> int:
    from cloud.ingest.slot import run_slot
    from gridwatch.settings import load_settings

    run_slot(load_settings(), args.slot)
    return 0


def _drain(args: argparse.Namespace) -> int:
    from cloud.ingest.worker import IngestWorker
    from gridwatch.settings import load_settings

    n = IngestWorker(load_settings(), args.slot).drain(args.idle)
    print(f"slot {args.slot} drained: {n} messages stored; its session is closed")
    return 0
