"""Backtest of `core.forecast.forecast` on held-out periods, per item and per segment.

Scheme: **last-H holdout** (one forecast origin). Each item's last ``horizon`` buckets are held
out, the method is chosen and fitted on the buckets before them exactly as `forecast` would,
and its ``horizon`` forecasts are compared with what happened. One origin, not a rolling one:
it is one batched fit per method, which is what keeps 1,500 items x 104 weeks to a second or
two, and it measures the forecast a planner would actually have used. Items with no more
than ``horizon`` buckets of history are left out (``backtested`` False, with the reason).
When ``patterns`` is given (from ``classify`` on the full history), ``auto`` picks methods by
those patterns; else patterns are computed from the training part only.

Measures, with error e = forecast - actual (so a positive bias is over-forecasting):
    WAPE = sum |e| / sum actual,  bias = sum e / sum actual
per item over its held-out buckets (NaN when the item had no demand in them), and per
segment over all its backtested items' buckets together: the sums are pooled, so a segment's
WAPE weighs items by volume (it is not the mean of item WAPEs).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from core.errors import SegplanError
from core.forecast import TIME, VALUE, forecast, key_columns_of

if TYPE_CHECKING:
    import pandas as pd


@dataclass(frozen=True)
class BacktestResult:
    """``items``: key columns, backtested, skip_reason, demand_pattern, method, fallback_reason,
    alpha, beta, gamma, actual, forecast, abs_error, error, wape, bias. ``segments`` (only with
    assignments): segment, items, backtested_items, methods ("sba 40, tsb 12"), actual,
    abs_error, error, wape, bias."""

    items: pd.DataFrame
    segments: pd.DataFrame | None
    horizon: int


def _ratio(numerator: pd.Series, denominator: pd.Series) -> pd.Series:
    return (numerator / denominator).where(denominator > 0)


def backtest(
    demand: pd.DataFrame,
    method: str = "auto",
    alpha: float | None = None,
    horizon: int = 12,
    patterns: pd.DataFrame | None = None,
    season_length: int | None = None,
    bucket: str | None = None,
    assignments: pd.DataFrame | None = None,
) -> BacktestResult:
    """Hold out each item's last ``horizon`` buckets, forecast them, measure WAPE and bias.

    ``assignments``: key columns + ``segment``, to aggregate per segment (module docstring).
    Other parameters as `core.forecast.forecast`.
    """
    import pandas as pd

    keys = list(key_columns_of(demand))
    if isinstance(horizon, bool) or not isinstance(horizon, (int, np.integer)) or horizon < 1:
        raise SegplanError(f"horizon must be a whole number of buckets >= 1, got {horizon!r}", hint="e.g. --horizon 12")
    frame = demand[[*keys, TIME, VALUE]].sort_values([*keys, TIME], kind="mergesort").reset_index(drop=True)
    from_end = frame.groupby(keys, sort=False, dropna=False).cumcount(ascending=False).to_numpy()
    sizes = frame.groupby(keys, sort=False, dropna=False)[TIME].transform("size").to_numpy()
    enough = sizes > horizon
    train = frame[enough & (from_end >= horizon)]
    held_out = frame[enough & (from_end < horizon)]

    all_items = frame[keys].drop_duplicates().reset_index(drop=True)
    if len(train):
        result = forecast(train, method=method, alpha=alpha, horizon=horizon, patterns=patterns,
                          season_length=season_length, bucket=bucket)
        compared = result.forecasts.merge(held_out, on=[*keys, TIME], how="inner", validate="one_to_one")
        compared["error"] = compared["forecast_quantity"] - compared[VALUE]
        compared["abs_error"] = compared["error"].abs()
        sums = compared.groupby(keys, sort=True, dropna=False).agg(
            actual=(VALUE, "sum"), forecast=("forecast_quantity", "sum"),
            abs_error=("abs_error", "sum"), error=("error", "sum")).reset_index()
        fitted = result.items.drop(columns=["history_periods", "demand_periods"]).merge(sums, on=keys, how="left")
    else:
        fitted = pd.DataFrame(columns=[*keys, "demand_pattern", "method", "fallback_reason", "alpha", "beta", "gamma",
                                       "actual", "forecast", "abs_error", "error"])
    items = all_items.merge(fitted, on=keys, how="left")
    items.insert(len(keys), "backtested", items["method"].notna())
    items.insert(len(keys) + 1, "skip_reason",
                 np.where(items["backtested"], "", f"history of {horizon} bucket(s) or fewer: nothing left to fit on"))
    items["wape"] = _ratio(items["abs_error"], items["actual"])
    items["bias"] = _ratio(items["error"], items["actual"])

    segments = None
    if assignments is not None:
        segments = _per_segment(items, keys, assignments)
    return BacktestResult(items, segments, int(horizon))


def _per_segment(items: pd.DataFrame, keys: list[str], assignments: pd.DataFrame) -> pd.DataFrame:
    import pandas as pd

    if "segment" not in assignments.columns or any(k not in assignments.columns for k in keys):
        raise SegplanError("assignments frame lacks key columns or segment",
                           hint="pass key columns and a segment column, one row per item")
    joined = items.merge(assignments[[*keys, "segment"]], on=keys, how="inner")
    done = joined[joined["backtested"]]
    mix = (done.groupby(["segment", "method"]).size().reset_index(name="n")
           .sort_values(["segment", "n", "method"], ascending=[True, False, True], kind="mergesort"))
    mix["label"] = mix["method"].astype(str) + " " + mix["n"].astype(str)
    methods = mix.groupby("segment", sort=True)["label"].agg(", ".join)
    table = joined.groupby("segment", sort=True).agg(items=("backtested", "size"), backtested_items=("backtested", "sum"))
    sums = done.groupby("segment", sort=True)[["actual", "abs_error", "error"]].sum()
    table = table.join(sums).join(methods.rename("methods"))
    table["methods"] = table["methods"].fillna("")
    table["wape"] = _ratio(table["abs_error"], table["actual"])
    table["bias"] = _ratio(table["error"], table["actual"])
    return table.reset_index()[["segment", "items", "backtested_items", "methods", "actual", "abs_error", "error",
                                "wape", "bias"]].pipe(pd.DataFrame)
