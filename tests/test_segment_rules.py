"""Rule-based segments: nine-box, demand patterns and planner rule lists on hand-made frames."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from core.errors import SegplanError
from core.segment import data_fingerprint, segment
from core.segment_rules import apply_rules, nine_box, parse_rules


@pytest.fixture
def items() -> pd.DataFrame:
    return pd.DataFrame({
        "product_id": ["P1", "P2", "P3", "P4", "P5", "P6"],
        "abc": ["A", "A", "B", "C", "C", "A"],
        "xyz": ["X", "Z", "Y", "Z", "X", "X"],
        "demand_pattern": ["smooth", "lumpy", "erratic", "intermittent", "smooth", "smooth"],
        "strategic_account": [True, False, False, True, False, False],
        "weeks_since_last_sale": [1.0, 2.0, 30.0, 52.0, np.nan, 3.0],
        "revenue": [500.0, 300.0, 100.0, 10.0, 40.0, 50.0],
    })


def test_nine_box_cells(items):
    assert list(nine_box(items)) == ["AX", "AZ", "BY", "CZ", "CX", "AX"]
    result = segment(items, method="nine_box")
    assert list(result.assignments["segment"]) == ["AX", "AZ", "BY", "CZ", "CX", "AX"]
    assert list(result.assignments["segment_label"]) == ["AX", "AZ", "BY", "CZ", "CX", "AX"]
    ax = result.profile.set_index("segment").loc["AX"]
    assert ax["items"] == 2
    assert ax["measure_share"] == pytest.approx(550 / 1000)
    # Profile in nine-box order, only cells that have items.
    assert list(result.profile["segment"]) == ["AX", "AZ", "BY", "CX", "CZ"]


def test_nine_box_rejects_unknown_class(items):
    with pytest.raises(SegplanError, match="'abc' has value 'D'"):
        nine_box(items.assign(abc=["A", "D", "B", "C", "C", "A"]))
    with pytest.raises(SegplanError, match="'xyz' is missing"):
        nine_box(items.drop(columns="xyz"))


def test_demand_pattern_segments(items):
    result = segment(items, method="demand_pattern")
    assert list(result.assignments["segment"]) == list(items["demand_pattern"])
    assert list(result.profile["segment"]) == ["smooth", "erratic", "intermittent", "lumpy"]


def test_rule_tree_first_match_wins_with_default(items):
    rules = [
        {"name": "Key", "when": [("abc", "==", "A"), ("strategic_account", "==", True)]},
        {"name": "Dormant", "when": [("weeks_since_last_sale", ">", 26)]},
        {"name": "Core", "when": [("abc", "in", ["A", "B"]), ("xyz", "!=", "Z")]},
        {"name": "Other"},
    ]
    seg, hits = apply_rules(items, rules)
    # P1 key; P2 A but Z -> Other; P3 dormant (30 weeks) before Core; P4 dormant (52 weeks;
    # strategic but C); P5 missing recency matches no comparison -> Other; P6 A, X -> Core.
    assert list(seg) == ["Key", "Other", "Dormant", "Dormant", "Other", "Core"]
    assert list(hits["items"]) == [1, 2, 1, 2]
    result = segment(items, method="rules", rules=rules)
    assert result.k == 4
    assert result.fingerprint == data_fingerprint(items, result.parameters)
    assert result.parameters["rules"][0] == {"name": "Key", "when": [["abc", "==", "A"], ["strategic_account", "==", True]]}
    assert list(result.rule_hits["name"]) == ["Key", "Dormant", "Core", "Other"]


def test_rule_operators_between_missing_not_in(items):
    rules = [
        {"name": "Unknown recency", "when": [("weeks_since_last_sale", "is missing")]},
        {"name": "Mid", "when": [("weeks_since_last_sale", "between", [2, 30])]},
        {"name": "Not A", "when": [("abc", "not in", ["A"])]},
        {"name": "Rest"},
    ]
    seg, _ = apply_rules(items, rules)
    assert list(seg) == ["Rest", "Mid", "Mid", "Not A", "Unknown recency", "Mid"]


def test_rules_are_validated(items):
    with pytest.raises(SegplanError, match="default rule"):
        parse_rules([{"name": "Key", "when": [("abc", "==", "A")]}])
    with pytest.raises(SegplanError, match="default rule"):
        parse_rules([{"name": "All"}, {"name": "Other"}])
    with pytest.raises(SegplanError, match="'lead_time'"):
        apply_rules(items, [{"name": "X", "when": [("lead_time", ">", 3)]}, {"name": "Other"}])
    with pytest.raises(SegplanError, match="operator '=~'"):
        apply_rules(items, [{"name": "X", "when": [("abc", "=~", "A")]}, {"name": "Other"}])
    with pytest.raises(SegplanError, match="numeric column 'weeks_since_last_sale'"):
        apply_rules(items, [{"name": "X", "when": [("weeks_since_last_sale", ">", "ten")]}, {"name": "Other"}])
    with pytest.raises(SegplanError, match="needs a numeric column"):
        apply_rules(items, [{"name": "X", "when": [("abc", ">", "A")]}, {"name": "Other"}])
    with pytest.raises(SegplanError, match="method 'rules' needs a rule list"):
        segment(items, method="rules")


def test_rules_never_evaluate_code(items):
    # A value that looks like code is compared as text, never run.
    seg, _ = apply_rules(items, [{"name": "X", "when": [("abc", "==", "__import__('os')")]}, {"name": "Other"}])
    assert set(seg) == {"Other"}


# -- nine-box boundary distance -------------------------------------------------------------------
BAND = np.log(2.0)  # width of the Y band with XYZ cut-offs 0.5 / 1.0, in ln(cv)


@pytest.fixture
def ranked() -> pd.DataFrame:
    """Quantities 50, 28, 14, 5, 3 (total 100): the share ranked above each item is 0, 50, 78, 92, 97 %.
    ABC 80/95: A, A, A (78 < 80), B, C. Two items without volume are C and have no place in the ranking."""
    return pd.DataFrame({
        "product_id": ["P1", "P2", "P3", "P4", "P5", "P6", "P7"],
        "quantity": [50.0, 28.0, 14.0, 5.0, 3.0, 0.0, 0.0],
        "cv": [0.25, 0.9, 2.0, 0.45, np.nan, 0.3, np.nan],
        "abc": ["A", "A", "A", "B", "C", "C", "C"],
        "xyz": ["X", "Y", "Z", "X", "Z", "X", "Z"],
    })


def test_nine_box_distances_by_hand(ranked):
    from core.segment_rules import abc_positions, nine_box_item_distances

    assert np.allclose(abc_positions(ranked, "quantity", ["product_id"])[:5], [0.0, 0.50, 0.78, 0.92, 0.97])
    assert np.isnan(abc_positions(ranked, "quantity", ["product_id"])[5:]).all()
    found = nine_box_item_distances(ranked, "quantity", ["product_id"])
    # ABC in B-band widths (0.15), XYZ in Y-band widths (ln 2); the nearer boundary wins
    expected = [
        min(0.80 / 0.15, np.log(0.5 / 0.25) / BAND),         # P1 AX: cv half the cut-off = 1 band -> AY
        min(0.30 / 0.15, np.log(1.0 / 0.9) / BAND),          # P2 AY: 0.152 to Z -> AZ
        min(0.02 / 0.15, np.log(2.0 / 1.0) / BAND),          # P3 AZ: 2 share points above 80 % -> BZ
        min(0.03 / 0.15, np.log(0.5 / 0.45) / BAND),         # P4 BX: cv 0.45 (0.152) before 95 % (0.2) -> BY
        0.02 / 0.15,                                         # P5 CZ without demand: only ABC can move -> BZ
        np.log(0.5 / 0.3) / BAND,                            # P6 CX without volume: only XYZ can move -> CY
    ]
    assert np.allclose(found["boundary_margin"].iloc[:6], expected)
    assert list(found["nearest_segment"].iloc[:6]) == ["AY", "AZ", "BZ", "BY", "BZ", "CY"]
    assert (found["distance_own"].iloc[:6] == 0).all()           # every item sits in its own cell
    assert np.allclose(found["distance_next"].iloc[:6], expected)
    # P7: no volume and no demand, it cannot cross anything
    assert found.iloc[6][["distance_own", "distance_next", "boundary_margin"]].isna().all()
    assert pd.isna(found["nearest_segment"].iloc[6])


def test_nine_box_distance_past_a_boundary_and_on_a_cut_off():
    from core.segment_rules import nine_box_distances

    # saved AX, today cv 0.6 (past the X/Y cut-off by ln 1.2) and still first in the ranking
    past = nine_box_distances(["A"], ["X"], np.array([0.0]), np.array([0.6]))
    assert past["distance_own"].iloc[0] == pytest.approx(np.log(1.2) / BAND)
    assert past["distance_next"].iloc[0] == 0 and past["nearest_segment"].iloc[0] == "AY"
    assert past["boundary_margin"].iloc[0] == pytest.approx(-np.log(1.2) / BAND)
    # far past: cv 1.5 is in Z, whose cell is now the nearest; saved BY, now ranked in A too: diagonal
    far = nine_box_distances(["B", "B"], ["Y", "X"], np.array([0.77, 0.80]), np.array([1.5, 0.5]))
    assert far["nearest_segment"].iloc[0] == "AZ"
    assert far["distance_own"].iloc[0] == pytest.approx(np.hypot(0.03 / 0.15, np.log(1.5) / BAND))
    assert far["boundary_margin"].iloc[1] == 0                       # on both cut-offs: on the boundary
    # other cut-offs set the scale: ABC 70/90 has a 20-point B band
    other = nine_box_distances(["A"], ["X"], np.array([0.60]), np.array([0.1]), (0.70, 0.90), (0.5, 1.0))
    assert other["boundary_margin"].iloc[0] == pytest.approx(0.10 / 0.20)
    assert other["nearest_segment"].iloc[0] == "BX"


def test_nine_box_versions_carry_the_distance_other_rule_methods_do_not(ranked):
    import inspect

    from core.classify import classify
    from core.segment_rules import ABC_CUTOFFS, XYZ_CUTOFFS

    defaults = inspect.signature(classify).parameters
    assert (defaults["abc_cutoffs"].default, defaults["xyz_cutoffs"].default) == (ABC_CUTOFFS, XYZ_CUTOFFS)
    result = segment(ranked, method="nine_box", measure="quantity")
    assert result.parameters["abc_cutoffs"] == [0.80, 0.95] and result.parameters["xyz_cutoffs"] == [0.5, 1.0]
    assert result.assignments["boundary_margin"].iloc[2] == pytest.approx(0.02 / 0.15)
    assert result.assignments["boundary_margin"].iloc[:6].notna().all()
    # classes not made by this measure and these cut-offs: that axis is not measured (held in its class)
    relabelled = ranked.assign(abc=["A", "A", "B", "B", "C", "C", "C"])   # P3 called B, the rule says A
    p3 = segment(relabelled, method="nine_box", measure="quantity").assignments.iloc[2]
    assert p3["segment"] == "BZ" and p3["boundary_margin"] == pytest.approx(1.0)  # its cv 2.0: one band to Y
    # item count as the measure: no ABC ranking to measure, XYZ only
    counted = segment(ranked, method="nine_box", measure=None).assignments
    assert counted["boundary_margin"].iloc[0] == pytest.approx(1.0) and np.isnan(counted["boundary_margin"].iloc[4])
    patterns = segment(ranked.assign(demand_pattern="smooth"), method="demand_pattern").assignments
    assert patterns[["distance_own", "distance_next", "boundary_margin"]].isna().all().all()
    assert "abc_cutoffs" not in segment(ranked.assign(demand_pattern="smooth"), method="demand_pattern").parameters
