"""Allocation inputs: uploaded stock and open lines, the demo from the order history, lines tagged by segment."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from core.allocation_demo import NOT_IN_VERSION, allocate_by_segment, demo_inputs, read_open_lines, read_stock
from core.errors import SegplanError
from core.policy import SegmentPolicy
from core.sample import build_tiny_database
from core.store import Store


@pytest.fixture
def policies() -> list[SegmentPolicy]:
    return [SegmentPolicy("A", 0.98, allocation_tier=1), SegmentPolicy("C", 0.9, allocation_tier=3)]


def test_read_stock_and_open_lines(tmp_path: Path):
    stock_file = tmp_path / "stock.csv"
    stock_file.write_text("Product_ID,available_quantity\nP1,10\nP2,3.0\n")
    stock = read_stock(stock_file)
    assert stock.to_dict("records") == [{"product_id": "P1", "available": 10}, {"product_id": "P2", "available": 3}]
    lines_file = tmp_path / "lines.csv"
    lines_file.write_text("order_id,product_id,quantity\nO1,P1,4\nO1,P2,2\nO2,P1,9\n")
    lines = read_open_lines(lines_file)
    assert lines["line"].tolist() == ["1", "2", "1"]
    assert lines["quantity"].tolist() == [4, 2, 9]


def test_read_files_name_the_missing_column_and_bad_value(tmp_path: Path):
    bad = tmp_path / "bad.csv"
    bad.write_text("product_id,stock_level\nP1,3\n")
    with pytest.raises(SegplanError, match="'available_quantity' is missing"):
        read_stock(bad)
    bad.write_text("order_id,product_id,quantity\nO1,P1,many\n")
    with pytest.raises(SegplanError, match="value 'many' \\(row 2 of the file\\)"):
        read_open_lines(bad)


def test_allocation_by_segment_serves_tier_one_first_and_puts_unknown_products_last(policies):
    # One product ordered by lines of two segments (as at customer x product level) and a product not in the version.
    assignments = pd.DataFrame({"product_id": ["P1", "P2"], "segment": ["A", "C"], "segment_label": ["Top", "Tail"]})
    lines = pd.DataFrame({"order_id": ["O1", "O2", "O3"], "line": ["1", "1", "1"],
                          "product_id": ["P1", "P2", "P9"], "quantity": [5, 5, 5]})
    stock = pd.DataFrame({"product_id": ["P1", "P2", "P9"], "available": [5, 2, 1]})
    result = allocate_by_segment(stock, lines, assignments, policies)
    assert result.summary["segment"].tolist() == ["Top", "Tail", NOT_IN_VERSION]
    assert result.summary["allocation_tier"].tolist() == [1, 3, 4]
    assert result.summary["fill_rate"].tolist() == pytest.approx([1.0, 0.4, 0.2])
    assert result.lines["cut"].tolist() == [0, 3, 4]


def test_demo_takes_the_last_weeks_and_eighty_percent_as_stock(tmp_path: Path):
    with Store(tmp_path / "tiny.duckdb") as store:
        build_tiny_database(store)
        stock, lines = demo_inputs(store, weeks=4, stock_share=0.8)
        last = store.cursor().execute("SELECT max(order_date) FROM orders").fetchone()[0]
    assert (pd.to_datetime(lines["order_date"]) > pd.Timestamp(last) - pd.Timedelta(days=28)).all()
    assert (lines["quantity"] > 0).all()
    open_quantity = lines.groupby("product_id")["quantity"].sum()
    assert (stock.set_index("product_id")["available"] == (open_quantity * 0.8).astype(int)).all()
    with pytest.raises(SegplanError):
        demo_inputs(store, stock_share=1.5)
