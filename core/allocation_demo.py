"""Inputs for allocating stock by segment: uploaded stock and open order lines, or a demo made
from the order history, and the lines tagged with their segment and priority tier.

The allocation rule itself is `core.allocation.allocate`; this module only gets its inputs
ready so a page (or the CLI) stays thin.

Demo: the last ``weeks`` weeks of order lines (up to the latest order date) stand in for the
open order book, and ``stock_share`` (default 80 %) of each product's open quantity, rounded
down to whole units, for the stock on hand, so every product is short and the tiers decide.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from core.allocation import TIER_COLUMN, AllocationResult, allocate
from core.errors import SegplanError

if TYPE_CHECKING:
    from core.policy import SegmentPolicy
    from core.store import Store

#: Segment label of open lines whose product is not in the segmentation version.
NOT_IN_VERSION = "not in the version"
#: Demo defaults: four weeks of orders as open lines, 80 % of their quantity as stock.
DEMO_WEEKS = 4
DEMO_STOCK_SHARE = 0.8
#: Accepted names of the stock file's quantity column, first found wins.
STOCK_QUANTITY_NAMES = ("available_quantity", "available", "quantity", "on_hand")
#: Accepted names of the line-number column of an open-lines file.
LINE_NAMES = ("line", "line_number", "line_no")


def _read_csv(path: str | Path, what: str) -> pd.DataFrame:
    try:
        frame = pd.read_csv(path, dtype={"product_id": str, "order_id": str, "customer_id": str})
    except (OSError, ValueError, pd.errors.ParserError) as err:
        raise SegplanError(f"{what} file {Path(path).name!r} cannot be read: {err}",
                           "give a comma-separated file with a header row") from err
    frame.columns = [str(c).strip().lower() for c in frame.columns]
    return frame


def _whole(values: pd.Series, name: str, what: str) -> np.ndarray:
    numbers = pd.to_numeric(values, errors="coerce")
    bad = numbers.isna()
    if bad.any():
        row = int(np.flatnonzero(bad.to_numpy())[0])
        raise SegplanError(f"{what}: column {name!r} has value {values.iloc[row]!r} (row {row + 2} of the file)",
                           "give a number in every row")
    return np.round(numbers.to_numpy(dtype=float)).astype(np.int64)


def read_stock(path: str | Path) -> pd.DataFrame:
    """Available stock per product from a CSV (product_id and available_quantity, or available /
    quantity / on_hand). Rows of one product (locations) are summed by the allocation; values are
    rounded to whole units. Returns product_id, available."""
    frame = _read_csv(path, "stock")
    column = next((c for c in STOCK_QUANTITY_NAMES if c in frame.columns), None)
    if "product_id" not in frame.columns or column is None:
        missing = "product_id" if "product_id" not in frame.columns else "available_quantity"
        raise SegplanError(f"stock file: column {missing!r} is missing",
                           "the stock file needs the columns product_id and available_quantity")
    return pd.DataFrame({"product_id": frame["product_id"].astype(str),
                         "available": _whole(frame[column], column, "stock file")})


def read_open_lines(path: str | Path) -> pd.DataFrame:
    """Open order lines from a CSV: order_id, product_id, quantity, optionally line (or
    line_number) and customer_id. Without a line column, lines are numbered within each order in
    file order. Quantities are rounded to whole units. Returns order_id, line, product_id,
    quantity (and customer_id when given)."""
    frame = _read_csv(path, "open order lines")
    for needed in ("order_id", "product_id", "quantity"):
        if needed not in frame.columns:
            raise SegplanError(f"open order lines file: column {needed!r} is missing",
                               "the open lines file needs order_id, product_id and quantity (line optional)")
    line_column = next((c for c in LINE_NAMES if c in frame.columns), None)
    out = pd.DataFrame({"order_id": frame["order_id"].astype(str)})
    out["line"] = (frame[line_column].astype(str) if line_column is not None
                   else (out.groupby("order_id").cumcount() + 1).astype(str))
    out["product_id"] = frame["product_id"].astype(str)
    out["quantity"] = _whole(frame["quantity"], "quantity", "open order lines file")
    if (out["quantity"] < 0).any():
        row = int(np.flatnonzero(out["quantity"].to_numpy() < 0)[0])
        raise SegplanError(f"open order lines file: quantity {out['quantity'].iloc[row]} is negative (row {row + 2})",
                           "open lines order zero or more units; leave returns out")
    if "customer_id" in frame.columns:
        out["customer_id"] = frame["customer_id"].astype(str)
    return out


def demo_inputs(store: Store, weeks: int = DEMO_WEEKS,
                stock_share: float = DEMO_STOCK_SHARE) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(stock, open lines) from the order history: the lines of the last ``weeks`` weeks up to the
    latest order date (returns left out, quantities rounded to whole units) and, per product,
    floor(``stock_share`` x its open quantity) as available stock."""
    if not 0.0 <= float(stock_share) <= 1.0:
        raise SegplanError(f"stock share {stock_share!r} is not between 0 and 1", "e.g. 0.8 for 80 %")
    if int(weeks) < 1:
        raise SegplanError(f"weeks {weeks!r} is not a whole number >= 1", "e.g. 4")
    lines = store.cursor().execute(
        """WITH latest AS (SELECT max(order_date) AS last_day FROM orders)
           SELECT order_id,
                  coalesce(line_number, CAST(row_number() OVER (PARTITION BY order_id ORDER BY rowid) AS VARCHAR)) AS line,
                  product_id, customer_id, CAST(round(quantity) AS BIGINT) AS quantity, order_date
           FROM orders, latest
           WHERE order_date > last_day - CAST(? AS INTEGER) * 7 AND quantity > 0
           ORDER BY order_date, order_id, line""",
        [int(weeks)],
    ).df()
    lines = lines[lines["quantity"] > 0].reset_index(drop=True)
    if lines.empty:
        raise SegplanError("no order lines to make a demo from", "load orders on the Data page first")
    open_quantity = lines.groupby("product_id", sort=True)["quantity"].sum()
    stock = pd.DataFrame({"product_id": open_quantity.index.astype(str),
                          "available": np.floor(open_quantity.to_numpy() * float(stock_share)).astype(np.int64)})
    return stock, lines


def tag_lines(lines: pd.DataFrame, assignments: pd.DataFrame,
              policies: Sequence[SegmentPolicy] | Mapping[str, SegmentPolicy]) -> pd.DataFrame:
    """The lines with segment, segment_label and allocation_tier from a product-level version's
    assignments and its policies. Lines of products the version does not hold go last: segment
    and label `NOT_IN_VERSION`, tier one after the lowest."""
    if "product_id" not in assignments.columns:
        raise SegplanError("allocation by segment needs a product-level segmentation",
                           "choose a version segmented at the product level")
    listed = list(policies.values()) if isinstance(policies, Mapping) else list(policies)
    tier_of = {str(p.segment): int(p.allocation_tier) for p in listed}
    segments = assignments[["product_id", "segment", "segment_label"]].assign(
        product_id=assignments["product_id"].astype(str), segment=assignments["segment"].astype(str),
        segment_label=assignments["segment_label"].astype(str))
    out = lines.drop(columns=[c for c in ("segment", "segment_label", TIER_COLUMN) if c in lines.columns])
    out = out.assign(product_id=out["product_id"].astype(str)).merge(segments, on="product_id", how="left")
    outside = out["segment"].isna()
    last = max(tier_of.values(), default=0) + 1
    out["segment"] = out["segment"].fillna(NOT_IN_VERSION)
    out["segment_label"] = out["segment_label"].fillna(NOT_IN_VERSION)
    tiers = out["segment"].map(tier_of)
    missing = tiers.isna() & ~outside
    if missing.any():
        raise SegplanError(f"segment {out['segment'][missing].iloc[0]!r} has no policy",
                           "save a policy for every segment of the version")
    out[TIER_COLUMN] = tiers.fillna(last).astype(np.int64)
    return out


def allocate_by_segment(stock: pd.DataFrame, lines: pd.DataFrame, assignments: pd.DataFrame,
                        policies: Sequence[SegmentPolicy] | Mapping[str, SegmentPolicy]) -> AllocationResult:
    """Allocate ``stock`` to open ``lines`` by the segments' allocation tiers (`tag_lines`, then
    `core.allocation.allocate`). The summary is per segment label, with its tier; the lines keep
    every input column plus segment, segment_label, allocation_tier, allocated and cut."""
    tagged = tag_lines(lines, assignments, policies)
    result = allocate(stock, tagged)
    by_label = result.lines.drop(columns=["segment"]).rename(columns={"segment_label": "segment"})
    from core.allocation import allocation_summary

    summary = allocation_summary(by_label)
    tiers = tagged.groupby("segment_label")[TIER_COLUMN].min()
    summary.insert(1, TIER_COLUMN, summary["segment"].map(tiers).astype(np.int64))
    summary = summary.sort_values([TIER_COLUMN, "segment"], kind="mergesort", ignore_index=True)
    return AllocationResult(lines=result.lines, summary=summary)
