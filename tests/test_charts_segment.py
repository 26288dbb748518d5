"""Chart builders of the Segment and Explain pages: right numbers, titles, axis units, WebGL for points."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from core import charts_segment as cs


@pytest.fixture
def frames():
    keys = pd.DataFrame({"product_id": [f"P{i}" for i in range(6)]})
    assignments = keys.assign(segment=[0, 0, 0, 1, 1, 2],
                              segment_label=["Big", "Big", "Big", "Small", "Small", "Rare"])
    items = keys.assign(quantity=[10.0, 20.0, 30.0, 5.0, -5.0, 0.0], revenue=[100.0, 100.0, 100.0, 50.0, 50.0, 100.0],
                        abc=list("AABCCC"), xyz=list("XYXZZZ"), cv=[0.1, 0.2, 0.3, 1.0, 2.0, np.nan])
    return keys, assignments, items


def spec(chart) -> dict:
    return chart.to_dict()


def test_segment_shares_count_items_volume_and_revenue_with_returns_as_zero(frames):
    _, assignments, items = frames
    shares = cs.segment_shares(assignments, items, ["product_id"])
    assert shares["segment_label"].tolist() == ["Big", "Small", "Rare"]
    assert shares["items"].tolist() == [3, 2, 1]
    assert shares["volume"].tolist() == [60.0, 5.0, 0.0]  # the return (-5) counts as zero
    assert shares["volume_share"].tolist() == pytest.approx([60 / 65, 5 / 65, 0.0])
    assert shares["revenue_share"].tolist() == pytest.approx([0.6, 0.2, 0.2])
    assert shares["items_share"].sum() == pytest.approx(1.0)


def test_segment_sizes_chart_has_title_and_share_axis(frames):
    _, assignments, items = frames
    figure = cs.segment_sizes_chart(cs.segment_shares(assignments, items, ["product_id"]), item_label="products")
    assert figure.layout.title.text.startswith("Segment sizes")
    assert figure.layout.xaxis.title.text == "share of total (%)"
    assert [trace.name for trace in figure.data] == ["products", "volume (quantity)", "revenue"]
    assert list(figure.data[2].x) == pytest.approx([0.6, 0.2, 0.2])


def test_k_scan_chart_has_four_panels_and_marks_the_chosen_k():
    scan = pd.DataFrame({"k": range(2, 11), "silhouette": np.linspace(0.5, 0.1, 9), "davies_bouldin": 1.0,
                         "calinski_harabasz": 30.0, "inertia": np.linspace(100, 10, 9)})
    chart = spec(cs.k_scan_chart(scan, 2))
    assert len(chart["hconcat"]) == 4
    assert "k = 2 chosen" in chart["title"]["subtitle"]
    first = chart["hconcat"][0]
    assert first["layer"][0]["encoding"]["x"]["title"] == "number of segments k"
    assert any(layer["mark"]["type"] == "rule" for layer in first["layer"] if isinstance(layer["mark"], dict))


def test_pca_coordinates_explain_the_variance_of_a_line():
    matrix = np.column_stack([np.arange(10.0), 2 * np.arange(10.0)])
    coordinates, explained = cs.pca_coordinates(matrix)
    assert coordinates.shape == (10, 2)
    assert explained[0] == pytest.approx(1.0)
    assert cs.pca_coordinates(np.zeros((1, 3)))[0].shape == (1, 2)


def test_segment_scatter_is_webgl_per_segment_and_leaves_non_positive_values_off_log_axes(frames):
    _, assignments, items = frames
    frame = assignments.merge(items, on="product_id")
    figure = cs.segment_scatter(frame, "quantity", "revenue", x_title="quantity (units)", y_title="revenue (currency)",
                                log_x=True, hover=["product_id"])
    assert {trace.type for trace in figure.data} == {"scattergl"}
    assert [trace.name for trace in figure.data] == ["Big", "Small"]  # Rare's only item has quantity 0
    assert "2 with a value ≤ 0 not shown" in figure.layout.title.text
    assert figure.layout.xaxis.type == "log" and figure.layout.xaxis.title.text == "quantity (units)"


def test_segment_scatter_samples_many_points(monkeypatch):
    monkeypatch.setattr(cs, "MAX_SCATTER_POINTS", 50)
    frame = pd.DataFrame({"x": np.arange(200.0), "y": np.arange(200.0), "segment_label": ["A", "B"] * 100})
    figure = cs.segment_scatter(frame, "x", "y", x_title="x", y_title="y")
    assert sum(len(trace.x) for trace in figure.data) == 50
    assert "50 drawn (sample)" in figure.layout.title.text


def test_profile_ratios_divide_by_the_overall_median_and_leave_zero_medians_undefined():
    profile = pd.DataFrame({"segment_label": ["Big", "Small"], "median_revenue": [300.0, 50.0], "median_cv": [0.5, 2.0]})
    ratios = cs.profile_ratios(profile, {"revenue": 100.0, "cv": 0.0}, ["revenue", "cv"])
    by = ratios.set_index(["segment_label", "feature"])["ratio"]
    assert by["Big", "revenue"] == pytest.approx(3.0)
    assert by["Small", "revenue"] == pytest.approx(0.5)
    assert np.isnan(by["Big", "cv"])
    chart = spec(cs.profile_heatmap(ratios, {"revenue": "currency"}))
    assert chart["title"]["text"] == "Segment profiles against the overall median"


def test_nine_box_crosstab_and_heatmap(frames):
    _, assignments, items = frames
    crosstab = cs.nine_box_crosstab(assignments, items, ["product_id"])
    big = crosstab[crosstab["segment_label"] == "Big"].set_index("cell")["items"]
    assert big.to_dict() == {"AX": 1, "AY": 1, "BX": 1}
    assert crosstab.groupby("segment_label")["share_of_segment"].sum().tolist() == pytest.approx([1.0, 1.0, 1.0])
    chart = spec(cs.nine_box_heatmap(crosstab, ["Big", "Small", "Rare"], item_label="products"))
    assert chart["title"]["text"] == "Segments against ABC x XYZ"
    assert chart["layer"][0]["encoding"]["x"]["sort"][:3] == ["AX", "AY", "AZ"]


def test_shap_bar_shows_the_strongest_features_of_one_segment():
    importance = pd.DataFrame({
        "segment_label": ["Big"] * 3 + ["Small"] * 3, "feature": ["revenue", "cv", "adi"] * 2,
        "mean_abs_shap": [0.5, 1.5, 0.1, 0.2, 0.3, 0.4], "mean_shap_members": [0.4, -0.2, 0.1, 0.1, 0.1, 0.1],
        "items_sampled": 120,
    })
    chart = spec(cs.shap_bar(importance, "Big", top=2))
    values = chart["datasets"][chart["data"]["name"]]
    assert [v["feature"] for v in values] == ["cv", "revenue"]
    assert "120 sampled items" in chart["title"]["subtitle"]
    assert chart["encoding"]["x"]["title"] == "mean |SHAP value| (log-odds)"


def test_beeswarm_is_webgl_with_strongest_feature_on_top():
    rng = np.random.default_rng(0)
    rows = []
    for feature, spread in (("revenue", 2.0), ("cv", 0.5), ("adi", 0.1)):
        for i in range(30):
            rows.append({"product_id": f"P{i}", "segment_label": "Big", "member": i < 10, "feature": feature,
                         "shap_value": rng.normal(0, spread), "feature_value": float(i), "feature_value_scaled": i / 29})
    figure = cs.beeswarm(pd.DataFrame(rows), "Big", top=2)
    trace = figure.data[0]
    assert trace.type == "scattergl"
    assert list(figure.layout.yaxis.ticktext) == ["revenue", "cv"]
    assert list(figure.layout.yaxis.tickvals) == [1, 0]
    assert len(trace.x) == 60
    assert "30 sampled items" in figure.layout.title.text
    assert figure.layout.xaxis.title.text == "SHAP value (log-odds)"


def test_waterfall_runs_from_base_value_to_model_output_and_sums_the_rest():
    contributions = pd.DataFrame({"feature": ["a", "b", "c"], "feature_value": [1.0, np.nan, 3.0],
                                  "shap_value": [0.5, -0.25, 0.125]})
    figure = cs.waterfall(contributions, base_value=-1.0, model_output=-0.625, segment_label="Big", top=2,
                          units={"a": "units"})
    trace = figure.data[0]
    assert list(trace.y) == ["base value", "a = 1 units", "b = missing", "1 other features", "model output"]
    assert list(trace.measure) == ["absolute", "relative", "relative", "relative", "total"]
    assert sum(trace.x[:-1]) == pytest.approx(trace.x[-1])
    assert "«Big»" in figure.layout.title.text


def test_segment_colours_are_stable_and_unclassified_is_grey():
    colours = cs.segment_colours(["A", "unclassified", "B"])
    assert colours["unclassified"] == cs.UNCLASSIFIED_COLOUR
    assert colours["A"] == cs.SEGMENT_COLOURS[0] and colours["B"] == cs.SEGMENT_COLOURS[1]


def test_readable_numbers_avoid_scientific_notation():
    assert cs.readable_number(202_900.4) == "202,900"
    assert cs.readable_number(0.40321) == "0.403"
    assert cs.readable_number(float("nan")) == "missing"
