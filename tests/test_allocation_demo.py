"""Allocation by segment on the Policies page's path: uploaded stock and open lines read by
`core.policy_plan.read_supply` / `read_orders`, the demo from the order history, and
`allocate_version` with unsaved policies."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from core.allocation_demo import demo_inputs
from core.errors import SegplanError
from core.policy import SegmentPolicy
from core.policy_plan import NOT_IN_VERSION, allocate_version, read_orders, read_supply, save_policies
from core.sample import build_tiny_database
from core.store import Store
from core.versions import assignments, run_segmentation


@pytest.fixture
def product_version(tmp_path: Path):
    """The tiny database with a product-level ABC x XYZ version: (store, version id, assignments)."""
    with Store(tmp_path / "tiny.duckdb") as store:
        build_tiny_database(store)
        version = run_segmentation(store, "product", "abc_xyz", user="test").version_id
        yield store, version, assignments(store, version)


def test_read_supply_and_orders_as_the_page_uploads_them(tmp_path: Path):
    stock_file = tmp_path / "stock.csv"
    stock_file.write_text("Product_ID,available_quantity\nP1,10\nP2,3.0\n")
    stock = read_supply(stock_file)
    assert stock.to_dict("records") == [{"product_id": "P1", "available_quantity": 10},
                                        {"product_id": "P2", "available_quantity": 3}]
    stock_file.write_text("product_id,on_hand\nP1,4\n")
    assert read_supply(stock_file)["available_quantity"].tolist() == [4]
    lines_file = tmp_path / "lines.csv"
    lines_file.write_text("order_id,product_id,quantity\nO1,P1,4\nO1,P2,2\nO2,P1,9\n")
    lines = read_orders(lines_file)
    assert lines["product_id"].tolist() == ["P1", "P2", "P1"]
    assert lines["quantity"].tolist() == [4, 2, 9]


def test_read_files_name_the_missing_column_and_bad_value(tmp_path: Path):
    bad = tmp_path / "bad.csv"
    bad.write_text("product_id,stock_level\nP1,3\n")
    with pytest.raises(SegplanError, match="no column available_quantity"):
        read_supply(bad)
    bad.write_text("order_id,product_id,quantity\nO1,P1,many\n")
    with pytest.raises(SegplanError, match="row 2, column 'quantity': 'many'"):
        read_orders(bad)


def test_unsaved_policies_serve_tier_one_first_and_put_unknown_products_last(product_version):
    store, version, assigned = product_version
    segments = sorted(assigned["segment"].astype(str).unique())
    top, tail = segments[0], segments[-1]
    p1 = str(assigned.loc[assigned["segment"].astype(str) == top, "product_id"].iloc[0])
    p2 = str(assigned.loc[assigned["segment"].astype(str) == tail, "product_id"].iloc[0])
    policies = [SegmentPolicy(s, 0.9, allocation_tier=1 if s == top else 3) for s in segments]
    lines = pd.DataFrame({"order_id": ["O1", "O2", "O3"], "product_id": [p1, p2, "P-NOT-THERE"],
                          "quantity": [5, 5, 5]})
    supply = pd.DataFrame({"product_id": [p1, p2, "P-NOT-THERE"], "available_quantity": [5, 2, 1]})
    result = allocate_version(store, version, supply, lines, policies=policies)
    assert result.summary["segment"].tolist() == [top, tail, NOT_IN_VERSION]
    assert result.summary["allocation_tier"].tolist() == [1, 3, 4]
    assert result.summary["fill_rate"].tolist() == pytest.approx([1.0, 0.4, 0.2])
    assert result.lines["cut_quantity"].tolist() == [0, 3, 4]
    assert result.lines["allocation_tier"].tolist() == [1, 3, 4]


def test_unsaved_policies_override_the_saved_ones_and_must_cover_every_segment(product_version):
    store, version, assigned = product_version
    segments = sorted(assigned["segment"].astype(str).unique())
    save_policies(store, version, [SegmentPolicy(s, 0.9, allocation_tier=1) for s in segments])
    product = str(assigned.loc[assigned["segment"].astype(str) == segments[0], "product_id"].iloc[0])
    lines = pd.DataFrame({"order_id": ["O1"], "product_id": [product], "quantity": [2]})
    supply = pd.DataFrame({"product_id": [product], "available_quantity": [1]})
    assert allocate_version(store, version, supply, lines).lines["allocation_tier"].tolist() == [1]
    edited = [SegmentPolicy(s, 0.9, allocation_tier=2) for s in segments]
    assert allocate_version(store, version, supply, lines, policies=edited).lines["allocation_tier"].tolist() == [2]
    with pytest.raises(SegplanError, match=f"segment {segments[-1]!r} has no policy"):
        allocate_version(store, version, supply, lines, policies=edited[:-1])


def test_demo_takes_the_last_weeks_and_eighty_percent_as_stock(product_version):
    store, version, _ = product_version
    supply, lines = demo_inputs(store, weeks=4, stock_share=0.8)
    last = store.cursor().execute("SELECT max(order_date) FROM orders").fetchone()[0]
    assert (pd.to_datetime(lines["order_date"]) > pd.Timestamp(last) - pd.Timedelta(days=28)).all()
    assert (lines["quantity"] > 0).all()
    open_quantity = lines.groupby("product_id")["quantity"].sum()
    assert (supply.set_index("product_id")["available_quantity"] == (open_quantity * 0.8).astype(int)).all()
    with pytest.raises(SegplanError):
        demo_inputs(store, stock_share=1.5)
    # the demo has the readers' shape, so the one allocation takes it as it is
    result = allocate_version(store, version, supply, lines)
    assert len(result.lines) == len(lines)
    assert result.summary["fill_rate"].between(0.7, 0.85).all()
