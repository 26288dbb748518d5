"""Inventory snapshots: the table, its ingest, inventory turns per segment and period by hand, the sample's stock."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from core.ingest import ingest_file, rejects
from core.kpi import NOT_IN_VERSION
from core.kpi_inventory import PERIODS_PER_YEAR, TURNS_COLUMNS, segment_inventory_turns
from core.versions import run_segmentation
from tests.test_pages import empty_db  # noqa: F401 - fixture

# order_id, order_date, product_id, quantity, unit_cost (None: products.unit_cost)
LINES = [
    ("O1", "2024-01-02", "P1", 10, None),   # cost 10 * 2 = 20 (products)
    ("O2", "2024-01-03", "P2", 4, 6.0),     # cost 4 * 6 = 24 (the line's own unit cost)
    ("R1", "2024-01-04", "P1", -2, None),   # a return: not a sale
    ("O3", "2024-01-09", "P1", 5, None),    # week 2: cost 10, no snapshot that week
]
PRODUCTS = [("P1", 2.0), ("P2", 5.0), ("P3", 1.0)]
# snapshot_date, product_id, on_hand_quantity, unit_cost (None: products.unit_cost)
SNAPSHOTS = [
    ("2024-01-01", "P1", 30, None),   # 60
    ("2024-01-01", "P2", 10, None),   # 50
    ("2024-01-04", "P1", 20, 2.5),    # 50 at the snapshot's own cost; P2 has no row: holds nothing
    ("2024-01-01", "P3", 7, None),    # 7: a product never ordered, so not in the version
    ("2024-01-15", "P4", 5, None),    # no cost anywhere: the value is unknown
]


@pytest.fixture
def stocked(store):
    with store.transaction() as cur:
        cur.executemany("INSERT INTO orders (order_id, order_date, customer_id, product_id, quantity, unit_cost) "
                        "VALUES (?, CAST(? AS DATE), 'C1', ?, ?, ?)", LINES)
        cur.executemany("INSERT INTO products (product_id, unit_cost) VALUES (?, ?)", PRODUCTS)
        cur.executemany("INSERT INTO inventory (snapshot_date, product_id, on_hand_quantity, unit_cost) "
                        "VALUES (CAST(? AS DATE), ?, ?, ?)", SNAPSHOTS)
    version = run_segmentation(store, "product", "rules", rules=[{"name": "All"}], min_share=0).version_id
    return store, version


def test_turns_by_hand(stocked):
    store, version = stocked
    frame = segment_inventory_turns(store, version, "week")
    assert list(frame.columns) == TURNS_COLUMNS
    rows = {(r.segment, r.period.date()): r for r in frame.itertuples()}
    week1, week2, week3 = dt.date(2024, 1, 1), dt.date(2024, 1, 8), dt.date(2024, 1, 15)
    assert set(rows) == {("All", week1), ("All", week2), (NOT_IN_VERSION, week1), (NOT_IN_VERSION, week3)}
    first = rows["All", week1]
    # COGS 20 + 24 = 44; stock on 1 Jan 60 + 50 = 110, on 4 Jan 50 (P2 absent = 0): mean 80
    assert (first.cost_of_goods_sold, first.inventory_snapshots, first.average_inventory_value) == (44, 2, 80)
    assert first.inventory_turns == pytest.approx(44 / 80)
    assert first.inventory_turns_annualised == pytest.approx(44 / 80 * 365.25 / 7)
    # week 2: sales but no snapshot, so no turns
    second = rows["All", week2]
    assert second.cost_of_goods_sold == 10 and second.inventory_snapshots == 0
    assert pd.isna(second.average_inventory_value) and pd.isna(second.inventory_turns)
    # P3 was never sold: stock 7 on one of the week's two dates, mean 3.5, nothing sold, 0 turns
    idle = rows[NOT_IN_VERSION, week1]
    assert (idle.cost_of_goods_sold, idle.average_inventory_value, idle.inventory_turns) == (0, 3.5, 0)
    # P4 has no unit cost: its value, and so its turns, are unknown rather than 0
    unknown = rows[NOT_IN_VERSION, week3]
    assert pd.isna(unknown.average_inventory_value) and pd.isna(unknown.inventory_turns)
    assert frame["segment"].tolist()[-1] == NOT_IN_VERSION  # outside the version comes last


def test_month_turns_average_all_the_months_snapshot_dates(stocked):
    store, version = stocked
    frame = segment_inventory_turns(store, version, "month")
    january = frame[frame["segment"] == "All"].iloc[0]
    # three snapshot dates in January (1, 4 and 15 Jan): (110 + 50 + 0) / 3; COGS 20 + 24 + 10
    assert january.inventory_snapshots == 3
    assert january.average_inventory_value == pytest.approx(160 / 3)
    assert january.inventory_turns == pytest.approx(54 / (160 / 3))
    assert january.inventory_turns_annualised == pytest.approx(54 / (160 / 3) * PERIODS_PER_YEAR["month"])


def test_no_turns_for_customer_versions_or_without_snapshots(stocked, store):
    stocked_store, _ = stocked
    customers = run_segmentation(stocked_store, "customer", "rules", rules=[{"name": "All"}], min_share=0).version_id
    frame = segment_inventory_turns(stocked_store, customers)
    assert frame.empty and "per product segment" in frame.attrs["reason"]
    with stocked_store.transaction() as cur:
        cur.execute("DELETE FROM inventory")
    products = run_segmentation(stocked_store, "product", "rules", rules=[{"name": "All"}], min_share=0).version_id
    assert "no inventory snapshots" in segment_inventory_turns(stocked_store, products).attrs["reason"]


def test_inventory_ingest_validates_and_rejects(store, tmp_path):
    path = tmp_path / "stock.csv"
    path.write_text(
        "Date,SKU,OnHand,Warehouse\n"
        "2024-01-01,P1,30,DC1\n"
        "2024-01-01,P1,12,DC2\n"      # same day and product, another location: a row of its own
        "2024-01-01,P1,31,DC1\n"      # same key as row 2: duplicate
        "2024-01-08,,5,DC1\n"         # no product: missing key
        "2024-01-08,P2,1.2.3,DC1\n"   # not a number
        "not a date,P2,4,DC1\n"       # not a date
        "2024-01-08,P2,4,DC1\n"
    )
    result = ingest_file(store, "inventory", path)
    assert result.mapping == {"Date": "snapshot_date", "SKU": "product_id", "OnHand": "on_hand_quantity",
                              "Warehouse": "location_id"}
    assert (result.rows_read, result.rows_loaded, result.rows_rejected) == (7, 3, 4)
    assert result.rows_read == result.rows_loaded + result.rows_rejected
    assert result.reject_reasons == {"duplicate line": 1, "missing key": 1, "unparseable number": 1,
                                     "unparseable date": 1}
    assert rejects(store, result.run_id)["row_number"].tolist() == [4, 5, 6, 7]
    loaded = store.cursor().execute(
        "SELECT snapshot_date, product_id, on_hand_quantity, location_id FROM inventory ORDER BY ALL").fetchall()
    assert loaded == [(dt.date(2024, 1, 1), "P1", 12.0, "DC2"), (dt.date(2024, 1, 1), "P1", 30.0, "DC1"),
                      (dt.date(2024, 1, 8), "P2", 4.0, "DC1")]


def test_tiny_sample_has_weekly_stock_and_turns(tiny):
    version = run_segmentation(tiny, "product", "abc_xyz").version_id
    dates, products, negative = tiny.cursor().execute(
        "SELECT count(DISTINCT snapshot_date), count(DISTINCT product_id), count(*) FILTER (WHERE on_hand_quantity < 0) "
        "FROM inventory").fetchone()
    assert (dates, products, negative) == (30, 60, 0)   # TINY_SIZES: 30 weeks, 60 products
    frame = segment_inventory_turns(tiny, version, "week")
    assert frame["inventory_turns"].notna().mean() > 0.9
    assert (frame["inventory_turns"].dropna() >= 0).all()


def test_data_page_loads_inventory_snapshots(empty_db):
    from tests.test_pages import open_page, upload

    at = open_page("pages/data.py")
    at.selectbox(key="data_table").set_value("inventory").run()
    upload(at, "stock.csv", b"Date,SKU,OnHand\n2024-01-01,P1,30\n2024-01-01,P1,31\n2024-01-08,P2,4\n")
    load = at.button[0]
    assert load.label == "Load into inventory" and not load.disabled
    load.click().run()
    assert not at.exception, [e.value for e in at.exception]
    metrics = {m.label: m.value for m in at.metric}
    assert metrics == {"Rows read": "3", "Rows loaded": "2", "Rows rejected": "1"}  # the second P1 row: duplicate
    assert "inventory (2 rows)" in [t.label for t in at.tabs]


def test_loading_stock_leaves_versions_current(store):
    from core.versions import is_current

    with store.transaction() as cur:
        cur.execute("INSERT INTO orders (order_id, order_date, customer_id, product_id, quantity) "
                    "VALUES ('O1', DATE '2024-01-02', 'C1', 'P1', 3)")
    version = run_segmentation(store, "product", "rules", rules=[{"name": "All"}], min_share=0).version_id
    with store.transaction() as cur:  # segmentation does not read stock: the version still matches the data
        cur.execute("INSERT INTO inventory (snapshot_date, product_id, on_hand_quantity) VALUES (DATE '2024-01-01', 'P1', 9)")
    assert is_current(store, version)
    with store.transaction() as cur:  # an order line does change it
        cur.execute("INSERT INTO orders (order_id, order_date, customer_id, product_id, quantity) "
                    "VALUES ('O2', DATE '2024-01-03', 'C1', 'P1', 1)")
    assert not is_current(store, version)
