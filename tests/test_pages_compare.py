"""The Compare versions page (pages/compare.py) through AppTest, opened via app.py.

Empty database and a single version: the page says a comparison needs two. The tiny sample
with a k-means (k = 3) and an ABC x XYZ version: the migration matrix, the Sankey, the movers
(filtered by segment) and the policy impact, each checked against core.diff.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from core.diff import compare_versions
from core.sample import build_tiny_database
from core.store import Store
from core.versions import run_segmentation
import page_support
from page_support import chart_titles, empty_db, frame_with, use_copy  # noqa: F401  (empty_db: fixture)

COMPARE = "pages/compare.py"


@pytest.fixture(scope="module")
def two_versions(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("tiny_compare") / "tiny.duckdb"
    with Store(path) as store:
        build_tiny_database(store)
        run_segmentation(store, "product", "kmeans", k=3)
        run_segmentation(store, "product", "abc_xyz")
    return path


def open_page() -> AppTest:
    return page_support.open_page(COMPARE)


def test_empty_database_says_two_versions_are_needed(empty_db: Path):
    at = open_page()
    assert at.title[0].value == "Compare versions"
    assert "Fewer than two saved versions" in at.info[0].value
    assert [link.proto.page for link in at.get("page_link")][-1] == "segment"
    assert at.get("plotly_chart") == []


def test_one_version_is_not_enough(tiny_sample_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    path = use_copy(tiny_sample_file, tmp_path, monkeypatch)
    with Store(path) as store:
        run_segmentation(store, "product", "abc_xyz")
    at = open_page()
    assert "Fewer than two saved versions" in at.info[0].value


def test_two_versions_show_matrix_sankey_movers_and_policy_impact(two_versions: Path, tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch):
    path = use_copy(two_versions, tmp_path, monkeypatch)
    with Store(path) as store:
        expected = compare_versions(store, 1, 2)
    at = open_page()
    assert at.error == []
    # default with nothing approved: the two newest, older as A
    assert (at.selectbox(key="cmp_a_product").value, at.selectbox(key="cmp_b_product").value) == (1, 2)
    assert "Migration matrix: version 1 → version 2" in chart_titles(at)
    sankey = json.loads(at.get("plotly_chart")[0].proto.spec)
    assert sankey["data"][0]["type"] == "sankey"
    assert sum(sankey["data"][0]["link"]["value"]) == 60          # every product of the tiny sample once
    movers = frame_with(at, "move_size")
    assert len(movers) == expected.items_moved > 0
    assert movers["product_id"].tolist() == expected.movers["product_id"].tolist()
    assert {"revenue_a", "revenue_b", "revenue_change", "service_level_a", "safety_stock_change"} <= set(movers.columns)
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Stayed (same segment name)"] == f"{expected.items_stayed:,}"
    impact = next(d.value for d in at.dataframe if "items" in d.value.columns and "service_level_b" in d.value.columns)
    assert impact["items"].sum() == expected.items_moved           # k-means names never equal a nine-box cell

    first = expected.matrix.index[0]
    at.multiselect(key="cmp_from").set_value([first]).run()
    assert not at.exception
    filtered = frame_with(at, "move_size")
    assert len(filtered) == int(expected.matrix.loc[first].sum()) < len(movers)
    assert set(filtered["segment_a"]) == {first}


def test_default_is_the_version_in_force_against_the_newest_draft(two_versions: Path, tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch):
    path = use_copy(two_versions, tmp_path, monkeypatch)
    with Store(path) as store:
        with store.transaction() as cur:
            cur.execute("UPDATE segment_versions SET status = 'approved' WHERE version_id = 2")
        run_segmentation(store, "product", "kmeans", k=4)               # version 3, a draft
    at = open_page()
    assert (at.selectbox(key="cmp_a_product").value, at.selectbox(key="cmp_b_product").value) == (2, 3)
    assert "Migration matrix: version 2 → version 3" in chart_titles(at)


def test_choosing_the_same_version_twice_warns(two_versions: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    use_copy(two_versions, tmp_path, monkeypatch)
    at = open_page()
    at.selectbox(key="cmp_b_product").set_value(1).run()
    assert not at.exception
    assert "are the same" in at.warning[0].value
    assert at.get("plotly_chart") == []


def test_customer_versions_compare_without_stock_columns(tiny_sample_file: Path, tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch):
    path = use_copy(tiny_sample_file, tmp_path, monkeypatch)
    with Store(path) as store:
        run_segmentation(store, "customer", "abc_xyz")
        run_segmentation(store, "customer", "kmeans", k=2)
    at = open_page()
    assert at.selectbox(key="cmp_level").options == ["customer"]       # the only level with two versions
    assert at.error == []
    movers = frame_with(at, "move_size")
    assert "customer_id" in movers.columns and "safety_stock_change" not in movers.columns
    assert any("hold no stock per customer" in c.value for c in at.caption)
