"""Forecasting: methods against published and hand-computed values, auto choice, fallback, backtest."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from core.errors import SegplanError
from core.forecast import forecast
from core.forecast_backtest import backtest

# PBS scripts, one ATC code, monthly Jul 1991 - Jun 2008 (204 months): the series sktime ships
# as sktime/datasets/data/PBS_dataset/PBS_dataset.csv (from R's fpp3/tsibbledata PBS) and uses in
# sktime/forecasting/tests/test_croston.py "test_Croston_against_r_implementation", whose R
# outputs, from `forecast::croston(ts(y), h = 10, alpha = a)$mean`, are printed there to 7
# significant digits: alpha 0.1 -> 0.8688921, 0.5 -> 0.6754646, 0.05 -> 1.405808.
PBS_SCRIPTS = [
    1, 1, 1, 0, 0, 1, 3, 1, 1, 1, 1, 1,      # Jul 1991 - Jun 1992
    2, 1, 1, 0, 0, 2, 0, 0, 1, 2, 0, 1,
    0, 0, 1, 1, 1, 1, 0, 0, 2, 1, 0, 0,
    0, 1, 0, 3, 3, 2, 4, 1, 1, 3, 3, 1,
    0, 4, 1, 3, 0, 1, 2, 5, 14, 2, 0, 0,
    3, 6, 2, 2, 2, 5, 1, 6, 3, 3, 2, 0,
    1, 1, 0, 0, 0, 1, 4, 12, 4, 0, 7, 0,
    2, 1, 4, 1, 3, 1, 0, 6, 9, 3, 1, 3,
    1, 7, 1, 3, 3, 3, 5, 6, 10, 5, 1, 3,
    1, 1, 1, 2, 1, 3, 7, 11, 10, 5, 5, 2,
    2, 1, 0, 3, 6, 5, 8, 9, 1, 1, 0, 0,
    0, 1, 2, 2, 0, 0, 0, 0, 1, 0, 0, 0,
    2, 1, 1, 0, 1, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 1, 0, 1, 3, 0, 0,      # Jul 2004 - Jun 2005
    *[0] * 36,                               # Jul 2005 - Jun 2008
]
R_CROSTON = {0.1: 0.8688921, 0.5: 0.6754646, 0.05: 1.405808}


def _frame(series: dict[str, list[float]], start: str = "2024-01-01", freq: str = "MS") -> pd.DataFrame:
    """A long demand table, one product per entry, each starting at ``start``."""
    parts = [
        pd.DataFrame({"product_id": key, "bucket_start": pd.date_range(start, periods=len(values), freq=freq),
                      "demand_quantity": np.asarray(values, dtype=float)})
        for key, values in series.items()
    ]
    return pd.concat(parts, ignore_index=True)


def _item(result, key: str) -> pd.Series:
    return result.items.set_index("product_id").loc[key]


def _values(result, key: str) -> np.ndarray:
    return result.forecasts.loc[result.forecasts["product_id"] == key, "forecast_quantity"].to_numpy()


def test_pbs_series_is_the_published_one():
    assert len(PBS_SCRIPTS) == 204 and sum(PBS_SCRIPTS) == 331 and sum(v > 0 for v in PBS_SCRIPTS) == 114


@pytest.mark.parametrize("alpha", sorted(R_CROSTON))
def test_croston_equals_r_forecast_croston_on_pbs(alpha):
    result = forecast(_frame({"J": PBS_SCRIPTS}, start="1991-07-01"), method="croston", alpha=alpha, horizon=10)
    values = _values(result, "J")
    assert len(values) == 10
    # R prints 7 significant digits; our value equals it to within that rounding (< 1e-6)
    assert np.allclose(values, R_CROSTON[alpha], rtol=0, atol=1e-6)
    assert _item(result, "J")["method"] == "croston" and _item(result, "J")["alpha"] == alpha
    assert result.forecasts["bucket_start"].iloc[0] == pd.Timestamp("2008-07-01")


def test_croston_initialises_like_r_by_hand():
    # demands 4 at t=2 and 6 at t=5 (1-based): z = 4, p = 2 (first interval counted from the
    # start, as R does); then z = 4 + 0.5 * (6 - 4) = 5, p = 2 + 0.5 * (3 - 2) = 2.5 -> 2.0
    result = forecast(_frame({"A": [0, 4, 0, 0, 6, 0]}), method="croston", alpha=0.5, horizon=2)
    assert np.allclose(_values(result, "A"), 2.0)


@pytest.mark.parametrize("alpha", [0.1, 0.3])
def test_sba_is_croston_times_one_minus_half_alpha(alpha):
    demand = _frame({"J": PBS_SCRIPTS, "K": [0, 3, 0, 0, 7, 0, 2, 0, 0, 0, 5]})
    croston = forecast(demand, method="croston", alpha=alpha, horizon=3)
    sba = forecast(demand, method="sba", alpha=alpha, horizon=3)
    for key in ("J", "K"):
        assert np.allclose(_values(sba, key), _values(croston, key) * (1 - alpha / 2), rtol=1e-12)
    assert (sba.items["method"] == "sba").all()


def test_tsb_on_a_hand_series():
    # y = 0 3 0 0 5, alpha = beta = 0.2. Start z = mean of non-zero demands = 4,
    # p = share of periods with demand = 2/5 = 0.4. Every period p += 0.2 (1[y>0] - p);
    # with demand also z += 0.2 (y - z):
    # p: 0.32, 0.456, 0.3648, 0.29184, 0.433472; z: 4, 3.8, 3.8, 3.8, 4.04
    result = forecast(_frame({"T": [0, 3, 0, 0, 5]}), method="tsb", alpha=0.2, horizon=4)
    assert np.allclose(_values(result, "T"), 0.433472 * 4.04, atol=1e-12)
    row = _item(result, "T")
    assert row["method"] == "tsb" and row["alpha"] == 0.2 and row["beta"] == 0.2


def test_tsb_decays_when_demand_stops_and_croston_does_not():
    history = [5, 0, 5, 0, 5, 0, 5] + [0] * 10
    tsb = forecast(_frame({"O": history}), method="tsb", alpha=0.2, horizon=1)
    sba = forecast(_frame({"O": history}), method="sba", alpha=0.2, horizon=1)
    assert _values(tsb, "O")[0] < 0.5 < _values(sba, "O")[0]


def _ses_weighted_average(y: list[float], alpha: float) -> float:
    """FPP3 8.1, weighted-average form with l_1 = y_1: sum_j alpha (1-alpha)^j y_{T-j} + (1-alpha)^(T-1) y_1."""
    t = len(y)
    return sum(alpha * (1 - alpha) ** j * y[t - 1 - j] for j in range(t - 1)) + (1 - alpha) ** (t - 1) * y[0]


def test_ses_equals_the_closed_form():
    y = [3.0, 5, 9, 20, 12, 17, 22, 23, 51, 41]
    result = forecast(_frame({"S": y}), method="ses", alpha=0.3, horizon=3)
    assert np.allclose(_values(result, "S"), _ses_weighted_average(y, 0.3), rtol=1e-12)


def test_ses_optimised_alpha_is_the_least_squares_one_on_the_grid():
    y = [3.0, 5, 9, 20, 12, 17, 22, 23, 51, 41, 56, 75, 60, 75, 88]

    def sse(alpha: float) -> float:
        level, total = y[0], 0.0
        for value in y[1:]:
            total += (value - level) ** 2
            level += alpha * (value - level)
        return total

    grid = [round(0.01 * i, 2) for i in range(1, 101)]
    best = min(grid, key=sse)
    result = forecast(_frame({"S": y}), method="ses", horizon=1)
    assert _item(result, "S")["alpha"] == pytest.approx(best)
    assert np.allclose(_values(result, "S"), _ses_weighted_average(y, best))


def test_holt_follows_a_straight_line():
    result = forecast(_frame({"L": [10 + 2.0 * t for t in range(12)]}), method="holt", horizon=3)
    assert np.allclose(_values(result, "L"), [34, 36, 38], atol=1e-9)


def test_holt_winters_recovers_the_season():
    season = np.array([20, 35, 50, 40, 30, 10, -5, -15, -30, -40, -60, -75], dtype=float)
    t = np.arange(48)
    history = 500 + 1.5 * t + np.tile(season, 4)
    result = forecast(_frame({"H": history.tolist()}), method="auto", horizon=12)
    row = _item(result, "H")
    assert row["demand_pattern"] == "smooth" and row["method"] == "holt_winters", row["fallback_reason"]
    expected = 500 + 1.5 * np.arange(48, 60) + season
    assert np.allclose(_values(result, "H"), expected, atol=0.5)
    # the season, centred, is recovered
    fc = _values(result, "H") - 1.5 * np.arange(48, 60)
    assert np.allclose(fc - fc.mean(), season - season.mean(), atol=0.5)
    assert 0 <= row["gamma"] <= 1 and 0 <= row["alpha"] <= 1


def test_auto_picks_the_method_by_demand_pattern():
    rng = np.random.default_rng(7)
    demand = _frame({
        "smooth": (100 + rng.normal(0, 5, 30)).round().tolist(),
        "erratic": [1, 50, 2, 80, 1, 60, 3, 90, 2, 70] * 3,
        "intermittent": [5, 0, 0, 6, 0, 5, 0, 0, 6, 0] * 3,
        "lumpy": [1, 0, 0, 50, 0, 0, 2, 0, 90, 0] * 3,
        "none": [0] * 30,
    })
    result = forecast(demand, horizon=4)
    table = result.items.set_index("product_id")
    assert table["demand_pattern"].to_dict() == {
        "erratic": "erratic", "intermittent": "intermittent", "lumpy": "lumpy", "none": "no_demand", "smooth": "smooth"}
    assert table["method"].to_dict() == {
        "erratic": "ses", "intermittent": "sba", "lumpy": "tsb", "none": "zero", "smooth": "ses"}
    assert (table["fallback_reason"] == "").all()
    assert (_values(result, "none") == 0).all()
    # patterns given (e.g. from classify on other data) take precedence
    given = pd.DataFrame({"product_id": ["smooth"], "demand_pattern": ["lumpy"]})
    assert _item(forecast(demand, horizon=4, patterns=given), "smooth")["method"] == "tsb"


@pytest.mark.parametrize("method", ["auto", "ses", "holt", "holt_winters", "croston", "sba", "tsb"])
def test_degenerate_series_fall_back_and_say_why(method):
    demand = _frame({"zeros": [0] * 8, "one": [7], "good": [5, 0, 6, 0, 0, 7, 0, 5, 6, 0, 4, 5]})
    result = forecast(demand, method=method, horizon=3, bucket="month")
    zeros, one, good = (_item(result, k) for k in ("zeros", "one", "good"))
    assert zeros["method"] == "zero" and (_values(result, "zeros") == 0).all()
    assert zeros["fallback_reason"] == ("" if method == "auto" else "no demand in history")
    assert one["method"] == "mean" and np.allclose(_values(result, "one"), 7.0)
    assert "1 period" in one["fallback_reason"] and np.isnan(one["alpha"])
    if method != "holt_winters":  # 12 months are fewer than two seasons: that one falls back too
        assert good["fallback_reason"] == "" and good["method"] != "mean"
    else:
        assert good["method"] == "mean" and "two seasons" in good["fallback_reason"]
    assert len(result.forecasts) == 9 and result.forecasts["forecast_quantity"].notna().all()


def test_croston_with_one_demand_falls_back():
    result = forecast(_frame({"A": [0, 0, 9, 0]}), method="croston", horizon=2)
    row = _item(result, "A")
    assert row["method"] == "mean" and "1 period(s) with demand" in row["fallback_reason"]
    assert np.allclose(_values(result, "A"), 9 / 4)


def test_backtest_wape_and_bias_by_hand():
    # alpha = 1: SES forecasts the last value it saw. Holdout of 2 buckets.
    demand = _frame({
        "A": [2, 4, 6, 8, 10, 3, 7],   # forecast 10, 10 vs 3, 7: e = 7, 3
        "B": [5, 5, 5, 5, 4, 6],       # forecast 5, 5 vs 4, 6: e = 1, -1
        "C": [1, 2],                   # too short: not backtested
    })
    assignments = pd.DataFrame({"product_id": ["A", "B", "C"], "segment": ["S1", "S1", "S1"]})
    result = backtest(demand, method="ses", alpha=1.0, horizon=2, assignments=assignments)
    items = result.items.set_index("product_id")
    assert items.loc["A", ["actual", "abs_error", "error"]].tolist() == [10, 10, 10]
    assert items.loc["A", "wape"] == pytest.approx(1.0) and items.loc["A", "bias"] == pytest.approx(1.0)
    assert items.loc["B", "wape"] == pytest.approx(0.2) and items.loc["B", "bias"] == pytest.approx(0.0)
    assert not items.loc["C", "backtested"] and items.loc["C", "skip_reason"]
    segment = result.segments.set_index("segment").loc["S1"]
    assert segment["items"] == 3 and segment["backtested_items"] == 2 and segment["methods"] == "ses 2"
    assert segment["wape"] == pytest.approx(12 / 20) and segment["bias"] == pytest.approx(10 / 20)


def test_wide_table_for_the_cli():
    demand = _frame({"A": [1, 2, 3, 4], "B": [0, 5, 0, 5]}, start="2024-01-01", freq="W-MON")
    wide = forecast(demand, method="ses", alpha=0.5, horizon=2).wide()
    assert list(wide.columns) == ["product_id", "method", "fallback_reason", "2024-01-29", "2024-02-05"]
    assert wide["product_id"].tolist() == ["A", "B"]


def test_errors_a_user_can_fix():
    demand = _frame({"A": [1, 2, 3]})
    with pytest.raises(SegplanError, match="unknown forecast method"):
        forecast(demand, method="arima")
    with pytest.raises(SegplanError, match="alpha"):
        forecast(demand, method="ses", alpha=1.5)
    with pytest.raises(SegplanError, match="horizon"):
        forecast(demand, horizon=0)
    with pytest.raises(SegplanError, match="negative"):
        forecast(_frame({"A": [1, -2, 3]}))
    with pytest.raises(SegplanError, match="gaps"):
        forecast(demand.drop(index=1))


def test_on_the_tiny_database_and_deterministic(store):
    from core.classify import classify
    from core.features import bucket_demand
    from core.sample import build_tiny_database

    build_tiny_database(store, seed=0)
    demand = bucket_demand(store, "product", "week")
    patterns = classify(store, "product")
    first = forecast(demand, horizon=8, patterns=patterns)
    shuffled = demand.sample(frac=1.0, random_state=3)
    second = forecast(shuffled, horizon=8, patterns=patterns)
    pd.testing.assert_frame_equal(first.items, second.items)
    pd.testing.assert_frame_equal(first.forecasts, second.forecasts)
    assert len(first.items) == demand["product_id"].nunique()
    assert len(first.forecasts) == 8 * len(first.items)
    assert (first.forecasts["forecast_quantity"] >= 0).all()
    assert set(first.items["method"]) <= {"ses", "holt_winters", "sba", "tsb", "zero", "mean"}
    assignments = patterns[["product_id", "demand_pattern"]].rename(columns={"demand_pattern": "segment"})
    one = backtest(demand, horizon=8, patterns=patterns, assignments=assignments)
    two = backtest(shuffled, horizon=8, patterns=patterns, assignments=assignments)
    pd.testing.assert_frame_equal(one.segments, two.segments)
    assert one.segments["backtested_items"].sum() == one.items["backtested"].sum()


def test_seasonality_test_finds_two_years_of_weekly_waves_and_little_else():
    from core.forecast_methods import seasonal

    rng = np.random.default_rng(11)
    weeks, items = 104, 200
    t = np.arange(weeks)
    noise = rng.gamma(50, 1 / 50, (items, weeks))  # +-14 % week to week
    peaks = rng.integers(0, 52, items)[:, None]
    waves = 100 * (1 + 0.5 * np.cos(2 * np.pi * (t - peaks) / 52)) * noise
    flat = 100 * noise
    trend = (100 + t) * noise
    lengths = np.full(items, float(weeks))
    assert seasonal(waves, lengths, 52).all()
    assert seasonal(flat, lengths, 52).mean() < 0.10  # a 5 % test
    assert seasonal(trend, lengths, 52).mean() < 0.10
    # fewer than two seasons: never seasonal
    assert not seasonal(waves[:, :103], np.full(items, 103.0), 52).any()


def test_auto_uses_holt_winters_for_a_seasonal_weekly_item():
    rng = np.random.default_rng(5)
    t = np.arange(104)
    wave = (200 * (1 + 0.6 * np.cos(2 * np.pi * t / 52)) * rng.gamma(50, 1 / 50, 104)).round()
    result = forecast(_frame({"W": wave.tolist()}, start="2024-01-01", freq="W-MON"), horizon=13)
    row = _item(result, "W")
    assert row["demand_pattern"] == "smooth" and row["method"] == "holt_winters", row["fallback_reason"]
    # the next 13 weeks are the top of the wave again (weeks 104-116 ~ 200 * (1 + 0.6 cos)), not a flat level
    expected = 200 * (1 + 0.6 * np.cos(2 * np.pi * np.arange(104, 117) / 52))
    assert np.abs(_values(result, "W") - expected).mean() < 0.15 * expected.mean()


def test_two_key_columns_and_empty_input():
    weeks = pd.date_range("2024-01-01", periods=6, freq="W-MON")
    demand = pd.DataFrame({
        "customer_id": ["C1"] * 6 + ["C2"] * 6, "product_id": ["P"] * 12, "bucket_start": list(weeks) * 2,
        "demand_quantity": [1.0, 2, 3, 4, 5, 6, 0, 3, 0, 0, 4, 0], "order_lines": 1,
    })
    result = forecast(demand, horizon=2)
    assert result.keys == ("customer_id", "product_id")
    assert result.items["method"].tolist() == ["ses", "sba"]
    assert list(result.wide().columns[:3]) == ["customer_id", "product_id", "method"]
    assignments = demand[["customer_id", "product_id"]].drop_duplicates().assign(segment="X")
    assert backtest(demand, horizon=2, assignments=assignments).segments["backtested_items"].tolist() == [2]

    empty = demand.iloc[:0]
    assert len(forecast(empty).forecasts) == 0
    assert backtest(empty, assignments=assignments.iloc[:0]).segments.empty


def test_backtest_of_1500_items_by_104_weeks_takes_seconds():
    import time

    rng = np.random.default_rng(0)
    items, weeks = 1500, 104
    rate = rng.uniform(0.05, 1.0, items)[:, None]
    size = rng.lognormal(2.0, rng.uniform(0.2, 1.2, items)[:, None], (items, weeks))
    matrix = np.where(rng.random((items, weeks)) < rate, size.round(), 0.0)
    matrix[:, 0] = np.maximum(matrix[:, 0], 1.0)  # horizons start at the first demand, as bucket_demand's
    demand = pd.DataFrame({
        "product_id": np.repeat([f"P{i:04d}" for i in range(items)], weeks),
        "bucket_start": np.tile(pd.date_range("2024-01-01", periods=weeks, freq="W-MON"), items),
        "demand_quantity": matrix.reshape(-1),
    })
    assignments = pd.DataFrame({"product_id": [f"P{i:04d}" for i in range(items)], "segment": rng.integers(0, 6, items)})
    started = time.perf_counter()
    result = backtest(demand, horizon=13, assignments=assignments)
    elapsed = time.perf_counter() - started
    assert result.items["backtested"].all() and len(result.segments) == 6
    assert elapsed < 10, f"backtest took {elapsed:.1f} s"


def test_rolling_origins_pool_the_windows_by_hand():
    # alpha = 1 (last value), horizon 2, two origins:
    # A: origin 1 sees 2 4 6 8 10 -> 10, 10 vs 3, 7 (e 7, 3); origin 2 sees 2 4 6 -> 6, 6 vs 8, 10 (e -2, -4)
    # D: only origin 1 (3 buckets): sees 1 -> one period, falls back to its mean 1 vs 2, 3 (e -1, -2)
    demand = _frame({"A": [2, 4, 6, 8, 10, 3, 7], "D": [1, 2, 3]})
    items = backtest(demand, method="ses", alpha=1.0, horizon=2, origins=2).items.set_index("product_id")
    assert items.loc["A", ["actual", "abs_error", "error", "buckets"]].tolist() == [28, 16, 4, 4]
    assert items.loc["A", "wape"] == pytest.approx(16 / 28) and items.loc["A", "bias"] == pytest.approx(4 / 28)
    assert items.loc["D", ["actual", "abs_error", "error", "buckets"]].tolist() == [5, 3, -3, 2]
    assert items.loc["D", "method"] == "mean" and "1 period" in items.loc["D", "fallback_reason"]
    with pytest.raises(SegplanError, match="origins"):
        backtest(demand, origins=0)


def test_ses_agrees_with_statsmodels_and_alpha_fixes_holt_winters():
    from statsmodels.tsa.holtwinters import SimpleExpSmoothing

    y = [3.0, 5, 9, 20, 12, 17, 22, 23, 51, 41, 56, 75, 60, 75, 88]
    # statsmodels' "known" initial level is the level before y_1; at y_1 it updates by 0, as ours starts
    reference = SimpleExpSmoothing(np.array(y), initialization_method="known", initial_level=y[0]).fit(
        smoothing_level=0.4, optimized=False).forecast(2)
    ours = _values(forecast(_frame({"S": y}), method="ses", alpha=0.4, horizon=2), "S")
    assert np.allclose(ours, reference, rtol=1e-12)

    season = np.array([20, 35, 50, 40, 30, 10, -5, -15, -30, -40, -60, -75], dtype=float)
    history = (500 + np.tile(season, 3)).tolist()
    row = _item(forecast(_frame({"H": history}), method="holt_winters", alpha=0.2, horizon=12), "H")
    assert row["method"] == "holt_winters" and row["alpha"] == pytest.approx(0.2)
    assert not np.isnan(row["beta"])  # three seasons: the trend is in
