"""The Policies page (pages/policies.py) through AppTest.

On an empty database and on the tiny sample database with a saved product-level ABC x XYZ
version: no exception, the policy table, a save that persists, the what-if slider moving the
metrics, the forecast backtest beside the results and the allocation demo's fill rates.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from core.policy_plan import version_policies
from core.sample import build_tiny_database
from core.store import Store
from core.versions import run_segmentation
import page_support
from page_support import (  # noqa: F401  (empty_db: fixture)
    by_label, chart_titles, click, empty_db, frame_with, metrics, no_exception, texts, use_copy,
)

POLICIES = "pages/policies.py"


@pytest.fixture(scope="module")
def tiny_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("tiny_policies") / "tiny.duckdb"
    with Store(path) as store:
        build_tiny_database(store)
        run_segmentation(store, "product", "abc_xyz")
    return path


@pytest.fixture
def tiny_db(tiny_template: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A copy of the tiny database with version 1 (product, ABC x XYZ) per test (tests save policies)."""
    return use_copy(tiny_template, tmp_path, monkeypatch)


def open_page() -> AppTest:
    return page_support.open_page(POLICIES)


def policy_table(at: AppTest):
    return next(d.value for d in at.dataframe if "allocation_tier" in d.value.columns and "segment_label" in d.value.columns
                and "service_level_type" in d.value.columns)


def test_policies_page_without_versions_links_to_segment(empty_db: Path):
    at = open_page()
    assert at.title[0].value == "Policies"
    assert "No saved segmentation yet" in at.info[0].value
    assert [link.proto.page for link in at.get("page_link")][-1] == "segment"
    assert at.error == []


def test_policy_table_results_what_if_and_per_product_are_shown(tiny_db: Path):
    at = open_page()
    assert at.error == []
    table = policy_table(at)
    assert sorted(table["segment_label"]) == ["AX", "AY", "AZ", "BX", "BY", "BZ", "CY", "CZ"]
    ax = table.set_index("segment_label").loc["AX"]
    assert ax["service_level"] == pytest.approx(0.98)
    assert ax["allocation_tier"] == 1
    assert table.set_index("segment_label").loc["CZ", "inventory_strategy"] == "make_to_order"
    shown = metrics(at)
    assert {"Inventory investment (all segments)", "Expected fill rate (all segments)"} <= set(shown)
    assert shown["Inventory investment (all segments)"][1] == "same as saved"
    titles = chart_titles(at)
    for title in ("Inventory investment per segment",):
        assert title in titles, titles
    assert any(t.startswith("Service against inventory: «") for t in titles)
    plan = frame_with(at, "reorder_point")
    assert len(plan) == 60
    assert {"demand_mean", "demand_std", "lead_time", "lead_time_std", "z", "safety_stock"} <= set(plan.columns)
    assert "Download the plan (CSV)" in [b.label for b in at.get("download_button")]


def test_the_what_if_slider_moves_inventory_and_fill_rate(tiny_db: Path):
    at = open_page()
    at.selectbox(key="pol_whatif_segment:1").set_value("AY").run()
    no_exception(at)
    slider = next(s for s in at.slider if s.key.startswith("pol_whatif_level:1:AY:"))
    assert slider.value == pytest.approx(0.97)
    before = metrics(at)
    slider.set_value(0.995).run()
    no_exception(at)
    after = metrics(at)
    assert after["Inventory investment (all segments)"][0] != before["Inventory investment (all segments)"][0]
    assert after["Inventory investment (all segments)"][1].startswith("+")
    assert after["Inventory investment (all segments)"][1].endswith(" vs saved")
    assert after["Expected fill rate of «AY»"][1].startswith("+")
    assert "What-if against the saved policies" in chart_titles(at)
    comparison = frame_with(at, "inventory_value_change")
    changed = comparison.set_index("segment_label")["inventory_value_change"]
    assert changed["AY"] > 0
    assert (changed.drop("AY") == 0).all()


def test_edit_and_save_policies_then_they_persist(tiny_db: Path):
    at = open_page()
    save = by_label(at.button, "Save policies")
    assert save.disabled
    editor_key = "pol_editor:1:0"
    rows = policy_table(at)
    position = int(rows.index[rows["segment_label"] == "BY"][0])
    # AppTest has no data-editor element: set the edit as the browser sends it.
    at.session_state[editor_key] = {"edited_rows": {position: {"service_level": 0.99, "allocation_tier": 1}},
                                    "added_rows": [], "deleted_rows": []}
    at.run()
    no_exception(at)
    assert "2 unsaved change(s)" in texts(at)
    changes = frame_with(at, "setting")
    assert set(changes["setting"]) == {"service level", "allocation tier"}
    click(at, "Save policies")
    assert "Saved 2 change(s) to version 1's policies" in at.success[0].value
    with Store(tiny_db) as store:
        by = next(p for p in version_policies(store, 1) if p.segment == "BY")
    assert (by.service_level, by.allocation_tier) == (0.99, 1)

    fresh = open_page()
    table = policy_table(fresh).set_index("segment_label")
    assert table.loc["BY", "service_level"] == pytest.approx(0.99)
    assert "No unsaved changes." in texts(fresh)


def test_backtest_puts_wape_and_bias_beside_the_policy(tiny_db: Path):
    at = open_page()
    at.toggle(key="pol_backtest:1").set_value(True).run()
    no_exception(at)
    results = frame_with(at, "wape")
    assert results["wape"].notna().sum() >= 6
    assert results["backtest_methods"].str.len().gt(0).any()


def test_allocation_demo_shows_fill_rates_per_segment(tiny_db: Path):
    at = open_page()
    assert at.radio(key="pol_alloc_source").value == "demo"
    assert "Fill rate per segment after allocation" in chart_titles(at)
    summary = frame_with(at, "line_fill_rate")
    assert summary["fill_rate"].between(0.7, 0.85).all()  # 80 % of the open quantity is in stock
    assert summary["allocation_tier"].is_monotonic_increasing
    assert "Download the allocation (CSV)" in [b.label for b in at.get("download_button")]
    at.slider(key="pol_demo_share").set_value(100).run()
    no_exception(at)
    summary = frame_with(at, "line_fill_rate")
    assert (summary["fill_rate"] == 1.0).all()


def test_a_customer_level_version_is_explained_not_planned(tiny_db: Path):
    with Store(tiny_db) as store:
        run_segmentation(store, "customer", "abc_xyz")
    at = open_page()
    assert at.selectbox(key="pol_version").value == 1  # the newest product-level version first
    at.selectbox(key="pol_version").set_value(2).run()
    no_exception(at)
    assert "segments customers, so it has no stock policy here" in at.warning[0].value


def test_forecast_errors_and_eoq_replan_without_error(tiny_db: Path):
    at = open_page()
    before = metrics(at)["Inventory investment (all segments)"][0]
    at.radio(key="pol_demand_source").set_value("forecast_errors").run()
    no_exception(at)
    at.toggle(key="pol_eoq").set_value(True).run()
    no_exception(at)
    assert at.error == []
    plan = frame_with(at, "reorder_point")
    assert "forecast_rmse" in set(plan["demand_std_source"])
    assert metrics(at)["Inventory investment (all segments)"][0] != before
    assert "eoq" not in set(plan["order_quantity_source"])  # every default segment reviews periodically
    rows = policy_table(at)
    position = int(rows.index[rows["segment_label"] == "AX"][0])
    at.session_state["pol_editor:1:0"] = {"edited_rows": {position: {"review_period_days": 0.0}},
                                          "added_rows": [], "deleted_rows": []}
    at.run()
    no_exception(at)
    plan = frame_with(at, "reorder_point")
    assert set(plan.loc[plan["segment_label"] == "AX", "order_quantity_source"]) <= {"eoq", "moq"}


def test_an_approved_version_keeps_edits_as_a_what_if_and_cannot_be_saved(tiny_db: Path):
    from core.approval import approve, submit

    with Store(tiny_db) as store:
        submit(store, 1, "pat")
        approve(store, 1, "anna")
    at = open_page()
    no_exception(at)
    assert any("Version 1 is approved: its policies are locked" in info.value for info in at.info)
    rows = policy_table(at)
    position = int(rows.index[rows["segment_label"] == "BY"][0])
    at.session_state["pol_editor:1:0"] = {"edited_rows": {position: {"service_level": 0.99}},
                                          "added_rows": [], "deleted_rows": []}
    at.run()
    no_exception(at)
    assert "1 unsaved change(s)" in texts(at)          # the what-if still shows
    assert by_label(at.button, "Save policies").disabled
