"""Planner overrides (core/overrides.py): reasons, segments by id or name, one active override per item,
expiry, withdraw, effective assignments, and carry-over to the next version with model_agrees, worked by hand."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from core import approval
from core.audit import audit_trail
from core.errors import SegplanError
from core.overrides import (
    add_override,
    carry_over_report,
    effective_assignments,
    item_key,
    overrides,
    withdraw_override,
)
from governance_support import add_team, save_rules_version

TODAY = dt.date.today()
ITEMS = {"P1": "A", "P2": "A", "P3": "B", "P4": "B"}
NAMES = {"A": "Runners", "B": "Slow movers"}


@pytest.fixture
def team(store):
    add_team(store)
    return store


def count(store, table: str) -> int:
    return store.cursor().execute(f"SELECT count(*) FROM {table}").fetchone()[0]


@pytest.mark.parametrize("reason", ["", "   ", None])
def test_a_reason_is_required(team, reason):
    v = save_rules_version(team, ITEMS, NAMES)
    with pytest.raises(SegplanError, match="needs a reason"):
        add_override(team, v, "P1", "B", "pat", reason)
    assert count(team, "segment_overrides") == 0


def test_refusals_name_what_is_wrong_and_change_nothing(team):
    v = save_rules_version(team, ITEMS, NAMES)
    audit_before = count(team, "audit_log")
    cases = [
        (("P9", "B", "pat", "x"), "item P9 is not in version"),
        (("P1", "Z", "pat", "x"), "has no segment 'Z'"),
        (("P1", "A", "pat", "x"), "the model already puts P1 in segment A"),
        (("P1", "B", "vic", "x"), r"vic \(viewer\) may not override"),
        (("P1", "B", "anna", "x"), r"anna \(approver\) may not override"),
    ]
    for args, message in cases:
        with pytest.raises(SegplanError, match=message):
            add_override(team, v, *args)
    with pytest.raises(SegplanError, match="is not in the future"):
        add_override(team, v, "P1", "B", "pat", "x", expires_on=TODAY)
    with pytest.raises(SegplanError, match="is not a date"):
        add_override(team, v, "P1", "B", "pat", "x", expires_on="next week")
    assert count(team, "segment_overrides") == 0
    assert count(team, "audit_log") == audit_before


def test_segment_by_id_or_name_and_effective_assignments(team):
    v = save_rules_version(team, ITEMS, NAMES)
    first = add_override(team, v, "P1", "slow MOVERS", "pat", "supplier lead time doubled")
    add_override(team, v, "P3", "A", "paula", "promotion in May", expires_on=TODAY + dt.timedelta(days=30))
    frame = effective_assignments(team, v)
    assert list(frame["segment"]) == ["B", "A", "A", "B"]          # P1 -> B, P3 -> A by the planners
    assert list(frame["model_segment"]) == ["A", "A", "B", "B"]    # the model's, unchanged
    assert list(frame["segment_label"]) == ["Slow movers", "Runners", "Runners", "Slow movers"]
    assert list(frame["overridden"]) == [True, False, True, False]
    assert list(frame["override_by"].fillna("")) == ["pat", "", "paula", ""]
    assert frame.loc[0, "override_reason"] == "supplier lead time doubled"
    assert frame.loc[2, "expires_on"] == pd.Timestamp(TODAY + dt.timedelta(days=30))
    listed = overrides(team, v)
    assert list(listed["override_id"]) == [first, first + 1]
    assert list(listed["item"]) == ["P1", "P3"]
    assert list(listed["model_agrees"]) == [False, False]
    trail = audit_trail(team, action="override")
    assert list(trail["reason"]) == ["supplier lead time doubled", "promotion in May"]


def test_a_new_override_withdraws_the_old_one(team):
    v = save_rules_version(team, {"P1": "A", "P2": "B", "P3": "C"})
    old = add_override(team, v, "P1", "B", "pat", "first thought")
    new = add_override(team, v, "P1", "C", "paula", "second thought")
    listed = overrides(team, v)
    assert list(listed["active"]) == [False, True]
    assert listed.loc[0, "withdrawn_by"] == "paula"
    assert list(overrides(team, v, active_on=TODAY)["override_id"]) == [new]
    assert effective_assignments(team, v).loc[0, "segment"] == "C"
    withdrawn = audit_trail(team, action="withdraw")
    assert list(withdrawn["entity_id"]) == [str(old)]


def test_withdraw_puts_the_item_back_and_cannot_happen_twice(team):
    v = save_rules_version(team, ITEMS, NAMES)
    oid = add_override(team, v, "P2", "B", "pat", "customer moved")
    with pytest.raises(SegplanError, match="may not override"):
        withdraw_override(team, oid, "vic")
    withdraw_override(team, oid, "paula", "customer came back")
    assert not effective_assignments(team, v)["overridden"].any()
    assert effective_assignments(team, v).loc[1, "segment"] == "A"
    with pytest.raises(SegplanError, match=f"override {oid} was already withdrawn"):
        withdraw_override(team, oid, "pat")
    with pytest.raises(SegplanError, match="override 999 does not exist"):
        withdraw_override(team, 999, "pat")


def test_expired_overrides_stop_applying(team):
    v = save_rules_version(team, ITEMS, NAMES)
    until = TODAY + dt.timedelta(days=10)
    add_override(team, v, "P4", "A", "pat", "season", expires_on=until)
    assert effective_assignments(team, v, on=until - dt.timedelta(days=1)).loc[3, "segment"] == "A"
    assert effective_assignments(team, v, on=until).loc[3, "segment"] == "B"  # expires on that day
    assert overrides(team, v, active_on=until).empty
    assert len(overrides(team, v)) == 1                                      # still listed, inactive later


def test_overrides_are_locked_once_submitted(team):
    v = save_rules_version(team, ITEMS, NAMES)
    oid = add_override(team, v, "P1", "B", "pat", "reason")
    approval.submit(team, v, "pat")
    with pytest.raises(SegplanError, match=f"version {v} is submitted: it cannot be overridden"):
        add_override(team, v, "P2", "B", "pat", "reason")
    with pytest.raises(SegplanError, match="cannot be overridden"):
        withdraw_override(team, oid, "pat")
    approval.reject(team, v, "anna", "P2 too")
    add_override(team, v, "P2", "B", "pat", "as asked")  # rejected: editable again
    assert len(overrides(team, v, active_on=TODAY)) == 2


def test_customer_product_keys():
    assert item_key("customer_product", "C1|P7") == ("C1", "P7")
    assert item_key("customer_product", ("C1", "P7")) == ("C1", "P7")
    assert item_key("product", "P7") == (None, "P7")
    assert item_key("customer", {"customer_id": "C1"}) == ("C1", None)
    with pytest.raises(SegplanError, match="give it as CUSTOMER|PRODUCT"):
        item_key("customer_product", "C1")


def test_customer_product_override(team):
    v = save_rules_version(team, {("C1", "P1"): "A", ("C1", "P2"): "B"}, level="customer_product")
    add_override(team, v, "C1|P1", "B", "pat", "key account")
    frame = effective_assignments(team, v)
    assert list(frame.columns[:2]) == ["customer_id", "product_id"]
    assert list(frame["segment"]) == ["B", "B"]
    assert list(overrides(team, v)["item"]) == ["C1|P1"]


def test_carry_over_maps_by_name_then_by_most_items_and_flags_model_agrees(team):
    """Version 1 (approved, in force): A = Runners {P1, P2, P3}, B = Slow {P4, P5}, C = Rare {P6}.
    Overrides: P1 -> Slow, P4 -> Runners, P5 -> Rare, P6 -> Runners, P2 -> Slow until a future date
    (carried with its date), P3 -> Slow then withdrawn (not carried).

    Version 2: X = Runners {P1, P4}, Y = Steady {P2, P5, P7}, Z = Tail {P3}; P6 gone; no segment
    is called Slow or Rare, so Slow maps to the new segment holding most of old B's items (P4 in X,
    P5 in Y: a tie, broken by the smaller segment, X) and Rare to where P6 went (nowhere: not carried).
    """
    v1 = save_rules_version(team, {"P1": "A", "P2": "A", "P3": "A", "P4": "B", "P5": "B", "P6": "C"},
                            {"A": "Runners", "B": "Slow", "C": "Rare"})
    expiry = TODAY + dt.timedelta(days=60)
    add_override(team, v1, "P1", "Slow", "pat", "r1")
    add_override(team, v1, "P4", "Runners", "pat", "r4")
    add_override(team, v1, "P5", "Rare", "pat", "r5")
    gone = add_override(team, v1, "P6", "Runners", "pat", "r6")
    add_override(team, v1, "P2", "Slow", "paula", "r2", expires_on=expiry)
    withdrawn = add_override(team, v1, "P3", "Slow", "pat", "r3")
    withdraw_override(team, withdrawn, "pat")
    approval.submit(team, v1, "pat")
    approval.approve(team, v1, "anna")
    v2 = save_rules_version(team, {"P1": "X", "P4": "X", "P2": "Y", "P5": "Y", "P7": "Y", "P3": "Z"},
                            {"X": "Runners", "Y": "Steady", "Z": "Tail"}, user="paula")
    carried = overrides(team, v2)
    got = {row.item: (row.segment, row.model_segment, row.model_agrees, row.carried_from_version, row.reason)
           for row in carried.itertuples()}
    assert got == {
        "P1": ("X", "X", True, v1, "r1"),    # Slow -> X (most of old B's items, tie broken by name); model agrees
        "P4": ("X", "X", True, v1, "r4"),    # Runners -> X by name; the new model already put P4 there
        "P2": ("X", "Y", False, v1, "r2"),   # Slow -> X; the model says Y: the planner's move still matters
    }
    assert carried.set_index("item").loc["P2", "expires_on"] == pd.Timestamp(expiry)
    assert set(carried["created_by"]) == {"pat", "paula"}
    report = carry_over_report(team, v2)
    assert (report.from_version, report.carried, report.model_agrees) == (v1, 3, 2)
    assert sorted((r["item"], r["reason"]) for r in report.not_carried) == [
        ("P5", "no segment of this version matches its target"),  # Rare's only item, P6, is gone
        ("P6", "item not in this version"),
    ]
    assert gone not in set(carried["carried_from"])
    assert len(audit_trail(team, action="carry_over")) == 3
    assert list(effective_assignments(team, v2)["segment"]) == ["X", "X", "X", "Y", "Y", "Z"]


def test_carry_over_takes_the_newest_earlier_version_when_none_is_in_force(team):
    v1 = save_rules_version(team, ITEMS, NAMES)
    add_override(team, v1, "P1", "B", "pat", "from v1")
    v2 = save_rules_version(team, ITEMS, NAMES)
    add_override(team, v2, "P2", "B", "pat", "from v2")
    v3 = save_rules_version(team, ITEMS, NAMES)
    assert carry_over_report(team, v3).from_version == v2
    assert sorted(overrides(team, v3)["item"]) == ["P1", "P2"]   # v2 had carried P1 from v1
    other = save_rules_version(team, {"C1": "K"}, level="customer")
    assert overrides(team, other).empty and carry_over_report(team, other) is None


def test_clustering_version_keeps_whole_number_segments(tiny):
    """On a k-means version of the tiny sample, segments are whole numbers before and after an override."""
    from core.versions import assignments, run_segmentation

    saved = run_segmentation(tiny, "product", "kmeans", k=3, user="pat")
    frame = assignments(tiny, saved.version_id)
    item = frame.loc[0, "product_id"]
    model = int(frame.loc[0, "segment"])
    target = next(s for s in sorted(frame["segment"].unique()) if s != model)
    label = saved.result.label_of(target)
    add_override(tiny, saved.version_id, item, label, "pat", "moved by name")
    effective = effective_assignments(tiny, saved.version_id)
    assert effective["segment"].dtype.kind == "i" and effective["model_segment"].dtype.kind == "i"
    assert (effective.loc[0, "segment"], effective.loc[0, "model_segment"]) == (target, model)
    assert effective.loc[0, "segment_label"] == label
    unchanged = effective.iloc[1:]
    assert (unchanged["segment"] == unchanged["model_segment"]).all() and not unchanged["overridden"].any()
    assert list(effective["segment_label"].iloc[1:]) == list(frame["segment_label"].iloc[1:])
