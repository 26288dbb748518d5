"""The items frame the segmentation engine takes, and its first/second-half windows."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from core.classify import classify
from core.errors import SegplanError
from core.features import compute_features, feature_catalog, key_columns
from core.sample import TINY_SIZES, build_tiny_database
from core.segment_items import segmentation_items, window_items, window_periods
from core.segment_prep import numeric_feature_columns
from tests.test_features import insert_orders, line


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    from core.store import Store

    with Store(tmp_path_factory.mktemp("items") / "tiny.duckdb") as store:
        build_tiny_database(store)
        yield store


EXPECTED_ATTRIBUTES = {
    "product": ["category", "lifecycle_stage"],
    "customer": ["region", "channel", "strategic_account"],
    "customer_product": ["region", "channel", "strategic_account", "category", "lifecycle_stage"],
}


@pytest.mark.parametrize("level", ["product", "customer", "customer_product"])
def test_items_frame_has_keys_features_classes_and_master_attributes(tiny, level):
    items = segmentation_items(tiny, level)
    keys = list(key_columns(level))
    features = [spec.name for spec in feature_catalog(level)]
    assert list(items.columns) == [*keys, *features, "abc", "xyz", "demand_pattern", *EXPECTED_ATTRIBUTES[level]]
    assert not items.duplicated(keys).any()
    assert len(items) == len(compute_features(tiny, level))
    assert set(items["abc"]) <= {"A", "B", "C"} and "A" in set(items["abc"])
    assert set(items["xyz"]) <= {"X", "Y", "Z"}
    assert items["demand_pattern"].notna().all()
    # master attributes are joined, and none of them is a clustering feature
    for attribute in EXPECTED_ATTRIBUTES[level]:
        assert items[attribute].notna().all(), attribute
    assert numeric_feature_columns(items) == features


def test_classes_and_attributes_match_their_sources(tiny):
    items = segmentation_items(tiny, "customer", measure="quantity").set_index("customer_id")
    classes = classify(tiny, "customer", "quantity").set_index("customer_id")
    assert (items["abc"] == classes["abc"]).all()
    assert (items["demand_pattern"] == classes["demand_pattern"]).all()
    master = tiny.cursor().execute("SELECT customer_id, region, strategic_account FROM customers").df().set_index("customer_id")
    joined = items.join(master.add_suffix("_master"))
    assert (joined["region"] == joined["region_master"]).all()
    assert (joined["strategic_account"] == joined["strategic_account_master"]).all()
    assert len(items) <= TINY_SIZES["n_customers"]


def test_attributes_not_loaded_are_left_out(store):
    insert_orders(store, [line("o1", dt.date(2025, 1, 6), "C1", "P1", 3, unit_price=1.0),
                          line("o2", dt.date(2025, 1, 13), "C2", "P2", 5, unit_price=1.0)])
    with store.transaction() as cur:
        cur.execute("INSERT INTO products (product_id, category) VALUES ('P1', 'Tools')")
    items = segmentation_items(store, "customer_product")
    assert "region" not in items.columns and "lifecycle_stage" not in items.columns
    category = items.set_index("product_id")["category"]
    assert category["P1"] == "Tools" and pd.isna(category["P2"])


def test_windows_split_history_on_a_bucket_boundary(tiny):
    (first_start, first_end), (second_start, second_end) = window_periods(tiny, "week")
    first_date, last_date = tiny.cursor().execute("SELECT min(order_date), max(order_date) FROM orders").fetchone()
    assert (first_start, second_end) == (first_date, last_date)
    assert second_start == first_end + dt.timedelta(days=1)
    assert second_start.weekday() == 0  # a Monday: no week is cut in two
    (_, month_end), (month_start, _) = window_periods(tiny, "month")
    assert month_start.day == 1 and month_end + dt.timedelta(days=1) == month_start
    first, second = window_items(tiny, "product", "week")
    whole = segmentation_items(tiny, "product", "week")
    assert list(first.columns) == list(whole.columns) == list(second.columns)
    # the halves together hold exactly the lines of the whole history
    assert first["gross_quantity"].sum() + second["gross_quantity"].sum() == pytest.approx(whole["gross_quantity"].sum())


def test_window_needs_two_buckets(store):
    with pytest.raises(SegplanError, match="no order lines"):
        window_periods(store)
    insert_orders(store, [line("o1", dt.date(2025, 1, 6), "C1", "P1", 3), line("o2", dt.date(2025, 1, 8), "C1", "P1", 3)])
    with pytest.raises(SegplanError, match="spans one week"):
        window_periods(store, "week")
