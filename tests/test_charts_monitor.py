"""The Monitor page's control chart: layers, step limits, target, red rule breaks with their words and counts."""

from __future__ import annotations

import pandas as pd
import pytest

from core import alerts
from core import charts_monitor as cm


@pytest.fixture
def points() -> pd.DataFrame:
    # 8 weeks at 88 of 100 OTIF lines, then 60 of 100: rule 4 at the 8th week, rule 1 at the 9th (test_alerts)
    weeks = pd.date_range("2024-01-01", periods=9, freq="7D")
    kpis = pd.DataFrame({
        "segment": "A", "segment_label": "Runners", "period": weeks, "lines": 120,
        "otif_base_lines": 100, "otif_lines": [88] * 8 + [60], "otif": [0.88] * 8 + [0.6],
        "on_time_base_lines": 100, "on_time_lines": 100, "on_time": 1.0,
        "ordered_quantity": 500.0, "filled_quantity": 450.0, "fill_rate": [0.9, 0.95] * 4 + [0.9],
        "delivered_lines": 100, "order_cycle_time_days": [4.0, 5.0] * 4 + [4.0],
    })
    return alerts.chart_points(kpis)


def layers(chart) -> list[dict]:
    return chart.to_dict()["layer"]


def data_of(chart) -> pd.DataFrame:
    spec = chart.to_dict()
    name = spec["layer"][-1]["data"]["name"] if "data" in spec["layer"][-1] else spec["data"]["name"]
    return pd.DataFrame(spec["datasets"][name])


def test_p_chart_has_values_centre_step_limits_target_and_red_breaks(points):
    chart = cm.control_chart(points[points["kpi"] == "otif"], "otif", segment_label="Runners", target=0.95)
    spec = chart.to_dict()
    assert spec["title"]["text"] == "OTIF of «Runners»"
    method, breaks_line = spec["title"]["subtitle"]
    assert method.startswith("p-chart, limits vary with the lines per period")
    assert breaks_line == "2 points breaking a Western Electric rule (red); dashed green: target 95.0%"
    parts = layers(chart)
    steps = [p for p in parts if p["mark"].get("interpolate") == "step"]
    assert sorted(p["encoding"]["y"]["field"] for p in steps) == ["lcl", "ucl"]
    values = next(p for p in parts if p["mark"]["type"] == "line" and p["encoding"]["y"]["field"] == "value")
    assert values["encoding"]["y"]["title"] == "OTIF (% of lines)"
    assert values["encoding"]["y"]["axis"]["format"] == "%"
    assert values["encoding"]["x"]["title"] == "week (start date)"
    target = next(p for p in parts if p["mark"]["type"] == "rule")
    assert target["mark"]["strokeDash"] == [6, 4]
    breaks = parts[-1]
    assert breaks["mark"]["color"] == cm.BREAK_COLOUR
    assert breaks["transform"] == [{"filter": "datum.broken"}]
    selection = spec["params"][0]  # Altair lifts a layer's selection to the top, naming its view
    assert selection["name"] == cm.SELECTION and selection["views"] == [breaks["name"]]
    assert selection["select"]["fields"] == ["period"]
    tooltips = [t["title"] for t in breaks["encoding"]["tooltip"]]
    assert {"rules broken", "counts", "lower limit", "upper limit"} <= set(tooltips)


def test_tooltip_rows_name_the_rules_and_the_counts(points):
    frame = cm.chart_frame(points[points["kpi"] == "otif"], "otif")
    broken = frame[frame["broken"]]
    assert list(broken["rule_words"]) == ["8 in a row on one side", "1 point beyond 3 sigma"]
    assert broken["counts"].iloc[1] == "60 of 100 lines measured (120 lines)"
    assert frame.loc[~frame["broken"], "rule_words"].eq("none").all()
    fill = cm.chart_frame(points[points["kpi"] == "fill_rate"], "fill_rate")
    assert fill["counts"].iloc[0] == "500 units ordered on 120 lines"
    cycle = cm.chart_frame(points[points["kpi"] == "order_cycle_time_days"], "order_cycle_time_days")
    assert cycle["counts"].iloc[0] == "100 delivered lines (120 lines)"


def test_cycle_time_chart_is_in_days_without_target(points):
    chart = cm.control_chart(points[points["kpi"] == "order_cycle_time_days"], "order_cycle_time_days",
                             segment_label="Runners", bucket="month")
    parts = layers(chart)
    assert not [p for p in parts if p["mark"]["type"] == "rule"]
    values = next(p for p in parts if p["mark"]["type"] == "line" and p["encoding"]["y"]["field"] == "value")
    assert values["encoding"]["y"]["title"] == "order cycle time (days)"
    assert values["encoding"]["x"]["title"] == "month (start date)"
    assert chart.to_dict()["title"]["subtitle"][0].startswith("individuals (XmR) chart")
    assert cm.axis_title("fill_rate") == "fill rate (% of units)"
    assert not cm.is_share("order_cycle_time_days") and cm.is_share("on_time")


def test_planning_points_are_xmr_charts_of_the_report_by_hand():
    # forecast accuracy 0.5, 0.7, 0.6, 0.2 (moving ranges 0.2, 0.1, 0.4: MR-bar 0.7 / 3); a period after the
    # last complete one, a segment with one value and the lines outside the version are not charted
    weeks = pd.date_range("2025-01-06", periods=5, freq="7D")
    report = pd.DataFrame({
        "segment": ["A"] * 5 + ["B", "(not in version)", "(not in version)"],
        "segment_label": ["Runners"] * 5 + ["Slow", "(not in version)", "(not in version)"],
        "period": [*weeks, weeks[0], weeks[0], weeks[1]], "lines": [10, 11, 12, 13, 14, 3, 1, 1],
        "forecast_accuracy": [0.5, 0.7, 0.6, 0.2, 0.9, 0.4, 0.1, 0.2],
        "forecast_items": [4, 4, 4, 3, 4, 1, 1, 1], "forecast_demand": [100.0, 80.0, 90.0, 50.0, 60.0, 5.0, 1.0, 1.0],
        "inventory_snapshots": [1, 1, 0, 1, 1, 1, 1, 1],
        "inventory_turns_annualised": [5.0, 6.0, float("nan"), 4.0, 5.0, 3.0, 1.0, 1.0],
    })
    accuracy = cm.planning_points(report, "forecast_accuracy", through=weeks[3])
    assert list(accuracy.columns) == list(alerts.POINT_COLUMNS)
    assert accuracy["segment"].tolist() == ["A"] * 4 and set(accuracy["chart"]) == {"xmr"}
    assert accuracy["value"].tolist() == pytest.approx([0.5, 0.7, 0.6, 0.2])
    assert accuracy["centre"].iloc[0] == pytest.approx(0.5)
    assert accuracy["ucl"].iloc[0] == pytest.approx(0.5 + 2.66 * 0.7 / 3)
    assert accuracy["lines"].tolist() == [4, 4, 4, 3] and accuracy["base"].tolist() == [100.0, 80.0, 90.0, 50.0]
    turns = cm.planning_points(report, "inventory_turns_annualised", through=weeks[3])
    assert turns["value"].tolist() == pytest.approx([5.0, 6.0, 4.0])   # the week without a snapshot has no value
    assert turns["lines"].tolist() == [10, 11, 13] and turns["base"].tolist() == [1.0, 1.0, 1.0]
    assert cm.planning_points(report.iloc[0:0], "forecast_accuracy").empty
    with pytest.raises(ValueError):
        cm.planning_points(report, "otif")


def test_planning_kpis_read_in_their_units():
    assert cm.axis_title("forecast_accuracy") == "forecast accuracy (1 - WAPE)"
    assert cm.axis_title("inventory_turns_annualised") == "inventory turns (turns a year)"
    assert cm.is_share("forecast_accuracy") and not cm.is_share("inventory_turns_annualised")
    assert [cm.value_text(k, v) for k, v in (("forecast_accuracy", 0.634), ("inventory_turns_annualised", 5.25),
                                             ("order_cycle_time_days", 4.56), ("otif", float("nan")))] == \
        ["63.4%", "5.2 turns a year", "4.6 days", "–"]
    chart = cm.control_chart(cm.planning_points(pd.DataFrame({
        "segment": "A", "segment_label": "Runners", "period": pd.date_range("2025-01-06", periods=3, freq="7D"),
        "lines": 9, "inventory_snapshots": 2, "inventory_turns_annualised": [5.0, 6.0, 5.5]}),
        "inventory_turns_annualised"), "inventory_turns_annualised", segment_label="Runners")
    spec = chart.to_dict()
    assert spec["title"]["text"] == "inventory turns of «Runners»"
    assert spec["title"]["subtitle"][0].startswith("individuals (XmR) chart")
    assert data_of(chart)["counts"].tolist() == ["2 stock snapshot dates, 9 demand lines"] * 3
