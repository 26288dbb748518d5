"""Chart builders: titles, axis titles with units, cut-off lines, binning and sampling."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from core import charts


def classified_frame(n: int = 10) -> pd.DataFrame:
    """Items with hand-set classes: revenue 10*n ... 10, ADI and CV² spread over the quadrants."""
    revenue = np.arange(n, 0, -1) * 10.0
    share = np.cumsum(revenue) / revenue.sum()
    return pd.DataFrame({
        "product_id": [f"P{i}" for i in range(n)],
        "revenue": revenue,
        "abc": np.where(share <= 0.8, "A", np.where(share <= 0.95, "B", "C")),
        "xyz": (["X", "Y", "Z"] * n)[:n],
        "adi": np.linspace(1.0, 3.0, n),
        "cv2": np.linspace(0.1, 1.5, n),
        "demand_pattern": (["smooth", "erratic", "intermittent", "lumpy"] * n)[:n],
    })


def layers(spec: dict) -> list[dict]:
    return spec.get("layer", [spec])


def test_histogram_bins_count_every_value_once():
    values = pd.Series([1, 2, 2, 3, 10, np.nan])
    counted = charts.histogram_bins(values, bins=3)
    assert counted["items"].sum() == 5
    assert counted["bin_start"].iloc[0] == 1 and counted["bin_end"].iloc[-1] == 10


def test_log_histogram_leaves_out_non_positive_values_and_says_so():
    frame = pd.DataFrame({"quantity_per_week": [0.0, -1.0, 1.0, 10.0, 100.0]})
    counted = charts.histogram_bins(frame["quantity_per_week"], bins=2, log_scale=True)
    assert counted["items"].sum() == 3
    assert counted["bin_end"].iloc[0] == pytest.approx(10.0)  # log-spaced edges 1, 10, 100
    spec = charts.feature_histogram(frame, "quantity_per_week", "units/week", log_scale=True).to_dict()
    assert spec["title"]["text"] == "Distribution of quantity_per_week"
    assert "2 with no value or ≤ 0 not shown" in spec["title"]["subtitle"]
    assert spec["encoding"]["x"]["title"].startswith("quantity_per_week (units/week)")
    assert spec["encoding"]["x"]["scale"]["type"] == "log"
    assert spec["encoding"]["y"]["title"] == "number of items"
    assert spec["encoding"]["y2"] == {"datum": 0}  # bars start at zero


def test_histogram_of_one_item_has_one_bar():
    counted = charts.histogram_bins(pd.Series([5.0]), bins=10)
    assert counted["items"].tolist() == [1]


def test_pareto_points_are_cumulative_and_join_classes():
    frame = classified_frame(10)
    points = charts.pareto_points(frame, "revenue")
    curve = points.drop_duplicates("rank")
    assert curve["cumulative_share"].is_monotonic_increasing
    assert curve["cumulative_share"].iloc[-1] == pytest.approx(1.0)
    assert curve["share_of_items"].iloc[-1] == pytest.approx(1.0)
    # Each class change repeats its first point under the previous class so the line is unbroken.
    for before, after in (("A", "B"), ("B", "C")):
        first_after = points[points["abc"] == after]["rank"].min()
        assert ((points["rank"] == first_after) & (points["abc"] == before)).any()


def test_pareto_points_are_thinned_for_many_items_but_keep_class_bounds():
    frame = classified_frame(10_000)
    points = charts.pareto_points(frame, "revenue")
    assert len(points) <= charts.MAX_LINE_POINTS + 10
    last_a = frame.index[frame["abc"] == "A"].max() + 1
    assert last_a in set(points["rank"])


def test_pareto_chart_draws_both_cutoffs_with_labels():
    spec = charts.pareto_chart(classified_frame(), "revenue", (0.7, 0.9), unit="EUR").to_dict()
    text = json.dumps(spec)
    assert "A/B cut-off 70%" in text and "B/C cut-off 90%" in text
    curve = layers(spec)[0]
    assert curve["encoding"]["y"]["title"] == "cumulative share of revenue (%)"
    assert "total revenue 550 EUR" in spec["title"]["subtitle"]
    assert spec["title"]["text"] == "ABC Pareto curve on revenue"


def test_class_matrix_has_nine_cells_and_shares_sum_to_one():
    frame = classified_frame(10)
    cells = charts.class_matrix(frame, "revenue")
    assert len(cells) == 9
    assert cells["items"].sum() == 10
    assert cells["value_share"].sum() == pytest.approx(1.0)
    a_x = cells[(cells["abc"] == "A") & (cells["xyz"] == "X")].iloc[0]
    expected = frame[(frame["abc"] == "A") & (frame["xyz"] == "X")]
    assert a_x["items"] == len(expected)
    assert a_x["value"] == pytest.approx(expected["revenue"].sum())
    spec = charts.class_matrix_heatmap(frame, "revenue").to_dict()
    assert "share of revenue" in json.dumps(spec)
    labels = next(iter(spec["datasets"].values()))
    assert {row["label"] for row in labels} >= {f"{a_x['items']:,}\n{a_x['value_share']:.1%}"}


def test_adi_cv2_scatter_has_cutoffs_quadrants_and_log_axes():
    figure = charts.adi_cv2_scatter(classified_frame(8), 1.32, 0.49)
    layout = figure.layout
    assert layout.xaxis.type == "log" and layout.yaxis.type == "log"
    assert "ADI" in layout.xaxis.title.text and "CV²" in layout.yaxis.title.text
    assert {s.x0 for s in layout.shapes if s.x0 is not None} >= {1.32}
    assert {s.y0 for s in layout.shapes if s.y0 is not None} >= {0.49}
    labels = " ".join(a.text for a in layout.annotations)
    for quadrant in ("smooth", "erratic", "intermittent", "lumpy"):
        assert quadrant in labels
    assert all(trace.type == "scattergl" for trace in figure.data)
    assert 1.32 in layout.xaxis.tickvals and 0.49 in layout.yaxis.tickvals
    assert sum(len(trace.x) for trace in figure.data) == 8


def test_adi_cv2_scatter_samples_many_points_and_counts_unplottable():
    frame = classified_frame(500)
    frame.loc[:9, "cv2"] = np.nan  # no demand: no ADI or CV²
    figure = charts.adi_cv2_scatter(frame, max_points=100)
    assert sum(len(trace.x) for trace in figure.data) == 100
    assert "a random 100 shown" in figure.layout.title.text
    legend_counts = {t.name.split(" (")[0]: int(t.name.split("(")[1].rstrip(")").replace(",", "")) for t in figure.data}
    assert sum(legend_counts.values()) == 490  # every plottable item, not just the sample
    assert "10 without ADI or CV² not shown" in figure.layout.title.text


def test_adi_cv2_scatter_draws_zero_cv2_on_a_floor_with_the_true_value_in_the_hover():
    frame = classified_frame(4)
    frame.loc[0, "cv2"] = 0.0  # every demand the same size
    frame.loc[1, "cv2"] = 1e-7  # rounding noise must not stretch the axis
    figure = charts.adi_cv2_scatter(frame)
    drawn = {(float(y), float(c)) for trace in figure.data for y, c in zip(trace.y, trace.customdata, strict=True)}
    assert (0.01, 0.0) in drawn and (0.01, 1e-7) in drawn
    assert 10 ** figure.layout.yaxis.range[0] > 0.005
    assert "2 with CV² below 0.01 drawn at 0.01" in figure.layout.title.text


def test_adi_cv2_scatter_of_no_plottable_items_is_an_empty_chart_not_an_error():
    frame = classified_frame(3).assign(cv2=np.nan)
    figure = charts.adi_cv2_scatter(frame)
    assert len(figure.data) == 0


def test_reject_reasons_chart_orders_reasons_and_counts_rows():
    spec = charts.reject_reasons_chart({"bad date": 3, "missing product_id": 10}).to_dict()
    assert spec["title"]["subtitle"] == "13 rows rejected"
    assert charts.reject_reasons_chart({"bad date": 1}).to_dict()["title"]["subtitle"] == "1 row rejected"
    both = charts.reject_reasons_chart({"return": 3, "cancelled order": 3}, rows_rejected=3).to_dict()
    assert both["title"]["subtitle"] == "3 rows rejected; a row can fail more than one check"
    assert spec["encoding"]["x"]["title"] == "rejected rows"
    data = next(iter(spec["datasets"].values()))
    assert [row["reason"] for row in data] == ["missing product_id", "bad date"]


def test_log_ticks_are_one_two_five_per_decade_plus_cutoffs():
    assert charts.log_ticks(0.8, 12, 1.32) == [1, 1.32, 2, 5, 10]
    assert charts.log_ticks(0.01, 3, 0.49) == [0.01, 0.02, 0.05, 0.1, 0.2, 0.49, 1, 2]  # 0.5 gives way to 0.49


def test_chart_and_overview_modules_stay_free_of_streamlit():
    import subprocess
    import sys

    code = "import sys, core.charts, core.overview; sys.exit('streamlit' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code]).returncode == 0
