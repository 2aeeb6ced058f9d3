"""`gridwatch protocols generate|check`: the generated JSON Schema and AsyncAPI files."""
from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("protocols", help="generate or check the JSON Schema and AsyncAPI files")
    s = p.add_subparsers(dest="action", required=True)
    s.add_parser("generate", help="write protocols/schema/*.json and protocols/asyncapi.json").set_defaults(handler=_generate)
    s.add_parser("check", help="exit 1 when the checked-in files differ from the models").set_defaults(handler=_check)


def _generate(args: argparse.Namespace) -> int:
    from protocols.schema_gen import write_all

    for path in write_all():
        print(path)
    return 0


def _check(args: argparse.Namespace) -> int:
    from protocols.schema_gen import rendered

    stale = [str(p) for p, content in rendered().items() if not p.exists() or p.read_bytes() != content]
    for path in stale:
        print(f"out of date: {path}")
    return 1 if stale else 0
