"""Allocate short stock to open order lines by priority tier, fair share within a tier.

Rule, per product
    Tiers are served in order, 1 first. A tier whose lines all fit in what the higher tiers
    left gets everything it ordered. The first tier that does not fit shares the rest in
    proportion to ordered quantity, in whole units: each line gets floor(stock * q / Q_tier)
    (Hamilton's largest-remainder method), and the units left over go one each to the lines with
    the largest remainders, ties broken by order id then line ascending. Lower tiers get
    nothing, so a lower tier never receives stock a higher tier still lacks. Remainders are
    compared as exact integers (stock * q mod Q_tier), so no floating-point tie decides.

    The computation is grouped pandas over (product, tier): one sort and a few group sums, no
    loop over units or lines.

Inputs
    Quantities and available stock are whole units. Several stock rows of one product (e.g. per
    location) are summed; a negative balance counts as 0 (a backlog is not stock); a product
    with no stock row has 0.

References
    Balinski, M.L., Young, H.P. Fair Representation: Meeting the Ideal of One Man, One Vote,
    2nd ed., Brookings 2001 (Hamilton's method of largest remainders).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from core.errors import SegplanError

if TYPE_CHECKING:
    from core.policy import SegmentPolicy

LINE_COLUMNS = ("order_id", "line", "product_id", "quantity")
STOCK_COLUMNS = ("product_id", "available")
TIER_COLUMN = "allocation_tier"


@dataclass
class AllocationResult:
    """``lines``: the order lines with allocation_tier, allocated and cut (ordered - allocated),
    in input order. ``summary``: per segment (or per tier when lines have no segment) lines,
    lines_cut, ordered, allocated, cut, fill_rate (allocated / ordered) and line_fill_rate
    (share of lines allocated in full)."""

    lines: pd.DataFrame
    summary: pd.DataFrame


def _whole_units(values: pd.Series, name: str, table: str) -> np.ndarray:
    numbers = pd.to_numeric(values, errors="coerce").to_numpy(dtype=float)
    bad = np.flatnonzero(np.isnan(numbers) | (numbers != np.round(numbers)))
    if len(bad):
        raise SegplanError(f"{table}: column {name!r} has value {values.iloc[bad[0]]!r} (row {int(bad[0])})",
                           "allocation works in whole units; round the quantities first")
    return numbers.astype(np.int64)


def _tiers(lines: pd.DataFrame, policies) -> np.ndarray:
    if TIER_COLUMN in lines.columns:
        tiers = pd.to_numeric(lines[TIER_COLUMN], errors="coerce")
        source = f"column {TIER_COLUMN!r}"
    elif policies is not None and "segment" in lines.columns:
        listed = list(policies.values()) if isinstance(policies, Mapping) else list(policies)
        tier_of = {str(p.segment): int(p.allocation_tier) for p in listed}
        tiers = lines["segment"].astype(str).map(tier_of)
        missing = tiers.isna()
        if missing.any():
            raise SegplanError(f"order lines: segment {lines['segment'][missing].iloc[0]!r} has no policy",
                               "give a SegmentPolicy (with its allocation_tier) for every segment")
        source = "policies"
    else:
        raise SegplanError(f"order lines: no column {TIER_COLUMN!r} and no policies with a 'segment' column",
                           "give each line a tier, or a segment and the segment policies")
    bad = tiers.isna() | (tiers < 1) | (tiers != np.round(tiers))
    if bad.any():
        raise SegplanError(f"order lines: tier from {source} is {tiers[bad].iloc[0]!r} (row {int(np.flatnonzero(bad)[0])})",
                           "tiers are whole numbers from 1 (served first)")
    return tiers.to_numpy(dtype=np.int64)


def allocate(stock: pd.DataFrame, lines: pd.DataFrame,
             policies: Sequence[SegmentPolicy] | Mapping[str, SegmentPolicy] | None = None) -> AllocationResult:
    """Allocate ``stock`` (product_id, available) to open order ``lines`` (order_id, line,
    product_id, quantity and allocation_tier, or segment with ``policies`` giving each segment's
    tier; customer_id and other columns are carried through). Rule: module docstring."""
    for table, frame, needed in (("stock", stock, STOCK_COLUMNS), ("order lines", lines, LINE_COLUMNS)):
        missing = [c for c in needed if c not in frame.columns]
        if missing:
            raise SegplanError(f"{table}: column {missing[0]!r} is missing", f"{table} need {', '.join(needed)}")
    quantity = _whole_units(lines["quantity"], "quantity", "order lines")
    if (quantity < 0).any():
        raise SegplanError(f"order lines: quantity {int(quantity[quantity < 0][0])} is negative",
                           "open lines order zero or more units; leave returns out")
    available = np.maximum(_whole_units(stock["available"], "available", "stock"), 0)
    on_hand = pd.Series(available, index=stock["product_id"].to_numpy()).groupby(level=0).sum()
    tiers = _tiers(lines, policies)

    work = pd.DataFrame({"product_id": lines["product_id"].to_numpy(), "tier": tiers, "q": quantity,
                         "order_id": lines["order_id"].to_numpy(), "line": lines["line"].to_numpy(),
                         "pos": np.arange(len(lines))})
    # Stock each tier can have: what is left after the higher tiers, capped at its own demand.
    demand = work.groupby(["product_id", "tier"], sort=True)["q"].sum().rename("tier_demand").reset_index()
    demand["before"] = demand.groupby("product_id")["tier_demand"].cumsum() - demand["tier_demand"]
    stocked = demand["product_id"].map(on_hand).fillna(0).to_numpy(dtype=np.int64)
    demand["tier_stock"] = np.clip(stocked - demand["before"].to_numpy(), 0, demand["tier_demand"].to_numpy())
    work = work.merge(demand[["product_id", "tier", "tier_demand", "tier_stock"]], on=["product_id", "tier"],
                      how="left", validate="many_to_one")

    share = work["tier_stock"].to_numpy(np.int64) * work["q"].to_numpy(np.int64)
    total = np.maximum(work["tier_demand"].to_numpy(np.int64), 1)  # a tier ordering 0 shares 0
    work["base"] = share // total
    work["remainder"] = share % total
    leftover = work["tier_stock"] - work.groupby(["product_id", "tier"])["base"].transform("sum")
    work["leftover"] = leftover
    work = work.sort_values(["product_id", "tier", "remainder", "order_id", "line"],
                            ascending=[True, True, False, True, True], kind="mergesort")
    rank = work.groupby(["product_id", "tier"], sort=False).cumcount()
    work["allocated"] = work["base"] + (rank < work["leftover"]).astype(np.int64)
    work = work.sort_values("pos", kind="mergesort")

    out = lines.copy()
    out[TIER_COLUMN] = tiers
    out["allocated"] = work["allocated"].to_numpy(np.int64)
    out["cut"] = quantity - out["allocated"].to_numpy(np.int64)
    return AllocationResult(lines=out, summary=allocation_summary(out))


def allocation_summary(allocated: pd.DataFrame) -> pd.DataFrame:
    """Per segment (per tier when there is no segment column): lines, lines_cut, ordered,
    allocated, cut, fill_rate = allocated / ordered and line_fill_rate = lines in full / lines."""
    by = "segment" if "segment" in allocated.columns else TIER_COLUMN
    frame = allocated.assign(_cut_line=allocated["cut"] > 0, _key=allocated[by].astype(str) if by == "segment"
                             else allocated[by])
    out = frame.groupby("_key", sort=True).agg(
        lines=("quantity", "size"), lines_cut=("_cut_line", "sum"), ordered=("quantity", "sum"),
        allocated=("allocated", "sum"), cut=("cut", "sum"))
    out["fill_rate"] = (out["allocated"] / out["ordered"]).where(out["ordered"] > 0)
    out["line_fill_rate"] = 1.0 - out["lines_cut"] / out["lines"]
    return out.rename_axis(by).reset_index()
