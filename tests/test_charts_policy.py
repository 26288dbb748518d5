"""Chart builders and table shapers of the Policies page: right numbers, titles, axis units."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from core import charts_policy as cp
from core.errors import SegplanError
from core.policy import SegmentPolicy, compare_policy_sets, default_policies, plan_items, segment_summary, service_curve


@pytest.fixture
def items() -> pd.DataFrame:
    return pd.DataFrame({
        "product_id": ["P1", "P2", "P3", "P4"], "segment": ["AX", "AX", "BY", "CZ"],
        "demand_mean": [100.0, 50.0, 20.0, 5.0], "demand_std": [20.0, 10.0, 10.0, 6.0],
        "lead_time_days": [14.0, 7.0, 14.0, 28.0], "unit_cost": [10.0, 4.0, 2.0, 1.0],
    })


def spec(chart) -> dict:
    return chart.to_dict()


def test_policy_rows_round_trip_to_the_same_policies(items):
    policies = default_policies(items)
    rows = cp.policy_rows(policies, {"AX": "Runners"})
    assert list(rows.columns) == list(cp.POLICY_COLUMNS)
    assert rows.loc[rows["segment"] == "AX", "segment_label"].item() == "Runners"
    assert cp.policies_from_rows(rows) == policies


def test_policies_from_rows_name_the_segment_of_a_bad_cell(items):
    rows = cp.policy_rows(default_policies(items))
    rows.loc[0, "service_level"] = np.nan
    with pytest.raises(SegplanError, match="segment 'AX': service level is empty"):
        cp.policies_from_rows(rows)
    rows.loc[0, "service_level"] = 0.2
    with pytest.raises(SegplanError, match="outside 0.5-0.999"):
        cp.policies_from_rows(rows)
    rows.loc[0, "service_level"] = 0.9
    rows["allocation_tier"] = rows["allocation_tier"].astype(float)
    rows.loc[0, "allocation_tier"] = 1.5
    with pytest.raises(SegplanError, match="not a whole number"):
        cp.policies_from_rows(rows)


def test_policy_changes_list_each_setting_that_differs(items):
    saved = default_policies(items)
    edited = cp.with_service_level(saved, "BY", 0.99)
    changes = cp.policy_changes(saved, edited, {"BY": "Middle"})
    assert changes.to_dict("records") == [{"segment": "Middle", "setting": "service level",
                                           "before": "0.95", "after": "0.99"}]
    assert cp.policy_changes(saved, saved).empty
    assert [p.service_level for p in edited if p.segment != "BY"] == [p.service_level for p in saved if p.segment != "BY"]


def test_segment_results_put_backtest_beside_the_plan(items):
    policies = default_policies(items)
    summary = segment_summary(plan_items(items, policies))
    backtest = pd.DataFrame({"segment": ["AX", "BY"], "wape": [0.2, 0.5], "bias": [0.01, -0.1],
                             "methods": ["ses 2", "sba 1"]})
    results = cp.segment_results(summary, policies, {"AX": "Runners"}, backtest)
    assert results["segment_label"].tolist() == ["Runners", "BY", "CZ"]
    assert results["items"].tolist() == [2, 1, 1]
    assert results.loc[0, "wape"] == pytest.approx(0.2)
    assert np.isnan(results.loc[2, "wape"])
    without = cp.segment_results(summary, policies, {})
    assert without["wape"].isna().all()


def test_stock_value_chart_stacks_safety_and_cycle_stock(items):
    policies = default_policies(items)
    results = cp.segment_results(segment_summary(plan_items(items, policies)), policies, {})
    chart = spec(cp.stock_value_chart(results))
    assert chart["title"]["text"] == "Inventory investment per segment"
    assert chart["encoding"]["x"]["title"] == "stock value (currency units)"
    assert chart["encoding"]["y"]["title"] == "segment"


def test_service_curve_chart_marks_the_saved_and_what_if_points(items):
    curve = service_curve(items, [0.8, 0.9, 0.95, 0.99])
    ax = curve[curve["segment"] == "AX"]
    point = ax.iloc[2].to_dict()
    chart = spec(cp.service_curve_chart(ax, "Runners", point, saved=ax.iloc[1].to_dict()))
    assert chart["title"]["text"] == "Service against inventory: «Runners»"
    line, dots = chart["layer"]
    assert line["encoding"]["x"]["title"].startswith("expected fill rate (%")
    assert line["encoding"]["y"]["title"] == "safety stock value (currency units)"
    marked = chart["datasets"][dots["data"]["name"]]
    assert [m["point"] for m in marked] == ["saved policy", "what-if"]
    assert marked[1]["safety_stock_value"] == pytest.approx(point["safety_stock_value"])
    by_level = spec(cp.service_curve_chart(ax, "Runners", point, x="service_level"))
    assert by_level["layer"][0]["encoding"]["x"]["title"] == "target service level (%)"
    with pytest.raises(SegplanError):
        cp.service_curve_chart(ax, "Runners", point, x="z")


def test_policy_difference_chart_shows_the_change_per_segment(items):
    saved = default_policies(items)
    what_if = cp.with_service_level(saved, "AX", 0.995)
    table = cp.comparison_table(compare_policy_sets(items, saved, what_if), {"AX": "Runners"})
    assert table.loc[table["segment"] == "AX", "inventory_value_change"].item() > 0
    assert table.loc[table["segment"] == "BY", "inventory_value_change"].item() == 0
    chart = spec(cp.policy_difference_chart(table))
    assert chart["title"]["text"] == "What-if against the saved policies"
    assert chart["encoding"]["x"]["title"] == "change in inventory value (currency units)"


def test_allocation_fill_chart_in_tier_order():
    summary = pd.DataFrame({"segment": ["AX", "CZ"], "allocation_tier": [1, 3], "lines": [2, 1], "lines_cut": [0, 1],
                            "ordered": [10, 5], "allocated": [10, 2], "cut": [0, 3], "fill_rate": [1.0, 0.4],
                            "line_fill_rate": [1.0, 0.0]})
    chart = spec(cp.allocation_fill_chart(summary))
    assert chart["title"]["text"] == "Fill rate per segment after allocation"
    assert "12 of 15 units" in chart["title"]["subtitle"]
    assert chart["encoding"]["x"]["title"] == "fill rate (% of ordered units)"
    assert chart["encoding"]["y"]["sort"] == ["AX", "CZ"]


def test_money_reads_whole_units():
    assert cp.money(1234567.4) == "1,234,567"
    assert cp.money(float("nan")) == "–"


def test_plan_inputs_replan_to_the_same_figures_and_compare_plans_matches_core(items):
    saved = default_policies(items)
    plan = plan_items(items, saved).assign(lead_time_days=items["lead_time_days"],
                                           lead_time_std_days=0.0, moq=np.nan)
    again = plan_items(cp.plan_inputs(plan), saved)
    assert again["safety_stock_value"].tolist() == pytest.approx(plan["safety_stock_value"].tolist())
    what_if = cp.with_service_level(saved, "AX", 0.995)
    mine = cp.compare_plans(plan, plan_items(cp.plan_inputs(plan), what_if), {"AX": "Runners"})
    core = compare_policy_sets(items, saved, what_if)
    assert mine["segment_label"].tolist() == ["Runners", "BY", "CZ"]
    for column in ("inventory_value_change", "expected_fill_rate_change", "service_level_b"):
        assert mine[column].tolist() == pytest.approx(core[column].tolist(), nan_ok=True)


def test_plan_totals_weigh_fill_rate_by_demand(items):
    plan = plan_items(items, default_policies(items))
    totals = cp.plan_totals(plan)
    stocked = plan[plan["expected_fill_rate"].notna()]
    expected = (stocked["expected_fill_rate"] * stocked["demand_mean"]).sum() / stocked["demand_mean"].sum()
    assert totals["expected_fill_rate"] == pytest.approx(expected)
    assert totals["inventory_value"] == pytest.approx(plan["inventory_value"].sum())


def test_change_text_is_none_without_a_change():
    assert cp.change_text(1234.4) == "+1,234 vs saved"
    assert cp.change_text(-0.2) is None
    assert cp.change_text(0.0052, "rate") == "+0.52 pts vs saved"
    assert cp.change_text(0.00001, "rate") is None
    assert cp.change_text(float("nan")) is None


def test_curve_levels_take_in_the_marked_levels():
    levels = cp.curve_levels(0.6, 0.999)
    assert levels.min() == pytest.approx(0.6) and levels.max() == pytest.approx(0.999)
    assert np.all(np.diff(levels) > 0)
    default = cp.curve_levels(0.95)
    assert default.min() == pytest.approx(0.80) and default.max() == pytest.approx(0.995)
    assert 0.95 in default
