"""Maker-checker approval (core/approval.py): every move, the four-eyes rule, roles, one version in force,
restore, locked edits, nothing changed on a refusal, and the audit events each move leaves."""

from __future__ import annotations

import pytest

from core import approval
from core.audit import audit_trail, verify_chain
from core.errors import SegplanError
from core.policy import SegmentPolicy
from core.policy_plan import save_policies
from core.versions import rename_segment, version_in_force
from governance_support import add_team, save_rules_version

ITEMS = {"P1": "A", "P2": "A", "P3": "B"}


@pytest.fixture
def team(store):
    add_team(store)
    return store


def status(store, version_id: int) -> str:
    return store.cursor().execute("SELECT status FROM segment_versions WHERE version_id = ?", [version_id]).fetchone()[0]


def snapshot(store) -> tuple:
    """Everything an approval step may write: statuses, version events, audit rows."""
    cur = store.cursor()
    return (cur.execute("SELECT version_id, status FROM segment_versions ORDER BY 1").fetchall(),
            cur.execute("SELECT count(*) FROM segment_version_events").fetchone()[0],
            cur.execute("SELECT count(*) FROM audit_log").fetchone()[0])


def test_draft_is_submitted_then_approved_by_another_person(team):
    v = save_rules_version(team, ITEMS)
    assert status(team, v) == "draft"
    moved = approval.submit(team, v, "pat", "ready for S&OP")
    assert (moved.before, moved.after, status(team, v)) == ("draft", "submitted", "submitted")
    moved = approval.approve(team, v, "anna")
    assert (moved.before, moved.after, moved.superseded) == ("submitted", "approved", None)
    assert status(team, v) == "approved"
    assert version_in_force(team, "product") == v
    decided = approval.decision(team, v)
    assert (decided["submitted_by"], decided["approved_by"]) == ("pat", "anna")
    assert decided["approved_at"] >= decided["submitted_at"]



def test_decisions_of_several_versions_in_one_call_are_each_latest_submitter_and_approver(team):
    draft, resubmitted, approved = (save_rules_version(team, ITEMS) for _ in range(3))
    approval.submit(team, resubmitted, "pat")
    approval.reject(team, resubmitted, "anna", "too coarse")
    approval.submit(team, resubmitted, "ada")
    approval.submit(team, approved, "pat")
    approval.approve(team, approved, "anna")
    decided = approval.decisions(team, [draft, resubmitted, approved, 999])
    assert sorted(decided) == sorted([draft, resubmitted, approved])   # no version 999: left out
    assert decided[draft] == {"version_id": draft, "status": "draft", "submitted_by": None, "submitted_at": None,
                              "approved_by": None, "approved_at": None}
    assert (decided[resubmitted]["status"], decided[resubmitted]["submitted_by"]) == ("submitted", "ada")
    assert decided[resubmitted]["approved_by"] is None
    assert (decided[approved]["submitted_by"], decided[approved]["approved_by"]) == ("pat", "anna")
    for v in (draft, resubmitted, approved):
        assert approval.decision(team, v) == decided[v]
    with pytest.raises(SegplanError, match="version 999 does not exist"):
        approval.decision(team, 999)

def test_reject_needs_a_reason_and_a_rejected_version_can_be_submitted_again(team):
    v = save_rules_version(team, ITEMS)
    approval.submit(team, v, "pat")
    with pytest.raises(SegplanError, match="reason"):
        approval.reject(team, v, "anna", "  ")
    assert status(team, v) == "submitted"
    approval.reject(team, v, "anna", "B is too small")
    assert status(team, v) == "rejected"
    rename_segment(team, v, "B", "Slow movers", user="pat")  # a rejected version can be changed
    approval.submit(team, v, "pat")
    approval.approve(team, v, "alex")
    history = approval.approval_history(team, v)
    assert list(history["action"]) == ["created", "submitted", "rejected", "renamed", "submitted", "approved"]
    assert history.loc[2, "reason"] == "B is too small"
    assert list(history["status_after"].iloc[[1, 2, 4, 5]]) == ["submitted", "rejected", "submitted", "approved"]


def test_self_approval_is_refused_even_for_an_admin(team):
    v = save_rules_version(team, ITEMS)
    approval.submit(team, v, "ada")
    before = snapshot(team)
    for decide in (lambda: approval.approve(team, v, "ada"), lambda: approval.reject(team, v, "ada", "changed my mind")):
        with pytest.raises(SegplanError, match="ada submitted version .* may not"):
            decide()
    assert snapshot(team) == before
    approval.approve(team, v, "anna")
    assert status(team, v) == "approved"


def test_without_accounts_the_local_admin_still_cannot_approve_own_submission(store):
    v = save_rules_version(store, ITEMS)
    approval.submit(store, v, "local admin")
    for same_person in ("local admin", " Local Admin "):  # free-text names: case and blanks do not make another
        with pytest.raises(SegplanError, match="may not approve"):
            approval.approve(store, v, same_person)
    approval.approve(store, v, "someone else")  # no accounts: anyone acts as admin
    assert status(store, v) == "approved"


@pytest.mark.parametrize(("user", "step"), [
    ("vic", "submit"), ("anna", "submit"),            # viewer and approver may not submit
    ("pat", "approve"), ("vic", "approve"),           # planner and viewer may not approve
    ("paula", "reject"), ("nobody", "approve"),       # nor reject; an unknown user nothing
])
def test_wrong_role_is_refused_and_nothing_changes(team, user, step):
    v = save_rules_version(team, ITEMS)
    if step != "submit":
        approval.submit(team, v, "pat")
    before = snapshot(team)
    with pytest.raises(SegplanError, match=rf"{user}.*(may not|unknown)|unknown user '{user}'"):
        getattr(approval, step)(team, v, user, "because")
    assert snapshot(team) == before


@pytest.mark.parametrize(("step", "state"), [
    ("approve", "draft"), ("reject", "draft"), ("restore", "draft"), ("submit", "submitted"),
    ("submit", "approved"), ("approve", "approved"), ("restore", "approved"),
])
def test_wrong_state_is_refused_with_the_state_named(team, step, state):
    v = save_rules_version(team, ITEMS)
    if state in ("submitted", "approved"):
        approval.submit(team, v, "pat")
    if state == "approved":
        approval.approve(team, v, "anna")
    user = "paula" if step == "submit" else "alex"
    before = snapshot(team)
    with pytest.raises(SegplanError, match=f"version {v} is {state}: only a"):
        getattr(approval, step)(team, v, user, "because")
    assert snapshot(team) == before


def test_unknown_version_is_refused(team):
    before = snapshot(team)
    with pytest.raises(SegplanError, match="version 99 does not exist"):
        approval.submit(team, 99, "pat")
    assert snapshot(team) == before


def test_approving_supersedes_the_version_in_force_and_restore_brings_it_back(team):
    v1 = save_rules_version(team, ITEMS)
    v2 = save_rules_version(team, {"P1": "A", "P2": "B", "P3": "B"})
    other_level = save_rules_version(team, {"C1": "K"}, level="customer")
    for v in (v1, v2, other_level):
        approval.submit(team, v, "ada" if v == v1 else "pat")
    approval.approve(team, v1, "anna")
    approval.approve(team, other_level, "anna")
    moved = approval.approve(team, v2, "alex")
    assert moved.superseded == v1
    assert (status(team, v1), status(team, v2), status(team, other_level)) == ("superseded", "approved", "approved")
    assert version_in_force(team, "product") == v2
    with pytest.raises(SegplanError, match="reason"):
        approval.restore(team, v1, "alex", "")
    with pytest.raises(SegplanError, match="ada submitted"):
        approval.restore(team, v1, "ada", "roll back")  # restoring is approving again: not by its submitter
    with pytest.raises(SegplanError, match=r"pat \(planner\) may not approve"):
        approval.restore(team, v1, "pat", "roll back")
    restored = approval.restore(team, v1, "alex", "v2 cut service on P2")
    assert (restored.before, restored.after, restored.superseded) == ("superseded", "approved", v2)
    assert (status(team, v1), status(team, v2)) == ("approved", "superseded")
    assert version_in_force(team, "product") == v1
    approved = team.cursor().execute(
        "SELECT level, count(*) FROM segment_versions WHERE status = 'approved' GROUP BY level ORDER BY level").fetchall()
    assert approved == [("customer", 1), ("product", 1)]
    assert list(approval.approval_history(team, v2)["action"]) == ["created", "submitted", "approved", "superseded"]


def test_a_second_approval_of_the_same_version_changes_nothing(team):
    """Two approvers press Approve on the same submitted version: the second finds it decided."""
    v = save_rules_version(team, ITEMS)
    approval.submit(team, v, "pat")
    approval.approve(team, v, "anna")
    before = snapshot(team)
    with pytest.raises(SegplanError, match=f"version {v} is approved"):
        approval.approve(team, v, "alex")
    assert snapshot(team) == before


def test_the_state_is_read_again_inside_the_transaction(team, monkeypatch):
    """A decision that lands between the check outside and the write: the check inside refuses."""
    v = save_rules_version(team, ITEMS)
    approval.submit(team, v, "pat")
    real = approval._version_row
    calls = []

    def late(cur, version_id):
        calls.append(version_id)
        if len(calls) == 2:  # the read inside the transaction: another approver was quicker
            cur.execute("UPDATE segment_versions SET status = 'rejected' WHERE version_id = ?", [v])
        return real(cur, version_id)

    monkeypatch.setattr(approval, "_version_row", late)
    with pytest.raises(SegplanError, match=f"version {v} is rejected"):
        approval.approve(team, v, "anna")
    monkeypatch.undo()
    assert status(team, v) == "submitted"  # rolled back with the refusal


@pytest.mark.parametrize("state", ["submitted", "approved", "superseded"])
def test_locked_versions_cannot_be_renamed_or_given_policies(team, state):
    v = save_rules_version(team, ITEMS)
    approval.submit(team, v, "pat")
    if state in ("approved", "superseded"):
        approval.approve(team, v, "anna")
    if state == "superseded":
        newer = save_rules_version(team, ITEMS)
        approval.submit(team, newer, "pat")
        approval.approve(team, newer, "anna")
    before = snapshot(team)
    with pytest.raises(SegplanError, match=f"version {v} is {state}: it cannot be renamed"):
        rename_segment(team, v, "A", "Fast", user="pat")
    with pytest.raises(SegplanError, match=f"version {v} is {state}: it cannot be given other policies"):
        save_policies(team, v, [SegmentPolicy(segment="A", service_level=0.9)], user="pat")
    assert snapshot(team) == before
    assert team.cursor().execute("SELECT count(*) FROM segment_policies").fetchone()[0] == 0


def test_each_move_leaves_one_audit_event_with_status_before_after_and_reason(team):
    v1 = save_rules_version(team, ITEMS)
    v2 = save_rules_version(team, ITEMS)
    approval.submit(team, v1, "pat", "first cut")
    approval.approve(team, v1, "anna", "looks right")
    approval.submit(team, v2, "paula")
    approval.reject(team, v2, "alex", "P3 is wrong")
    approval.submit(team, v2, "paula")
    approval.approve(team, v2, "anna")
    approval.restore(team, v1, "alex", "back to the first")
    trail = audit_trail(team, entity="version")
    trail = trail[trail["action"].isin(["submit", "approve", "reject", "restore", "supersede"])]  # not the saves
    assert list(zip(trail["action"], trail["entity_id"], trail["user_name"], strict=True)) == [
        ("submit", str(v1), "pat"), ("approve", str(v1), "anna"),
        ("submit", str(v2), "paula"), ("reject", str(v2), "alex"), ("submit", str(v2), "paula"),
        ("supersede", str(v1), "anna"), ("approve", str(v2), "anna"),
        ("supersede", str(v2), "alex"), ("restore", str(v1), "alex"),
    ]
    assert list(trail["before"].str.extract(r'"status":"(\w+)"')[0]) == [
        "draft", "submitted", "draft", "submitted", "rejected", "approved", "submitted", "approved", "superseded"]
    assert list(trail["reason"].fillna("-"))[:4] == ["first cut", "looks right", "-", "P3 is wrong"]
    assert verify_chain(team).intact


def test_concurrent_approvals_leave_one_version_in_force(team):
    """Two approvers at once, from two threads on one store: on the same version one wins and the other
    is refused; on two versions of a level both pass in turn and exactly one stays approved."""
    import threading

    same = save_rules_version(team, ITEMS)
    first, second = save_rules_version(team, ITEMS), save_rules_version(team, ITEMS)
    for v in (same, first, second):
        approval.submit(team, v, "pat")

    def race(calls):
        barrier = threading.Barrier(len(calls))
        outcomes = [None] * len(calls)

        def run(i, call):
            barrier.wait()
            try:
                outcomes[i] = call()
            except SegplanError as exc:
                outcomes[i] = exc

        threads = [threading.Thread(target=run, args=(i, c)) for i, c in enumerate(calls)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        return outcomes

    outcomes = race([lambda: approval.approve(team, same, "anna"), lambda: approval.approve(team, same, "alex")])
    assert sorted(type(o).__name__ for o in outcomes) == ["SegplanError", "Transition"]
    assert "is approved" in str(next(o for o in outcomes if isinstance(o, SegplanError)))
    race([lambda: approval.approve(team, first, "anna"), lambda: approval.approve(team, second, "alex")])
    statuses = {v: status(team, v) for v in (same, first, second)}
    assert sorted(statuses.values()) == ["approved", "superseded", "superseded"]
    assert version_in_force(team, "product") in (first, second)
    assert team.cursor().execute("SELECT count(*) FROM segment_versions WHERE status = 'approved'").fetchone()[0] == 1
