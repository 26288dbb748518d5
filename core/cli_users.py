"""`segplan user ...` and `segplan audit`: accounts, roles and the audit trail from the command line.

Registered on `core.cli.app` by one import at the bottom of core/cli.py. Account changes need
``--by ADMIN`` once accounts exist (the first account may be created without it and must be an
admin); a refused change prints one line, exits 1 and changes nothing.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Optional

import typer

from core.cli_common import DbOption, ReasonOption, _open_store, _run, _write_csv, app
from core.errors import SegplanError

user_app = typer.Typer(help="Accounts: add, list, change role, deactivate.", no_args_is_help=True)
app.add_typer(user_app, name="user")

ByOption = Annotated[Optional[str], typer.Option(
    "--by", help="The admin making the change (needed once accounts exist).", show_default=False)]
RoleOption = Annotated[str, typer.Option("--role", help="viewer, planner, approver or admin.")]
NameArgument = Annotated[str, typer.Argument(help="User name.")]


def _password(from_stdin: bool, none: bool) -> str | None:
    """The new account's password: from stdin, from a hidden prompt (asked twice), or none.

    Without a terminal and without --password-stdin or --no-password there is no one to ask:
    refuse rather than hang or silently make an account that cannot sign in.
    """
    if from_stdin and none:
        raise SegplanError("--password-stdin and --no-password are both given", hint="give one of them")
    if none:
        return None
    if from_stdin:
        line = sys.stdin.readline().rstrip("\r\n")
        if not line:
            raise SegplanError("--password-stdin: no password on standard input",
                               hint="pipe it in, e.g. printf '%s\\n' \"$PASSWORD\" | segplan user add ...")
        return line
    if not sys.stdin.isatty():
        raise SegplanError("no password given and no terminal to ask for one",
                           hint="use --password-stdin (password on standard input) or --no-password (OIDC sign-in only)")
    first = typer.prompt("Password", hide_input=True)
    if first != typer.prompt("Password again", hide_input=True):
        raise SegplanError("the two passwords differ", hint="type the same password twice")
    return first


@user_app.command("add")
def user_add(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="User name (an e-mail address for OIDC accounts).")],
    role: RoleOption,
    password_stdin: Annotated[bool, typer.Option(
        "--password-stdin", help="Read the password from the first line of standard input (for scripts).")] = False,
    no_password: Annotated[bool, typer.Option(
        "--no-password", help="No password: the account signs in through OIDC only.")] = False,
    by: ByOption = None,
    reason: ReasonOption = None,
    db: DbOption = None,
) -> None:
    """Create an account; its password is asked twice on the terminal unless given otherwise."""

    def body() -> None:
        from core.auth import check_role
        from core.users import add_user, check_name

        check_name(name)          # a bad name or role is refused before asking for a password
        check_role(role)
        password = _password(password_stdin, no_password)
        with _open_store(ctx, db) as store:
            account = add_user(store, name, role, password, by=by, reason=reason)
        sign_in = "password" if account.has_password else "OIDC only"
        typer.echo(f"user {account.user_name} added as {account.role} ({sign_in})")

    _run(body)


@user_app.command("list")
def user_list(ctx: typer.Context, db: DbOption = None) -> None:
    """List the accounts: name, role, active, sign-in, created when and by whom."""

    def body() -> None:
        from core.users import list_users

        with _open_store(ctx, db) as store:
            frame = list_users(store)
        if frame.empty:
            typer.echo("no accounts: segplan runs as the local admin (create one with `segplan user add NAME --role admin`)")
            return
        for row in frame.itertuples(index=False):
            state = "active" if row.active else "deactivated"
            sign_in = "password" if row.has_password else "oidc"
            typer.echo(f"{row.user_name:<24} {row.role:<9} {state:<11} {sign_in:<8} "
                       f"{row.created_at:%Y-%m-%d %H:%M}  by {row.created_by or ''}")

    _run(body)


def _change(ctx: typer.Context, db: Path | None, change: str, *args: str, by: str | None, reason: str | None,
            done: str) -> None:
    """Change an account with ``core.users.<change>(store, *args, by=, reason=)``; print ``done`` of the account."""

    def body() -> None:
        from core import users

        with _open_store(ctx, db) as store:
            account = getattr(users, change)(store, *args, by=by, reason=reason)
        typer.echo(done.format(account=account))

    _run(body)


@user_app.command("set-role")
def user_set_role(
    ctx: typer.Context,
    name: NameArgument,
    role: RoleOption,
    by: ByOption = None,
    reason: ReasonOption = None,
    db: DbOption = None,
) -> None:
    """Change an account's role (the last active admin keeps theirs)."""
    _change(ctx, db, "set_role", name, role, by=by, reason=reason, done="user {account.user_name} is now {account.role}")


@user_app.command("deactivate")
def user_deactivate(
    ctx: typer.Context,
    name: NameArgument,
    by: ByOption = None,
    reason: ReasonOption = None,
    db: DbOption = None,
) -> None:
    """Stop an account from signing in; it is kept, since the audit trail names it."""
    _change(ctx, db, "deactivate", name, by=by, reason=reason, done="user {account.user_name} deactivated")


def _moment(text: str | None, option: str):
    """A date or date-time given on the command line (ISO 8601)."""
    import datetime as dt

    if text is None:
        return None
    try:
        return dt.datetime.fromisoformat(text)
    except ValueError:
        raise SegplanError(f"{option} {text!r} is not a date", hint=f"use ISO dates, e.g. {option} 2026-01-31") from None


@app.command()
def audit(
    ctx: typer.Context,
    out: Annotated[Optional[Path], typer.Option("--out", help="CSV file to write the events to.",
                                                show_default=False)] = None,
    user: Annotated[Optional[str], typer.Option("--user", help="Only this user's events.", show_default=False)] = None,
    action: Annotated[Optional[str], typer.Option(
        "--action", help="Only this action (ingest, run, rename, policy_edit, user_add, ...).", show_default=False)] = None,
    since: Annotated[Optional[str], typer.Option("--since", help="From this date or time (ISO), inclusive.",
                                                 show_default=False)] = None,
    until: Annotated[Optional[str], typer.Option("--until", help="Before this date or time (ISO), exclusive.",
                                                 show_default=False)] = None,
    verify: Annotated[bool, typer.Option("--verify", help="Check the hash chain; exit 1 when it is broken.")] = False,
    db: DbOption = None,
) -> None:
    """Write the audit trail as CSV (oldest first), and/or check its hash chain."""

    def body() -> None:
        from core.audit import audit_trail, verify_chain

        if out is None and not verify:
            raise SegplanError("nothing to do", hint="give --out FILE.csv, --verify, or both")
        start, end = _moment(since, "--since"), _moment(until, "--until")
        with _open_store(ctx, db) as store:
            check = verify_chain(store) if verify else None
            frame = audit_trail(store, user=user, action=action, since=start, until=end) if out else None
        if frame is not None and out is not None:
            _write_csv(frame, out)
            typer.echo(f"{len(frame)} audit events written to {out}")
        if check is not None:
            if not check.intact:
                raise SegplanError(f"audit hash chain broken at event {check.broken_at} of {check.events}",
                                   hint="that event or the one before it was edited or deleted outside segplan")
            typer.echo(f"audit hash chain intact: {check.events} events")

    _run(body)
