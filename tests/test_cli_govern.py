"""`segplan submit|approve|reject|restore|override|export`: each command, its --json keys, and refusals that
exit non-zero with one line on stderr and leave the database exactly as it was."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from core.cli import app
from core.store import Store
from governance_support import add_team, save_rules_version

runner = CliRunner()


@pytest.fixture
def db(tmp_path: Path) -> Path:
    """A database with the team's accounts, a product version 1 (A = Runners, B = Slow) and a customer_product version 2."""
    path = tmp_path / "govern.duckdb"
    with Store(path) as store:
        add_team(store)
        save_rules_version(store, {"P1": "A", "P2": "A", "P3": "B"}, {"A": "Runners", "B": "Slow"})
        save_rules_version(store, {("C1", "P1"): "K", ("C2", "P1"): "L"}, level="customer_product")
    return path


def invoke(db: Path, *args: str):
    return runner.invoke(app, ["--db", str(db), *args])


def ok(db: Path, *args: str) -> str:
    result = invoke(db, *args)
    assert result.exit_code == 0, result.output
    return result.stdout


def state(db: Path) -> tuple:
    """Every table a governance command writes, in full."""
    with Store(db) as store:
        cur = store.cursor()
        return tuple(cur.execute(f"SELECT * FROM {table} ORDER BY ALL").fetchall()
                     for table in ("segment_versions", "segment_version_events", "segment_overrides", "audit_log"))


def refused(db: Path, *args: str) -> str:
    """Run a command that must be refused: exit 1, one line on stderr, nothing printed or changed."""
    before = state(db)
    result = invoke(db, *args)
    assert result.exit_code == 1, result.output
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("segplan: error: "), result.stderr
    assert result.stdout == ""
    assert state(db) == before
    return lines[0]


def status(db: Path, version: int) -> str:
    with Store(db) as store:
        return store.cursor().execute("SELECT status FROM segment_versions WHERE version_id = ?",
                                      [version]).fetchone()[0]


def test_submit_approve_with_json_and_plain_output(db):
    out = ok(db, "submit", "--version", "1", "--user", "pat", "--reason", "for the S&OP meeting")
    assert out.strip() == "version 1: draft -> submitted by pat"
    answer = json.loads(ok(db, "approve", "--version", "1", "--user", "anna", "--json"))
    assert answer == {"version": 1, "action": "approve", "from": "submitted", "to": "approved", "user": "anna",
                      "superseded": None}
    assert status(db, 1) == "approved"


def test_reject_needs_a_reason_then_resubmit_and_restore(db):
    ok(db, "submit", "--version", "1", "--user", "pat")
    missing = invoke(db, "reject", "--version", "1", "--user", "anna")
    assert missing.exit_code == 2 and "--reason" in missing.output  # typer: a required option is missing
    assert "reason" in refused(db, "reject", "--version", "1", "--user", "anna", "--reason", " ")
    ok(db, "reject", "--version", "1", "--user", "anna", "--reason", "P3 is no slow mover")
    assert status(db, 1) == "rejected"
    ok(db, "submit", "--version", "1", "--user", "pat")
    ok(db, "approve", "--version", "1", "--user", "anna")
    with Store(db) as store:
        newer = save_rules_version(store, {"P1": "A", "P2": "B", "P3": "B"})
    ok(db, "submit", "--version", str(newer), "--user", "paula")
    out = ok(db, "approve", "--version", str(newer), "--user", "alex")
    assert "version 1: approved -> superseded" in out
    answer = json.loads(ok(db, "restore", "--version", "1", "--user", "alex", "--reason", "back", "--json"))
    assert (answer["to"], answer["superseded"]) == ("approved", newer)
    assert (status(db, 1), status(db, newer)) == ("approved", "superseded")


@pytest.mark.parametrize(("setup", "args", "message"), [
    ([], ("approve", "--version", "1", "--user", "anna"), "version 1 is draft: only a submitted version"),
    ([], ("submit", "--version", "1", "--user", "vic"), r"vic \(viewer\) may not submit"),
    ([], ("submit", "--version", "99", "--user", "pat"), "version 99 does not exist"),
    ([], ("submit", "--version", "1", "--user", "mallory"), "unknown user 'mallory'"),
    (["pat"], ("approve", "--version", "1", "--user", "pat"), r"pat \(planner\) may not approve"),
    (["ada"], ("approve", "--version", "1", "--user", "ada"), "ada submitted version 1 and so may not approve it"),
    (["ada"], ("reject", "--version", "1", "--user", "ada", "--reason", "x"), "ada submitted version 1"),
    (["pat"], ("submit", "--version", "1", "--user", "paula"), "version 1 is submitted"),
    (["pat"], ("restore", "--version", "1", "--user", "anna", "--reason", "x"), "only a superseded version"),
])
def test_refusals_exit_1_with_one_line_and_change_nothing(db, setup, args, message):
    for submitter in setup:
        ok(db, "submit", "--version", "1", "--user", submitter)
    line = refused(db, *args)
    assert re.search(message, line), line


def test_override_by_label_and_customer_product_key(db):
    out = ok(db, "override", "--version", "1", "--item", "P3", "--segment", "Runners", "--user", "pat",
             "--reason", "new contract")
    assert out.strip() == "override 1: P3 moved from segment B to A (Runners) in version 1"
    answer = json.loads(ok(db, "override", "--version", "2", "--item", "C1|P1", "--segment", "L", "--user", "paula",
                           "--reason", "key account", "--expires", "2099-12-31", "--json"))
    assert answer == {"override": 2, "version": 2, "item": "C1|P1", "model_segment": "K", "segment": "L",
                      "expires_on": "2099-12-31"}


@pytest.mark.parametrize(("args", "message"), [
    (("--item", "P3", "--segment", "A", "--user", "pat", "--reason", " "), "needs a reason"),
    (("--item", "P3", "--segment", "A", "--user", "anna", "--reason", "x"), r"anna \(approver\) may not override"),
    (("--item", "P9", "--segment", "A", "--user", "pat", "--reason", "x"), "item P9 is not in version 1"),
    (("--item", "P3", "--segment", "Fast", "--user", "pat", "--reason", "x"), "version 1 has no segment 'Fast'"),
    (("--item", "P3", "--segment", "A", "--user", "pat", "--reason", "x", "--expires", "2000-01-01"),
     "not in the future"),
])
def test_override_refusals(db, args, message):
    line = refused(db, "override", "--version", "1", *args)
    assert re.search(message, line), line


def test_override_of_a_submitted_version_is_refused(db):
    ok(db, "submit", "--version", "1", "--user", "pat")
    line = refused(db, "override", "--version", "1", "--item", "P3", "--segment", "A", "--user", "pat",
                   "--reason", "x")
    assert "version 1 is submitted: it cannot be overridden" in line


def test_export_draft_then_approved(db, tmp_path):
    out = tmp_path / "exports" / "assignments_v1.csv"
    answer = json.loads(ok(db, "export", "--version", "1", "--out", str(out), "--user", "pat", "--json"))
    assert answer == {"version": 1, "what": "assignments", "format": "csv",
                      "path": str(tmp_path / "exports" / "assignments_v1_DRAFT.csv"), "draft": True}
    assert pd.read_csv(answer["path"])["draft"].all()
    ok(db, "submit", "--version", "1", "--user", "pat")
    ok(db, "approve", "--version", "1", "--user", "anna")
    text = ok(db, "export", "--version", "1", "--what", "policies", "--format", "parquet",
              "--out", str(tmp_path / "exports" / "policies.parquet"), "--user", "vic")
    assert "DRAFT" not in text
    frame = pd.read_parquet(tmp_path / "exports" / "policies.parquet")
    assert list(frame["segment_label"]) == ["Runners", "Slow"] and set(frame["approved_by"]) == {"anna"}


def test_export_refusals(db, tmp_path):
    out = tmp_path / "exports" / "a.csv"
    assert "vic (viewer) may not export draft" in refused(db, "export", "--version", "1", "--out", str(out),
                                                          "--user", "vic")
    assert "needs the user" in refused(db, "export", "--version", "1", "--out", str(out))
    assert "version 7 does not exist" in refused(db, "export", "--version", "7", "--out", str(out), "--user", "pat")
    assert not out.parent.exists() or list(out.parent.iterdir()) == []


def test_overrides_list_and_withdraw(db, tmp_path):
    ok(db, "override", "--version", "1", "--item", "P3", "--segment", "A", "--user", "pat", "--reason", "new contract")
    ok(db, "override", "--version", "1", "--item", "P1", "--segment", "Slow", "--user", "pat", "--reason", "lost it")
    listing = ok(db, "overrides", "--version", "1").splitlines()
    assert len(listing) == 2
    assert listing[0].split()[:6] == ["1", "P3", "B", "->", "A", "active"]
    assert "model disagrees" in listing[0] and "pat: new contract" in listing[0]
    assert "override 2 withdrawn by paula" in ok(db, "withdraw", "--override", "2", "--user", "paula",
                                                  "--reason", "kept after all")
    assert "withdrawn" in ok(db, "overrides", "--version", "1").splitlines()[1]
    assert len(ok(db, "overrides", "--version", "1", "--active").splitlines()) == 1
    out = tmp_path / "overrides.csv"
    ok(db, "overrides", "--version", "1", "--out", str(out))
    frame = pd.read_csv(out)
    assert list(frame["item"]) == ["P3", "P1"] and list(frame["withdrawn_by"].fillna("")) == ["", "paula"]
    assert "override 2 was already withdrawn" in refused(db, "withdraw", "--override", "2", "--user", "pat")
    assert "vic (viewer) may not override" in refused(db, "withdraw", "--override", "1", "--user", "vic")
    assert json.loads(ok(db, "withdraw", "--override", "1", "--user", "pat", "--json")) == {
        "override": 1, "withdrawn_by": "pat"}
