"""Accounts: who may sign in and with which role.

With no account at all segplan runs as one local admin (`LOCAL_ADMIN`), clearly labelled;
once an account exists every action is checked against the acting user's role.
"""

from __future__ import annotations

from core.auth import require_role
from core.errors import SegplanError
from core.store import Store

#: The single user of an installation that has no accounts yet.
LOCAL_ADMIN = "local admin"


def has_accounts(store: Store) -> bool:
    return bool(store.cursor().execute("SELECT count(*) FROM users").fetchone()[0])


def role_of(store: Store, user_name: str) -> str | None:
    """The active account's role; ``admin`` for anyone when there are no accounts; None for an unknown user."""
    if not has_accounts(store):
        return "admin"
    row = store.cursor().execute(
        "SELECT role FROM users WHERE user_name = ? AND active", [user_name]
    ).fetchone()
    return None if row is None else str(row[0])


def require(store: Store, user_name: str | None, action: str) -> str:
    """The user's role when it may take ``action``; a `SegplanError` naming user and action otherwise."""
    if not user_name or not str(user_name).strip():
        raise SegplanError(f"no user given to {action.replace('_', ' ')}", hint="name the user (--user NAME)")
    role = role_of(store, user_name)
    if role is None:
        raise SegplanError(f"unknown user {user_name!r}", hint="create the account with `segplan user add NAME --role ROLE`")
    require_role(user_name, role, action)
    return role
