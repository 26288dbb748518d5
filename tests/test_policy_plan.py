"""Policies of a saved version: migration 3, save / load round trip, defaults, the per-item plan."""

from __future__ import annotations

import json

import numpy as np
import pytest

import core.store
from core.errors import SegplanError
from core.policy import SegmentPolicy, default_policies
from core.policy_plan import PLAN_COLUMNS, policy_events, policy_items, save_policies, version_policies
from core.sample import build_tiny_database
from core.store import Store
from core.versions import run_segmentation
from conftest import tables_of

POLICY_TABLES = ("segment_policies", "policy_events")


def test_migration_3_applies_to_a_version_2_file(tmp_path, monkeypatch):
    path = tmp_path / "old.duckdb"
    with monkeypatch.context() as m:
        m.setattr(core.store, "MIGRATIONS", core.store.MIGRATIONS[:2])
        m.setattr(core.store, "SCHEMA_VERSION", 2)
        with Store(path) as old:
            assert old.schema_version() == 2
            assert not set(POLICY_TABLES) & tables_of(old)
            with old.transaction() as cur:
                cur.execute("INSERT INTO products (product_id, unit_cost) VALUES ('P1', 2.5)")
    with Store(path) as new:
        assert new.schema_version() == core.store.SCHEMA_VERSION
        assert set(POLICY_TABLES) <= tables_of(new)
        assert new.cursor().execute("SELECT unit_cost FROM products").fetchall() == [(2.5,)]
    with Store(path) as again:
        assert again.schema_version() == core.store.SCHEMA_VERSION


@pytest.fixture(scope="module")
def tiny_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("policy_plan") / "tiny.duckdb"
    with Store(path) as store:
        build_tiny_database(store)
        product = run_segmentation(store, "product", "abc_xyz", user="test").version_id
        pair = run_segmentation(store, "customer_product", "abc_xyz", user="test").version_id
        customer = run_segmentation(store, "customer", "kmeans", k=3, user="test").version_id
        clusters = run_segmentation(store, "product", "kmeans", k=3, user="test").version_id
    return path, {"product": product, "pair": pair, "customer": customer, "clusters": clusters}


@pytest.fixture
def tiny(tiny_file, tmp_path):
    import shutil

    path, ids = tiny_file
    copy = tmp_path / "tiny.duckdb"
    shutil.copy(path, copy)
    with Store(copy) as store:
        yield store, ids


def test_defaults_when_none_saved(tiny):
    store, ids = tiny
    policies = version_policies(store, ids["product"])
    segments = {r[0] for r in store.cursor().execute(
        "SELECT DISTINCT segment FROM segment_assignments WHERE version_id = ?", [ids["product"]]).fetchall()}
    assert {p.segment for p in policies} == segments
    # a nine-box segment takes its own cell's defaults
    assert {p.segment: p for p in policies} == {p.segment: p for p in default_policies(sorted(segments))}
    cz = [p for p in policies if p.segment == "CZ"]
    assert not cz or cz[0].inventory_strategy == "make_to_order"


def test_cluster_defaults_follow_dominant_classes(tiny):
    store, ids = tiny
    policies = version_policies(store, ids["clusters"])
    assert all(p.segment.isdigit() for p in policies)
    assert all(p.service_level in (0.98, 0.97, 0.95, 0.96, 0.92, 0.93, 0.90, 0.85) for p in policies)


def test_save_and_load_round_trip_with_events(tiny):
    store, ids = tiny
    vid = ids["product"]
    before = {p.segment: p for p in version_policies(store, vid)}
    first = sorted(before)[0]
    changed = SegmentPolicy(first, 0.991, "fill_rate", "assemble_to_order", 3.5, "tsb", 4)
    save_policies(store, vid, [changed], user="ann")
    after = {p.segment: p for p in version_policies(store, vid)}
    assert after[first] == changed
    assert {s: p for s, p in after.items() if s != first} == {s: p for s, p in before.items() if s != first}
    row = store.cursor().execute("SELECT updated_by FROM segment_policies WHERE version_id = ? AND segment = ?",
                                 [vid, first]).fetchone()
    assert row == ("ann",)
    events = policy_events(store, vid)
    assert events[["segment", "user_name", "action"]].values.tolist() == [[first, "ann", "created"]]
    assert events["policy_before"].isna().all()
    assert json.loads(events["policy_after"].iloc[0])["service_level"] == 0.991

    again = SegmentPolicy(first, 0.95, "cycle_service_level", "make_to_stock", 0.0, "ses", 1)
    second = sorted(after)[1]
    save_policies(store, vid, [again, after[second]], user="bob")  # the second: its default, now pinned
    events = policy_events(store, vid)
    assert events[["segment", "action"]].values.tolist() == [[first, "created"], [first, "changed"],
                                                           [second, "created"]]
    save_policies(store, vid, [after[second]], user="bob")  # saved and unchanged: nothing written
    assert len(policy_events(store, vid)) == 3
    assert json.loads(events["policy_before"].iloc[1])["inventory_strategy"] == "assemble_to_order"
    assert {p.segment: p for p in version_policies(store, vid)}[first] == again
    # a dict is accepted too
    save_policies(store, vid, [{"segment": first, "service_level": 0.9}])
    assert {p.segment: p for p in version_policies(store, vid)}[first].service_level == 0.9


def test_save_rejects_bad_policies_and_writes_nothing(tiny):
    store, ids = tiny
    vid = ids["product"]
    segment = version_policies(store, vid)[0].segment
    count = "SELECT (SELECT count(*) FROM segment_policies) + (SELECT count(*) FROM policy_events)"
    for bad, words in (([SegmentPolicy("no such", 0.9)], "no segment"),
                       ([SegmentPolicy(segment, 0.9), SegmentPolicy(segment, 0.8)], "more than once"),
                       ([{"segment": segment, "service_level": 1.5}], "service_level"),
                       ([{"segment": segment, "service_level": 0.9, "allocation_tier": 0}], "allocation_tier")):
        with pytest.raises(SegplanError, match=words):
            save_policies(store, vid, bad)
        assert store.cursor().execute(count).fetchone()[0] == 0
    with pytest.raises(SegplanError, match="does not exist"):
        save_policies(store, 999, [SegmentPolicy(segment, 0.9)])


def test_policy_items_one_row_per_product_with_finite_figures(tiny):
    store, ids = tiny
    plan = policy_items(store, ids["product"])
    products = store.cursor().execute("SELECT count(DISTINCT product_id) FROM orders").fetchone()[0]
    assert list(plan.columns[: len(PLAN_COLUMNS)]) == list(PLAN_COLUMNS)
    assert len(plan) == products == plan["product_id"].nunique()
    stocked = plan["inventory_strategy"] != "make_to_order"
    assert stocked.any() and (~stocked).any()
    for column in ("safety_stock", "reorder_point", "order_quantity", "demand_mean", "demand_std", "lead_time",
                   "lead_time_std", "service_level"):
        assert np.isfinite(plan[column]).all(), column
    assert np.isfinite(plan.loc[stocked, "z"]).all()
    assert (plan.loc[~stocked, ["safety_stock", "reorder_point", "order_quantity"]] == 0).all().all()
    assert plan.loc[~stocked, "z"].isna().all()
    assert (plan.loc[stocked, "reorder_point"] >= plan.loc[stocked, "safety_stock"]).all()
    assert set(plan["lead_time_source"]) == {"products"}  # the sample's products all have a lead time
    assert (plan["bucket"] == "week").all()
    # lead time in buckets = days / 7
    assert np.allclose(plan["lead_time"], plan["lead_time_days"] / 7.0)


def test_lead_time_falls_back_to_observed_orders_and_default(tiny):
    store, ids = tiny
    with store.transaction() as cur:
        cur.execute("UPDATE products SET lead_time_days = NULL WHERE product_id IN "
                    "(SELECT product_id FROM products ORDER BY product_id LIMIT 5)")
    plan = policy_items(store, ids["product"])
    observed = plan[plan["lead_time_source"] == "observed_delivery"]
    assert len(observed) == 5
    first = observed["product_id"].iloc[0]
    days = store.cursor().execute(
        "SELECT avg(date_diff('day', order_date, delivered_date)) FROM orders "
        "WHERE product_id = ? AND quantity > 0 AND delivered_date >= order_date", [first]).fetchone()[0]
    assert observed["lead_time_days"].iloc[0] == pytest.approx(days)
    with store.transaction() as cur:
        cur.execute("UPDATE orders SET delivered_date = NULL, ship_date = NULL")
    plan = policy_items(store, ids["product"], policies=[SegmentPolicy(p.segment, 0.95)
                                                         for p in version_policies(store, ids["product"])])
    assumed = plan["lead_time_source"] == "assumed_one_bucket"
    assert assumed.sum() == 5 and (plan.loc[assumed, "lead_time"] == 1.0).all()
    assert (plan.loc[assumed, "lead_time_std"] == 0.0).all() and np.isfinite(plan["safety_stock"]).all()
    plan = policy_items(store, ids["product"], default_lead_time_days=10.0)
    assert (plan.loc[plan["lead_time_source"] == "default", "lead_time_days"] == 10.0).sum() == 5


def test_forecast_errors_replace_demand_std_and_eoq(tiny):
    store, ids = tiny
    plan = policy_items(store, ids["product"], demand_source="forecast_errors", ordering_cost=50.0,
                        holding_rate=0.2, bucket="month")
    assert (plan["demand_std_source"] == "forecast_rmse").any()
    assert (plan["bucket"] == "month").all()
    assert np.isfinite(plan["demand_std"]).all()
    history = policy_items(store, ids["product"], bucket="month")
    assert not np.allclose(plan["demand_std"], history["demand_std"])
    with_cost = (plan["inventory_strategy"] != "make_to_order") & (plan["review_period"] == 0)
    assert ((plan.loc[with_cost, "order_quantity_source"]).isin(["eoq", "moq"])).all()


def test_levels_and_bad_inputs(tiny):
    store, ids = tiny
    pairs = policy_items(store, ids["pair"])
    assert "customer_id" in pairs.columns and len(pairs) == len(pairs[["customer_id", "product_id"]].drop_duplicates())
    with pytest.raises(SegplanError, match="segments customers"):
        policy_items(store, ids["customer"])
    with pytest.raises(SegplanError, match="does not exist"):
        policy_items(store, 12345)
    with pytest.raises(SegplanError, match="demand source"):
        policy_items(store, ids["product"], demand_source="magic")
    with pytest.raises(SegplanError, match="go together"):
        policy_items(store, ids["product"], ordering_cost=10.0)
