"""Backtest of `core.forecast.forecast` on held-out periods, per item and per segment.

Scheme: **last-H holdout** by default (one forecast origin). Each item's last ``horizon``
buckets are held out, the method is chosen and fitted on the buckets before them exactly as
`forecast` would, and its ``horizon`` forecasts are compared with what happened. It is one
batched fit per method, which keeps 1,500 items x 104 weeks under a second. ``origins=k``
makes it a rolling origin (time-series cross-validation, FPP3 section 5.10; Tashman 2000,
IJF 16(4)): k non-overlapping windows of ``horizon`` buckets, the i-th ending (i - 1) *
horizon buckets before the last, each forecast from the history before it; errors of all
windows are pooled, and the methods and parameters reported are those of the latest origin.
Items with no more than ``horizon`` buckets of history are left out (``backtested`` False,
with the reason); an item enters only the windows it has history before.
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
    alpha, beta, gamma, actual, forecast, abs_error, error, buckets (compared), wape, bias. ``segments`` (only with
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
    origins: int = 1,
) -> BacktestResult:
    """Hold out each item's last ``horizon`` buckets, forecast them, measure WAPE and bias.

    ``assignments``: key columns + ``segment``, to aggregate per segment (module docstring).
    ``origins`` > 1: rolling origins, ``origins`` windows of ``horizon`` buckets back from the end.
    Other parameters as `core.forecast.forecast`.
    """
    import pandas as pd

    keys = list(key_columns_of(demand))
    for name, value in (("horizon", horizon), ("origins", origins)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
            raise SegplanError(f"{name} must be a whole number >= 1, got {value!r}", hint="e.g. horizon 12, origins 1")
    frame = demand[[*keys, TIME, VALUE]].sort_values([*keys, TIME], kind="mergesort").reset_index(drop=True)
    from_end = frame.groupby(keys, sort=False, dropna=False).cumcount(ascending=False).to_numpy()
    sizes = frame.groupby(keys, sort=False, dropna=False)[TIME].transform("size").to_numpy()

    all_items = frame[keys].drop_duplicates().reset_index(drop=True)
    comparisons = []
    latest = None  # the fit at the latest origin: its methods and parameters are reported
    for origin in range(1, int(origins) + 1):
        cut = origin * horizon  # buckets from the end that this origin does not see
        enough = sizes > cut
        train = frame[enough & (from_end >= cut)]
        if train.empty:
            break
        held_out = frame[enough & (from_end < cut) & (from_end >= cut - horizon)]
        result = forecast(train, method=method, alpha=alpha, horizon=horizon, patterns=patterns,
                          season_length=season_length, bucket=bucket)
        comparisons.append(result.forecasts.merge(held_out, on=[*keys, TIME], how="inner", validate="one_to_one"))
        latest = latest if latest is not None else result.items
    if latest is not None:
        compared = pd.concat(comparisons, ignore_index=True)
        compared["error"] = compared["forecast_quantity"] - compared[VALUE]
        compared["abs_error"] = compared["error"].abs()
        sums = compared.groupby(keys, sort=True, dropna=False).agg(
            actual=(VALUE, "sum"), forecast=("forecast_quantity", "sum"),
            abs_error=("abs_error", "sum"), error=("error", "sum"), buckets=(VALUE, "size")).reset_index()
        fitted = latest.drop(columns=["history_periods", "demand_periods"]).merge(sums, on=keys, how="left")
    else:
        fitted = pd.DataFrame(columns=[*keys, "demand_pattern", "method", "fallback_reason", "alpha", "beta", "gamma",
                                       "actual", "forecast", "abs_error", "error", "buckets"])
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
