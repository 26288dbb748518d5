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
