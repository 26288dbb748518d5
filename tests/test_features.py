"""Features in SQL: hand-computed small cases for every feature, plus published ADI/CV examples.

Every expected number below is worked out by hand in the comments next to it.
"""

from __future__ import annotations

import datetime as dt
import math

import pandas as pd
import pytest

from core.errors import SegplanError
from core.features import (
    BUCKETS,
    LEVELS,
    bucket_demand,
    compute_features,
    feature_catalog,
    features_sql,
    key_columns,
)
from tests.conftest import shared_file

ORDER_COLUMNS = (
    "order_id", "order_date", "customer_id", "product_id", "quantity", "unit_price", "unit_cost",
    "net_amount", "cost_amount", "promised_date", "delivered_date",
)


def insert_orders(store, rows: list[dict]) -> None:
    """Plain INSERTs into orders; columns not given stay NULL."""
    with store.transaction() as cur:
        for row in rows:
            cols = [c for c in ORDER_COLUMNS if c in row]
            cur.execute(
                f"INSERT INTO orders ({', '.join(cols)}) VALUES ({', '.join('?' for _ in cols)})",
                [row[c] for c in cols],
            )


def insert_products(store, rows: list[dict]) -> None:
    with store.transaction() as cur:
        for row in rows:
            cols = list(row)
            cur.execute(
                f"INSERT INTO products ({', '.join(cols)}) VALUES ({', '.join('?' for _ in cols)})",
                [row[c] for c in cols],
            )


def line(order_id, day, customer, product, quantity, **extra) -> dict:
    return {"order_id": order_id, "order_date": day, "customer_id": customer, "product_id": product,
            "quantity": quantity, **extra}


D = dt.date


@pytest.fixture
def weekly_store(store):
    """Five lines over five ISO weeks (Mon 2024-01-01 .. Mon 2024-01-29).

    p1: 10 units in week 1, 5 in week 3, two returns; p2: one line without price or cost.
    """
    insert_products(store, [
        {"product_id": "p1", "unit_cost": 0.5, "lead_time_days": 14.0, "lead_time_std_days": 3.0},
        {"product_id": "p2"},
    ])
    insert_orders(store, [
        # revenue 10*2 = 20 (no net_amount); cost 10 * orders.unit_cost 1.0 = 10; lead 3 days, on time
        line("o1", D(2024, 1, 1), "c1", "p1", 10.0, unit_price=2.0, unit_cost=1.0,
             promised_date=D(2024, 1, 5), delivered_date=D(2024, 1, 4)),
        # Wednesday of week 3; net_amount 12 wins over 5*2; cost from products: 5*0.5 = 2.5; lead 8, late
        line("o2", D(2024, 1, 17), "c1", "p1", 5.0, unit_price=2.0, net_amount=12.0,
             promised_date=D(2024, 1, 20), delivered_date=D(2024, 1, 25)),
        # return: revenue -2*2 = -4, cost -2*0.5 = -1
        line("o3", D(2024, 1, 18), "c2", "p1", -2.0, unit_price=2.0),
        # return booked with a POSITIVE amount in the source: still counts -3 and -0.5
        line("o4", D(2024, 1, 19), "c2", "p1", -1.0, net_amount=3.0, cost_amount=0.5),
        # single line, no price, no cost, no dates: NULL money features, not errors
        line("o3", D(2024, 1, 29), "c2", "p2", 3.0),
    ])
    return store


def row_of(frame: pd.DataFrame, **keys) -> pd.Series:
    mask = pd.Series(True, index=frame.index)
    for name, value in keys.items():
        mask &= frame[name] == value
    assert mask.sum() == 1, keys
    return frame[mask].iloc[0]


def test_product_features_weekly_hand_computed(weekly_store):
    frame = compute_features(weekly_store, "product", "week")
    assert list(frame["product_id"]) == ["p1", "p2"]
    p1 = row_of(frame, product_id="p1")
    assert p1["quantity"] == 12.0  # 10 + 5 - 2 - 1
    assert p1["gross_quantity"] == 15.0
    assert p1["returned_quantity"] == 3.0
    assert p1["revenue"] == pytest.approx(25.0)  # 20 + 12 - 4 - 3
    assert p1["cost"] == pytest.approx(11.0)  # 10 + 2.5 - 1 - 0.5
    assert p1["margin"] == pytest.approx(14.0)
    assert p1["margin_pct"] == pytest.approx(56.0)  # 14 / 25
    assert p1["order_lines"] == 2 and p1["return_lines"] == 2
    assert p1["orders"] == 2  # o1, o2; the return orders are not orders
    assert p1["distinct_customers"] == 1  # c2 only returned
    # weekly demand over the horizon (W1..W5, last bucket of the data): 10, 0, 5, 0, 0
    assert p1["horizon_buckets"] == 5 and p1["demand_buckets"] == 2
    assert p1["demand_mean"] == pytest.approx(3.0)
    # population variance (49 + 9 + 4 + 9 + 9) / 5 = 16
    assert p1["demand_std"] == pytest.approx(4.0)
    assert p1["cv"] == pytest.approx(4.0 / 3.0)
    assert p1["adi"] == pytest.approx(2.5)
    # non-zero demands 10, 5: mean 7.5, population std 2.5, cv2 = (1/3)^2
    assert p1["cv2"] == pytest.approx(1.0 / 9.0)
    assert p1["demand_share"] == pytest.approx(0.4)
    assert p1["weeks_since_last_sale"] == pytest.approx(12.0 / 7.0)  # Jan 17 -> Jan 29
    assert p1["return_share"] == pytest.approx(0.2)  # 3 / 15
    assert p1["on_time_share"] == pytest.approx(0.5)
    assert p1["lead_time_days_mean"] == pytest.approx(5.5)  # 3 and 8 days
    assert p1["lead_time_days_std"] == pytest.approx(math.sqrt(12.5))  # sample std of 3, 8
    assert p1["promised_lead_time_days_mean"] == pytest.approx(3.5)  # 4 and 3 days
    assert p1["planned_lead_time_days"] == 14.0 and p1["planned_lead_time_std_days"] == 3.0


def test_single_line_item_and_missing_optional_columns(weekly_store):
    p2 = row_of(compute_features(weekly_store, "product", "week"), product_id="p2")
    assert p2["quantity"] == 3.0 and p2["order_lines"] == 1 and p2["orders"] == 1
    for name in ("revenue", "cost", "margin", "margin_pct", "on_time_share", "lead_time_days_mean",
                 "lead_time_days_std", "promised_lead_time_days_mean", "planned_lead_time_days"):
        assert pd.isna(p2[name]), name
    # one bucket of demand in the last bucket: horizon 1, no spread
    assert p2["horizon_buckets"] == 1 and p2["demand_buckets"] == 1
    assert p2["demand_mean"] == 3.0 and p2["demand_std"] == 0.0 and p2["cv"] == 0.0
    assert p2["adi"] == 1.0 and p2["cv2"] == 0.0
    assert p2["weeks_since_last_sale"] == 0.0 and p2["return_share"] == 0.0


def test_customer_features_hand_computed(weekly_store):
    frame = compute_features(weekly_store, "customer", "week")
    assert list(frame["customer_id"]) == ["c1", "c2"]
    c1 = row_of(frame, customer_id="c1")
    assert c1["revenue"] == pytest.approx(32.0)  # 20 + 12
    assert c1["margin"] == pytest.approx(19.5)  # 32 - (10 + 2.5)
    assert c1["margin_pct"] == pytest.approx(100 * 19.5 / 32)
    assert c1["orders"] == 2 and c1["distinct_products"] == 1
    assert c1["average_order_value"] == pytest.approx(16.0)
    assert c1["lines_per_order"] == pytest.approx(1.0)
    assert c1["orders_per_bucket"] == pytest.approx(2 / 5)  # horizon W1..W5
    assert c1["recency_days"] == 12
    assert c1["return_share"] == 0.0
    assert c1["on_time_share"] == pytest.approx(0.5)

    c2 = row_of(frame, customer_id="c2")
    assert c2["quantity"] == 0.0  # 3 - 2 - 1
    assert c2["revenue"] == pytest.approx(-7.0)  # -4 - 3; p2 line has no price
    assert c2["margin"] == pytest.approx(-5.5)  # (-4 + 1) + (-3 + 0.5)
    assert pd.isna(c2["margin_pct"])  # revenue <= 0: no meaningful percentage
    assert c2["orders"] == 1 and c2["distinct_products"] == 1  # o3 for p2
    assert pd.isna(c2["average_order_value"])  # its one order has no price
    assert c2["orders_per_bucket"] == pytest.approx(1.0)  # horizon = last week only
    assert c2["recency_days"] == 0
    assert c2["return_share"] == pytest.approx(1.0)  # 3 returned / 3 ordered


def test_customer_product_pairs_and_return_only_item(weekly_store):
    frame = compute_features(weekly_store, "customer_product", "week")
    assert list(zip(frame["customer_id"], frame["product_id"], strict=True)) == [
        ("c1", "p1"), ("c2", "p1"), ("c2", "p2")]
    returns_only = row_of(frame, customer_id="c2", product_id="p1")
    assert returns_only["quantity"] == -3.0 and returns_only["revenue"] == pytest.approx(-7.0)
    assert returns_only["gross_quantity"] == 0.0 and returns_only["order_lines"] == 0
    # no demand: demand features NULL (zero mean gives NULL cv, never inf)
    for name in ("horizon_buckets", "demand_mean", "demand_std", "cv", "adi", "cv2", "weeks_since_last_sale",
                 "return_share"):
        assert pd.isna(returns_only[name]), name
    pair = row_of(frame, customer_id="c1", product_id="p1")
    assert pair["demand_mean"] == pytest.approx(3.0) and pair["cv"] == pytest.approx(4.0 / 3.0)
    assert pair["margin"] == pytest.approx(19.5) and pair["order_lines"] == 2


@pytest.fixture
def monthly_store(store):
    """Published ADI example (supplychainforum.com, thread 'average inter-demand interval'):
    monthly demand Jan..Jun = 0, 20, 30, 0, 0, 50 gives ADI = 5/3 = 1.66.

    Item 'm' carries that series; item 'j' only makes January part of the data set.
    """
    insert_orders(store, [
        line("j1", D(2024, 1, 10), "c", "j", 1.0),
        line("m1", D(2024, 2, 15), "c", "m", 20.0),
        line("m2", D(2024, 3, 1), "c", "m", 12.0),
        line("m3", D(2024, 3, 31), "c", "m", 18.0),  # same month: 30 in March
        line("m4", D(2024, 6, 30), "c", "m", 50.0),
    ])
    return store


def test_monthly_buckets_published_adi_example(monthly_store):
    """supplychainforum.com/index.php?threads/average-inter-demand-interval.2315: ADI = 5/3.

    Our horizon starts at the item's first demand (February), so the series is 20, 30, 0, 0, 50.
    """
    m = row_of(compute_features(monthly_store, "product", "month"), product_id="m")
    assert m["horizon_buckets"] == 5 and m["demand_buckets"] == 3
    assert m["adi"] == pytest.approx(5 / 3)
    # non-zero sizes 20, 30, 50: mean 100/3, population variance 1400/9, cv2 = 1400/10000
    assert m["cv2"] == pytest.approx(0.14)
    # horizon series 20, 30, 0, 0, 50: mean 20, variance (0+100+400+400+900)/5 = 360
    assert m["demand_mean"] == pytest.approx(20.0)
    assert m["demand_std"] == pytest.approx(math.sqrt(360))
    assert m["cv"] == pytest.approx(math.sqrt(360) / 20)
    j = row_of(compute_features(monthly_store, "product", "month"), product_id="j")
    # January to June with demand only in January: 1, 0, 0, 0, 0, 0
    assert j["horizon_buckets"] == 6 and j["adi"] == pytest.approx(6.0)
    assert j["weeks_since_last_sale"] == pytest.approx((D(2024, 6, 30) - D(2024, 1, 10)).days / 7)


def test_bucket_demand_zero_filled_monthly(monthly_store):
    frame = bucket_demand(monthly_store, "product", "month", keys=["m"])
    assert list(frame["bucket_start"]) == [pd.Timestamp(f"2024-0{m}-01") for m in range(2, 7)]
    assert list(frame["demand_quantity"]) == [20.0, 30.0, 0.0, 0.0, 50.0]
    assert list(frame["order_lines"]) == [1, 2, 0, 0, 1]


def test_bucket_demand_iso_weeks_start_monday(store):
    # Sunday 2024-01-07 is in the week of Monday 2024-01-01; Monday 2024-01-08 starts the next
    insert_orders(store, [
        line("a", D(2024, 1, 7), "c", "p", 4.0),
        line("b", D(2024, 1, 8), "c", "p", 6.0),
        line("c", D(2024, 1, 22), "c", "q", 1.0),
        line("r", D(2024, 1, 9), "c", "p", -5.0),  # returns do not enter bucket demand
    ])
    frame = bucket_demand(store, "product", "week")
    p = frame[frame["product_id"] == "p"]
    assert list(p["bucket_start"]) == [pd.Timestamp(d) for d in ("2024-01-01", "2024-01-08", "2024-01-15", "2024-01-22")]
    assert list(p["demand_quantity"]) == [4.0, 6.0, 0.0, 0.0]
    assert list(frame[frame["product_id"] == "q"]["demand_quantity"]) == [1.0]
    pairs = bucket_demand(store, "customer_product", "week", keys=[("c", "q")])
    assert list(pairs["product_id"]) == ["q"]


def test_bucket_demand_rejects_key_of_wrong_shape(store):
    with pytest.raises(SegplanError, match="keys"):
        bucket_demand(store, "customer_product", "week", keys=["only-one-part"])


def test_published_xyz_cv_example(store):
    """calcbee.com XYZ Analysis Calculator (logistics/demand/xyz-analysis-calculator): an item with
    mean demand 500 and standard deviation 40 per period has CV = 40/500 = 0.08, class X.

    Twelve months alternating 460 and 540 have mean 500 and population std 40.
    """
    insert_orders(store, [
        line(f"o{month}", D(2023, month, 10), "c", "x", 460.0 if month % 2 else 540.0) for month in range(1, 13)
    ])
    x = row_of(compute_features(store, "product", "month"), product_id="x")
    assert x["demand_mean"] == pytest.approx(500.0)
    assert x["demand_std"] == pytest.approx(40.0)
    assert x["cv"] == pytest.approx(0.08)


def test_catalog_matches_columns_for_every_level(weekly_store):
    for level in LEVELS:
        frame = compute_features(weekly_store, level, "week")
        catalog = feature_catalog(level)
        keys = key_columns(level)
        assert list(frame.columns) == [*keys, *(spec.name for spec in catalog)]
        assert all(spec.unit and spec.description for spec in catalog)
        assert frame[list(keys)].equals(frame[list(keys)].sort_values(list(keys)).reset_index(drop=True))


def test_duplicate_product_master_row_does_not_double_lines(weekly_store):
    insert_products(weekly_store, [{"product_id": "p1", "unit_cost": 0.5, "lead_time_days": 14.0}])
    p1 = row_of(compute_features(weekly_store, "product", "week"), product_id="p1")
    assert p1["order_lines"] == 2 and p1["quantity"] == 12.0 and p1["cost"] == pytest.approx(11.0)


def test_empty_database_gives_empty_frame_with_columns(store):
    for level in LEVELS:
        frame = compute_features(store, level, "month")
        assert len(frame) == 0
        assert list(frame.columns) == [*key_columns(level), *(s.name for s in feature_catalog(level))]


def test_unknown_level_and_bucket_name_the_parameter(store):
    with pytest.raises(SegplanError, match="level.*'sku'|'sku'.*level"):
        compute_features(store, "sku")
    with pytest.raises(SegplanError, match="'day'.*bucket"):
        compute_features(store, "product", "day")
    with pytest.raises(SegplanError, match="'sku'"):
        feature_catalog("sku")
    assert set(BUCKETS) == {"week", "month"}


def test_sql_binds_bucket_and_uses_named_ctes():
    sql = features_sql("product")
    assert "$bucket" in sql and "$step" in sql
    for cte in ("data_span AS", "calendar AS", "priced_lines AS", "bucket_demand AS", "demand_stats AS", "item_totals AS"):
        assert cte in sql
    assert "'week'" not in sql and "'month'" not in sql


@pytest.mark.realdata
def test_superstore_totals_match_published(store):
    """Superstore totals from SOURCE.txt: Sales 2,297,200.8603, Profit 286,397.0217, Quantity 37,873,
    5,009 orders, 793 customers, 1,862 Product IDs. Cost = Sales - Profit."""
    path = shared_file("superstore", "Sample - Superstore.csv")
    with store.transaction() as cur:
        cur.execute(
            """INSERT INTO orders (order_id, order_date, customer_id, product_id, quantity, net_amount,
                                   cost_amount, ship_date)
               SELECT "Order ID", strptime("Order Date", '%m/%d/%Y')::DATE, "Customer ID", "Product ID",
                      "Quantity", "Sales", "Sales" - "Profit", strptime("Ship Date", '%m/%d/%Y')::DATE
               FROM read_csv(?, header = true, all_varchar = false,
                             types = {'Order Date': 'VARCHAR', 'Ship Date': 'VARCHAR'})""",
            [str(path)],
        )
    products = compute_features(store, "product", "week")
    assert len(products) == 1862
    assert products["revenue"].sum() == pytest.approx(2_297_200.8603, abs=0.01)
    assert products["margin"].sum() == pytest.approx(286_397.0217, abs=0.01)
    assert products["quantity"].sum() == 37_873
    customers = compute_features(store, "customer", "month")
    assert len(customers) == 793
    assert customers["orders"].sum() == 5009
    assert customers["margin_pct"].notna().all()
    # every demand-bearing item has a horizon ending at the data's last month (Dec 2019)
    assert (customers["horizon_buckets"] >= customers["demand_buckets"]).all()
    assert customers["horizon_buckets"].max() == 48  # Jan 2016 .. Dec 2019


@pytest.mark.realdata
def test_online_retail_returns_and_weekly_horizon(store):
    """UCI Online Retail 40k sample, SOURCE.txt: 40,000 rows, 3,227 StockCodes, 3,621 CustomerIDs
    (10,057 rows without one, loaded here as customer 'unknown'), 778 negative quantities,
    dates 2010-12-01 (a Wednesday) .. 2011-12-09 (a Friday)."""
    path = shared_file("uci_online_retail_subset", "online_retail_sample40k.csv")
    with store.transaction() as cur:
        cur.execute(
            """INSERT INTO orders (order_id, order_date, customer_id, product_id, quantity, unit_price)
               SELECT InvoiceNo, CAST(InvoiceDate AS DATE), coalesce(CustomerID, 'unknown'), StockCode,
                      Quantity, UnitPrice
               FROM read_csv(?, header = true,
                             types = {'InvoiceNo': 'VARCHAR', 'StockCode': 'VARCHAR', 'CustomerID': 'VARCHAR'})""",
            [str(path)],
        )
        net_quantity, net_revenue = cur.execute("SELECT sum(quantity), sum(quantity * unit_price) FROM orders").fetchone()
    products = compute_features(store, "product", "week")
    assert len(products) == 3227
    assert products["return_lines"].sum() == 778
    assert products["order_lines"].sum() == 40_000 - 778
    # returns reduce quantity and revenue: net = gross - returned
    assert products["quantity"].sum() == pytest.approx(net_quantity)
    assert (products["gross_quantity"] - products["returned_quantity"]).sum() == pytest.approx(net_quantity)
    assert products["revenue"].sum() == pytest.approx(net_revenue)
    # weeks of Mon 2010-11-29 .. Mon 2011-12-05: 371 days / 7 + 1 = 54 buckets at most
    assert products["horizon_buckets"].max() == 54
    assert (products["adi"].dropna() >= 1).all()
    customers = compute_features(store, "customer", "month")
    assert len(customers) == 3621 + 1
    # Dec 2010 .. Dec 2011
    assert customers["horizon_buckets"].max() == 13


def _reference_demand(lines: pd.DataFrame, keys: list[str], bucket: str) -> pd.DataFrame:
    """Demand features the slow, obvious way in pandas: build each item's zero-filled series."""
    if bucket == "week":
        starts = lines["order_date"] - pd.to_timedelta(lines["order_date"].dt.day_of_week, unit="D")
        freq = "7D"
    else:
        starts = lines["order_date"].dt.to_period("M").dt.to_timestamp()
        freq = "MS"
    lines = lines.assign(bucket_start=starts)
    last_bucket = lines["bucket_start"].max()
    rows = []
    demand = lines[lines["quantity"] > 0]
    for key, group in demand.groupby(keys):
        per_bucket = group.groupby("bucket_start")["quantity"].sum()
        calendar = pd.date_range(per_bucket.index.min(), last_bucket, freq=freq)
        series = per_bucket.reindex(calendar, fill_value=0.0)
        nonzero = series[series > 0]
        key = key if isinstance(key, tuple) else (key,)
        rows.append({
            **dict(zip(keys, key, strict=True)),
            "horizon_buckets": len(series), "demand_buckets": len(nonzero),
            "demand_mean": series.mean(), "demand_std": series.std(ddof=0),
            "cv": series.std(ddof=0) / series.mean(), "adi": len(series) / len(nonzero),
            "cv2": (nonzero.std(ddof=0) / nonzero.mean()) ** 2,
        })
    return pd.DataFrame(rows)


@pytest.mark.parametrize("bucket", BUCKETS)
@pytest.mark.parametrize("level", ["product", "customer_product"])
def test_demand_features_match_zero_filled_pandas_reference(store, level, bucket):
    """Seeded random lines (with returns and empty buckets) against the pandas reference above."""
    import numpy as np

    rng = np.random.default_rng(20240601)
    n = 400
    lines = pd.DataFrame({
        "order_id": [f"o{i}" for i in range(n)],
        "order_date": pd.Timestamp("2023-01-02") + pd.to_timedelta(rng.integers(0, 200, n), unit="D"),
        "customer_id": rng.choice(["c1", "c2", "c3"], n),
        "product_id": rng.choice([f"p{i}" for i in range(9)], n, p=[0.3, 0.2, 0.15, 0.1, 0.1, 0.05, 0.05, 0.03, 0.02]),
        "quantity": np.where(rng.random(n) < 0.1, -1.0, rng.integers(1, 20, n).astype(float)),
    })
    insert_orders(store, [
        line(r.order_id, r.order_date.date(), r.customer_id, r.product_id, r.quantity)
        for r in lines.itertuples(index=False)
    ])
    keys = list(key_columns(level))
    ours = compute_features(store, level, bucket)
    ours = ours[ours["horizon_buckets"].notna()].reset_index(drop=True)
    expected = _reference_demand(lines, keys, bucket).sort_values(keys).reset_index(drop=True)
    assert len(ours) == len(expected) >= 9
    assert ours[keys].equals(expected[keys].astype(ours[keys].dtypes.to_dict()))
    for name in ("horizon_buckets", "demand_buckets", "demand_mean", "demand_std", "cv", "adi", "cv2"):
        np.testing.assert_allclose(ours[name].astype(float), expected[name].astype(float), rtol=1e-9, err_msg=name)
    # bucket_demand draws the same zero-filled series the features summarise
    series = bucket_demand(store, level, bucket)
    per_item = series.groupby(keys)["demand_quantity"]
    np.testing.assert_allclose(per_item.size().to_numpy(), ours["horizon_buckets"].to_numpy())
    np.testing.assert_allclose(per_item.std(ddof=0).to_numpy(), ours["demand_std"].to_numpy(), rtol=1e-9)
