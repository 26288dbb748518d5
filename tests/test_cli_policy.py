"""`segplan forecast`, `segplan policy`, `segplan allocate`: the contracts scripts rely on."""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from core.cli import app
from core.policy import SegmentPolicy
from core.policy_plan import save_policies
from core.sample import build_tiny_database
from core.store import Store
from core.versions import assignments, run_segmentation

runner = CliRunner()
POLICY_COLUMNS = ["product_id", "segment", "service_level", "safety_stock", "reorder_point", "order_quantity",
                  "forecast_method", "demand_mean", "demand_std", "lead_time", "lead_time_std", "z", "bucket"]
ALLOCATION_COLUMNS = ["segment", "allocation_tier", "allocated_quantity", "cut_quantity"]


def invoke(db: Path, *args: str):
    return runner.invoke(app, ["--db", str(db), *args])


def error_line(result) -> str:
    """The one line a failed command prints."""
    assert result.exit_code == 1, result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("segplan: error: "), result.output
    return lines[0]


@pytest.fixture(scope="module")
def tiny_file(tmp_path_factory) -> tuple[Path, dict[str, int]]:
    path = tmp_path_factory.mktemp("cli_policy") / "tiny.duckdb"
    with Store(path) as store:
        build_tiny_database(store)
        ids = {"product": run_segmentation(store, "product", "abc_xyz").version_id,
               "customer": run_segmentation(store, "customer", "kmeans", k=2).version_id}
    return path, ids


@pytest.fixture
def tiny(tiny_file, tmp_path) -> tuple[Path, dict[str, int]]:
    path, ids = tiny_file
    copy = tmp_path / "tiny.duckdb"
    shutil.copy(path, copy)
    return copy, ids


# -- forecast ------------------------------------------------------------------------------------
@pytest.mark.parametrize("bucket, step", [("week", 7), ("month", None)])
def test_forecast_columns_are_product_method_and_one_per_future_bucket(tiny, tmp_path, bucket, step):
    db, _ = tiny
    out = tmp_path / "forecast.csv"
    result = invoke(db, "forecast", "--level", "product", "--bucket", bucket, "--horizon", "4", "--out", str(out))
    assert result.exit_code == 0, result.output
    frame = pd.read_csv(out, dtype={"product_id": str})
    assert list(frame.columns[:2]) == ["product_id", "method"]
    periods = [c for c in frame.columns if c not in ("product_id", "method", "fallback_reason")]
    assert len(periods) == 4
    dates = [dt.date.fromisoformat(c) for c in periods]
    with Store(db) as store:
        last = store.cursor().execute("SELECT max(order_date) FROM orders").fetchone()[0]
        products = store.cursor().execute("SELECT count(DISTINCT product_id) FROM orders").fetchone()[0]
    if step:
        assert all(d.weekday() == 0 for d in dates)
        assert [(b - a).days for a, b in zip(dates, dates[1:])] == [step] * 3
        assert dates[0] == last - dt.timedelta(days=last.weekday()) + dt.timedelta(days=7)
    else:
        assert all(d.day == 1 for d in dates) and dates[0] > last
    assert len(frame) == products == frame["product_id"].nunique()
    assert (frame[periods] >= 0).all().all() and frame[periods].notna().all().all()
    assert set(frame["method"]) <= {"ses", "holt", "holt_winters", "croston", "sba", "tsb", "zero", "mean"}


def test_forecast_with_fixed_method_and_alpha(tiny, tmp_path):
    db, _ = tiny
    out = tmp_path / "f.csv"
    result = invoke(db, "forecast", "--level", "product", "--method", "ses", "--alpha", "0.3", "--out", str(out))
    assert result.exit_code == 0, result.output
    frame = pd.read_csv(out)
    assert len([c for c in frame.columns if c[:2] == "20"]) == 12  # default horizon
    assert set(frame["method"]) <= {"ses", "zero", "mean"}


@pytest.mark.parametrize("args, words", [
    (("--method", "magic"), "--method 'magic' is unknown"),
    (("--alpha", "1.5"), "alpha"),
    (("--horizon", "0"), "horizon"),
])
def test_forecast_bad_options_fail_on_one_line_and_write_nothing(tiny, tmp_path, args, words):
    db, _ = tiny
    out = tmp_path / "f.csv"
    line = error_line(invoke(db, "forecast", "--level", "product", *args, "--out", str(out)))
    assert words in line
    assert not out.exists()


# -- policy --------------------------------------------------------------------------------------
def test_policy_columns_and_figures(tiny, tmp_path):
    db, ids = tiny
    out = tmp_path / "policy.csv"
    result = invoke(db, "policy", "--version", str(ids["product"]), "--out", str(out))
    assert result.exit_code == 0, result.output
    frame = pd.read_csv(out, dtype={"product_id": str, "segment": str})
    assert list(frame.columns[: len(POLICY_COLUMNS)]) == POLICY_COLUMNS
    assert frame["product_id"].is_unique
    assert {"lead_time_source", "inventory_strategy", "demand_std_source"} <= set(frame.columns)
    stocked = frame["inventory_strategy"] != "make_to_order"
    assert (frame.loc[~stocked, ["safety_stock", "reorder_point", "order_quantity"]] == 0).all().all()
    assert (frame.loc[stocked, "reorder_point"] >= frame.loc[stocked, "safety_stock"]).all()
    assert (frame["bucket"] == "week").all()


def test_policy_eoq_and_forecast_errors(tiny, tmp_path):
    db, ids = tiny
    out = tmp_path / "policy.csv"
    result = invoke(db, "policy", "--version", str(ids["product"]), "--out", str(out), "--ordering-cost", "40",
                    "--holding-rate", "0.25", "--demand-source", "forecast_errors", "--bucket", "month")
    assert result.exit_code == 0, result.output
    frame = pd.read_csv(out)
    assert list(frame.columns[: len(POLICY_COLUMNS)]) == POLICY_COLUMNS
    assert (frame["demand_std_source"] == "forecast_rmse").any()
    assert (frame["bucket"] == "month").all()


def test_policy_uses_saved_policies(tiny, tmp_path):
    db, ids = tiny
    with Store(db) as store:
        segment = assignments(store, ids["product"])["segment"].astype(str).iloc[0]
        save_policies(store, ids["product"], [SegmentPolicy(segment, 0.5, forecast_method="croston")])
    out = tmp_path / "policy.csv"
    assert invoke(db, "policy", "--version", str(ids["product"]), "--out", str(out)).exit_code == 0
    frame = pd.read_csv(out, dtype={"segment": str})
    mine = frame[frame["segment"] == segment]
    assert (mine["service_level"] == 0.5).all() and (mine["forecast_method"] == "croston").all()
    assert (mine["z"] == 0).all() and (mine["safety_stock"] == 0).all()  # z = Phi^-1(0.5) = 0


def test_policy_without_any_lead_time_assumes_one_bucket_and_says_so(tiny, tmp_path):
    db, ids = tiny
    with Store(db) as store, store.transaction() as cur:
        cur.execute("UPDATE products SET lead_time_days = NULL, lead_time_std_days = NULL")
        cur.execute("UPDATE orders SET delivered_date = NULL, ship_date = NULL")
    out = tmp_path / "policy.csv"
    result = invoke(db, "policy", "--version", str(ids["product"]), "--out", str(out))
    assert result.exit_code == 0, result.output
    assert "one week was assumed" in result.output and "--default-lead-time-days" in result.output
    frame = pd.read_csv(out)
    assert (frame["lead_time_source"] == "assumed_one_bucket").all() and (frame["lead_time"] == 1.0).all()
    result = invoke(db, "policy", "--version", str(ids["product"]), "--out", str(out),
                    "--default-lead-time-days", "21")
    assert result.exit_code == 0 and "assumed" not in result.output
    frame = pd.read_csv(out)
    assert (frame["lead_time_source"] == "default").all() and (frame["lead_time"] == 3.0).all()


@pytest.mark.parametrize("args, words", [
    (("--version", "999"), "version 999 does not exist"),
    (("--version", "CUSTOMER"), "segments customers"),
    (("--version", "PRODUCT", "--ordering-cost", "10"), "go together"),
    (("--version", "PRODUCT", "--ordering-cost", "-1", "--holding-rate", "0.2"), "ordering_cost"),
    (("--version", "PRODUCT", "--default-lead-time-days", "-3"), "negative"),
])
def test_policy_errors_fail_on_one_line_and_write_nothing(tiny, tmp_path, args, words):
    db, ids = tiny
    args = tuple(str(ids[a.lower()]) if a in ("CUSTOMER", "PRODUCT") else a for a in args)
    out = tmp_path / "policy.csv"
    assert words in error_line(invoke(db, "policy", *args, "--out", str(out)))
    assert not out.exists()


def test_policy_bad_demand_source_exits_nonzero(tiny, tmp_path):
    db, ids = tiny
    out = tmp_path / "policy.csv"
    result = invoke(db, "policy", "--version", str(ids["product"]), "--demand-source", "magic", "--out", str(out))
    assert result.exit_code != 0 and not out.exists()


# -- allocate ------------------------------------------------------------------------------------
def write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


@pytest.fixture
def customer_tiers(tiny):
    """A customer-level version whose first segment is tier 1 and second tier 2; one customer of each."""
    db, ids = tiny
    with Store(db) as store:
        frame = assignments(store, ids["customer"])
        segments = sorted(frame["segment"].astype(str).unique())
        assert len(segments) >= 2
        save_policies(store, ids["customer"], [SegmentPolicy(s, 0.9, allocation_tier=1 if s == segments[0] else 2)
                                               for s in segments])
        first = frame.loc[frame["segment"].astype(str) == segments[0], "customer_id"].tolist()
        second = frame.loc[frame["segment"].astype(str) == segments[1], "customer_id"].tolist()
    return db, ids["customer"], segments, first, second


def test_allocate_never_gives_a_lower_tier_what_a_higher_tier_lacks(customer_tiers, tmp_path):
    db, version, segments, high, low = customer_tiers
    supply = write(tmp_path / "supply.csv", "product_id,available_quantity\nP-1,15\nP-2,9\nP-3,4\n")
    orders = write(tmp_path / "orders.csv", "Order_ID,line_number,customer_id,Product_ID,quantity,Note\n"
                   f"A,1,{low[0]},P-1,10,x\n"     # tier 2 first in the file: still served last
                   f"B,1,{high[0]},P-1,10,y\n"
                   f"C,1,{high[0]},P-2,7,\n"
                   f"D,1,{high[1]},P-2,7,\n"      # one tier, 9 for 14: 5 and 4 (remainder tie: order id)
                   f"E,2,{low[0]},P-3,3,\n"
                   f"E,1,NEW-CUSTOMER,P-3,3,\n")  # not in the version: after every tier
    out = tmp_path / "allocated.csv"
    result = invoke(db, "allocate", "--version", str(version), "--supply", str(supply), "--orders", str(orders),
                    "--out", str(out))
    assert result.exit_code == 0, result.output
    frame = pd.read_csv(out, dtype={"segment": str, "customer_id": str}, keep_default_na=False)
    assert list(frame.columns) == ["order_id", "line_number", "customer_id", "product_id", "quantity", "Note",
                                   *ALLOCATION_COLUMNS]
    assert frame["allocation_tier"].tolist() == [2, 1, 1, 1, 2, 3]
    assert frame["segment"].tolist()[:5] == [segments[1], segments[0], segments[0], segments[0], segments[1]]
    assert frame["segment"].iloc[5] == "(not in version)"
    assert frame["allocated_quantity"].tolist() == [5, 10, 5, 4, 3, 1]
    assert (frame["cut_quantity"] == frame["quantity"] - frame["allocated_quantity"]).all()
    assert frame["Note"].tolist()[:2] == ["x", "y"]
    assert "fill rate" in result.output and segments[0] in result.output


def test_allocate_at_product_level_with_stock_synonym_and_no_line_numbers(tiny, tmp_path):
    db, ids = tiny
    with Store(db) as store:
        frame = assignments(store, ids["product"])
    product = frame["product_id"].iloc[0]
    supply = write(tmp_path / "supply.csv", f"product_id,stock\n{product},5\n{product},2\n")
    orders = write(tmp_path / "orders.csv", f"order_id,customer_id,product_id,quantity\nO1,C1,{product},4\n"
                   f"O2,C2,{product},4\n")
    out = tmp_path / "allocated.csv"
    result = invoke(db, "allocate", "--version", str(ids["product"]), "--supply", str(supply), "--orders",
                    str(orders), "--out", str(out))
    assert result.exit_code == 0, result.output
    allocated = pd.read_csv(out)
    assert allocated["allocated_quantity"].tolist() == [4, 3]  # 7 for 8: 3.5 each, the tie to order O1
    assert allocated["segment"].nunique() == 1


@pytest.mark.parametrize("supply_text, orders_text, words", [
    ("product_id,available_quantity\nP-1,5\n", "order_id,customer_id,product_id\nA,C,P-1\n",
     "orders file {orders}: column 'quantity' is missing"),
    ("product_id,available_quantity\nP-1,5\n", "order_id,customer_id,product_id,quantity\nA,C,P-1,2\nB,C,P-1,2.5\n",
     "orders file {orders}, row 3, column 'quantity': '2.5'"),
    ("product_id,available_quantity\nP-1,5\n", "order_id,customer_id,product_id,quantity\nA,C,P-1,-2\n",
     "row 2, column 'quantity'"),
    ("product_id,available_quantity\nP-1,5\n,3\n", "order_id,customer_id,product_id,quantity\nA,C,P-1,2\n",
     "supply file {supply}, row 3, column 'product_id': is empty"),
    ("product_id,count\nP-1,5\n", "order_id,customer_id,product_id,quantity\nA,C,P-1,2\n",
     "supply file {supply}: no column available_quantity"),
    ("product_id,available_quantity\nP-1,many\n", "order_id,customer_id,product_id,quantity\nA,C,P-1,2\n",
     "supply file {supply}, row 2, column 'available_quantity': 'many'"),
    ("", "order_id,customer_id,product_id,quantity\nA,C,P-1,2\n", "supply file {supply}: is empty"),
])
def test_allocate_bad_files_name_file_row_and_column(tiny, tmp_path, supply_text, orders_text, words):
    db, ids = tiny
    supply = write(tmp_path / "supply.csv", supply_text)
    orders = write(tmp_path / "orders.csv", orders_text)
    out = tmp_path / "allocated.csv"
    line = error_line(invoke(db, "allocate", "--version", str(ids["customer"]), "--supply", str(supply),
                             "--orders", str(orders), "--out", str(out)))
    assert words.format(supply=supply, orders=orders) in line
    assert not out.exists()


def test_allocate_missing_file_and_unknown_version(tiny, tmp_path):
    db, ids = tiny
    orders = write(tmp_path / "orders.csv", "order_id,customer_id,product_id,quantity\nA,C,P-1,2\n")
    out = tmp_path / "allocated.csv"
    line = error_line(invoke(db, "allocate", "--version", str(ids["product"]), "--supply",
                             str(tmp_path / "none.csv"), "--orders", str(orders), "--out", str(out)))
    assert "none.csv: not found" in line
    line = error_line(invoke(db, "allocate", "--version", "999", "--supply", str(orders), "--orders", str(orders),
                             "--out", str(out)))
    assert "version 999 does not exist" in line
    assert not out.exists()
