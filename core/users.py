"""Accounts: who may sign in and with which role.

With no account at all segplan runs as one local admin (`LOCAL_ADMIN`), clearly labelled;
once an account exists every action is checked against the acting user's role. Passwords are
kept as argon2id hashes (argon2-cffi); every account change appends its audit event in the
same transaction, and accounts are deactivated, never deleted (the audit trail names them).
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from core.audit import record as audit_record
from core.auth import check_role, require_role
from core.errors import SegplanError
from core.store import Store

if TYPE_CHECKING:
    import duckdb
    import pandas as pd

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


# -- accounts: add, sign in, change role, deactivate ------------------------------------------
#: Letters, digits and . _ @ + - (an e-mail address is a valid name, so OIDC accounts can use it).
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@+-]{0,63}")

#: Columns of `list_users`: never the password hash.
USER_COLUMNS = ("user_name", "role", "active", "has_password", "created_at", "created_by")


@dataclass(frozen=True)
class Account:
    user_name: str
    role: str
    active: bool
    has_password: bool


def _hasher():
    from argon2 import PasswordHasher

    return PasswordHasher()   # the library's current recommended parameters (RFC 9106 low-memory profile)


def check_name(name: object) -> str:
    """The trimmed user name; a `SegplanError` when it is empty or has characters a name may not hold."""
    text = str(name or "").strip()
    if not _NAME.fullmatch(text):
        raise SegplanError(f"user name {text!r} is not valid",
                           hint="use 1 to 64 letters, digits and . _ @ + - (no spaces), starting with a letter or digit")
    return text


def _check_password(password: str | None) -> str | None:
    if password is None:
        return None
    if not password.strip():
        raise SegplanError("the password is empty", hint="give a password, or create the account without one (OIDC sign-in)")
    return password


def _account(cur: duckdb.DuckDBPyConnection, name: str) -> Account | None:
    row = cur.execute("SELECT user_name, role, active, password_hash IS NOT NULL FROM users WHERE user_name = ?",
                      [name]).fetchone()
    return None if row is None else Account(str(row[0]), str(row[1]), bool(row[2]), bool(row[3]))


def _state(account: Account) -> dict[str, object]:
    """What the audit trail keeps of an account: everything but the hash."""
    return {"role": account.role, "active": account.active, "has_password": account.has_password}


def _require_admin(store: Store, by: str | None) -> str:
    """The acting user's name when it may manage accounts (anyone while there are none: then
    an unnamed actor is the local admin)."""
    if not str(by or "").strip():
        if not has_accounts(store):
            return LOCAL_ADMIN
        raise SegplanError("accounts exist, so an admin must make this change",
                           hint="name the admin (--by ADMIN on the command line)")
    require(store, by, "manage_users")
    return str(by).strip()


def _other_active_admins(cur: duckdb.DuckDBPyConnection, name: str) -> int:
    return int(cur.execute("SELECT count(*) FROM users WHERE role = 'admin' AND active AND user_name <> ?",
                           [name]).fetchone()[0])


def add_user(store: Store, name: str, role: str, password: str | None = None, *, by: str | None,
             reason: str | None = None) -> Account:
    """Create an account; ``password`` None makes an account that signs in through OIDC only.

    ``by`` must be an admin once accounts exist. The first account must be an admin: otherwise
    the installation would have accounts and nobody allowed to manage them.
    """
    name = check_name(name)
    role = check_role(role)
    password = _check_password(password)
    actor = _require_admin(store, by)
    password_hash = None if password is None else _hasher().hash(password)
    with store.transaction() as cur:
        if _account(cur, name) is not None:
            raise SegplanError(f"user {name!r} already exists",
                               hint="choose another name, or change the account's role with `segplan user set-role`")
        first = int(cur.execute("SELECT count(*) FROM users").fetchone()[0]) == 0
        if first and role != "admin":
            raise SegplanError(f"the first account must be an admin, not a {role}",
                               hint="create an admin first: segplan user add NAME --role admin")
        cur.execute("INSERT INTO users (user_name, role, password_hash, created_at, created_by, active) "
                    "VALUES (?, ?, ?, ?, ?, TRUE)", [name, role, password_hash, dt.datetime.now(), actor])
        account = Account(name, role, True, password_hash is not None)
        audit_record(cur, user=actor, action="user_add", entity="user", entity_id=name, after=_state(account),
                     reason=reason)
    return account


def authenticate(store: Store, name: str, password: str) -> str | None:
    """The account's role when the name and password match an active account; None otherwise.

    Accounts without a password (OIDC only) and deactivated accounts never sign in here. When
    the hashing library's parameters have moved on since the hash was made, it is rehashed.
    """
    from argon2.exceptions import InvalidHashError, VerificationError

    name = str(name or "").strip()
    if not name or not password:
        return None
    row = store.cursor().execute("SELECT role, password_hash FROM users WHERE user_name = ? AND active",
                                 [name]).fetchone()
    if row is None or row[1] is None:
        return None
    role, stored = str(row[0]), str(row[1])
    hasher = _hasher()
    try:
        hasher.verify(stored, password)
    except (VerificationError, InvalidHashError):
        return None
    if hasher.check_needs_rehash(stored):
        with store.transaction() as cur:
            cur.execute("UPDATE users SET password_hash = ? WHERE user_name = ?", [hasher.hash(password), name])
            audit_record(cur, user=name, action="user_rehash", entity="user", entity_id=name,
                         reason="password hash renewed with the current parameters at sign-in")
    return role


def account_for(store: Store, *names: str | None) -> Account | None:
    """The active account named by the first of ``names`` that has one (case-insensitive: OIDC e-mails)."""
    cur = store.cursor()
    for candidate in names:
        text = str(candidate or "").strip()
        if not text:
            continue
        row = cur.execute("""SELECT user_name, role, active, password_hash IS NOT NULL FROM users
                             WHERE lower(user_name) = lower(?) AND active ORDER BY user_name LIMIT 1""",
                          [text]).fetchone()
        if row is not None:
            return Account(str(row[0]), str(row[1]), bool(row[2]), bool(row[3]))
    return None


def list_users(store: Store) -> pd.DataFrame:
    """Every account (active first, then by name) without its password hash."""
    return store.cursor().execute(
        """SELECT user_name, role, active, password_hash IS NOT NULL AS has_password, created_at, created_by
           FROM users ORDER BY active DESC, user_name""").df()


def _existing(cur: duckdb.DuckDBPyConnection, name: str) -> Account:
    account = _account(cur, name)
    if account is None:
        raise SegplanError(f"unknown user {name!r}", hint="see the accounts with `segplan user list`")
    return account


def set_role(store: Store, name: str, role: str, *, by: str | None, reason: str | None = None) -> Account:
    """Change an account's role; the last active admin cannot be demoted."""
    name = str(name or "").strip()
    role = check_role(role)
    actor = _require_admin(store, by)
    with store.transaction() as cur:
        before = _existing(cur, name)
        if before.role == role:
            return before
        if before.role == "admin" and before.active and _other_active_admins(cur, name) == 0:
            raise SegplanError(f"{name} is the last active admin and cannot become a {role}",
                               hint="make another account an admin first")
        cur.execute("UPDATE users SET role = ? WHERE user_name = ?", [role, name])
        after = Account(name, role, before.active, before.has_password)
        audit_record(cur, user=actor, action="user_role", entity="user", entity_id=name, before=_state(before),
                     after=_state(after), reason=reason)
    return after


def deactivate(store: Store, name: str, *, by: str | None, reason: str | None = None) -> Account:
    """Stop an account from signing in. Accounts are never deleted: the audit trail names them.

    The last active admin cannot be deactivated.
    """
    name = str(name or "").strip()
    actor = _require_admin(store, by)
    with store.transaction() as cur:
        before = _existing(cur, name)
        if not before.active:
            raise SegplanError(f"user {name!r} is already deactivated", hint="nothing to do")
        if before.role == "admin" and _other_active_admins(cur, name) == 0:
            raise SegplanError(f"{name} is the last active admin and cannot be deactivated",
                               hint="make another account an admin first")
        cur.execute("UPDATE users SET active = FALSE WHERE user_name = ?", [name])
        after = Account(name, before.role, False, before.has_password)
        audit_record(cur, user=actor, action="user_deactivate", entity="user", entity_id=name,
                     before=_state(before), after=_state(after), reason=reason)
    return after
