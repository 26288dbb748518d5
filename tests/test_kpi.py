"""Delivery KPIs per segment and period: OTIF, on time and fill rate by hand on a tiny order set, drill-down."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from core.control_charts import p_chart
from core.errors import SegplanError
from core.kpi import KPI_COLUMNS, NOT_IN_VERSION, line_kpis, segment_kpis
from core.sample import build_tiny_database
from core.store import Store
from core.versions import run_segmentation

# order_id, order_date, customer_id, product_id, quantity, promised_date, delivered_date, delivered_quantity
LINES = [
    # week of Monday 2024-01-01, product P1 ("Big")
    ("O1", "2024-01-01", "C1", "P1", 40, "2024-01-10", "2024-01-09", 40),   # on time, in full: OTIF
    ("O2", "2024-01-02", "C1", "P1", 20, "2024-01-10", "2024-01-10", 15),   # on time, short
    ("O3", "2024-01-01", "C2", "P1", 10, "2024-01-10", "2024-01-12", 12),   # late, over-delivered
    ("O4", "2024-01-03", "C2", "P1", 5, "2024-01-10", None, None),          # not delivered yet
    ("R1", "2024-01-03", "C2", "P1", -3, None, "2024-01-05", -3),           # a return: no KPI
    # week of 2024-01-08
    ("O6", "2024-01-08", "C1", "P1", 10, "2024-01-12", "2024-01-11", 10),
    # product P2 ("Small"): no promised date
    ("O1", "2024-01-01", "C1", "P2", 5, None, "2024-01-05", 5),
]
RULES = [{"name": "Big", "when": [["quantity", ">", 50]]}, {"name": "Small"}]


def insert(store: Store, lines) -> None:
    with store.transaction() as cur:
        cur.executemany(
            """INSERT INTO orders (order_id, order_date, customer_id, product_id, quantity, promised_date,
                                   delivered_date, delivered_quantity)
               VALUES (?, CAST(? AS DATE), ?, ?, ?, CAST(? AS DATE), CAST(? AS DATE), ?)""",
            [list(line) for line in lines],
        )


@pytest.fixture
def hand(store):
    insert(store, LINES)
    return store


@pytest.fixture
def version(hand):
    return run_segmentation(hand, "product", "rules", rules=RULES, min_share=0).version_id


def test_kpis_by_hand_otif_on_time_and_fill_rate_differ(hand, version):
    kpis = segment_kpis(hand, version)
    assert list(kpis.columns) == ["segment", "segment_label", "period", *KPI_COLUMNS]
    rows = {(r.segment, r.period): r for r in kpis.itertuples()}
    assert set(rows) == {("Big", pd.Timestamp(2024, 1, 1)), ("Big", pd.Timestamp(2024, 1, 8)), ("Small", pd.Timestamp(2024, 1, 1))}
    big = rows["Big", pd.Timestamp(2024, 1, 1)]
    assert big.segment_label == "Big"
    assert big.lines == 4                        # the return is not a demand line
    assert (big.on_time_base_lines, big.on_time_lines) == (3, 2)   # O4 has no delivered date
    assert big.on_time == pytest.approx(2 / 3)
    assert (big.otif_base_lines, big.otif_lines) == (3, 1)         # O2 short, O3 late
    assert big.otif == pytest.approx(1 / 3)
    # fill rate: O3's 12 delivered count as its 10 ordered; O4 has no delivered quantity
    assert (big.ordered_quantity, big.filled_quantity) == (70, 65)
    assert big.fill_rate == pytest.approx(65 / 70)
    assert big.delivered_lines == 3
    assert big.order_cycle_time_days == pytest.approx((8 + 8 + 11) / 3)
    week2 = rows["Big", pd.Timestamp(2024, 1, 8)]
    assert (week2.lines, week2.otif, week2.on_time, week2.fill_rate, week2.order_cycle_time_days) == (1, 1, 1, 1, 3)
    small = rows["Small", pd.Timestamp(2024, 1, 1)]
    # no promised date: on time and OTIF unmeasured (NULL, not 0), fill rate and cycle time measured
    assert small.on_time_base_lines == 0 and small.otif_base_lines == 0
    assert small.on_time != small.on_time and small.otif != small.otif  # NaN
    assert small.fill_rate == 1 and small.order_cycle_time_days == 4


def test_months_and_items_outside_the_version(hand, version):
    insert(hand, [("O7", "2024-01-02", "C3", "P3", 2, "2024-01-05", "2024-01-04", 2)])
    kpis = segment_kpis(hand, version, bucket="month")
    assert kpis["segment"].tolist() == ["Big", "Small", NOT_IN_VERSION]
    assert kpis["period"].tolist() == [pd.Timestamp(2024, 1, 1)] * 3
    assert kpis["lines"].tolist() == [5, 1, 1]
    outside = kpis.iloc[2]
    assert outside["segment_label"] == NOT_IN_VERSION and outside["otif"] == 1


def test_customer_level_version_maps_lines_by_customer(hand):
    version = run_segmentation(hand, "customer", "rules", min_share=0,
                               rules=[{"name": "Large", "when": [["quantity", ">", 60]]}, {"name": "Rest"}]).version_id
    kpis = segment_kpis(hand, version, bucket="month").set_index("segment")
    # C1: 40 + 20 + 10 + 5 = 75 units -> Large (4 lines); C2: 10 + 5 - 3 = 12 -> Rest (2 demand lines)
    assert kpis.loc["Large", "lines"] == 4 and kpis.loc["Rest", "lines"] == 2
    assert kpis.loc["Rest", "otif_lines"] == 0 and kpis.loc["Rest", "on_time_base_lines"] == 1


def test_drill_down_returns_the_lines_behind_a_point(hand, version):
    lines = line_kpis(hand, version, "Big", "2024-01-03")  # any day of the week
    assert lines["order_id"].tolist() == ["O1", "O3", "O2", "O4"]
    by_order = lines.set_index("order_id")
    assert by_order.loc["O1", "otif"] == True and by_order.loc["O2", "otif"] == False  # noqa: E712
    assert by_order.loc["O3", "days_late"] == 2 and by_order.loc["O1", "days_late"] == -1
    assert pd.isna(by_order.loc["O4", "on_time"]) and pd.isna(by_order.loc["O4", "otif"])
    kpis = segment_kpis(hand, version)
    point = kpis[(kpis["segment"] == "Big") & (kpis["period"] == pd.Timestamp(2024, 1, 1))].iloc[0]
    assert len(lines) == point["lines"]
    assert int(lines["otif"].fillna(False).astype(bool).sum()) == point["otif_lines"]
    assert line_kpis(hand, version, "Big", dt.date(2024, 2, 5)).empty


def test_bad_bucket_period_and_version_are_refused(hand, version):
    with pytest.raises(SegplanError, match="unknown bucket"):
        segment_kpis(hand, version, bucket="day")
    with pytest.raises(SegplanError, match="not a date"):
        line_kpis(hand, version, "Big", "last week")
    with pytest.raises(SegplanError, match="does not exist"):
        segment_kpis(hand, 999)


def test_tiny_sample_clustering_version_counts_every_demand_line_and_charts(store):
    build_tiny_database(store, seed=1)
    version = run_segmentation(store, "customer", "kmeans", k=3).version_id
    kpis = segment_kpis(store, version)
    demand_lines = store.cursor().execute("SELECT count(*) FROM orders WHERE quantity > 0").fetchone()[0]
    assert kpis["lines"].sum() == demand_lines
    assert set(kpis["segment"]) <= {"0", "1", "2", NOT_IN_VERSION}
    assert kpis["otif_lines"].le(kpis["on_time_lines"]).all()          # OTIF is on time and more
    assert kpis["otif"].dropna().between(0, 1).all() and kpis["fill_rate"].dropna().between(0, 1).all()
    segment = kpis[kpis["segment"] == kpis["segment"].iloc[0]]
    chart = p_chart(segment["otif_lines"], segment["otif_base_lines"])
    assert len(chart) == len(segment) and (chart["lcl"] <= chart["ucl"]).all()
    first = segment.iloc[0]
    assert len(line_kpis(store, version, int(first["segment"]), first["period"])) == first["lines"]
