"""The `gridwatch` console script: one argparse tree, handlers imported lazily.

Each area registers its own subcommands from a light `commands` module (only
argparse at import time), so an edge-only install never imports psycopg or FastAPI.
"""
from __future__ import annotations

import argparse
import importlib
import logging
import sys

# Modules with a `register(subparsers)` function, in --help order.
COMMAND_MODULES = (
    "cloud.db.commands",
    "cloud.broker.commands",
    "cloud.api.commands",
    "cloud.commands",
    "cloud.geo.commands",
    "cloud.attendance.commands",
    "cloud.cases.commands",
    "edge.commands",
    "gwsim.commands",
    "gridwatch.demo",
    "gridwatch.bench.commands",
    "gridwatch.protocol_commands",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="gridwatch", description="gridwatch: edge-to-cloud urban grid management "
        "(ingest, grids and attendance, cases, edge agents). Configured by GRIDWATCH_* variables or .env.")
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more logging (-vv for debug)")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            # An area whose optional dependency group is not installed, or that
            # this install leaves out: its commands are simply not offered.
            if exc.name and name.startswith(exc.name):
                continue
            raise
        module.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    level = [logging.WARNING, logging.INFO, logging.DEBUG][min(args.verbose, 2)]
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        return int(args.handler(args) or 0)
    except KeyboardInterrupt:
        return 130
    except UserError as exc:
        print(f"gridwatch: error: {exc}", file=sys.stderr)
        return 2


class UserError(Exception):
    """A mistake the user can fix (bad file, unknown device, ...): printed without a traceback."""


if __name__ == "__main__":
    sys.exit(main())
