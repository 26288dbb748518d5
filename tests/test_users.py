"""Accounts: argon2 hashes, sign-in checks, the last admin, and the audit event of every change."""

from __future__ import annotations

import json

import pytest

from core.audit import audit_trail, verify_chain
from core.errors import SegplanError
from core.users import (
    LOCAL_ADMIN, account_for, add_user, authenticate, deactivate, has_accounts, list_users, require, role_of, set_role,
)


@pytest.fixture
def accounts(store):
    """root (admin) and alice (planner), with passwords."""
    add_user(store, "root", "admin", "root-pw", by=None)
    add_user(store, "alice", "planner", "alice-pw", by="root")
    return store


def _hash(store, name: str) -> str | None:
    return store.cursor().execute("SELECT password_hash FROM users WHERE user_name = ?", [name]).fetchone()[0]


def test_the_password_is_stored_as_an_argon2_hash_not_the_password(accounts):
    stored = _hash(accounts, "alice")
    assert stored != "alice-pw" and "alice-pw" not in stored
    assert stored.startswith("$argon2id$")


def test_right_password_gives_the_role_wrong_or_unknown_gives_none(accounts):
    assert authenticate(accounts, "alice", "alice-pw") == "planner"
    assert authenticate(accounts, " alice ", "alice-pw") == "planner"     # names are trimmed
    assert authenticate(accounts, "alice", "root-pw") is None
    assert authenticate(accounts, "alice", "") is None
    assert authenticate(accounts, "nobody", "alice-pw") is None


def test_an_inactive_account_cannot_sign_in_and_has_no_role(accounts):
    deactivate(accounts, "alice", by="root", reason="left the company")
    assert authenticate(accounts, "alice", "alice-pw") is None
    assert role_of(accounts, "alice") is None
    with pytest.raises(SegplanError, match="unknown user 'alice'"):
        require(accounts, "alice", "view")


def test_an_oidc_only_account_has_no_hash_and_never_signs_in_with_a_password(accounts):
    add_user(accounts, "Vic@Example.org", "viewer", None, by="root")
    assert _hash(accounts, "Vic@Example.org") is None
    assert authenticate(accounts, "Vic@Example.org", "") is None
    assert authenticate(accounts, "Vic@Example.org", "anything") is None
    found = account_for(accounts, "vic@example.org", "Vic")   # e-mails match whatever their case
    assert found is not None and (found.user_name, found.role) == ("Vic@Example.org", "viewer")
    assert account_for(accounts, None, "stranger@example.org") is None


def test_an_old_hash_is_renewed_at_sign_in(accounts):
    from argon2 import PasswordHasher

    weak = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1).hash("alice-pw")
    with accounts.transaction() as cur:
        cur.execute("UPDATE users SET password_hash = ? WHERE user_name = 'alice'", [weak])
    assert authenticate(accounts, "alice", "alice-pw") == "planner"
    renewed = _hash(accounts, "alice")
    assert renewed != weak and not PasswordHasher().check_needs_rehash(renewed)
    assert audit_trail(accounts, action="user_rehash")["entity_id"].tolist() == ["alice"]


def test_names_are_trimmed_validated_and_unique(accounts):
    assert add_user(accounts, "  bob  ", "viewer", "pw", by="root").user_name == "bob"
    with pytest.raises(SegplanError, match="already exists"):
        add_user(accounts, "bob", "planner", "pw", by="root")
    for bad in ("", "   ", "two words", "local admin", "-dash", "x" * 65):
        with pytest.raises(SegplanError, match="is not valid"):
            add_user(accounts, bad, "viewer", "pw", by="root")
    with pytest.raises(SegplanError, match="unknown role"):
        add_user(accounts, "carol", "boss", "pw", by="root")
    assert sorted(list_users(accounts)["user_name"]) == ["alice", "bob", "root"]


def test_the_first_account_must_be_an_admin_and_later_ones_need_an_admin(store):
    with pytest.raises(SegplanError, match="first account must be an admin"):
        add_user(store, "alice", "planner", "pw", by=None)
    assert not has_accounts(store)
    assert add_user(store, "root", "admin", "pw", by=None).role == "admin"
    with pytest.raises(SegplanError, match="an admin must make this change"):
        add_user(store, "bob", "viewer", "pw", by=None)
    add_user(store, "alice", "planner", "pw", by="root")
    with pytest.raises(SegplanError, match=r"alice \(planner\) may not manage users"):
        add_user(store, "bob", "viewer", "pw", by="alice")
    with pytest.raises(SegplanError, match="unknown user 'mallory'"):
        set_role(store, "alice", "admin", by="mallory")
    assert role_of(store, "alice") == "planner"


def test_the_last_active_admin_cannot_be_demoted_or_deactivated(accounts):
    with pytest.raises(SegplanError, match="root is the last active admin and cannot become a viewer"):
        set_role(accounts, "root", "viewer", by="root")
    with pytest.raises(SegplanError, match="root is the last active admin and cannot be deactivated"):
        deactivate(accounts, "root", by="root")
    assert role_of(accounts, "root") == "admin"
    set_role(accounts, "alice", "admin", by="root")            # with a second admin it may
    assert set_role(accounts, "root", "viewer", by="alice").role == "viewer"
    with pytest.raises(SegplanError, match="alice is the last active admin"):
        deactivate(accounts, "alice", by="alice")


def test_every_account_change_appends_its_event_with_no_hash_in_it(accounts):
    set_role(accounts, "alice", "approver", by="root", reason="covers approvals in August")
    deactivate(accounts, "alice", by="root")
    trail = audit_trail(accounts)
    assert trail["action"].tolist() == ["user_add", "user_add", "user_role", "user_deactivate"]
    assert trail["user_name"].tolist() == [LOCAL_ADMIN, "root", "root", "root"]
    assert trail["entity"].unique().tolist() == ["user"]
    assert trail["entity_id"].tolist() == ["root", "alice", "alice", "alice"]
    role_change = trail.iloc[2]
    assert json.loads(role_change["before"])["role"] == "planner"
    assert json.loads(role_change["after"])["role"] == "approver"
    assert role_change["reason"] == "covers approvals in August"
    assert json.loads(trail.iloc[3]["after"]) == {"role": "approver", "active": False, "has_password": True}
    text = trail.to_csv()
    for name in ("root", "alice"):
        assert _hash(accounts, name) not in text
    assert "argon2" not in text and "pw" not in text
    assert verify_chain(accounts).intact


def test_a_refused_change_writes_nothing(accounts):
    before = len(audit_trail(accounts))
    for attempt in (lambda: set_role(accounts, "root", "planner", by="root"),
                    lambda: add_user(accounts, "alice", "viewer", "pw", by="root"),
                    lambda: deactivate(accounts, "ghost", by="root")):
        with pytest.raises(SegplanError):
            attempt()
    assert len(audit_trail(accounts)) == before
    assert list_users(accounts).set_index("user_name")["role"].to_dict() == {"alice": "planner", "root": "admin"}


def test_list_users_never_shows_the_hash(accounts):
    frame = list_users(accounts)
    assert "password_hash" not in frame.columns
    assert frame.set_index("user_name")["has_password"].to_dict() == {"alice": True, "root": True}


def test_the_governance_doc_has_the_role_matrix_as_in_the_code():
    from pathlib import Path

    from core.auth import PERMISSIONS, ROLES

    text = (Path(__file__).resolve().parents[1] / "docs" / "governance.md").read_text()
    section = text.split("## Roles and permissions", 1)[1].split("\n## ", 1)[0]
    header = next(line for line in section.splitlines() if line.startswith("| action |"))
    assert [cell.strip().strip("`") for cell in header.strip("|").split("|")][1:] == list(ROLES)
    for action, allowed in PERMISSIONS.items():
        row = next((line for line in section.splitlines() if line.startswith(f"| `{action}`")), None)
        assert row is not None, f"docs/governance.md has no row for {action}"
        marks = [cell.strip() for cell in row.strip("|").split("|")][1:]
        assert {role for role, mark in zip(ROLES, marks, strict=True) if mark == "yes"} == set(allowed), action
