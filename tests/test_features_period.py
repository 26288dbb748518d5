"""`compute_features(period=...)`: features over one time window only (time-window stability).

Expected numbers are worked out by hand next to them.
"""

from __future__ import annotations

import datetime as dt

import pytest

from core.errors import SegplanError
from core.features import compute_features, features_sql
from tests.test_features import insert_orders, line

D = dt.date

# Four ISO weeks starting Monday 2025-01-06. P1 sells every week (10, 20, 30, 40 units at
# price 1); P2 only in week 4 (5 units), P3 only in week 1 (7 units, customer C2).
ROWS = [
    line("o1", D(2025, 1, 6), "C1", "P1", 10, unit_price=1.0),
    line("o2", D(2025, 1, 13), "C1", "P1", 20, unit_price=1.0),
    line("o3", D(2025, 1, 20), "C1", "P1", 30, unit_price=1.0),
    line("o4", D(2025, 1, 27), "C1", "P1", 40, unit_price=1.0),
    line("o4", D(2025, 1, 27), "C1", "P2", 5, unit_price=2.0),
    line("o5", D(2025, 1, 6), "C2", "P3", 7, unit_price=3.0),
]


@pytest.fixture
def loaded(store):
    insert_orders(store, ROWS)
    return store


def by_product(frame):
    return frame.set_index("product_id")


def test_first_half_sees_only_its_lines(loaded):
    f = by_product(compute_features(loaded, "product", "week", period=(D(2025, 1, 6), D(2025, 1, 19))))
    assert sorted(f.index) == ["P1", "P3"]  # P2 first sells in week 4
    # P1: weeks 1-2 only: 10 + 20 = 30 units; horizon 2 weeks; mean 15; population std 5.
    assert f.loc["P1", "quantity"] == 30
    assert f.loc["P1", "revenue"] == 30
    assert f.loc["P1", "horizon_buckets"] == 2
    assert f.loc["P1", "demand_mean"] == pytest.approx(15.0)
    assert f.loc["P1", "demand_std"] == pytest.approx(5.0)
    assert f.loc["P1", "cv"] == pytest.approx(1 / 3)
    # P3: horizon from week 1 to the period's last bucket (week 2) = 2, one demand bucket: ADI 2.
    assert f.loc["P3", "horizon_buckets"] == 2
    assert f.loc["P3", "adi"] == pytest.approx(2.0)
    # The period's last order date is 2025-01-13; P3 last sold 2025-01-06: 7 days = 1 week.
    assert f.loc["P3", "weeks_since_last_sale"] == pytest.approx(1.0)


def test_second_half_sees_only_its_lines(loaded):
    f = by_product(compute_features(loaded, "product", "week", period=(D(2025, 1, 20), D(2025, 1, 31))))
    assert sorted(f.index) == ["P1", "P2"]
    # P1: 30 + 40 = 70 units over weeks 3-4: mean 35, std 5.
    assert f.loc["P1", "quantity"] == 70
    assert f.loc["P1", "horizon_buckets"] == 2
    assert f.loc["P1", "demand_mean"] == pytest.approx(35.0)
    assert f.loc["P1", "demand_std"] == pytest.approx(5.0)
    # P2: only week 4, which is also the period's last bucket: horizon 1.
    assert f.loc["P2", "horizon_buckets"] == 1
    assert f.loc["P2", "revenue"] == pytest.approx(10.0)


def test_period_bounds_are_inclusive_and_whole_history_unchanged(loaded):
    whole = compute_features(loaded, "product", "week")
    same = compute_features(loaded, "product", "week", period=(D(2025, 1, 6), D(2025, 1, 27)))
    assert whole.equals(same)
    assert by_product(whole).loc["P1", "quantity"] == 100
    assert by_product(whole).loc["P1", "horizon_buckets"] == 4


def test_period_at_customer_level(loaded):
    f = compute_features(loaded, "customer", "week", period=(D(2025, 1, 20), D(2025, 1, 31))).set_index("customer_id")
    # C2 ordered only in week 1: not in the second half at all.
    assert list(f.index) == ["C1"]
    # C1 in weeks 3-4: orders o3 and o4 (two lines of o4 count once).
    assert f.loc["C1", "orders"] == 2
    assert f.loc["C1", "quantity"] == 75


def test_period_without_lines_gives_no_items(loaded):
    assert compute_features(loaded, "product", "week", period=(D(2024, 1, 1), D(2024, 12, 31))).empty


def test_sql_without_period_reads_orders_directly():
    assert "$period_start" not in features_sql("product")
    assert "$period_start" in features_sql("product", period=True)


@pytest.mark.parametrize("period", [(D(2025, 2, 1), D(2025, 1, 1)), ("2025-01-01", "2025-02-01"), (D(2025, 1, 1),)])
def test_bad_period_names_the_parameter(loaded, period):
    with pytest.raises(SegplanError, match="period"):
        compute_features(loaded, "product", "week", period=period)
