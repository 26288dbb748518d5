"""Per-item features saved with each version (segment_item_features, schema migration 5)."""

from __future__ import annotations

import copy

import pandas as pd
import pytest

from core.segment_items import segmentation_items
from core.store import SCHEMA_VERSION
from core.version_features import ALWAYS_KEPT, feature_names
from core.versions import run_segmentation, save_version
from conftest import tables_of
from page_data import fill_small_database

DEFAULTS = {"revenue", "order_lines", "cv", "adi", "margin_pct"}   # product level


@pytest.fixture
def small(store):
    fill_small_database(store)
    return store


def saved(store, version_id: int) -> pd.DataFrame:
    """The saved features as one row per product and a column per feature."""
    long = store.cursor().execute(
        """SELECT a.product_id, f.feature, f.value FROM segment_item_features f
           JOIN segment_assignments a USING (version_id, item_position) WHERE version_id = ?""", [version_id]).df()
    return long.pivot(index="product_id", columns="feature", values="value")


def test_migration_5_makes_the_table(store):
    assert store.schema_version() == SCHEMA_VERSION >= 5
    assert "segment_item_features" in tables_of(store)


@pytest.mark.parametrize("method, options, extra", [
    ("kmeans", {"k": 2, "features": ["revenue", "demand_buckets"]}, {"demand_buckets"}),
    ("abc_xyz", {}, set()),
    ("demand_pattern", {}, set()),
    ("rules", {"rules": [{"name": "Long", "when": [["horizon_buckets", ">=", 20]]}, {"name": "Other"}]},
     {"horizon_buckets"}),
])
def test_a_version_keeps_what_it_used_the_defaults_and_the_demand_shape(small, method, options, extra):
    version = run_segmentation(small, "product", method, min_share=0.0, **options)
    assert set(feature_names(small, version.version_id)) == DEFAULTS | set(ALWAYS_KEPT) | extra | {"revenue"}


def test_the_values_are_the_items_features_at_save_time(small):
    version = run_segmentation(small, "product", "abc_xyz", min_share=0.0)
    values = saved(small, version.version_id)
    items = segmentation_items(small, "product", "week", "revenue").set_index("product_id")
    assert values.loc["P1", "revenue"] == pytest.approx(26_000.0)         # 2,600 units at 10
    for feature in values.columns:
        pd.testing.assert_series_equal(values[feature].dropna(), items.loc[values.index, feature].dropna(),
                                       check_names=False, check_dtype=False, rtol=1e-9)


def test_a_result_without_items_recomputes_them_from_how_they_were_built(small):
    made = run_segmentation(small, "product", "abc_xyz", min_share=0.0)
    # the Segment page saves the result it computed, with parameters["items"] but no frame
    again = save_version(small, made.result, "product", "week")
    assert saved(small, again).equals(saved(small, made.version_id))
    # without either, nothing is kept and the save still works
    bare = copy.copy(made.result)
    bare.parameters = {k: v for k, v in made.result.parameters.items() if k != "items"}
    assert feature_names(small, save_version(small, bare, "product", "week")) == []


def test_undefined_values_have_no_row(small):
    with small.transaction() as cur:
        cur.execute("UPDATE orders SET unit_cost = NULL WHERE product_id = 'P6'")   # no margin for P6
    version = run_segmentation(small, "product", "abc_xyz", min_share=0.0)
    values = saved(small, version.version_id)
    assert pd.isna(values.loc["P6", "margin_pct"]) and not pd.isna(values.loc["P1", "margin_pct"])
    rows = small.cursor().execute("SELECT count(*) FROM segment_item_features WHERE version_id = ? "
                                  "AND NOT isfinite(value)", [version.version_id]).fetchone()[0]
    assert rows == 0
