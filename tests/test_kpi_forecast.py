"""Forecast accuracy per segment and period: 1 - WAPE of one-step-ahead forecasts, by hand on flat series."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from core.errors import SegplanError
from core.kpi_forecast import FORECAST_COLUMNS, segment_forecast_accuracy
from core.policy import SegmentPolicy
from core.policy_plan import save_policies
from core.versions import run_segmentation

SATURDAY = dt.date(2024, 1, 6)  # orders on Saturdays: every week, the last one too, is complete
WEEKS = 8
#: weekly demand per product: flat for seven weeks, then a jump (P1) and a drop (P2) in week 8
DEMAND = {"P1": [10] * (WEEKS - 1) + [14], "P2": [2] * (WEEKS - 1) + [1]}


@pytest.fixture
def flat(store):
    rows = [(f"O{p}{w}", SATURDAY + dt.timedelta(weeks=w), "C1", p, float(q))
            for p, series in DEMAND.items() for w, q in enumerate(series)]
    with store.transaction() as cur:
        cur.executemany("INSERT INTO orders (order_id, order_date, customer_id, product_id, quantity) "
                        "VALUES (?, ?, ?, ?, ?)", rows)
    version = run_segmentation(store, "product", "rules", rules=[{"name": "All"}], min_share=0).version_id
    save_policies(store, version, [SegmentPolicy("All", 0.95, forecast_method="ses")])
    return store, version


def test_accuracy_by_hand_pools_the_products_errors(flat):
    store, version = flat
    frame = segment_forecast_accuracy(store, version, "week", periods=2)
    assert list(frame.columns) == FORECAST_COLUMNS
    rows = {r.period.date(): r for r in frame.itertuples()}
    last, before = dt.date(2024, 2, 19), dt.date(2024, 2, 12)   # Mondays of weeks 8 and 7
    assert set(rows) == {before, last} and set(frame["segment"]) == {"All"}
    # week 7: both histories are flat, SES forecasts the flat level whatever its alpha: no error
    assert (rows[before].forecast_demand, rows[before].forecast_abs_error, rows[before].forecast_accuracy) == (12, 0, 1)
    # week 8: P1 forecast 10, sold 14 (|e| = 4); P2 forecast 2, sold 1 (|e| = 1)
    # WAPE = (4 + 1) / (14 + 1) = 1/3 pooled (not the mean of 4/14 and 1/1)
    week8 = rows[last]
    assert week8.forecast_items == 2
    assert (week8.forecast_demand, week8.forecast_abs_error) == pytest.approx((15, 5))
    assert week8.forecast_accuracy == pytest.approx(1 - 5 / 15)


def test_default_periods_are_the_backtest_holdout_and_history_must_come_first(flat):
    store, version = flat
    frame = segment_forecast_accuracy(store, version, "week")
    # 12 weeks asked for, 8 in the data; the first week has no history to forecast from
    assert len(frame) == WEEKS - 1
    assert frame["period"].min() == pd.Timestamp(2024, 1, 8)
    assert frame["forecast_accuracy"].iloc[:-1].tolist() == [1.0] * (WEEKS - 2)


def test_a_last_bucket_the_data_stops_short_of_is_not_scored(flat):
    store, version = flat
    # months: the data ends on Saturday 24 Feb, five days before the end of February, which is
    # not scored; January has no history before it
    assert segment_forecast_accuracy(store, version, "month", periods=3).empty
    with store.transaction() as cur:  # a line on 28 Feb: the data runs to within 2 days of the end
        cur.execute("INSERT INTO orders (order_id, order_date, customer_id, product_id, quantity) "
                    "VALUES ('LATE', DATE '2024-02-28', 'C1', 'P1', 1)")
    frame = segment_forecast_accuracy(store, version, "month", periods=3)
    assert frame["period"].tolist() == [pd.Timestamp(2024, 2, 1)]
    # one month of history: its demand is the forecast, P1 40 (4 Saturdays of 10), sold 10 * 3 + 14 + 1; P2 8, sold 2 * 3 + 1
    assert frame["forecast_abs_error"].iloc[0] == pytest.approx(abs(40 - 45) + abs(8 - 7))


def test_customer_versions_have_no_forecast_accuracy_and_bad_periods_are_errors(flat):
    store, version = flat
    customers = run_segmentation(store, "customer", "rules", rules=[{"name": "All"}], min_share=0).version_id
    frame = segment_forecast_accuracy(store, customers, "week")
    assert frame.empty and "customers" in frame.attrs["reason"]
    assert segment_forecast_accuracy(store, version, "week", periods=0).empty
    with pytest.raises(SegplanError, match="periods"):
        segment_forecast_accuracy(store, version, "week", periods=-1)
    with pytest.raises(SegplanError, match="bucket"):
        segment_forecast_accuracy(store, version, "day")
