"""`gridwatch users add`: accounts for the API and the dashboard."""
from __future__ import annotations

import argparse
import sys

ROLES = ("admin", "supervisor", "operator")  # cloud.users.ROLES, kept here so --help imports nothing heavy


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("users", help="API and dashboard users")
    s = p.add_subparsers(dest="action", required=True)
    add = s.add_parser("add", help="create a user (password from --password or standard input)")
    add.add_argument("name", help="login name, 1 to 64 characters")
    add.add_argument("--role", required=True, choices=ROLES,
                     help="admin: everything, whatever the scope; supervisor: devices, positions, cases; "
                          "operator: those and dead letters")
    add.add_argument("--scope", metavar="GRIDCODE",
                     help="restrict the user to this grid and the grids below it (admins always see all)")
    add.add_argument("--department", metavar="NAME", help="department the user works for")
    add.add_argument("--password", metavar="PW",
                     help="the password; without it, it is read from standard input (first line)")
    add.set_defaults(handler=_add)


def _read_password(given: str | None) -> str:
    if given is not None:
        return given
    if sys.stdin is not None and sys.stdin.isatty():
        import getpass

        first = getpass.getpass("password: ")
        if first != getpass.getpass("again: "):
            from gridwatch.cli import UserError

            raise UserError("the two passwords differ")
        return first
    line = sys.stdin.readline() if sys.stdin is not None else ""
    return line.rstrip("\r\n")


def _add(args: argparse.Namespace) -> int:
    import psycopg

    from cloud.users import UserInputError, add_user
    from gridwatch.cli import UserError
    from gridwatch.settings import load_settings

    password = _read_password(args.password)
    if not password:
        raise UserError("the password must not be empty (give --password or one line on standard input)")
    try:
        with psycopg.connect(load_settings().database_url) as conn:
            user = add_user(conn, args.name, args.role, password, scope=args.scope, department=args.department)
    except UserInputError as exc:
        raise UserError(str(exc)) from None
    except psycopg.OperationalError as exc:
        raise UserError(f"cannot reach the database (GRIDWATCH_DATABASE_URL): {exc}") from None
    scope = f", scope {user.scope_grid}" if user.scope_grid else ""
    print(f"user {user.name} added (role {user.role}{scope})")
    return 0
