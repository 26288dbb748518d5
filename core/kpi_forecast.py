"""Forecast accuracy per segment and period: 1 - WAPE of one-step-ahead forecasts by each segment's policy method.

Definition (docs/formulas.md, "KPIs"): for a period t, every product of the segment is
forecast one bucket ahead from its demand up to the bucket before t, with the forecast method
of its segment's policy (`core.policy_plan.version_policies`; "auto" picks by demand pattern),
exactly as the policy backtest does (`core.policy_backtest.segment_backtest` with a horizon of
one bucket and the history cut at t). Then, over the segment's products,

    WAPE_t = sum |forecast - demand| / sum demand,   forecast_accuracy_t = 1 - WAPE_t

so products weigh by their volume (Hyndman & Athanasopoulos, *Forecasting: Principles and
Practice*, 3rd ed., 2021, sec. 5.8, scale-dependent errors; WAPE = sum |e| / sum |y|, demand
being non-negative). Accuracy is not clipped: a forecast that misses by more than the demand
scores below 0. A period where the segment had no demand has no accuracy (NULL).

Scored periods are the latest ``periods`` complete buckets of the data (default: the policy
backtest's holdout, 12 weeks or 3 months). The last bucket counts as complete when the data
runs to within ``COMPLETE_WITHIN_DAYS`` of its end (a weekend without orders); a month cut
after four days would be scored against a whole month's forecast and say nothing; each costs one backtest of the version's products, so the
default keeps the tiny sample within seconds. Demand is gross demand per product and bucket of
order date (`core.features.bucket_demand`), the same periods as `core.kpi`. Only
product-level versions have it: customer segments plan no product forecasts, and a
customer x product version has no single forecast per product.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from core.errors import SegplanError
from core.kpi import _check_bucket

if TYPE_CHECKING:
    import pandas as pd

    from core.store import Store

#: The data must run to within this many days of its last bucket's end for that bucket to be scored.
COMPLETE_WITHIN_DAYS = 2
#: Columns of `segment_forecast_accuracy`.
FORECAST_COLUMNS = ["segment", "period", "forecast_items", "forecast_demand", "forecast_abs_error",
                    "forecast_accuracy"]


def _complete_starts(store: Store, demand: pd.DataFrame, bucket: str) -> list[pd.Timestamp]:
    """Bucket starts of the demand, without a last bucket the data stops short of (module docstring)."""
    import pandas as pd

    starts = [pd.Timestamp(s) for s in sorted(demand["bucket_start"].unique())]
    last_day = pd.Timestamp(store.cursor().execute("SELECT max(order_date) FROM orders WHERE quantity > 0").fetchone()[0])
    step = pd.DateOffset(weeks=1) if bucket == "week" else pd.DateOffset(months=1)
    bucket_end = starts[-1] + step - pd.Timedelta(days=1)
    if last_day < bucket_end - pd.Timedelta(days=COMPLETE_WITHIN_DAYS):
        starts = starts[:-1]
    return starts


def _empty(reason: str) -> pd.DataFrame:
    import pandas as pd

    frame = pd.DataFrame(columns=FORECAST_COLUMNS)
    frame.attrs["reason"] = reason
    return frame


def segment_forecast_accuracy(store: Store, version_id: int, bucket: str = "week",
                              periods: int | None = None) -> pd.DataFrame:
    """One row per segment and scored period (module docstring): ``segment`` (text), ``period``
    (bucket start), ``forecast_items`` (products forecast), ``forecast_demand`` (sum of demand),
    ``forecast_abs_error`` (sum of |forecast - demand|) and ``forecast_accuracy`` (1 - their ratio).

    A product's segment is its effective one (`core.overrides.effective_assignments`: overrides
    active today applied). A version that is not at product level, or no demand, gives an empty
    frame whose ``attrs["reason"]`` says why.
    """
    import pandas as pd

    from core.features import bucket_demand
    from core.policy_backtest import DEFAULT_HORIZON, segment_backtest
    from core.overrides import effective_assignments
    from core.policy_plan import version_info, version_policies

    _check_bucket(bucket)
    if periods is None:
        periods = DEFAULT_HORIZON[bucket]
    if isinstance(periods, bool) or not isinstance(periods, int) or periods < 0:
        raise SegplanError(f"periods must be a whole number >= 0, got {periods!r}",
                           hint="for example 12 (weeks) or 0 for none")
    level = str(version_info(store, version_id)["level"])
    if level != "product":
        return _empty(f"forecast accuracy is per product forecast; version {version_id} segments "
                      f"{level.replace('_', ' x ')}s")
    if periods == 0:
        return _empty("no periods asked for")
    items = effective_assignments(store, version_id)   # a moved product is forecast with its new segment's method
    policies = version_policies(store, version_id)
    demand = bucket_demand(store, "product", bucket)
    if demand.empty:
        return _empty("no order lines are loaded")
    starts = _complete_starts(store, demand, bucket)[-periods:]
    rows = []
    for start in starts:
        # the history up to the period: every product's last bucket is now the period, held out
        scored = segment_backtest(store, items, policies, bucket=bucket, horizon=1,
                                  demand=demand[demand["bucket_start"] <= start])
        scored = scored[scored["backtested_items"] > 0]
        rows.append(pd.DataFrame({
            "segment": scored["segment"].astype(str),
            "period": pd.Timestamp(start),
            "forecast_items": scored["backtested_items"].astype("int64"),
            "forecast_demand": scored["actual"].astype(float),
            "forecast_abs_error": scored["abs_error"].astype(float),
            "forecast_accuracy": 1.0 - scored["wape"].astype(float),
        }))
    frame = pd.concat(rows, ignore_index=True) if rows else _empty("no periods")
    frame = frame.sort_values(["segment", "period"], kind="mergesort", ignore_index=True)[FORECAST_COLUMNS]
    frame.attrs.update(version_id=int(version_id), bucket=bucket, periods=int(periods))
    return frame
