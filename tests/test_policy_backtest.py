"""Forecast backtest per segment, each segment with its policy's method."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from core.forecast_backtest import backtest
from core.policy import SegmentPolicy
from core.policy_backtest import segment_backtest


def test_each_segment_is_backtested_with_its_own_method():
    weeks = pd.date_range("2024-01-01", periods=40, freq="W-MON")
    rng = np.random.default_rng(0)
    demand = pd.concat([pd.DataFrame({"product_id": pid, "bucket_start": weeks,
                                      "demand_quantity": rng.poisson(lam, len(weeks)).astype(float)})
                        for pid, lam in (("P1", 20), ("P2", 30), ("P3", 2), ("P4", 1))], ignore_index=True)
    assignments = pd.DataFrame({"product_id": ["P1", "P2", "P3", "P4"], "segment": ["A", "A", "C", "C"]})
    policies = [SegmentPolicy("A", 0.98, forecast_method="ses"), SegmentPolicy("C", 0.9, forecast_method="sba")]
    table = segment_backtest(None, assignments, policies, bucket="week", horizon=8, demand=demand)
    assert table["segment"].tolist() == ["A", "C"]
    assert table["policy_method"].tolist() == ["ses", "sba"]
    direct = backtest(demand[demand["product_id"].isin(["P1", "P2"])], method="ses", horizon=8, bucket="week",
                      assignments=assignments[assignments["segment"] == "A"]).segments
    assert table.loc[0, "wape"] == pytest.approx(direct.loc[0, "wape"])
    assert table.loc[0, "methods"] == "ses 2"
    assert table.loc[1, "methods"].startswith("sba")
