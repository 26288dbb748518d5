"""`segplan segment`, `segplan assignments`, `segplan versions`: the contracts scripts rely on."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from core.cli import app
from core.store import Store
from conftest import copy_of

runner = CliRunner()
BOUNDARY_COLUMNS = ["segment", "segment_label", "distance_own", "distance_next", "boundary_margin"]


def invoke(db: Path, *args: str):
    return runner.invoke(app, ["--db", str(db), *args])


def strict_json(text: str) -> dict:
    """Parse as strict JSON: NaN or Infinity in the output fail the test."""
    def refuse(constant: str) -> None:
        raise AssertionError(f"not strict JSON: {constant}")
    return json.loads(text, parse_constant=refuse)


def saved_versions(db: Path) -> int:
    with Store(db) as store:
        return store.cursor().execute(
            "SELECT (SELECT count(*) FROM segment_versions) + (SELECT count(*) FROM segment_assignments)").fetchone()[0]


@pytest.fixture
def tiny(tiny_sample_file, tmp_path) -> Path:
    """A path to a fresh copy of the tiny sample database."""
    return copy_of(tiny_sample_file, tmp_path)


# Planted data: three groups of 8 products selling about 50, 1,000 and 2,000 units every week
# (within 5 %) for 20 weeks at price 1. The gaps between groups dwarf the spread inside them,
# and the low group holds under 2 % of revenue.
GROUP_VOLUMES = {"low": 50.0, "mid": 1_000.0, "high": 2_000.0}


def planted_database(path: Path, price: float | None) -> Path:
    rng = np.random.default_rng(3)
    rows = []
    monday = dt.date(2025, 1, 6)
    for group, volume in GROUP_VOLUMES.items():
        for i in range(8):
            for week in range(20):
                quantity = round(volume * rng.uniform(0.95, 1.05))
                rows.append({"order_id": f"{group}-{i}-{week}", "order_date": monday + dt.timedelta(weeks=week),
                             "customer_id": f"C{i % 4}", "product_id": f"{group}-{i}", "quantity": quantity,
                             "unit_price": price})
    orders = pd.DataFrame(rows).astype({"unit_price": "float64"})
    with Store(path) as store, store.transaction() as cur:
        cur.register("planted_orders", orders)
        cur.execute("INSERT INTO orders (order_id, order_date, customer_id, product_id, quantity, unit_price) "
                    "SELECT order_id, order_date, customer_id, product_id, quantity, unit_price FROM planted_orders")
        cur.unregister("planted_orders")
    return path


@pytest.fixture
def planted(tmp_path) -> Path:
    return planted_database(tmp_path / "planted.duckdb", price=1.0)


def test_without_prices_the_default_measure_is_quantity(tmp_path):
    db = planted_database(tmp_path / "no_price.duckdb", price=None)
    args = ["segment", "--level", "product", "--method", "kmeans", "--k", "auto", "--features", "quantity,demand_mean"]
    result = invoke(db, *args)
    assert result.exit_code == 0, result.output
    assert "ABC on quantity" in result.stdout and "k = 2" in result.stdout  # low group merged (share < 5 %)
    assert "% of quantity" in result.stdout
    explicit = invoke(db, *args, "--measure", "revenue")
    assert explicit.exit_code == 1 and "'revenue' sums to zero" in explicit.stderr


def group_of(product_id: str) -> str:
    return product_id.split("-")[0]


def test_json_output_has_exactly_version_k_metrics_and_carried_overrides(tiny):
    result = invoke(tiny, "segment", "--level", "product", "--method", "kmeans", "--k", "auto", "--seed", "0", "--json")
    assert result.exit_code == 0, result.output
    out = strict_json(result.stdout)
    assert set(out) == {"version", "k", "metrics", "carried_overrides"}
    assert out["version"] == 1 and isinstance(out["k"], int) and out["k"] >= 2
    assert {"silhouette", "davies_bouldin", "calinski_harabasz"} <= set(out["metrics"])
    assert all(v is None or isinstance(v, float) for v in out["metrics"].values())


def test_json_metrics_of_rule_methods_are_strict_json(tiny):
    for method in ("abc_xyz", "demand_pattern"):
        result = invoke(tiny, "segment", "--level", "customer", "--method", method, "--k", "auto", "--json")
        assert result.exit_code == 0, result.output
        out = strict_json(result.stdout)
        assert set(out) == {"version", "k", "metrics", "carried_overrides"}


@pytest.mark.parametrize("level, keys", [
    ("product", ["product_id"]),
    ("customer", ["customer_id"]),
    ("customer_product", ["customer_id", "product_id"]),
])
def test_assignments_csv_columns(tiny, tmp_path, level, keys):
    result = invoke(tiny, "segment", "--level", level, "--method", "kmeans", "--k", "3", "--min-share", "0", "--json")
    assert result.exit_code == 0, result.output
    version = strict_json(result.stdout)["version"]
    out = tmp_path / "sub" / "assignments.csv"
    result = invoke(tiny, "assignments", "--version", str(version), "--out", str(out))
    assert result.exit_code == 0, result.output
    frame = pd.read_csv(out)
    assert list(frame.columns) == [*keys, *BOUNDARY_COLUMNS]
    assert not frame.duplicated(keys).any()
    assert set(frame["segment"]) == {0, 1, 2}
    assert np.allclose(frame["boundary_margin"], frame["distance_next"] - frame["distance_own"])
    assert frame["segment_label"].notna().all()


def test_auto_k_finds_the_planted_volume_groups(planted, tmp_path):
    result = invoke(planted, "segment", "--level", "product", "--method", "kmeans", "--k", "auto",
                    "--features", "quantity,revenue,demand_mean", "--min-share", "0", "--json")
    assert result.exit_code == 0, result.output
    out = strict_json(result.stdout)
    assert out["k"] == 3
    csv = tmp_path / "a.csv"
    assert invoke(planted, "assignments", "--version", str(out["version"]), "--out", str(csv)).exit_code == 0
    frame = pd.read_csv(csv)
    by_group = frame.groupby(frame["product_id"].map(group_of))["segment"].agg(set)
    assert all(len(s) == 1 for s in by_group)  # each group in one segment
    assert len(set().union(*by_group)) == 3  # and each in its own
    assert by_group["high"] == {0}  # segments numbered by falling revenue share


def test_small_segment_is_merged_and_reported(planted, tmp_path):
    # The low group holds about 1.6 % of revenue: below --min-share 0.05 it merges into the nearest (mid).
    result = invoke(planted, "segment", "--level", "product", "--method", "kmeans", "--k", "3",
                    "--features", "quantity,revenue,demand_mean", "--min-share", "0.05")
    assert result.exit_code == 0, result.output
    assert "k = 2" in result.stdout
    assert "merged 2 into 1" in result.stdout and "below the minimum 5.0%" in result.stdout
    csv = tmp_path / "a.csv"
    assert invoke(planted, "assignments", "--version", "1", "--out", str(csv)).exit_code == 0
    frame = pd.read_csv(csv)
    segments = frame.groupby(frame["product_id"].map(group_of))["segment"].agg(set)
    assert segments["low"] == segments["mid"] == {1} and segments["high"] == {0}


def test_fixed_k_and_weights_and_same_seed_same_result(planted, tmp_path):
    args = ["segment", "--level", "product", "--method", "hierarchical", "--k", "3", "--min-share", "0",
            "--features", "quantity,revenue,demand_mean,cv", "--weights", "quantity=2,cv=0", "--seed", "5", "--json"]
    first, second = strict_json(invoke(planted, *args).stdout), strict_json(invoke(planted, *args).stdout)
    assert first["k"] == second["k"] == 3 and first["metrics"] == second["metrics"]
    frames = []
    for version in (first["version"], second["version"]):
        csv = tmp_path / f"{version}.csv"
        assert invoke(planted, "assignments", "--version", str(version), "--out", str(csv)).exit_code == 0
        frames.append(pd.read_csv(csv))
    pd.testing.assert_frame_equal(frames[0], frames[1])


def test_hdbscan_finds_the_planted_groups_with_a_small_min_cluster_size(planted, tmp_path):
    args = ["segment", "--level", "product", "--method", "hdbscan", "--features", "quantity,revenue,demand_mean",
            "--min-share", "0"]
    too_big = invoke(planted, *args)  # default smallest group: 10 items, the groups hold 8
    assert too_big.exit_code == 1 and "found no group" in too_big.stderr
    result = invoke(planted, *args, "--min-cluster-size", "5", "--json")
    assert result.exit_code == 0, result.output
    out = strict_json(result.stdout)
    assert out["k"] == 3 and out["metrics"]["unclassified_items"] == 0
    wrong = invoke(planted, "segment", "--level", "product", "--method", "kmeans", "--min-cluster-size", "5")
    assert wrong.exit_code == 1 and "--min-cluster-size is given with --method kmeans" in wrong.stderr


def test_rules_from_a_json_file(tiny, tmp_path):
    rules = tmp_path / "rules.json"
    rules.write_text(json.dumps([{"name": "Key", "when": [["abc", "==", "A"]]},
                                 {"name": "Slow", "when": [["xyz", "==", "Z"]]},
                                 {"name": "Other"}]))
    result = invoke(tiny, "segment", "--level", "product", "--method", "rules", "--rules", str(rules), "--json")
    assert result.exit_code == 0, result.output
    version = strict_json(result.stdout)["version"]
    csv = tmp_path / "a.csv"
    assert invoke(tiny, "assignments", "--version", str(version), "--out", str(csv)).exit_code == 0
    frame = pd.read_csv(csv)
    assert set(frame["segment"]) <= {"Key", "Slow", "Other"} and "Key" in set(frame["segment"])
    assert frame["distance_own"].isna().all()


def test_versions_lists_newest_first_and_filters_by_level(tiny):
    invoke(tiny, "segment", "--level", "product", "--method", "abc_xyz")
    invoke(tiny, "segment", "--level", "customer", "--method", "demand_pattern")
    result = invoke(tiny, "versions")
    assert result.exit_code == 0, result.output
    lines = result.stdout.strip().splitlines()
    assert [line.split()[0] for line in lines] == ["2", "1"]
    assert "nine_box" in lines[1] and "demand_pattern" in lines[0]
    only = invoke(tiny, "versions", "--level", "product").stdout.strip().splitlines()
    assert [line.split()[0] for line in only] == ["1"]


def test_human_summary_names_version_k_and_sizes(tiny):
    result = invoke(tiny, "segment", "--level", "product", "--method", "kmeans", "--k", "2", "--min-share", "0")
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("version 1: kmeans on 60 product items")
    segment_lines = [line for line in result.stdout.splitlines() if "% of revenue" in line]
    assert "k = 2" in result.stdout and len(segment_lines) == 2


@pytest.mark.parametrize("args, message", [
    (["--features", "revenue,colour"], "unknown feature 'colour'"),
    (["--weights", "revenue=6"], "weight of 'revenue' is 6"),
    (["--weights", "revenue=-1"], "weight of 'revenue' is -1"),
    (["--weights", "revenue:2"], "is not FEATURE=WEIGHT"),
    (["--weights", "=2"], "is not FEATURE=WEIGHT"),
    (["--weights", "revenue=lots"], "is not FEATURE=WEIGHT"),
    (["--weights", "colour=2"], "unknown feature 'colour'"),
    (["--k", "three"], "--k 'three' is not a whole number"),
    (["--k", "2.5"], "--k '2.5' is not a whole number"),
    (["--k", "1000"], "k: 1000"),
    (["--min-share", "1.5"], "min_share"),
    (["--bucket", "day"], "unknown bucket 'day'"),
    (["--measure", "profit"], "unknown measure 'profit'"),
    (["--rules", "rules.json"], "--rules rules.json is given with --method kmeans"),
])
def test_bad_segment_inputs_fail_on_one_line_and_write_nothing(tiny, args, message):
    result = invoke(tiny, "segment", "--level", "product", "--method", "kmeans", *args)
    assert result.exit_code == 1, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("segplan: error: ") and message in lines[0], result.stderr
    assert saved_versions(tiny) == 0


@pytest.mark.parametrize("level, method, message", [
    ("products", "kmeans", "unknown level 'products'"),
    ("product", "spectral", "--method 'spectral' is unknown"),
    ("product", "rules", "needs a rule list"),
])
def test_bad_level_or_method_fail_on_one_line(tiny, level, method, message):
    result = invoke(tiny, "segment", "--level", level, "--method", method)
    assert result.exit_code == 1 and message in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert saved_versions(tiny) == 0


def test_bad_rules_files(tiny, tmp_path):
    missing = tmp_path / "missing.json"
    broken = tmp_path / "broken.json"
    broken.write_text("[{\"name\": ")
    not_list = tmp_path / "object.json"
    not_list.write_text('{"name": "Other"}')
    for path, message in ((missing, "file not found"), (broken, "not valid JSON"), (not_list, "not a list")):
        result = invoke(tiny, "segment", "--level", "product", "--method", "rules", "--rules", str(path))
        assert result.exit_code == 1 and message in result.stderr, result.output
    assert saved_versions(tiny) == 0


def test_unknown_version(tiny, tmp_path):
    out = tmp_path / "a.csv"
    result = invoke(tiny, "assignments", "--version", "42", "--out", str(out))
    assert result.exit_code == 1
    assert result.stderr.strip().startswith("segplan: error: version 42 does not exist")
    assert not out.exists()


def test_segment_says_what_carry_over_did(tiny):
    # version 1 has no earlier version: nothing carried, nothing said, an empty report in --json
    first = invoke(tiny, "segment", "--level", "product", "--method", "kmeans", "--k", "2", "--min-share", "0",
                   "--json")
    assert first.exit_code == 0, first.output
    assert strict_json(first.stdout)["carried_overrides"] == {"from_version": None, "carried": 0, "model_agrees": 0,
                                                              "not_carried": []}
    from core.overrides import add_override
    from core.versions import assignments as version_assignments

    with Store(tiny) as store:
        saved = version_assignments(store, 1)
        # two items moved against the model: into the other segment of the same two
        moved = {saved.loc[saved["segment"] == 0, "product_id"].iloc[0]: "1",
                 saved.loc[saved["segment"] == 1, "product_id"].iloc[0]: "0"}
        for item, target in moved.items():
            add_override(store, 1, item, target, "pat", "planner knows better")
    # the same settings and data give the same model: both overrides carried, neither agrees with the model
    second = invoke(tiny, "segment", "--level", "product", "--method", "kmeans", "--k", "2", "--min-share", "0")
    assert second.exit_code == 0, second.output
    assert second.stdout.splitlines()[-1] == "carried 2 overrides from version 1 (0 now agree with the model)"
    with Store(tiny) as store:
        carried = store.cursor().execute(
            "SELECT product_id, segment FROM segment_overrides WHERE version_id = 2 ORDER BY product_id").fetchall()
    assert dict(carried) == moved
    third = invoke(tiny, "segment", "--level", "product", "--method", "kmeans", "--k", "2", "--min-share", "0",
                   "--json")
    assert third.exit_code == 0, third.output
    assert strict_json(third.stdout)["carried_overrides"] == {"from_version": 2, "carried": 2, "model_agrees": 0,
                                                              "not_carried": []}
