"""The Approvals page (pages/approvals.py) through AppTest: an empty database, a draft version as the local
admin (override, DRAFT exports), and maker-checker with accounts: a planner submits, the submitter cannot
decide, another user approves, and each rerun shows the new state."""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from core.store import Store
from governance_support import add_team, save_rules_version
import page_support
from page_support import empty_db, no_exception, texts  # noqa: F401  (empty_db: fixture)

PAGE = "pages/approvals.py"
ITEMS = {"P1": "A", "P2": "A", "P3": "B"}
NAMES = {"A": "Runners", "B": "Slow"}


@pytest.fixture
def db(empty_db: Path) -> Path:
    return empty_db


def open_page(user: str | None = None) -> AppTest:
    """The Approvals page, signed in as ``user`` (ui/auth.py reads the role from the account)."""
    return page_support.open_page(PAGE, session=None if user is None else {"user_name": user})


def button(at: AppTest, key: str):
    return at.button(key=key)


def status(db: Path, version: int) -> str:
    with Store(db) as store:
        return store.cursor().execute("SELECT status FROM segment_versions WHERE version_id = ?",
                                      [version]).fetchone()[0]


def test_empty_database_says_what_to_do(db):
    at = open_page()
    assert "No saved segmentation yet" in texts(at)
    assert not at.button


def test_draft_version_as_local_admin_override_and_draft_exports(db):
    with Store(db) as store:
        v = save_rules_version(store, ITEMS, NAMES)
    at = open_page()
    assert "No product version is in force yet" in texts(at)
    assert at.dataframe[0].value["state"].tolist() == ["draft"]
    assert button(at, "appr_submit_button").label == "Submit for approval"
    downloads = [d for d in at.get("download_button")]
    assert [d.proto.label for d in downloads] == ["Assignments CSV (DRAFT)", "Assignments PARQUET (DRAFT)",
                                                  "Policies CSV (DRAFT)", "Policies PARQUET (DRAFT)"]
    assert "marked **DRAFT**" in texts(at)
    # an override without a reason is refused on the page, nothing saved
    at.selectbox(key="appr_item").select("P3")
    at.selectbox(key="appr_target").select("A")
    button(at, "appr_add").click().run()
    no_exception(at)
    assert any("needs a reason" in e.value for e in at.error)
    at.selectbox(key="appr_item").select("P3")
    at.selectbox(key="appr_target").select("A")
    at.text_input(key="appr_override_reason").input("new contract")
    button(at, "appr_add").click().run()
    no_exception(at)
    assert "Override 1: P3 moved to Runners." in [s.value for s in at.success]
    listed = next(d.value for d in at.dataframe if "model" in d.value.columns)
    assert listed[["item", "segment", "model", "reason"]].values.tolist() == [["P3", "A", "disagrees", "new contract"]]
    assert status(db, v) == "draft"
    # with no accounts everyone is the local admin: the submitter cannot approve and is told how to get a second person
    button(at, "appr_submit_button").click().run()
    no_exception(at)
    assert button(at, "appr_approve").disabled
    assert "everyone here is the local admin" in texts(at) and "segplan approve --version ID --user NAME" in texts(at)


def test_planner_submits_the_submitter_cannot_decide_another_approves(db):
    with Store(db) as store:
        add_team(store)
        v = save_rules_version(store, ITEMS, NAMES)
    planner = open_page("pat")
    assert "appr_approve" not in [b.key for b in planner.button]
    planner.text_input(key="appr_note").input("for S&OP")
    button(planner, "appr_submit_button").click().run()
    no_exception(planner)
    assert f"Version {v} submitted for approval." in [s.value for s in planner.success]
    assert planner.dataframe[0].value["state"].tolist() == ["submitted"]
    assert "Waiting for an approver" in texts(planner)
    assert status(db, v) == "submitted"

    # the admin ada submits a second version; she may not approve her own
    with Store(db) as store:
        v2 = save_rules_version(store, ITEMS, NAMES)
    admin = open_page("ada")
    admin.selectbox(key="appr_version_product").select(v2).run()
    button(admin, "appr_submit_button").click().run()
    admin.selectbox(key="appr_version_product").select(v2).run()
    no_exception(admin)
    assert button(admin, "appr_approve").disabled and button(admin, "appr_reject").disabled
    assert "You submitted this version, so another approver has to decide" in texts(admin)

    approver = open_page("anna")
    approver.selectbox(key="appr_version_product").select(v).run()
    assert not button(approver, "appr_approve").disabled
    button(approver, "appr_reject").click().run()   # no reason: refused, shown, nothing changed
    no_exception(approver)
    assert any("a reason is needed to reject" in e.value for e in approver.error)
    assert status(db, v) == "submitted"
    approver.selectbox(key="appr_version_product").select(v).run()
    approver.text_area(key="appr_reason").input("matches the plan")
    button(approver, "appr_approve").click().run()
    no_exception(approver)
    assert f"Version {v} approved: it is now in force." in [s.value for s in approver.success]
    assert f"In force: version {v}**, approved by anna" in texts(approver)
    assert status(db, v) == "approved"

    again = open_page("pat")   # the planner's next visit sees it too
    assert f"In force: version {v}**" in texts(again)
    states = dict(zip(again.dataframe[0].value["version_id"], again.dataframe[0].value["state"], strict=True))
    assert states == {v: "approved", v2: "submitted"}
    assert "Planners and admins add overrides" not in texts(again)
    assert f"Version {v2} is submitted: its overrides are locked" in texts(again)  # newest selected first


def test_viewer_sees_states_but_no_actions_and_no_draft_export(db):
    with Store(db) as store:
        add_team(store)
        save_rules_version(store, ITEMS, NAMES)
    at = open_page("vic")
    assert "Planners and admins submit versions; you are signed in as vic (viewer)." in texts(at)
    assert all(d.proto.disabled for d in at.get("download_button"))
    assert not [b for b in at.button if b.key in ("appr_submit_button", "appr_add")]


def test_restore_a_superseded_version_and_withdraw_an_override(db):
    from core import approval
    from core.overrides import add_override

    with Store(db) as store:
        add_team(store)
        v1 = save_rules_version(store, ITEMS, NAMES)
        approval.submit(store, v1, "pat")
        approval.approve(store, v1, "anna")
        v2 = save_rules_version(store, ITEMS, NAMES)
        override = add_override(store, v2, "P1", "B", "pat", "slow now")
        approval.submit(store, v2, "paula")
        approval.reject(store, v2, "anna", "check P2")   # rejected: editable again
    planner = open_page("pat")
    assert planner.selectbox(key="appr_version_product").value == v2
    assert "Withdraw" in [b.label for b in planner.button]
    planner.button(key="appr_withdraw").click().run()
    no_exception(planner)
    assert f"Override {override} withdrawn: the item is back in the model's segment." in [s.value for s in planner.success]
    listed = next(d.value for d in planner.dataframe if "model" in d.value.columns)
    assert listed["active"].tolist() == [False] and listed["withdrawn_by"].tolist() == ["pat"]

    with Store(db) as store:
        approval.submit(store, v2, "paula")
        approval.approve(store, v2, "alex")                # v1 superseded
    approver = open_page("anna")
    approver.selectbox(key="appr_version_product").select(v1).run()
    assert "Superseded by a newer approved version." in texts(approver)
    approver.button(key="appr_restore").click().run()     # no reason: refused, shown
    no_exception(approver)
    assert any("a reason is needed to restore" in e.value for e in approver.error)
    approver.selectbox(key="appr_version_product").select(v1).run()
    approver.text_input(key="appr_restore_reason").input("v2 cut service")
    approver.button(key="appr_restore").click().run()
    no_exception(approver)
    assert f"Version {v1} restored: it is in force again; version {v2} is superseded." in [
        s.value for s in approver.success]
    assert (status(db, v1), status(db, v2)) == ("approved", "superseded")


def test_empty_cells_of_the_versions_history_and_overrides_tables_are_blank(db):
    from core.overrides import add_override

    with Store(db) as store:
        v = save_rules_version(store, ITEMS, NAMES)   # a draft: nobody submitted or approved it, no note
        add_override(store, v, "P3", "A", "pat", "new contract")   # no expiry, not carried, not withdrawn
    at = open_page()
    versions = at.dataframe[0].value
    assert versions["version_id"].tolist() == [v] and versions["state"].tolist() == ["draft"]
    row = versions.iloc[0]
    assert row["created_at"] != "" and row["user_name"] == "pat"
    # nobody submitted or approved it and it has no note: blank, not "None" (nor NaT, nan)
    assert [row[c] for c in ("submitted_by", "submitted_at", "approved_by", "approved_at", "note")] == [""] * 5
    history = next(d.value for d in at.dataframe if "action" in d.value.columns)
    created = history[history["action"] == "created"].iloc[0]
    assert [created["status_before"], created["status_after"], created["reason"]] == ["", "", ""]
    listed = next(d.value for d in at.dataframe if "model" in d.value.columns)
    assert listed[["item", "reason", "expires_on", "carried_from_version", "withdrawn_by"]].values.tolist() == [
        ["P3", "new contract", "", "", ""]]
    for frame in (versions, history, listed):
        assert not frame.isna().any().any()
        assert not frame.astype(str).isin(["None", "nan", "NaT", "<NA>"]).any().any()
    # once submitted, the submitter and the time fill in; approval stays blank
    button(at, "appr_submit_button").click().run()
    no_exception(at)
    row = at.dataframe[0].value.iloc[0]
    assert row["submitted_by"] == "local admin" and len(row["submitted_at"]) == len("2025-01-01 12:00")
    assert [row["approved_by"], row["approved_at"]] == ["", ""]
