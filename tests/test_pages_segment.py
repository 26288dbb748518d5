"""The Segment and Explain pages (pages/segment.py, pages/explain.py) through AppTest.

On an empty database and on the tiny sample database (`core.sample.build_tiny_database`):
no exception, the key elements present, and the interactions a planner makes (method, k, a
weight, stability, save, explain an item).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from core.store import Store
from page_support import (  # noqa: F401  (empty_db: fixture)
    chart_titles, click, empty_db, frame_with, metric_values, no_exception, open_page, texts, use_copy,
)
from ui.rules import DEFAULT_RULES, rules_from_rows

SEGMENT, EXPLAIN = "pages/segment.py", "pages/explain.py"


@pytest.fixture
def tiny_db(tiny_sample_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A copy of the tiny sample database per test (tests save versions into it)."""
    return use_copy(tiny_sample_file, tmp_path, monkeypatch)


# -- empty database -------------------------------------------------------------------------
def test_segment_page_on_empty_database_links_to_data(empty_db: Path):
    at = open_page(SEGMENT)
    assert at.title[0].value == "Segment"
    assert "No orders loaded yet" in at.info[0].value
    assert [link.proto.page for link in at.get("page_link")][-1] == "data"
    assert at.error == []


def test_explain_page_without_versions_links_to_segment(empty_db: Path):
    at = open_page(EXPLAIN)
    assert at.title[0].value == "Explain"
    assert "No segmentation to explain yet" in at.info[0].value
    assert [link.proto.page for link in at.get("page_link")][-1] == "segment"


# -- segment.py on data ---------------------------------------------------------------------
def test_segment_page_shows_sizes_profiles_views_and_the_k_scan_when_auto(tiny_db: Path):
    at = open_page(SEGMENT)
    assert at.error == []
    shown = metric_values(at)
    assert shown["Products"] == "60"
    assert int(shown["Segments"]) >= 2
    titles = chart_titles(at, plotly=True)
    assert any(t.startswith("Segment sizes") for t in titles)
    for title in ("Segment profiles against the overall median", "Segments against ABC x XYZ",
                  "Scan of the number of segments"):
        assert title in titles, titles
    assert any(t.startswith("Items by segment") for t in titles)
    profile = at.dataframe[0].value
    assert {"segment_label", "items", "measure_share", "median_revenue"} <= set(profile.columns)
    assert profile["items"].sum() == 60


def test_fixed_k_drops_the_scan_and_gives_that_many_segments(tiny_db: Path):
    at = open_page(SEGMENT)
    at.slider(key="seg_min_share").set_value(0)
    at.toggle(key="seg_k_auto").set_value(False).run()
    at.number_input(key="seg_k").set_value(3).run()
    no_exception(at)
    assert metric_values(at)["Segments"] == "3"
    assert "Scan of the number of segments" not in chart_titles(at, plotly=True)


def test_a_weight_change_resegments_from_the_prepared_matrix(tiny_db: Path):
    at = open_page(SEGMENT)
    at.toggle(key="seg_k_auto").set_value(False).run()
    before = at.dataframe[0].value
    at.slider(key="seg_weight:product:revenue").set_value(5.0).run()
    no_exception(at)
    at.slider(key="seg_weight:product:cv").set_value(0.0).run()
    no_exception(at)
    after = at.dataframe[0].value
    assert after["items"].sum() == before["items"].sum() == 60
    assert at.error == []


@pytest.mark.parametrize("method", ["hierarchical", "gmm", "hdbscan", "nine_box", "demand_pattern", "rules"])
def test_every_method_renders(tiny_db: Path, method: str):
    at = open_page(SEGMENT)
    at.selectbox(key="seg_method").set_value(method).run()
    no_exception(at)
    assert "Segments" in metric_values(at)
    if method == "rules":
        editor = at.dataframe[0].value  # the rule editor (AppTest shows a data editor as a dataframe)
        assert list(editor.columns) == ["name", "feature", "operator", "value"]
        assert "Items per rule" in texts(at)
    if method in ("nine_box", "demand_pattern", "rules"):
        assert "no clustering to resample" in texts(at)


def test_two_segments_cannot_get_one_name(tiny_db: Path):
    at = open_page(SEGMENT)
    names = [t for t in at.text_input if t.key.startswith("seg_name:")]
    assert len(names) >= 2
    names[0].set_value("Same")
    names[1].set_value("Same").run()
    no_exception(at)
    assert "two segments would be called 'Same'" in at.error[0].value


def test_stability_on_demand_reads_jaccard_and_compares_the_halves(tiny_db: Path):
    at = open_page(SEGMENT)
    at.toggle(key="seg_k_auto").set_value(False).run()
    click(at, "Check stability")
    readings = frame_with(at, "reading")
    assert set(readings["reading"]) <= {"unstable", "doubtful", "stable"}
    assert "Adjusted Rand index between the halves" in metric_values(at)


def test_save_a_version_then_see_it_listed_and_explain_it(tiny_db: Path):
    at = open_page(SEGMENT)
    names = [t for t in at.text_input if t.key.startswith("seg_name:")]
    names[0].set_value("Runners").run()
    at.text_input(key="seg_note").set_value("first try")
    click(at, "Save as version")
    assert "Saved as version 1" in at.success[0].value
    versions = frame_with(at, "version_id")
    assert versions["version_id"].tolist() == [1]
    assert versions["note"].tolist() == ["first try"]

    at.switch_page(EXPLAIN).run()
    no_exception(at)
    assert at.selectbox(key="explain_source").value == 1
    shown = metric_values(at)
    assert shown["Fidelity (held-out accuracy)"].endswith("%")
    assert int(shown["Held-out items"].replace(",", "")) > 0
    recall = at.dataframe[0].value
    assert "Runners" in recall["segment"].tolist()
    assert "Global views from a sample of" in texts(at)
    titles = chart_titles(at, plotly=True)
    assert any(t.startswith("What sets «") for t in titles)
    assert any(t.startswith("How each feature pushes items") for t in titles)
    assert any(t.startswith("Why this item is in «") for t in titles)
    assert at.info[0].value.startswith("In «")


def test_explain_finds_an_item_by_key_and_explains_it(tiny_db: Path):
    at = open_page(SEGMENT)
    click(at, "Save as version")
    at.switch_page(EXPLAIN).run()
    at.text_input(key="explain_search").set_value("SKU-10001").run()
    no_exception(at)
    picker = at.selectbox(key="explain_item:version:1")
    assert picker.format_func(picker.value) == "SKU-10001"
    assert at.info[0].value.startswith("In «")


def test_explain_the_unsaved_result_of_the_segment_page(tiny_db: Path):
    at = open_page(SEGMENT)
    at.switch_page(EXPLAIN).run()
    no_exception(at)
    assert at.selectbox(key="explain_source").value == "current"
    assert "Fidelity (held-out accuracy)" in metric_values(at)


# -- the rule editor ------------------------------------------------------------------------
def test_rule_rows_become_engine_rules():
    assert rules_from_rows(DEFAULT_RULES) == [
        {"name": "Runners", "when": [["abc", "==", "A"], ["xyz", "in", ["X", "Y"]]]},
        {"name": "Sporadic", "when": [["adi", ">", 1.32]]},
        {"name": "Other"},
    ]
    rows = [{"name": "Long", "feature": "cv", "operator": "between", "value": "0.5, 1"},
            {"name": float("nan"), "feature": None, "operator": None, "value": None},
            {"name": "Rest", "feature": float("nan"), "operator": None, "value": float("nan")}]
    assert rules_from_rows(rows) == [{"name": "Long", "when": [["cv", "between", [0.5, 1.0]]]}, {"name": "Rest"}]


def test_segment_page_leaves_out_default_features_the_data_has_no_values_for(tiny_db: Path):
    """Order data without costs (UCI Online Retail) has no margin: the default k-means still runs, and says why
    margin_pct was left out, instead of failing."""
    with Store(tiny_db) as store, store.transaction() as cur:
        cur.execute("UPDATE orders SET unit_cost = NULL, cost_amount = NULL")
        cur.execute("UPDATE products SET unit_cost = NULL")
    at = open_page(SEGMENT)
    assert not at.error, [e.value for e in at.error]
    assert any("margin_pct" in info.value for info in at.info)
