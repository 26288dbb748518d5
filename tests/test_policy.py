"""Policy maths: published worked examples, loss-function table values, hand cases, properties."""

from __future__ import annotations

import time

import numpy as np
import pandas as pd
import pytest

from core.errors import SegplanError
from core.policy import (
    BUCKET_DAYS,
    SegmentPolicy,
    compare_policy_sets,
    default_policies,
    economic_order_quantity,
    expected_fill_rate,
    lead_time_from_order_lines,
    loss_function,
    loss_function_inverse,
    plan_items,
    safety_factor,
    safety_stock,
    segment_summary,
    service_curve,
)


def one_item(**columns) -> pd.DataFrame:
    base = {"product_id": ["p1"], "segment": ["S"], "demand_mean": [2500.0], "demand_std": [500.0],
            "lead_time_days": [14.0]}
    return pd.DataFrame({**base, **{k: [v] for k, v in columns.items()}})


def policy(level: float, kind: str = "cycle_service_level", review_days: float = 0.0,
           strategy: str = "make_to_stock", segment: str = "S") -> list[SegmentPolicy]:
    return [SegmentPolicy(segment, level, kind, strategy, review_days)]


# --- standard normal loss function -----------------------------------------------------------

@pytest.mark.parametrize(("z", "published"), [
    (0.0, 0.3989), (0.5, 0.1978), (1.0, 0.0833), (1.5, 0.0293), (2.0, 0.0085), (2.5, 0.0020), (3.0, 0.0004),
])
def test_loss_function_matches_published_table(z, published):
    """G(z) = phi(z) - z(1 - Phi(z)) against the table of the standard normal loss function
    (Silver, Pyke & Thomas, Inventory and Production Management in Supply Chains, 4th ed.,
    Appendix B table, 4 decimals)."""
    assert round(float(loss_function(z)), 4) == published


def test_loss_function_at_80_percent_csl_matches_published_exercise():
    """Università di Perugia, Impianti industriali exam 4 Sept 2014 (inventory aggregation),
    answer to point e: 'P1 = 80% k = 0.8416 and Gu(0.8416) = 0.112'."""
    assert round(float(loss_function(0.8416)), 3) == 0.112


@pytest.mark.parametrize("z", [-3.0, -1.0, 0.0, 0.25, 1.0, 2.33, 4.0, 6.0])
def test_loss_function_inverse_round_trips(z):
    assert loss_function_inverse(loss_function(z)) == pytest.approx(z, abs=1e-9)


def test_loss_function_inverse_is_vectorised_and_keeps_nan():
    targets = np.array([0.3989422804014327, 0.0833154705876864, np.nan])
    assert np.allclose(loss_function_inverse(targets)[:2], [0.0, 1.0], atol=1e-9)
    assert np.isnan(loss_function_inverse(targets)[2])


# --- Chopra & Meindl, Supply Chain Management 6th ed., chapter 12, B&M Office Supplies phones -------
# Example 12-1 (inputs checked at phantran.net/?p=26417, a reproduction of the chapter): weekly
# demand normal, mean 2,500, sd 500; lead time 2 weeks; lot size 10,000; reorder point 6,000.
# The examples that continue it are named by title: their numbers in the edition were not checked,
# and their stated answers (906, 25.13 / 0.9975, 67, 17,550 / 22,491, 980) are quoted from memory
# of the text, not re-read from a copy in this session; each is re-derived by hand in its docstring.

SIGMA_L = np.sqrt(2.0) * 500.0  # 707


def test_chopra_meindl_fill_rate_given_policy():
    """Chopra & Meindl 6th ed. ch. 12, example "evaluating fill rate given a replenishment policy":
    ss = 6,000 - 2 x 2,500 = 1,000, sigma_L = 707, ESC = 25.13, fill rate = 1 - 25.13 / 10,000 = 0.9975."""
    ss = 6000.0 - 2 * 2500.0
    esc = SIGMA_L * loss_function(ss / SIGMA_L)
    assert round(float(esc), 2) == 25.13
    assert round(float(expected_fill_rate(ss / SIGMA_L, SIGMA_L, 10_000.0)), 4) == 0.9975


def test_chopra_meindl_safety_inventory_given_fill_rate():
    """Chopra & Meindl 6th ed. ch. 12, example "evaluating safety inventory given a desired fill rate" (0.975,
    Q = 10,000): ESC = (1 - 0.975) x 10,000 = 250, ss = 67 (to the unit)."""
    z = safety_factor(0.975, "fill_rate", SIGMA_L, 10_000.0)
    assert round(float(z * SIGMA_L)) == 67
    plan = plan_items(one_item(moq=10_000.0), policy(0.975, "fill_rate"))
    assert round(plan["safety_stock"].iloc[0]) == 67
    assert plan["order_quantity"].iloc[0] == 10_000.0
    assert plan["expected_fill_rate"].iloc[0] == pytest.approx(0.975, abs=1e-9)


def test_chopra_meindl_safety_inventory_given_cycle_service_level():
    """Chopra & Meindl 6th ed. ch. 12, example "required safety inventory given CSL" (0.90): sigma_L =
    707, ss = NORMSINV(0.90) x 707 = 906, ROP = 5,000 + 906 = 5,906. Lead time 14 days in weekly buckets."""
    plan = plan_items(one_item(), policy(0.90))
    row = plan.iloc[0]
    assert row["lead_time"] == 2.0
    assert round(row["sigma_protection"]) == 707
    assert round(row["safety_stock"]) == 906
    assert round(row["reorder_point"]) == 5906


def test_chopra_meindl_lead_time_uncertainty():
    """Chopra & Meindl 6th ed. ch. 12, impact of supply (lead-time) uncertainty, Dell example: daily
    demand mean 2,500, sd 500, lead time 7 days with sd 7 days, CSL 0.90: sigma_L = 17,550 and
    ss = NORMSINV(0.9) x 17,550 = 22,491."""
    sigma = safety_stock(1.0, 2500.0, 500.0, 7.0, 7.0)
    assert round(float(sigma), -1) == 17_550
    ss = safety_stock(safety_factor(0.90, "cycle_service_level", sigma, 0.0), 2500.0, 500.0, 7.0, 7.0)
    assert round(float(ss)) == 22_491


def test_safety_stock_with_lead_time_variability_published_answer():
    """Published Q&A answer (ja3.jsfiddle.net/parte/16251922): demand 30 gallons/day sd 3, lead
    time 7 days sd 4, 90 % with z = 1.28:
    SS = 1.28 x sqrt(7 x 3^2 + (4 x 30)^2) = 153.94 gallons."""
    assert round(float(safety_stock(1.28, 30.0, 3.0, 7.0, 4.0)), 2) == 153.94


# --- EOQ ----------------------------------------------------------------------------------------

def test_eoq_chopra_meindl_best_buy():
    """Chopra & Meindl 6th ed. ch. 11, EOQ example (Best Buy computers): 1,000 a month (D = 12,000 a
    year), S = $4,000, c = $500, h = 0.2: Q* = sqrt(2 x 12,000 x 4,000 / 100) = 980."""
    assert round(float(economic_order_quantity(12_000.0, 4000.0, 0.2, 500.0))) == 980


def test_eoq_published_answer_and_through_plan():
    """Published answer (partnerperformance.uonbi.ac.ke/preguntia/14204168): D = 2,000 a year,
    S = $20, purchase cost $40, holding 20 %: EOQ = 100.
    Through plan_items with monthly buckets (12 a year) and continuous review."""
    assert float(economic_order_quantity(2000.0, 20.0, 0.2, 40.0)) == pytest.approx(100.0)
    items = one_item(demand_mean=2000.0 / 12, demand_std=0.0, unit_cost=40.0)
    plan = plan_items(items, policy(0.95), bucket="month", ordering_cost=20.0, holding_rate=0.2)
    assert plan["order_quantity"].iloc[0] == pytest.approx(100.0)
    assert plan["order_quantity_source"].iloc[0] == "eoq"
    assert plan["cycle_stock_value"].iloc[0] == pytest.approx(50.0 * 40.0)


def test_eoq_needs_a_unit_cost_else_cover_fallback():
    plan = plan_items(one_item(), policy(0.95), ordering_cost=20.0, holding_rate=0.2, fallback_cover_buckets=2.0)
    assert plan["order_quantity"].iloc[0] == 5000.0
    assert plan["order_quantity_source"].iloc[0] == "cover"


# --- plan: hand-computed cases ------------------------------------------------------------------

def test_periodic_review_protects_lead_time_plus_review_period():
    """Hand case: d = 10/week, sd 2, L = 14 days, R = 7 days -> P = 3 weeks, sigma = sqrt(3 x 4),
    ss = 1.6449 x 3.4641 = 5.698, order-up-to = 30 + ss, order = d x R = 10."""
    items = one_item(demand_mean=10.0, demand_std=2.0, unit_cost=5.0)
    row = plan_items(items, policy(0.95, review_days=7.0)).iloc[0]
    assert row["protection_period"] == 3.0
    assert row["safety_stock"] == pytest.approx(1.6448536 * np.sqrt(12.0), rel=1e-6)
    assert row["reorder_point"] == pytest.approx(30.0 + row["safety_stock"])
    assert row["order_quantity"] == 10.0 and row["order_quantity_source"] == "review_period"
    assert row["safety_stock_value"] == pytest.approx(row["safety_stock"] * 5.0)
    assert row["cycle_stock_value"] == pytest.approx(25.0)
    assert row["inventory_value"] == pytest.approx(row["safety_stock_value"] + 25.0)


def test_month_bucket_is_365_25_over_12_days():
    assert BUCKET_DAYS["month"] == pytest.approx(30.4375)
    items = one_item(demand_mean=100.0, demand_std=10.0, lead_time_days=365.25 / 12, lead_time_std_days=365.25 / 12)
    row = plan_items(items, policy(0.95), bucket="month").iloc[0]
    assert row["lead_time"] == pytest.approx(1.0) and row["lead_time_std"] == pytest.approx(1.0)
    assert row["sigma_protection"] == pytest.approx(np.sqrt(100.0 + 100.0**2))


def test_forecast_rmse_replaces_history_spread():
    items = pd.concat([one_item(rmse=250.0), one_item(rmse=np.nan)], ignore_index=True)
    plan = plan_items(items, policy(0.90))
    assert list(plan["demand_std"]) == [250.0, 500.0]
    assert list(plan["demand_std_source"]) == ["forecast_rmse", "history"]


def test_make_to_order_holds_no_stock():
    row = plan_items(one_item(unit_cost=3.0), policy(0.95, strategy="make_to_order")).iloc[0]
    assert row["safety_stock"] == 0 and row["reorder_point"] == 0 and row["order_quantity"] == 0
    assert row["safety_stock_value"] == 0 and row["cycle_stock_value"] == 0
    assert np.isnan(row["z"]) and np.isnan(row["expected_fill_rate"])


def test_cycle_service_level_target_is_met_exactly():
    row = plan_items(one_item(), policy(0.95)).iloc[0]
    assert row["z"] == pytest.approx(1.6448536, rel=1e-7)
    assert row["cycle_service_level"] == pytest.approx(0.95)


def test_low_fill_rate_target_gets_no_negative_safety_stock():
    row = plan_items(one_item(moq=100_000.0), policy(0.80, "fill_rate")).iloc[0]
    assert row["z"] == 0.0 and row["safety_stock"] == 0.0
    assert row["expected_fill_rate"] > 0.80


def test_output_carries_every_input_and_figure():
    plan = plan_items(one_item(unit_cost=1.0), policy(0.9))
    for column in ("product_id", "segment", "demand_mean", "demand_std", "lead_time", "lead_time_std", "z",
                   "service_level", "safety_stock", "reorder_point", "order_quantity", "expected_fill_rate",
                   "safety_stock_value", "cycle_stock_value", "bucket", "inventory_strategy", "review_period"):
        assert column in plan.columns


def test_missing_lead_time_is_a_user_error_unless_defaulted():
    items = one_item(lead_time_days=np.nan)
    with pytest.raises(SegplanError, match="lead_time_days"):
        plan_items(items, policy(0.9))
    assert plan_items(items, policy(0.9), default_lead_time_days=14.0)["lead_time"].iloc[0] == 2.0


@pytest.mark.parametrize(("items", "policies", "match"), [
    (one_item(segment="T"), policy(0.9), "segment 'T' has no policy"),
    (one_item(demand_std=-1.0), policy(0.9), "demand_std"),
    (one_item().drop(columns="demand_mean"), policy(0.9), "demand_mean"),
])
def test_plan_user_errors(items, policies, match):
    with pytest.raises(SegplanError, match=match):
        plan_items(items, policies)


@pytest.mark.parametrize(("kwargs", "match"), [
    ({"service_level": 1.0}, "service_level"),
    ({"service_level_type": "type_2"}, "service_level_type"),
    ({"inventory_strategy": "push"}, "inventory_strategy"),
    ({"allocation_tier": 0}, "allocation_tier"),
    ({"review_period_days": -7}, "review_period_days"),
])
def test_policy_rejects_bad_values(kwargs, match):
    with pytest.raises(SegplanError, match=match):
        SegmentPolicy(**{"segment": "S", "service_level": 0.9, **kwargs})


def test_bad_bucket_and_half_cost_parameters():
    with pytest.raises(SegplanError, match="bucket"):
        plan_items(one_item(), policy(0.9), bucket="day")
    with pytest.raises(SegplanError, match="holding_rate"):
        plan_items(one_item(), policy(0.9), ordering_cost=10.0)


# --- defaults -----------------------------------------------------------------------------------

def test_default_policies_for_nine_box_cells():
    policies = {p.segment: p for p in default_policies(["AX", "AY", "AZ", "BX", "BY", "BZ", "CX", "CY", "CZ"])}
    assert {s: p.service_level for s, p in policies.items()} == {
        "AX": 0.98, "AY": 0.97, "AZ": 0.95, "BX": 0.96, "BY": 0.95, "BZ": 0.92, "CX": 0.93, "CY": 0.90, "CZ": 0.85}
    assert policies["CZ"].inventory_strategy == "make_to_order"
    assert {p.inventory_strategy for s, p in policies.items() if s != "CZ"} == {"make_to_stock"}
    assert (policies["AX"].allocation_tier, policies["BZ"].allocation_tier, policies["CX"].allocation_tier) == (1, 2, 3)
    assert policies["AY"].review_period_days == 7.0 and policies["CY"].review_period_days == 28.0


def test_default_policies_for_clusters_follow_dominant_classes():
    items = pd.DataFrame({
        "segment": [0, 0, 0, 1, 1, 2, 2],
        "abc": ["A", "A", "B", "C", "C", "A", "C"],
        "xyz": ["X", "Y", "Y", "Z", "Z", "X", "Z"],
    })
    policies = {p.segment: p for p in default_policies(items)}
    assert policies["0"].service_level == 0.97  # dominant A, dominant Y
    assert policies["1"].inventory_strategy == "make_to_order"  # dominant CZ
    assert policies["2"].service_level == 0.98  # ties go to the higher class: A and X


def test_default_policies_for_pattern_segments_and_unknown_names():
    policies = {p.segment: p for p in default_policies(["smooth", "lumpy", "key accounts"])}
    assert policies["smooth"].service_level == 0.96  # B x X
    assert policies["lumpy"].service_level == 0.92  # B x Z, still stocked
    assert policies["key accounts"].service_level == 0.95  # B x Y


def test_auto_forecast_method_follows_demand_pattern():
    items = pd.concat([one_item(demand_pattern="smooth"), one_item(demand_pattern="lumpy")], ignore_index=True)
    plan = plan_items(items, policy(0.9))
    assert list(plan["forecast_method"]) == ["ses", "tsb"]  # core.forecast.AUTO_METHODS
    chosen = plan_items(items, [SegmentPolicy("S", 0.9, forecast_method="croston")])
    assert list(chosen["forecast_method"]) == ["croston", "croston"]


# --- lead times from orders ---------------------------------------------------------------------

def test_lead_time_from_order_lines_hand_case():
    lines = pd.DataFrame({
        "product_id": ["a", "a", "a", "b", "b"],
        "order_date": pd.to_datetime(["2024-01-01", "2024-01-02", "2024-01-03", "2024-01-01", "2024-01-05"]),
        "ship_date": pd.to_datetime(["2024-01-05", "2024-01-08", "2024-01-11", "2024-01-04", "2024-01-01"]),
    })
    out = lead_time_from_order_lines(lines).set_index("product_id")
    assert out.loc["a", "lead_time_days"] == 6.0  # 4, 6, 8
    assert out.loc["a", "lead_time_std_days"] == 2.0
    assert out.loc["b", "lead_time_days"] == 3.0 and out.loc["b", "lead_time_std_days"] == 0.0
    assert out.loc["b", "lead_time_observations"] == 1  # a delivery before its order is left out


# --- what-if ------------------------------------------------------------------------------------

def random_items(seed: int, n: int = 60) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    mean = rng.gamma(2.0, 50.0, n)
    return pd.DataFrame({
        "product_id": [f"p{i}" for i in range(n)],
        "segment": rng.choice(["AX", "BY", "CZ", "CX"], n),
        "demand_mean": mean, "demand_std": mean * rng.uniform(0.1, 1.5, n),
        "lead_time_days": rng.uniform(1, 60, n), "lead_time_std_days": rng.uniform(0, 10, n),
        "unit_cost": rng.uniform(0.5, 200, n), "moq": rng.choice([0.0, 50.0, 500.0], n),
    })


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("kind", ["cycle_service_level", "fill_rate"])
def test_service_curve_is_monotonic(seed, kind):
    """Property: a higher service level never needs less safety stock and never expects a lower fill rate."""
    curve = service_curve(random_items(seed), service_level_type=kind)
    assert len(curve) == 4 * 40
    for _, group in curve.groupby("segment"):
        assert np.all(np.diff(group["service_level"]) > 0)
        assert np.all(np.diff(group["safety_stock_value"]) >= -1e-9)
        fill = group["expected_fill_rate"].to_numpy()
        if not np.isnan(fill).all():
            assert np.all(np.diff(fill) >= -1e-12)
    stocked = curve[curve["segment"] != "CZ"]
    assert stocked.groupby("segment")["safety_stock_value"].agg(lambda v: v.iloc[-1] > v.iloc[0]).all()


def test_service_curve_make_to_order_segment_is_flat_zero():
    curve = service_curve(random_items(1))
    cz = curve[curve["segment"] == "CZ"]
    assert (cz["inventory_value"] == 0).all() and cz["expected_fill_rate"].isna().all()


def test_fill_rate_curve_meets_its_target_where_unclipped():
    items = one_item(demand_mean=100.0, demand_std=40.0, unit_cost=1.0)
    curve = service_curve(items, policies=policy(0.9), service_level_type="fill_rate")
    assert np.allclose(curve["expected_fill_rate"], curve["service_level"], atol=1e-9)


def test_compare_policy_sets_side_by_side():
    items = random_items(3)
    low = default_policies(items)
    high = [SegmentPolicy(p.segment, min(p.service_level + 0.02, 0.999), p.service_level_type, p.inventory_strategy,
                          p.review_period_days, p.forecast_method, p.allocation_tier) for p in low]
    out = compare_policy_sets(items, low, high).set_index("segment")
    stocked = out.drop(index="CZ")
    assert (stocked["safety_stock_value_change"] > 0).all()
    assert (stocked["expected_fill_rate_change"] > 0).all()
    assert (stocked["cycle_stock_value_change"] == 0).all()
    assert out.loc["CZ", "inventory_value_a"] == 0 and out.loc["CZ", "inventory_strategy_b"] == "make_to_order"
    assert out["items"].sum() == len(items)


def test_plan_of_100k_items_is_vectorised():
    items = pd.concat([random_items(s, 10_000) for s in range(10)], ignore_index=True)
    policies = [SegmentPolicy(s, 0.97, "fill_rate") for s in ("AX", "BY", "CZ", "CX")]
    start = time.perf_counter()
    plan = plan_items(items, policies)
    assert time.perf_counter() - start < 10.0
    assert len(plan) == 100_000 and plan["safety_stock"].notna().all()
    start = time.perf_counter()
    curve = service_curve(items, policies=policies)  # 40 levels x 100k items, fill-rate targets
    assert time.perf_counter() - start < 30.0
    assert len(curve) == 4 * 40


def test_segment_summary_weights_fill_rate_by_demand_and_counts_uncosted_items():
    """Hand case: two stocked items of one segment with fill rates fixed by hand, demand 100 and
    300: segment fill rate = (100 x 0.9 + 300 x 0.99) / 400 = 0.9675."""
    plan = pd.DataFrame({"segment": ["S", "S", "T"], "demand_mean": [100.0, 300.0, 5.0],
                         "expected_fill_rate": [0.9, 0.99, np.nan], "safety_stock_value": [10.0, np.nan, 0.0],
                         "cycle_stock_value": [5.0, np.nan, 0.0]})
    out = segment_summary(plan).set_index("segment")
    assert out.loc["S", "expected_fill_rate"] == pytest.approx(0.9675)
    assert out.loc["S", "inventory_value"] == 15.0 and out.loc["S", "items_without_unit_cost"] == 1
    assert np.isnan(out.loc["T", "expected_fill_rate"]) and out.loc["T", "items"] == 1


def test_cluster_segments_given_as_numbers_plan_with_their_defaults():
    items = pd.concat([one_item(segment=0, abc="A", xyz="X"), one_item(segment=1, abc="C", xyz="Z")],
                      ignore_index=True)
    plan = plan_items(items, default_policies(items))
    assert list(plan["segment"]) == ["0", "1"]
    assert list(plan["inventory_strategy"]) == ["make_to_stock", "make_to_order"]
    assert list(plan["allocation_tier"]) == [1, 3]


def test_default_policies_from_demand_patterns_in_a_frame():
    items = pd.DataFrame({"segment": ["k1", "k1", "k2"], "demand_pattern": ["lumpy", "lumpy", "smooth"]})
    policies = {p.segment: p for p in default_policies(items)}
    assert policies["k1"].service_level == 0.92 and policies["k2"].service_level == 0.96
