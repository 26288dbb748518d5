"""Comparing two saved versions: migration matrix, flows, movers with feature changes, policy impact.

Figures are worked by hand from the small database of tests/page_data.py (six products, 26
weeks) and from two hand-made versions whose features are given here.
"""

from __future__ import annotations

import datetime as dt
import math
import statistics

import numpy as np
import pandas as pd
import pytest
from scipy.stats import norm

from core.diff import NOT_IN_A, NOT_IN_B, compare_versions
from core.errors import SegplanError
from core.policy import SegmentPolicy
from core.policy_plan import policy_items, save_policies
from core.segment import SegmentationResult
from core.versions import run_segmentation, save_version
from page_data import fill_small_database

#: Big when revenue is 2,000 or more. Revenue of the small database (quantity x price):
#: P1 2600 x 10 = 26,000; P2 1,300 x 8 + 7 x 8 = 10,456; P3 480 x 6 = 2,880; P4 88 x 5 = 440;
#: P5 363 x 2 = 726; P6 6 x 1 = 6.
BIG_RULES = [{"name": "Big", "when": [["revenue", ">=", 2000]]}, {"name": "Small"}]


@pytest.fixture
def small(store):
    fill_small_database(store)
    return store


def _add_order_line(store, order_id: str, product: str, quantity: float, price: float) -> None:
    with store.transaction() as cur:
        cur.execute("INSERT INTO orders (order_id, order_date, customer_id, product_id, quantity, unit_price, "
                    "unit_cost, run_id, source_row) VALUES (?, ?, 'C1', ?, ?, ?, ?, 0, 0)",
                    [order_id, dt.date(2025, 6, 30), product, quantity, price, price * 0.6])


def _rules_version(store) -> int:
    return run_segmentation(store, "product", "rules", rules=BIG_RULES, min_share=0.0).version_id


def test_feature_changes_come_from_the_features_saved_with_each_version(small):
    a = _rules_version(small)
    # P4 sells 1,000 more at 5: revenue 440 -> 5,440, so it turns Big; P6 leaves, P7 arrives
    _add_order_line(small, "X1", "P4", 1000, 5.0)
    _add_order_line(small, "X2", "P7", 10, 3.0)
    with small.transaction() as cur:
        cur.execute("DELETE FROM orders WHERE product_id = 'P6'")
    b = _rules_version(small)

    diff = compare_versions(small, a, b)

    assert diff.level == "product" and diff.keys == ("product_id",)
    assert diff.matrix.index.tolist() == ["Big", "Small", NOT_IN_A]
    assert diff.matrix.columns.tolist() == ["Big", "Small", NOT_IN_B]
    assert diff.matrix.to_numpy().tolist() == [[3, 0, 0],    # P1, P2, P3 stay Big
                                               [1, 1, 1],    # P4 turns Big, P5 stays, P6 leaves
                                               [0, 1, 0]]    # P7 is new and Small
    assert diff.flows.to_dict("records") == [
        {"source": "Big", "target": "Big", "items": 3}, {"source": "Small", "target": "Big", "items": 1},
        {"source": "Small", "target": "Small", "items": 1}, {"source": "Small", "target": NOT_IN_B, "items": 1},
        {"source": NOT_IN_A, "target": "Small", "items": 1}]
    assert diff.items_moved == 3 and diff.items_stayed == 4

    movers = diff.movers
    # P4 moved with features on both sides; P6 and P7 have one side only, so no size, after it by key
    assert movers["product_id"].tolist() == ["P4", "P6", "P7"]
    assert movers[["segment_a", "segment_b"]].to_numpy().tolist() == [["Small", "Big"], ["Small", NOT_IN_B],
                                                                      [NOT_IN_A, "Small"]]
    p4 = movers.iloc[0]
    assert p4["revenue_a"] == pytest.approx(440.0)      # as saved with version a, before the new line
    assert p4["revenue_b"] == pytest.approx(5440.0)
    assert p4["revenue_change"] == pytest.approx(5000.0)
    assert p4["order_lines_change"] == pytest.approx(1.0)
    assert p4["move_size"] > 0
    assert math.isnan(movers.iloc[1]["move_size"]) and math.isnan(movers.iloc[2]["move_size"])
    assert movers.iloc[1]["revenue_a"] == pytest.approx(6.0) and math.isnan(movers.iloc[1]["revenue_b"])
    assert movers.iloc[2]["revenue_b"] == pytest.approx(30.0) and math.isnan(movers.iloc[2]["revenue_a"])
    assert "revenue" in diff.features and "cv" in diff.features


def _result(rows: list[tuple[str, str]]) -> SegmentationResult:
    """A rules-style result with the given (product, segment) rows, segments named as themselves."""
    assigned = pd.DataFrame({"product_id": [p for p, _ in rows], "segment": [s for _, s in rows]})
    assigned["segment_label"] = assigned["segment"]
    for column in ("distance_own", "distance_next", "boundary_margin"):
        assigned[column] = np.nan
    segments = list(dict.fromkeys(s for _, s in rows))
    profile = pd.DataFrame({"segment": segments, "segment_label": segments,
                            "items": [sum(s == seg for _, s in rows) for seg in segments]})
    return SegmentationResult(method="rules", parameters={"method": "rules", "measure": None}, k=len(segments),
                              assignments=assigned, profile=profile, metrics={}, merges=[], fingerprint="hand",
                              auto_names={s: s for s in segments})


def _hand_versions(store) -> tuple[int, int]:
    """A: P1 Big, P2 Big, P3 Small, P4 Small. B: P1 Big, P2 Small, P3 Big, P5 Small (P4 gone)."""
    items_a = pd.DataFrame({"product_id": ["P1", "P2", "P3", "P4"], "revenue": [100.0, 50.0, 10.0, 20.0],
                            "cv": [0.5, 1.0, 2.0, 1.0]})
    items_b = pd.DataFrame({"product_id": ["P1", "P2", "P3", "P5"], "revenue": [100.0, 10.0, 60.0, 30.0],
                            "cv": [0.5, 1.0, 0.5, 1.0]})
    a = save_version(store, _result([("P1", "Big"), ("P2", "Big"), ("P3", "Small"), ("P4", "Small")]),
                     "product", "week", items=items_a)
    b = save_version(store, _result([("P1", "Big"), ("P2", "Small"), ("P3", "Big"), ("P5", "Small")]),
                     "product", "week", items=items_b)
    return a, b


def test_movers_are_sorted_by_the_size_of_the_move_in_standard_deviations(small):
    a, b = _hand_versions(small)
    diff = compare_versions(small, a, b)
    assert diff.features == ("revenue", "cv")
    # standard deviation of each feature over the eight saved values of both versions
    sd_revenue = statistics.pstdev([100, 50, 10, 20, 100, 10, 60, 30])    # 34.55
    sd_cv = statistics.pstdev([0.5, 1.0, 2.0, 1.0, 0.5, 1.0, 0.5, 1.0])   # 0.4635
    p3 = math.hypot(50 / sd_revenue, -1.5 / sd_cv)   # revenue 10 -> 60, cv 2.0 -> 0.5: 3.54
    p2 = math.hypot(-40 / sd_revenue, 0.0)           # revenue 50 -> 10: 1.16
    movers = diff.movers
    assert movers["product_id"].tolist() == ["P3", "P2", "P4", "P5"]
    assert movers["move_size"].iloc[:2].tolist() == pytest.approx([p3, p2])
    assert movers[["revenue_a", "revenue_b", "revenue_change", "cv_change"]].iloc[0].tolist() == \
        pytest.approx([10.0, 60.0, 50.0, -1.5])
    assert diff.matrix.to_numpy().tolist() == [[1, 1, 0], [1, 0, 1], [0, 1, 0]]


def test_policy_impact_per_segment_pair_and_per_mover(small):
    a, b = _hand_versions(small)
    save_policies(small, a, [SegmentPolicy("Big", 0.95), SegmentPolicy("Small", 0.90, forecast_method="croston")])
    save_policies(small, b, [SegmentPolicy("Big", 0.99, forecast_method="ses"),
                             SegmentPolicy("Small", 0.80, inventory_strategy="make_to_order")])
    diff = compare_versions(small, a, b)
    assert diff.stock_computed
    pairs = diff.pair_impact.set_index(["segment_a", "segment_b"])
    big_big = pairs.loc[("Big", "Big")]
    assert big_big["items"] == 1
    assert (big_big["service_level_a"], big_big["service_level_b"]) == (0.95, 0.99)
    assert (big_big["forecast_method_a"], big_big["forecast_method_b"]) == ("auto", "ses")
    small_big = pairs.loc[("Small", "Big")]
    assert (small_big["service_level_a"], small_big["inventory_strategy_a"]) == (0.90, "make_to_stock")
    big_small = pairs.loc[("Big", "Small")]
    assert big_small["inventory_strategy_b"] == "make_to_order"
    # P2 (demand 40, 60, 40, ... a week and 7 once) moves Big -> Small, made to order in B: its stock goes
    plan_a = policy_items(small, a).set_index("product_id")
    movers = diff.movers.set_index("product_id")
    assert movers.loc["P2", "safety_stock_a"] == pytest.approx(plan_a.loc["P2", "safety_stock"])
    assert plan_a.loc["P2", "safety_stock"] > 0
    assert movers.loc["P2", "safety_stock_b"] == 0
    assert movers.loc["P2", "safety_stock_change"] == pytest.approx(-plan_a.loc["P2", "safety_stock"])
    assert big_small["safety_stock_change"] == pytest.approx(-plan_a.loc["P2", "safety_stock"])
    # P3 moves Small (90 %) -> Big (99 %), same demand and lead time: stock scales with z
    ratio = norm.ppf(0.99) / norm.ppf(0.90)
    assert movers.loc["P3", "safety_stock_b"] == pytest.approx(movers.loc["P3", "safety_stock_a"] * ratio)
    assert (movers.loc["P3", "forecast_method_a"], movers.loc["P3", "forecast_method_b"]) == ("croston", "ses")
    # P4 left: its stock under A counts, none under B
    assert pairs.loc[("Small", NOT_IN_B), "safety_stock_b"] == 0
    assert pairs.loc[("Small", NOT_IN_B), "safety_stock_a"] == pytest.approx(plan_a.loc["P4", "safety_stock"])
    assert any("data loaded now" in note for note in diff.notes)


def test_versions_of_different_levels_are_refused(small):
    a = _rules_version(small)
    b = run_segmentation(small, "customer", "abc_xyz", min_share=0.0).version_id
    with pytest.raises(SegplanError, match="same level") as err:
        compare_versions(small, a, b)
    assert f"version {a} segments product" in err.value.message


def test_unknown_version_names_the_id(small):
    a = _rules_version(small)
    with pytest.raises(SegplanError, match="version 99 does not exist"):
        compare_versions(small, a, 99)


def test_customer_versions_compare_without_stock(small):
    a = run_segmentation(small, "customer", "abc_xyz", min_share=0.0).version_id
    b = run_segmentation(small, "customer", "rules", rules=[{"name": "All"}], min_share=0.0).version_id
    diff = compare_versions(small, a, b)
    assert not diff.stock_computed
    assert "safety_stock_change" not in diff.movers.columns
    assert diff.matrix.to_numpy().sum() == 4                  # C1..C4, each once
    assert diff.matrix.columns.tolist() == ["All"]
    assert diff.items_moved == 4                              # no nine-box cell is called "All"
    assert any("Customer-level" in note for note in diff.notes)


def test_a_version_saved_without_features_says_so(small):
    a = _rules_version(small)
    b = _rules_version(small)
    with small.transaction() as cur:
        cur.execute("DELETE FROM segment_item_features WHERE version_id = ?", [a])
    diff = compare_versions(small, a, b)
    assert diff.features == ()
    assert diff.items_moved == 0 and diff.items_stayed == 6
    assert any(f"Version {a} was saved before" in note for note in diff.notes)


def test_overrides_are_compared_as_the_planner_set_them(small):
    from core.overrides import add_override

    a, b = _hand_versions(small)
    # P1 is Big in both; a planner moves it to Small in B: now it is a mover, marked as overridden
    add_override(small, b, "P1", "Small", "local admin", "customer is phasing it out")
    diff = compare_versions(small, a, b)
    assert diff.overridden == (0, 1)
    assert diff.matrix.loc["Big"].tolist() == [0, 2, 0]          # P1 and P2 go to Small
    movers = diff.movers.set_index("product_id")
    assert movers.loc["P1", ["segment_a", "segment_b"]].tolist() == ["Big", "Small"]
    assert (bool(movers.loc["P1", "overridden_a"]), bool(movers.loc["P1", "overridden_b"])) == (False, True)
    assert not movers.loc["P3", "overridden_b"]
    assert movers.loc["P1", "move_size"] == 0                      # same features: the planner moved it
    assert any(f"(0 items overridden in version {a}, 1 in version {b})" in note for note in diff.notes)
