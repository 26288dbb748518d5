"""Saved segmentation versions: migration 2, save / load round trip, determinism, rename, list."""

from __future__ import annotations

import math

import duckdb
import numpy as np
import pandas as pd
import pytest

import core.store
from core.errors import SegplanError
from core.store import Store
from core.versions import assignments, is_current, list_versions, load_version, rename_segment, run_segmentation, save_version
from conftest import tables_of

SEGMENT_TABLES = ("segment_versions", "segment_assignments", "segment_profiles", "segment_k_scan",
                  "segment_version_events")





def test_migration_2_applies_to_a_version_1_file(tmp_path, monkeypatch):
    path = tmp_path / "old.duckdb"
    with monkeypatch.context() as m:
        m.setattr(core.store, "MIGRATIONS", core.store.MIGRATIONS[:1])
        m.setattr(core.store, "SCHEMA_VERSION", 1)
        with Store(path) as old:
            assert old.schema_version() == 1
            assert not set(SEGMENT_TABLES) & tables_of(old)
            with old.transaction() as cur:
                cur.execute("INSERT INTO customers (customer_id, region) VALUES ('C1', 'North')")
    with Store(path) as new:
        assert new.schema_version() == core.store.SCHEMA_VERSION
        assert set(SEGMENT_TABLES) <= tables_of(new)
        assert new.cursor().execute("SELECT region FROM customers").fetchall() == [("North",)]
        assert list_versions(new).empty
    with Store(path) as again:  # nothing applied twice
        assert again.schema_version() == core.store.SCHEMA_VERSION


def assert_same_result(saved, loaded) -> None:
    pd.testing.assert_frame_equal(saved.assignments, loaded.assignments, check_dtype=False)
    assert loaded.assignments["segment"].dtype == saved.assignments["segment"].dtype
    pd.testing.assert_frame_equal(saved.profile, loaded.profile, check_dtype=False)
    if saved.k_scan is None:
        assert loaded.k_scan is None
    else:
        pd.testing.assert_frame_equal(saved.k_scan, loaded.k_scan, check_dtype=False)
    assert set(saved.metrics) == set(loaded.metrics)
    for name, value in saved.metrics.items():
        assert (math.isnan(value) and math.isnan(loaded.metrics[name])) or value == loaded.metrics[name], name
    for attribute in ("method", "parameters", "k", "merges", "fingerprint", "auto_names", "labels", "imputed",
                      "log_features"):
        assert getattr(saved, attribute) == getattr(loaded, attribute), attribute


@pytest.mark.parametrize("method, options", [
    ("kmeans", {"k": "auto"}),
    ("hierarchical", {"k": 3, "min_share": 0.0}),
    ("abc_xyz", {}),
    ("demand_pattern", {}),
    ("rules", {"rules": [{"name": "Key", "when": [["abc", "==", "A"], ["category", "!=", "none"]]},
                         {"name": "Other"}]}),
])
def test_save_load_round_trip(tiny, method, options):
    saved = run_segmentation(tiny, "product", method, seed=0, user="ana", **options)
    loaded = load_version(tiny, saved.version_id)
    assert (loaded.version_id, loaded.level, loaded.bucket, loaded.status, loaded.user_name) == \
        (saved.version_id, "product", "week", "draft", "ana")
    assert_same_result(saved.result, loaded.result)
    assert loaded.result.method == ("nine_box" if method == "abc_xyz" else method)


def test_customer_level_saves_null_product_and_reads_back_its_keys(tiny):
    saved = run_segmentation(tiny, "customer", "kmeans", k=2, min_share=0.0)
    nulls = tiny.cursor().execute(
        "SELECT count(*), count(product_id), count(customer_id) FROM segment_assignments WHERE version_id = ?",
        [saved.version_id]).fetchone()
    assert nulls[0] == len(saved.result.assignments) and nulls[1] == 0 and nulls[2] == nulls[0]
    frame = assignments(tiny, saved.version_id)
    assert list(frame.columns) == ["customer_id", "segment", "segment_label", "distance_own", "distance_next",
                                   "boundary_margin"]


def test_same_data_and_settings_give_the_same_version(tiny):
    settings = {"k": "auto", "weights": {"revenue": 2.0}, "min_share": 0.05, "seed": 7}
    first = run_segmentation(tiny, "customer_product", "kmeans", **settings)
    second = run_segmentation(tiny, "customer_product", "kmeans", **settings)
    assert first.version_id != second.version_id
    a, b = load_version(tiny, first.version_id), load_version(tiny, second.version_id)
    assert a.result.fingerprint == b.result.fingerprint
    assert a.result.assignments["segment"].tolist() == b.result.assignments["segment"].tolist()
    # distances equal up to DuckDB's last-bit noise in parallel float sums (see core.versions)
    pd.testing.assert_frame_equal(a.result.assignments, b.result.assignments, check_exact=False, rtol=1e-9)
    assert a.result.parameters["items"] == {"level": "customer_product", "bucket": "week", "abc_measure": "revenue"}
    other_seed = run_segmentation(tiny, "customer_product", "kmeans", **{**settings, "seed": 8})
    assert other_seed.result.fingerprint != a.result.fingerprint
    other_bucket = run_segmentation(tiny, "customer_product", "kmeans", **{**settings, "bucket": "month"})
    assert other_bucket.result.fingerprint != a.result.fingerprint


def test_is_current_until_the_data_changes(tiny):
    saved = run_segmentation(tiny, "product", "abc_xyz")
    assert is_current(tiny, saved.version_id)
    with tiny.transaction() as cur:
        cur.execute("UPDATE orders SET quantity = quantity + 1 WHERE rowid = (SELECT min(rowid) FROM orders)")
    assert not is_current(tiny, saved.version_id)


def test_rename_is_saved_and_shown_in_assignments(tiny):
    saved = run_segmentation(tiny, "product", "kmeans", k=2, min_share=0.0)
    names = rename_segment(tiny, saved.version_id, 0, "  Runners ", user="ana")
    assert names[0] == "Runners" and names[1] == saved.result.auto_names[1]
    frame = assignments(tiny, saved.version_id)
    assert set(frame.loc[frame["segment"] == 0, "segment_label"]) == {"Runners"}
    assert set(frame.loc[frame["segment"] == 1, "segment_label"]) == {saved.result.auto_names[1]}
    loaded = load_version(tiny, saved.version_id).result
    assert loaded.labels == {0: "Runners"}
    assert loaded.label_of(0) == "Runners"
    assert loaded.profile.set_index("segment").loc[0, "segment_label"] == "Runners"
    events = tiny.cursor().execute(
        "SELECT action, user_name FROM segment_version_events WHERE version_id = ? ORDER BY event_at",
        [saved.version_id]).fetchall()
    assert events == [("created", saved.user_name), ("renamed", "ana")]
    # the segment as text works too (pages and CLI pass what the user typed)
    assert rename_segment(tiny, saved.version_id, "1", "Sporadic")[1] == "Sporadic"


@pytest.mark.parametrize("segment, label, message", [
    (5, "X", "has no segment 5"),
    (0, "   ", "is empty"),
    (0, "Taken", "another segment"),
])
def test_bad_renames_change_nothing(tiny, segment, label, message):
    saved = run_segmentation(tiny, "product", "kmeans", k=2, min_share=0.0)
    rename_segment(tiny, saved.version_id, 1, "Taken")
    before = assignments(tiny, saved.version_id)
    with pytest.raises(SegplanError, match=message):
        rename_segment(tiny, saved.version_id, segment, label)
    pd.testing.assert_frame_equal(before, assignments(tiny, saved.version_id))


def test_list_versions_newest_first_and_by_level(tiny):
    a = run_segmentation(tiny, "product", "abc_xyz")
    b = run_segmentation(tiny, "customer", "demand_pattern")
    c = run_segmentation(tiny, "product", "kmeans", k=2, min_share=0.0)
    listed = list_versions(tiny)
    assert listed["version_id"].tolist() == [c.version_id, b.version_id, a.version_id]
    assert list(listed.columns) == ["version_id", "created_at", "user_name", "level", "bucket", "method", "k", "items",
                                    "silhouette", "status", "note", "fingerprint"]
    products = list_versions(tiny, "product")
    assert products["version_id"].tolist() == [c.version_id, a.version_id]
    assert products.set_index("version_id").loc[a.version_id, "method"] == "nine_box"
    assert products.set_index("version_id").loc[c.version_id, "silhouette"] == pytest.approx(c.result.metrics["silhouette"])
    assert (listed["status"] == "draft").all()


def test_unknown_version_is_named(tiny):
    for call in (lambda: load_version(tiny, 42), lambda: assignments(tiny, 42), lambda: rename_segment(tiny, 42, 0, "x")):
        with pytest.raises(SegplanError, match="version 42 does not exist"):
            call()


@pytest.mark.parametrize("kwargs, message", [
    ({"method": "kmeans", "features": ["revenue", "colour"]}, "unknown feature 'colour'"),
    ({"method": "kmeans", "weights": {"colour": 2.0}}, "unknown feature 'colour'"),
    ({"method": "kmeans", "weights": {"revenue": 9.0}}, "weight of 'revenue'"),
    ({"method": "kmeans", "k": "many"}, "k:"),
    ({"method": "spectral"}, "unknown method 'spectral'"),
    ({"method": "rules"}, "needs a rule list"),
])
def test_bad_settings_write_nothing(tiny, kwargs, message):
    with pytest.raises(SegplanError, match=message):
        run_segmentation(tiny, "product", **kwargs)
    assert list_versions(tiny).empty
    assert tiny.cursor().execute("SELECT count(*) FROM segment_assignments").fetchone()[0] == 0


def test_failed_save_leaves_no_partial_version(tiny, monkeypatch):
    saved = run_segmentation(tiny, "product", "abc_xyz")
    result = saved.result
    broken = result.assignments.copy()
    broken["segment_label"] = None  # NOT NULL in segment_assignments: the INSERT fails half way
    result.assignments = broken
    with pytest.raises(duckdb.ConstraintException, match="segment_label"):
        save_version(tiny, result, "product", "week")
    assert list_versions(tiny)["version_id"].tolist() == [saved.version_id]
    counts = tiny.cursor().execute(
        "SELECT count(DISTINCT version_id) FROM segment_assignments").fetchone()[0]
    assert counts == 1


def test_save_checks_the_level(tiny):
    saved = run_segmentation(tiny, "product", "abc_xyz")
    with pytest.raises(SegplanError, match="not those of level 'customer'"):
        save_version(tiny, saved.result, "customer", "week")
    assert np.array_equal(list_versions(tiny)["version_id"], [saved.version_id])


def test_save_segmentation_of_a_page_result_matches_run_segmentation(tiny):
    from core.classify import MEASURE_COLUMNS
    from core.segment import segment
    from core.segment_items import DEFAULT_FEATURES, segmentation_items
    from core.versions import save_segmentation

    ran = run_segmentation(tiny, "customer", "kmeans", k=3, min_share=0.0, measure="quantity", seed=1)
    items = segmentation_items(tiny, "customer", "week", "quantity")
    result = segment(items, method="kmeans", k=3, min_share=0.0, measure=MEASURE_COLUMNS["quantity"], seed=1,
                     features=list(DEFAULT_FEATURES["customer"]))
    renamed = result.with_labels({0: "Big"})
    saved = save_segmentation(tiny, renamed, "customer", "week", "quantity", user="ana", note="from the page")
    assert "items" not in renamed.parameters  # the caller's result is not changed
    assert saved.result.fingerprint == ran.result.fingerprint
    assert is_current(tiny, saved.version_id)
    loaded = load_version(tiny, saved.version_id)
    assert (loaded.note, loaded.user_name, loaded.result.labels) == ("from the page", "ana", {0: "Big"})
    assert set(assignments(tiny, saved.version_id).query("segment == 0")["segment_label"]) == {"Big"}


def test_clustering_without_features_uses_the_level_default_set_and_weighted_features(tiny):
    from core.segment_items import DEFAULT_FEATURES

    plain = run_segmentation(tiny, "product", "kmeans", k=2, min_share=0.0)
    assert plain.result.parameters["features"] == list(DEFAULT_FEATURES["product"])
    weighted = run_segmentation(tiny, "product", "kmeans", k=2, min_share=0.0, weights={"demand_std": 2})
    assert weighted.result.parameters["features"] == [*DEFAULT_FEATURES["product"], "demand_std"]


def test_default_features_without_values_are_left_out(tiny):
    """Without costs there is no margin: the default set drops margin_pct instead of failing the run."""
    with tiny.transaction() as cur:
        cur.execute("UPDATE orders SET unit_cost = NULL, cost_amount = NULL")
        cur.execute("UPDATE products SET unit_cost = NULL")
    saved = run_segmentation(tiny, "product", "kmeans", k=2, min_share=0.0)
    assert "margin_pct" not in saved.result.parameters["features"]
    assert saved.result.parameters["features"] == ["revenue", "order_lines", "cv", "adi"]
