"""Charts and shapers of the Cost to serve and Overview pages (core/charts_cost.py, core/charts_overview.py).

Numbers are worked by hand on small frames; the charts are checked for what a reader needs
(titles with units, the 100 % line and the peak, the target line, status colours).
"""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from core import charts_cost as cc
from core import charts_overview as co
from core.charts import MAX_LINE_POINTS
from core.cost_to_serve import cost_to_serve
from core.cost_to_serve_analysis import cost_to_serve_by_segment, subsidies, whale_curve
from core.versions import run_segmentation


def items(profits: list[float], key: str = "customer_id") -> pd.DataFrame:
    return pd.DataFrame({key: [f"K{i}" for i in range(len(profits))], "profit": profits})


# -- whale curve ------------------------------------------------------------------------------------
def test_whale_peak_by_hand():
    # profits 30, 10, -20: total 20; cumulative 30, 40, 20 -> 150 %, 200 %, 100 % of it
    peak = cc.whale_peak(whale_curve(items([10.0, -20.0, 30.0])))
    assert peak == pytest.approx({"profit_pct": 200.0, "items_pct": 200 / 3, "items": 2, "loss_items": 1,
                                  "ranked": 3})
    assert cc.whale_peak(whale_curve(items([]).astype({"profit": float}))) == {}


def layers_by_mark(chart) -> dict[str, list]:
    out: dict[str, list] = {}
    for layer in chart.layer:
        mark = layer.mark if isinstance(layer.mark, str) else layer.mark.type
        out.setdefault(mark, []).append(layer)
    return out


def encoding(chart) -> dict:
    return chart.to_dict()["encoding"]


def test_whale_chart_has_the_100_line_the_peak_label_and_axis_units():
    chart = cc.whale_curve_chart(whale_curve(items([10.0, -20.0, 30.0])), "customers", "EUR")
    spec = chart.to_dict()
    marks = layers_by_mark(chart)
    assert marks["rule"][0].data["y"].tolist() == [100.0]
    labels = [t.data["label"].iloc[0] for t in marks["text"]]
    assert "100 % = total profit" in labels
    assert "peak: 200 % of profit from the top 67 % (2 customers)" in labels
    line = encoding(marks["line"][0])
    assert line["x"]["title"] == "customers ranked by profit, most profitable first (% of customers)"
    assert line["y"]["title"] == "cumulative profit (% of total profit)"
    assert spec["title"]["text"] == "Whale curve: where the profit is made and lost"
    assert "total profit 20 EUR" in spec["title"]["subtitle"] and "1 loses money" in spec["title"]["subtitle"]


def test_whale_chart_thins_a_long_curve_but_keeps_origin_peak_and_end():
    profits = [float(p) for p in range(3000, 0, -1)] + [-1.0] * 2000   # peak at rank 3000
    curve = whale_curve(items(profits, "product_id"))
    chart = cc.whale_curve_chart(curve, "products")
    drawn = layers_by_mark(chart)["line"][0].data
    assert len(drawn) <= MAX_LINE_POINTS + 3
    assert {0, 3000, 5000} <= set(drawn["rank"])
    assert drawn["cumulative_profit_pct"].max() == pytest.approx(curve["cumulative_profit_pct"].max())


def test_whale_words_keep_a_decimal_where_rounding_hides_the_story():
    # 399 customers make 100 each (39,900), one loses 120: total 39,780; the peak is 39,900 / 39,780
    # = 100.30 % of it, reached by 399 / 400 = 99.75 % of the customers; the loser takes 0.30 points back
    curve = whale_curve(items([100.0] * 399 + [-120.0]))
    peak = cc.whale_peak(curve)
    assert peak["profit_pct"] == pytest.approx(100 * 39_900 / 39_780)
    labels = [t.data["label"].iloc[0] for t in layers_by_mark(cc.whale_curve_chart(curve, "customers"))["text"]]
    assert "peak: 100.3 % of profit from the top 99.8 % (399 customers)" in labels
    assert cc.whale_words(peak, "customers") == ("The most profitable 99.8 % of customers (399) make 100.3 % of "
                                                 "the profit; the 1 loss-making customer takes 0.3 points of it back.")
    subtitle = cc.whale_curve_chart(curve, "customers").to_dict()["title"]["subtitle"]
    assert "; 1 loses money and brings it back down" in subtitle
    # a loss too small for one decimal is said to be small, not "0 points"
    tiny_loss = cc.whale_peak(whale_curve(items([1_000_000.0] * 9 + [-1.0])))
    assert cc.whale_words(tiny_loss, "customers").endswith("takes less than 0.1 points of it back.")
    # many losers, whole numbers where they tell the story: 83 %, 103 %, 3 points, plural verbs
    assert cc.whale_words({"profit_pct": 102.84, "items_pct": 82.87, "items": 1243, "loss_items": 257, "ranked": 1500},
                          "products") == ("The most profitable 83 % of products (1,243) make 103 % of the profit; "
                                          "the 257 loss-making products take 3 points of it back.")
    assert cc.whale_words({"profit_pct": 100.0, "items_pct": 100.0, "items": 5, "loss_items": 0, "ranked": 5},
                          "products") == "None of the products loses money: the curve rises to 100 % and stays there."
    assert [cc.percent_text(v) for v in (99.75, 100.3, 0.3, 66.67, 100.0004, 0.04, 200.0)] == \
        ["99.8", "100.3", "0.3", "67", "100", "0", "200"]


# -- per segment --------------------------------------------------------------------------------------
@pytest.fixture
def by_segment() -> pd.DataFrame:
    return pd.DataFrame({
        "segment": ["A", "B"], "segment_label": ["big", "small"], "items": [2, 3],
        "cost_picking": [10.0, 30.0], "cost_transport": [5.0, 25.0], "cost_to_serve": [15.0, 55.0],
        "gross_margin": [100.0, 40.0], "profit": [85.0, -15.0], "cost_to_serve_pct_of_revenue": [3.0, 11.0],
    })


def test_activities_exclude_the_share_of_revenue_and_read_as_named():
    frame = pd.DataFrame({"customer_id": ["a"], "cost_order_handling": [1.0], "cost_to_serve": [1.0],
                          "cost_of_goods": [5.0], "profit": [0.0], "cost_to_serve_pct_of_revenue": [2.0]})
    assert cc.activity_columns(frame) == ["cost_order_handling"]
    assert cc.activity_name("cost_order_handling") == "order handling"
    assert cc.currency_name(None) == "currency units" and cc.currency_name("EUR") == "EUR"


def test_cost_margin_chart_puts_three_amounts_per_segment_in_the_currency(by_segment):
    chart = cc.cost_margin_chart(by_segment, "EUR")
    data = chart.data.set_index(["segment_label", "amount"])["value"]
    assert data.to_dict() == {("big", "gross margin"): 100.0, ("big", "cost to serve"): 15.0, ("big", "profit"): 85.0,
                              ("small", "gross margin"): 40.0, ("small", "cost to serve"): 55.0,
                              ("small", "profit"): -15.0}
    assert encoding(chart)["x"]["title"] == "amount (EUR)"
    assert "profit 70 EUR" in chart.to_dict()["title"]["subtitle"]   # 140 - 70


def test_activity_chart_stacks_the_activities_to_the_cost_to_serve(by_segment):
    chart = cc.activity_cost_chart(by_segment, "EUR")
    data = chart.data
    assert set(data["activity"]) == {"picking", "transport"}
    assert data.groupby("segment_label")["cost"].sum().to_dict() == {"big": 15.0, "small": 55.0}
    assert encoding(chart)["x"] == {"field": "cost", "type": "quantitative", "stack": "zero",
                                    "title": "cost to serve (EUR)"}


def test_subsidy_chart_shows_each_transfer_with_payers_and_carried():
    frame = pd.DataFrame({"customer_id": ["a", "b", "c", "d"], "segment": ["A", "B", "C", "D"],
                          "segment_label": ["A", "B", "C", "D"], "profit": [30.0, 10.0, -20.0, -60.0]})
    chart = cc.subsidy_chart(subsidies(frame), "EUR")
    cells = chart.data.set_index(["from_segment_label", "to_segment_label"])["transfer"]
    # losses 80 > profits 40: each profit spent in full, split 20:60 over C and D
    assert cells.to_dict() == pytest.approx({("A", "D"): 22.5, ("A", "C"): 7.5, ("B", "D"): 7.5, ("B", "C"): 2.5})
    spec = chart.to_dict()
    assert "40 of loss is not covered" in spec["title"]["subtitle"]
    cells_encoding = spec["layer"][0]["encoding"]
    assert cells_encoding["y"]["title"] == "profit-making segment (pays)"
    assert cells_encoding["color"]["title"] == "transfer (EUR)"


def test_driver_table_and_rates_used_by_hand():
    volumes = {"per_order": 3.0, "per_line": 7.0, "per_unit": 28.0, "per_shipment": 5.0, "per_kg": 46.0}
    table = cc.driver_table(volumes)
    assert table.set_index("driver").loc["per_kg", ["unit", "column", "volume"]].tolist() == ["kg shipped", "weight_kg", 46.0]
    rates = pd.DataFrame({"activity": ["transport", "picking", "transport"], "driver": ["per_kg", "per_line", " Per_Shipment"],
                          "rate": [0.2, 0.5, 10.0], "currency": ["EUR"] * 3})
    used = cc.rates_used(rates, volumes)
    assert used["cost"].tolist() == pytest.approx([3.5, 50.0, 9.2])   # picking 0.5 x 7; transport 10 x 5, 0.2 x 46
    assert used["activity"].tolist() == ["picking", "transport", "transport"]


def test_charts_build_on_the_tiny_sample(tiny):
    version = run_segmentation(tiny, "product", "abc_xyz").version_id
    frame = cost_to_serve(tiny, "product", version)
    segments = cost_to_serve_by_segment(frame)
    for chart in (cc.whale_curve_chart(whale_curve(frame), "products", "EUR"), cc.cost_margin_chart(segments, "EUR"),
                  cc.activity_cost_chart(segments, "EUR")):
        assert chart.to_dict()["title"]["text"]
    assert set(cc.activity_cost_chart(segments).data["activity"]) == {
        "handling", "invoicing", "order handling", "packing", "picking", "transport"}


# -- overview: periods ----------------------------------------------------------------------------------
def test_period_ends_and_starts():
    assert co.period_end(dt.date(2025, 4, 28), "week") == dt.date(2025, 5, 4)
    assert co.period_end(dt.date(2025, 2, 1), "month") == dt.date(2025, 2, 28)
    assert co.period_end(dt.date(2024, 12, 1), "month") == dt.date(2024, 12, 31)
    assert co.period_start(dt.date(2025, 5, 1), "week") == dt.date(2025, 4, 28)   # a Thursday -> its Monday
    assert co.period_start(dt.date(2025, 5, 17), "month") == dt.date(2025, 5, 1)
    assert co.period_name(dt.date(2025, 4, 28), "week") == "week of 28 Apr 2025"
    assert co.period_name(dt.date(2025, 4, 1), "month") == "Apr 2025"


def test_latest_complete_period_skips_the_running_one():
    months = [dt.date(2025, 3, 1), dt.date(2025, 4, 1), dt.date(2025, 5, 1)]
    assert co.latest_complete_period(months, dt.date(2025, 5, 4), "month") == dt.date(2025, 4, 1)
    assert co.latest_complete_period(months, dt.date(2025, 5, 31), "month") == dt.date(2025, 5, 1)
    assert co.latest_complete_period(months[:1], dt.date(2025, 3, 9), "month") == dt.date(2025, 3, 1)   # none complete
    assert co.latest_complete_period([], dt.date(2025, 3, 9), "month") is None


# -- overview: headline -----------------------------------------------------------------------------
@pytest.fixture
def kpis() -> pd.DataFrame:
    march, april = pd.Timestamp("2025-03-01"), pd.Timestamp("2025-04-01")
    return pd.DataFrame({
        "segment": ["A", "A", "B"], "segment_label": ["fast", "fast", "slow"], "period": [march, april, april],
        "otif": [0.90, 0.95, 0.80], "fill_rate": [0.99, 0.985, 0.90], "on_time": [0.91, 0.97, None],
        "order_cycle_time_days": [5.0, 4.5, 7.0]})


@pytest.fixture
def targets() -> pd.DataFrame:
    return pd.DataFrame({"segment": ["A", "B", "C"], "service_level": [0.98, 0.85, 0.9],
                         "otif": [0.98, 0.85, 0.9], "fill_rate": [0.98, 0.85, 0.9], "on_time": [0.98, 0.85, 0.9]})


def test_headline_values_changes_and_statuses_by_hand(kpis, targets):
    rows = co.headline(kpis, targets, dt.date(2025, 4, 1))
    assert rows.attrs["previous_period"] == dt.date(2025, 3, 1)
    a = rows[rows["segment"] == "A"].set_index("kpi")
    assert a.loc["otif", "change"] == pytest.approx(0.05)
    assert a.loc["otif", "status"] == "off_target"       # 0.95 is 3 pts below 0.98: beyond the 2-pt band
    assert a.loc["fill_rate", "status"] == "on_target"   # 0.985 >= 0.98
    assert a.loc["on_time", "status"] == "at_risk"       # 0.97: 1 pt below 0.98
    assert a.loc["order_cycle_time_days", "change"] == pytest.approx(-0.5)
    assert a.loc["order_cycle_time_days", "status"] == "no_target"
    b = rows[rows["segment"] == "B"].set_index("kpi")
    assert b.loc["otif", "status"] == "off_target" and pd.isna(b.loc["otif", "change"])   # no March line
    assert b.loc["on_time", "status"] == "no_target"     # no value
    c = rows[rows["segment"] == "C"]
    assert len(c) == 4 and (c["status"] == "no_target").all() and c["value"].isna().all()
    assert list(rows["segment_label"].unique()) == ["fast", "slow", "C"]


def test_kpi_and_change_texts():
    assert co.kpi_text("otif", 0.9312) == "93.1 %"
    assert co.kpi_text("order_cycle_time_days", 4.56) == "4.6 days"
    assert co.kpi_text("otif", float("nan")) == "–"
    assert co.change_text("fill_rate", -0.018) == "-1.8 pts"
    assert co.change_text("order_cycle_time_days", 0.3) == "+0.3 days"
    assert co.change_text("otif", None) is None


def test_status_grid_colours_cells_by_status(kpis, targets):
    chart = co.status_grid_chart(co.headline(kpis, targets, dt.date(2025, 4, 1)), "Apr 2025")
    spec = chart.to_dict()
    scale = spec["layer"][0]["encoding"]["color"]["scale"]
    assert dict(zip(scale["domain"], scale["range"], strict=True)) == {
        "on target": "#2da44e", "at risk": "#f0a32f", "off target": "#cf222e", "no target": "#9aa4b1"}
    cells = chart.data.set_index(["segment_label", "name"])
    assert cells.loc[("fast", "OTIF"), "text"] == "95.0 %"
    assert cells.loc[("fast", "OTIF"), "status_name"] == "off target"
    assert spec["title"]["text"] == "KPI status per segment, Apr 2025"


def test_trend_frame_keeps_the_last_periods_with_targets_and_the_selected_one(kpis, targets):
    trend = co.trend_frame(kpis, targets, "otif", dt.date(2025, 4, 1), periods=1)
    assert trend["period"].dt.date.unique().tolist() == [dt.date(2025, 4, 1)]
    assert trend.set_index("segment")["target"].to_dict() == {"A": 0.98, "B": 0.85}
    assert trend["selected"].all()
    both = co.trend_frame(kpis, targets, "otif", dt.date(2025, 4, 1))
    assert both["selected"].tolist() == [False, True, True]
    chart = co.kpi_trend_chart(both, "otif", "month").to_dict()
    assert chart["facet"]["field"] == "segment_label"
    assert chart["title"]["text"] == "OTIF per segment over the last 2 months"
    layers = chart["spec"]["layer"]
    assert any(layer["encoding"]["y"]["field"] == "target" and layer["mark"]["strokeDash"] for layer in layers
               if "y" in layer["encoding"])
    cycle = co.trend_frame(kpis, targets, "order_cycle_time_days", dt.date(2025, 4, 1))
    assert cycle["target"].isna().all() and (cycle["status"] == "no_target").all()


# -- overview: versions and the link ------------------------------------------------------------------
@pytest.fixture
def versions() -> pd.DataFrame:
    # newest first, as core.versions.list_versions
    return pd.DataFrame({"version_id": [4, 3, 2, 1], "level": ["customer", "product", "product", "customer"],
                         "status": ["draft", "draft", "approved", "draft"], "method": ["kmeans"] * 4})


def test_version_label_says_draft_plainly():
    assert co.version_label(2, "approved", "kmeans") == "Version 2 (kmeans): approved, in force"
    assert co.version_label(4, "draft") == "Version 4: draft — not approved"


def test_choose_version_defaults_to_the_version_in_force_else_the_newest_draft(versions):
    in_force = {"product": 2, "customer": None}
    assert co.choose_version(versions, in_force) == co.VersionChoice("product", 2)
    assert co.choose_version(versions, in_force, level="customer") == co.VersionChoice("customer", 4)
    assert co.choose_version(versions, {"product": None, "customer": None}) == co.VersionChoice("customer", 4)


def test_choose_version_follows_a_valid_id_and_warns_on_the_rest(versions):
    in_force = {"product": 2, "customer": None}
    assert co.choose_version(versions, in_force, version="3") == co.VersionChoice("product", 3)
    missing = co.choose_version(versions, in_force, version="99")
    assert (missing.level, missing.version_id) == ("product", 2)
    assert missing.warnings == ("version '99' in the link does not exist; showing the default version",)
    assert "does not exist" in co.choose_version(versions, in_force, version="abc").warnings[0]
    mismatch = co.choose_version(versions, in_force, level="product", version="1")
    assert (mismatch.level, mismatch.version_id) == ("customer", 1)
    assert "segments at level 'customer', not 'product'" in mismatch.warnings[0]
    bad_level = co.choose_version(versions, in_force, level="warehouse")
    assert bad_level.version_id == 2 and "level 'warehouse'" in bad_level.warnings[0]


def test_parse_period_snaps_to_the_bucket_and_warns_on_bad_dates():
    months = [dt.date(2025, 3, 1), dt.date(2025, 4, 1)]
    assert co.parse_period("2025-04-17", months, "month") == (dt.date(2025, 4, 1), None)
    assert co.parse_period(None, months, "month") == (None, None)
    day, warning = co.parse_period("17/04/2025", months, "month")
    assert day is None and "is not a date" in warning
    day, warning = co.parse_period("2024-01-05", months, "month")
    assert day is None and "(Jan 2024) has no order lines" in warning


def test_parse_choice():
    assert co.parse_choice("AX", ["AX", "BY"], "segment", "AX") == ("AX", None)
    assert co.parse_choice(None, ["AX"], "segment", "AX") == (None, None)
    value, warning = co.parse_choice("ZZ", ["AX", "BY"], "segment", "segment 'AX'")
    assert value is None and warning == "segment 'ZZ' in the link is not one of: AX, BY; showing segment 'AX'"


def test_planning_headline_and_texts_by_hand():
    report = pd.DataFrame({
        "segment": ["A", "A", "B", "B"], "segment_label": ["big", "big", "small", "small"],
        "period": [dt.date(2025, 3, 1), dt.date(2025, 4, 1)] * 2,
        "forecast_accuracy": [0.60, 0.65, float("nan"), 0.30], "inventory_turns_annualised": [4.0, 4.5, 2.0, 1.5],
    })
    rows = co.planning_headline(report, dt.date(2025, 4, 1))
    assert rows.attrs["previous_period"] == dt.date(2025, 3, 1)
    a = rows[rows["segment"] == "A"].set_index("kpi")
    assert a.loc["forecast_accuracy", "value"] == pytest.approx(0.65)
    assert a.loc["forecast_accuracy", "change"] == pytest.approx(0.05)
    assert a.loc["inventory_turns_annualised", "change"] == pytest.approx(0.5)
    b = rows[rows["segment"] == "B"].set_index("kpi")
    assert pd.isna(b.loc["forecast_accuracy", "change"])            # nothing scored in March
    assert co.kpi_text("inventory_turns_annualised", 4.5) == "4.5 a year"
    assert co.change_text("inventory_turns_annualised", -0.5) == "-0.5 turns"
    assert co.change_text("forecast_accuracy", 0.05) == "+5.0 pts"
    # a change that rounds to nothing reads +0.0, never -0.0
    assert co.change_text("fill_rate", -0.0004) == "+0.0 pts"
    assert co.change_text("order_cycle_time_days", -0.04) == "+0.0 days"
