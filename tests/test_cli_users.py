"""`segplan user ...`, `segplan audit` and `--user` on writing commands: the contracts scripts rely on."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from core.audit import audit_trail
from core.cli import app
from core.store import Store
from core.users import authenticate, list_users

runner = CliRunner()
ROOT = Path(__file__).resolve().parents[1]
ORDERS = "order_id,order_date,customer_id,product_id,quantity\nA1,2025-01-06,C1,P1,10\nA2,2025-01-13,C2,P1,4\n"


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / "cli.duckdb"


def invoke(db: Path, *args: str, stdin: str | None = None):
    return runner.invoke(app, ["--db", str(db), *args], input=stdin)


def with_admin(db: Path) -> Path:
    """A database whose first account is root (admin, password root-pw)."""
    result = invoke(db, "user", "add", "root", "--role", "admin", "--password-stdin", stdin="root-pw\n")
    assert result.exit_code == 0, result.output
    return db


def users_of(db: Path) -> dict[str, tuple[str, bool]]:
    with Store(db) as store:
        frame = list_users(store)
    return {row.user_name: (row.role, bool(row.active)) for row in frame.itertuples()}


def test_user_add_with_password_stdin_hashes_the_password(db):
    with_admin(db)
    result = invoke(db, "user", "add", "alice", "--role", "planner", "--password-stdin", "--by", "root",
                    stdin="s3cret\n")
    assert result.exit_code == 0, result.output
    assert "user alice added as planner (password)" in result.output
    with Store(db) as store:
        assert authenticate(store, "alice", "s3cret") == "planner"
        assert authenticate(store, "alice", "s3cret\n") is None
        stored = store.cursor().execute("SELECT password_hash FROM users WHERE user_name = 'alice'").fetchone()[0]
    assert "s3cret" not in stored


def test_the_first_account_must_be_an_admin(db):
    result = invoke(db, "user", "add", "alice", "--role", "planner", "--password-stdin", stdin="pw\n")
    assert result.exit_code == 1
    assert "the first account must be an admin" in result.output
    assert users_of(db) == {}


def test_once_accounts_exist_changes_need_an_admin_by(db):
    with_admin(db)
    no_by = invoke(db, "user", "add", "bob", "--role", "viewer", "--no-password")
    assert no_by.exit_code == 1 and "--by ADMIN" in no_by.output
    invoke(db, "user", "add", "alice", "--role", "planner", "--no-password", "--by", "root")
    by_planner = invoke(db, "user", "add", "bob", "--role", "viewer", "--no-password", "--by", "alice")
    assert by_planner.exit_code == 1
    assert "alice (planner) may not manage users" in by_planner.output
    assert set(users_of(db)) == {"root", "alice"}


def test_no_password_option_and_no_terminal_is_a_clear_error_not_a_hang(db):
    """A script without --password-stdin or --no-password: one line, exit 1, nothing created."""
    with_admin(db)
    process = subprocess.run(
        [sys.executable, "-c", "from core.cli import app; app()", "--db", str(db), "user", "add", "alice",
         "--role", "planner", "--by", "root"],
        stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert process.returncode == 1
    assert process.stderr.strip().splitlines() == [
        "segplan: error: no password given and no terminal to ask for one (use --password-stdin (password on "
        "standard input) or --no-password (OIDC sign-in only))"]
    assert "alice" not in users_of(db)


def test_a_bad_name_or_role_is_refused_before_any_password_is_read(db):
    bad_role = invoke(db, "user", "add", "root", "--role", "boss")
    assert bad_role.exit_code == 1 and "unknown role 'boss'" in bad_role.output
    bad_name = invoke(db, "user", "add", "two words", "--role", "admin")
    assert bad_name.exit_code == 1 and "is not valid" in bad_name.output


def test_user_list_set_role_and_deactivate(db):
    with_admin(db)
    assert "no accounts" not in invoke(db, "user", "list").output
    invoke(db, "user", "add", "alice", "--role", "planner", "--no-password", "--by", "root")
    listed = invoke(db, "user", "list")
    assert listed.exit_code == 0
    lines = listed.output.splitlines()
    assert lines[0].split()[:4] == ["alice", "planner", "active", "oidc"]
    assert lines[1].split()[:4] == ["root", "admin", "active", "password"]

    result = invoke(db, "user", "set-role", "alice", "--role", "approver", "--by", "root", "--reason", "holiday cover")
    assert result.exit_code == 0 and "user alice is now approver" in result.output
    result = invoke(db, "user", "deactivate", "alice", "--by", "root")
    assert result.exit_code == 0 and "user alice deactivated" in result.output
    assert users_of(db) == {"root": ("admin", True), "alice": ("approver", False)}
    assert "deactivated" in invoke(db, "user", "list").output


def test_the_last_admin_is_protected_and_nothing_changes(db):
    with_admin(db)
    for args in (("user", "set-role", "root", "--role", "viewer", "--by", "root"),
                 ("user", "deactivate", "root", "--by", "root")):
        result = invoke(db, *args)
        assert result.exit_code == 1
        assert "root is the last active admin" in result.output
    assert users_of(db) == {"root": ("admin", True)}


def test_user_list_without_accounts_says_local_admin(db):
    result = invoke(db, "user", "list")
    assert result.exit_code == 0 and "local admin" in result.output


def test_audit_writes_every_event_and_filters(db, tmp_path):
    with_admin(db)
    invoke(db, "user", "add", "alice", "--role", "planner", "--no-password", "--by", "root")
    invoke(db, "user", "set-role", "alice", "--role", "viewer", "--by", "root")
    out = tmp_path / "audit.csv"
    result = invoke(db, "audit", "--out", str(out))
    assert result.exit_code == 0 and "3 audit events written" in result.output
    frame = pd.read_csv(out)
    assert frame.columns.tolist() == ["event_id", "event_at", "user_name", "action", "entity", "entity_id", "before",
                                      "after", "reason"]
    assert frame["action"].tolist() == ["user_add", "user_add", "user_role"]

    invoke(db, "audit", "--out", str(out), "--action", "user_add", "--user", "root")
    assert pd.read_csv(out)["entity_id"].tolist() == ["alice"]
    invoke(db, "audit", "--out", str(out), "--since", "2000-01-01", "--until", "2000-12-31")
    assert len(pd.read_csv(out)) == 0
    bad = invoke(db, "audit", "--out", str(out), "--since", "yesterday")
    assert bad.exit_code == 1 and "--since 'yesterday' is not a date" in bad.output


def test_audit_verify_exits_non_zero_when_the_chain_is_broken(db):
    with_admin(db)
    invoke(db, "user", "add", "alice", "--role", "planner", "--no-password", "--by", "root")
    ok = invoke(db, "audit", "--verify")
    assert ok.exit_code == 0 and "audit hash chain intact: 2 events" in ok.output
    with Store(db) as store, store.transaction() as cur:
        cur.execute("UPDATE audit_log SET user_name = 'someone else' WHERE event_id = 1")
    broken = invoke(db, "audit", "--verify")
    assert broken.exit_code == 1
    assert "audit hash chain broken at event 1" in broken.output


def test_writing_commands_name_the_user_and_check_the_role(db, tmp_path):
    orders = tmp_path / "orders.csv"
    orders.write_text(ORDERS)
    free = invoke(db, "ingest", "orders", str(orders), "--user", "ana")     # no accounts: anyone may
    assert free.exit_code == 0, free.output
    with Store(db) as store:
        assert audit_trail(store, action="ingest")["user_name"].tolist() == ["ana"]

    with_admin(db)
    invoke(db, "user", "add", "vic", "--role", "viewer", "--no-password", "--by", "root")
    invoke(db, "user", "add", "pat", "--role", "planner", "--no-password", "--by", "root")
    refused = invoke(db, "ingest", "orders", str(orders), "--user", "vic")
    assert refused.exit_code == 1 and "vic (viewer) may not ingest" in refused.output
    unknown = invoke(db, "ingest", "orders", str(orders), "--user", "nobody")
    assert unknown.exit_code == 1 and "unknown user 'nobody'" in unknown.output
    with Store(db) as store:
        assert store.table_counts()["orders"] == 2          # the refused loads changed nothing
    allowed = invoke(db, "ingest", "orders", str(orders), "--user", "pat", "--mode", "replace")
    assert allowed.exit_code == 0, allowed.output
    refused_run = invoke(db, "segment", "--level", "product", "--method", "abc_xyz", "--user", "vic")
    assert refused_run.exit_code == 1 and "vic (viewer) may not segment" in refused_run.output
    with Store(db) as store:
        assert audit_trail(store, action="ingest")["user_name"].tolist() == ["ana", "pat"]
        assert audit_trail(store, action="run").empty
