"""`gridwatch attendance recompute --day D` and `gridwatch attendance run` (one pass of the job)."""
from __future__ import annotations

import argparse
from datetime import date


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("attendance", help="judge worker shifts: on-post minutes, verdicts, flags")
    s = p.add_subparsers(dest="action", required=True)
    r = s.add_parser("recompute", help="judge every shift of a past (or current) day again from the stored fixes")
    r.add_argument("--day", required=True, type=date.fromisoformat, help="local date of the shifts, YYYY-MM-DD")
    r.set_defaults(handler=_recompute)
    j = s.add_parser("run", help="one pass of the attendance job (what `gridwatch cloud` runs every minute)")
    j.set_defaults(handler=_run)


def _recompute(args: argparse.Namespace) -> int:
    from datetime import timedelta

    import psycopg

    from cloud.attendance.job import recompute_day
    from cloud.attendance.rules import Rules
    from gridwatch.settings import load_settings

    settings = load_settings()
    with psycopg.connect(settings.database_url) as conn:
        n = recompute_day(conn, args.day, Rules.from_settings(settings),
                          timedelta(minutes=settings.attendance_final_after_minutes))
        verdicts = conn.execute("SELECT verdict, count(*) FROM attendance WHERE day = %s GROUP BY 1 ORDER BY 1",
                                (args.day,)).fetchall()
    print(f"{args.day}: {n} shifts judged; " + ", ".join(f"{v} {c}" for v, c in verdicts))
    return 0


def _run(args: argparse.Namespace) -> int:
    from cloud.attendance.job import run_job
    from gridwatch.settings import load_settings

    settings = load_settings()
    report = run_job(settings.database_url, settings)
    if report is None:
        return 1
    print(f"{report.shifts} shifts judged, {report.events} events, {report.devices_touched} devices with new fixes")
    return 0
