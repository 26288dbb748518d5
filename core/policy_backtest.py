"""Forecast backtest per segment with each segment's own policy forecast method.

`core.forecast_backtest.backtest` fits one method (or "auto") over all items; a policy set
names a method per segment. Here the version's items are grouped by their segment's method and
each group is backtested once (last-``horizon`` holdout, as `backtest`), so a segment's WAPE and
bias are those of the method its policy plans with. Segments are disjoint, so the per-segment
tables of the groups are simply stacked.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

import pandas as pd

from core.errors import SegplanError

if TYPE_CHECKING:
    from core.policy import SegmentPolicy
    from core.store import Store

#: Buckets held out per item by default: a quarter of weekly demand.
DEFAULT_HORIZON = {"week": 12, "month": 3}
SEGMENT_COLUMNS = ["segment", "items", "backtested_items", "methods", "actual", "abs_error", "error", "wape", "bias",
                   "policy_method"]


def segment_backtest(store: Store, assignments: pd.DataFrame,
                     policies: Sequence[SegmentPolicy] | Mapping[str, SegmentPolicy], *, bucket: str = "week",
                     horizon: int | None = None, demand: pd.DataFrame | None = None) -> pd.DataFrame:
    """WAPE and bias per segment of a product-level version, each segment forecast by its
    policy's method ("auto" picks by demand pattern). ``demand``: per product and bucket
    (`core.features.bucket_demand`), read from ``store`` when not given. Returns one row per
    segment: segment (text), items, backtested_items, methods (the mix actually fitted, e.g.
    "sba 40, ses 12"), actual, abs_error, error, wape, bias and policy_method."""
    from core.features import bucket_demand
    from core.forecast_backtest import backtest

    if "product_id" not in assignments.columns:
        raise SegplanError("the forecast backtest per segment needs a product-level segmentation",
                           "choose a version segmented at the product level")
    listed = list(policies.values()) if isinstance(policies, Mapping) else list(policies)
    method_of = {str(p.segment): p.forecast_method for p in listed}
    keyed = assignments[["product_id", "segment"]].assign(product_id=assignments["product_id"].astype(str),
                                                          segment=assignments["segment"].astype(str))
    keyed["policy_method"] = keyed["segment"].map(method_of).fillna("auto")
    if demand is None:
        demand = bucket_demand(store, "product", bucket)
    demand = demand.assign(product_id=demand["product_id"].astype(str))
    horizon = int(horizon or DEFAULT_HORIZON.get(bucket, 12))
    tables = []
    for method, group in keyed.groupby("policy_method", sort=True):
        wanted = demand[demand["product_id"].isin(group["product_id"])]
        if wanted.empty:
            continue
        result = backtest(wanted[["product_id", "bucket_start", "demand_quantity"]], method=str(method),
                          horizon=horizon, bucket=bucket, assignments=group[["product_id", "segment"]])
        tables.append(result.segments.assign(policy_method=method))
    if not tables:
        return pd.DataFrame(columns=SEGMENT_COLUMNS)
    out = pd.concat(tables, ignore_index=True)
    out["segment"] = out["segment"].astype(str)
    return out.sort_values("segment", kind="mergesort", ignore_index=True)[SEGMENT_COLUMNS]
