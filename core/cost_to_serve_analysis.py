"""Cost-to-serve analysis: a `core.cost_to_serve.cost_to_serve` frame summed per segment, the
whale curve, and which segments subsidise which.

After Kaplan & Cooper, *Cost & Effect* (1998): customer profit = gross margin - cost-to-serve;
ranking the items by it gives the whale curve, and the profit-making items (segments) carry the
loss-making ones, the cross-subsidy made explicit here. The frame's columns and conventions are
those of `core.cost_to_serve` (its module docstring); each function runs its SQL on the frame in
a private in-memory DuckDB.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

import duckdb

from core.cost_to_serve import _MONEY_COLUMNS, _RESERVED, activity_columns, volume_columns
from core.errors import SegplanError
from core.store import quote_ident

if TYPE_CHECKING:
    import pandas as pd

_FRAME_VIEW = "cost_to_serve_items"


def _frame_query(frame: pd.DataFrame, sql: str, params: Mapping[str, object] | None = None) -> pd.DataFrame:
    """Run ``sql`` on ``frame`` (registered as cost_to_serve_items) in a private in-memory DuckDB."""
    con = duckdb.connect()
    try:
        con.register(_FRAME_VIEW, frame)
        return con.execute(sql, dict(params or {})).df()
    finally:
        con.close()


def _frame_key(frame: pd.DataFrame) -> str:
    keys = [c for c in ("customer_id", "product_id") if c in frame.columns]
    missing = [c for c in ("profit",) if c not in frame.columns]
    if len(keys) != 1 or missing:
        raise SegplanError("the frame is not a cost_to_serve result (one key column and profit)",
                           hint="pass the frame that cost_to_serve returned")
    return keys[0]


def _require_segments(frame: pd.DataFrame) -> None:
    _frame_key(frame)
    if "segment" not in frame.columns or "segment_label" not in frame.columns:
        raise SegplanError("the cost-to-serve frame has no segments",
                           hint="compute it with cost_to_serve(store, level, version_id=...)")


def cost_to_serve_by_segment(frame: pd.DataFrame) -> pd.DataFrame:
    """One row per segment of a `cost_to_serve(..., version_id=...)` frame: sums and shares.

    Columns: segment, segment_label, items, loss_making_items (profit < 0), the summed driver
    volumes, activity costs, cost_to_serve, revenue, cost_of_goods, gross_margin, profit;
    ``profit_share_pct`` = 100 * segment profit / total profit (NULL when the total is not
    positive: a share of a loss says nothing), ``cost_to_serve_pct_of_revenue``.
    Items outside the version form the segment NULL, "not in version".
    """
    _require_segments(frame)
    activities = activity_columns(frame)
    allowed = frozenset(activities) | _RESERVED
    summed = [*volume_columns(frame), *activities, *_MONEY_COLUMNS]
    allowed = allowed | frozenset(summed)
    sums = ",\n       ".join(f"sum({quote_ident(c, allowed=allowed)}) AS {quote_ident(c, allowed=allowed)}"
                              for c in summed)
    return _frame_query(frame, f"""
WITH totals AS (
    SELECT sum(profit) AS total_profit FROM {_FRAME_VIEW}
)
SELECT segment, segment_label,
       count(*) AS items,
       count(*) FILTER (WHERE profit < 0) AS loss_making_items,
       {sums},
       CASE WHEN any_value(t.total_profit) > 0 THEN 100.0 * sum(profit) / any_value(t.total_profit) END
           AS profit_share_pct,
       100.0 * sum(cost_to_serve) / NULLIF(sum(revenue), 0) AS cost_to_serve_pct_of_revenue
FROM {_FRAME_VIEW} CROSS JOIN totals AS t
GROUP BY segment, segment_label
ORDER BY segment NULLS LAST
""")


def whale_curve(frame: pd.DataFrame) -> pd.DataFrame:
    """The whale curve of a `cost_to_serve` frame (Kaplan & Cooper, Cost & Effect, 1998).

    Items ranked by profit, most profitable first (ties by key); one row per item plus a first
    row rank 0 at the origin: ``rank``, the key, ``profit``, ``cumulative_profit``,
    ``cumulative_profit_pct`` (of total profit) and ``cumulative_items_pct`` (of the items).
    It ends at (100, 100) and peaks above 100 when some items lose money; ``attrs`` hold
    ``total_profit`` and ``peak_profit_pct``. Items with unknown profit (no margin) are left
    out; an empty frame gives an empty curve; a total profit <= 0 has no curve (error).
    """
    key = _frame_key(frame)
    k = quote_ident(key)
    total, count = _frame_query(
        frame, f"SELECT sum(profit) AS total, count(profit) AS n FROM {_FRAME_VIEW}").iloc[0]
    if count and not total > 0:
        raise SegplanError(f"the items make a total profit of {total:,.2f}: the whale curve is scaled by it and needs it "
                           "positive", hint="look at the cost-to-serve per item and per segment instead")
    curve = _frame_query(frame, f"""
WITH ranked AS (
    SELECT {k}, profit, row_number() OVER (ORDER BY profit DESC, {k}) AS rank
    FROM {_FRAME_VIEW} WHERE profit IS NOT NULL
),
totals AS (
    SELECT sum(profit) AS total_profit, count(*) AS items FROM ranked
),
points AS (
    SELECT rank, {k}, profit, sum(profit) OVER (ORDER BY rank) AS cumulative_profit
    FROM ranked
    UNION ALL
    -- the origin, so that the curve starts at (0, 0)
    SELECT 0, NULL, 0.0, 0.0 FROM totals WHERE items > 0
)
SELECT p.rank, p.{k}, p.profit, p.cumulative_profit,
       100.0 * p.cumulative_profit / t.total_profit AS cumulative_profit_pct,
       100.0 * p.rank / t.items AS cumulative_items_pct
FROM points AS p CROSS JOIN totals AS t
ORDER BY p.rank
""")
    curve.attrs["total_profit"] = float(total) if count else 0.0
    curve.attrs["peak_profit_pct"] = float(curve["cumulative_profit_pct"].max()) if len(curve) else None
    return curve


def subsidies(frame: pd.DataFrame) -> pd.DataFrame:
    """Which segments subsidise which: profit-making segments carry the loss-making ones.

    One row per (profit-making segment, loss-making segment): ``from_segment``,
    ``from_segment_label``, ``from_profit``, ``to_segment``, ``to_segment_label``, ``to_loss``
    (positive), ``transfer`` and ``transfer_pct_of_from_profit``. Each loss is carried by the
    profit-making segments in proportion to their profit, transfer = from_profit * to_loss /
    max(total profit made, total loss): the transfers into a segment add up to its loss while
    the profits cover the losses, else each profit is spent in full and ``attrs
    ["uncovered_loss"]`` says what is left (the business loses money). No loss-making
    segment gives an empty frame. The cross-subsidy of Kaplan & Cooper (1998), made explicit.
    """
    _require_segments(frame)
    result = _frame_query(frame, f"""
WITH segments AS (
    SELECT segment, segment_label, sum(profit) AS profit
    FROM {_FRAME_VIEW} GROUP BY segment, segment_label
),
makers AS (SELECT * FROM segments WHERE profit > 0),
losers AS (SELECT * FROM segments WHERE profit < 0),
totals AS (
    SELECT (SELECT coalesce(sum(profit), 0) FROM makers) AS made,
           (SELECT coalesce(-sum(profit), 0) FROM losers) AS lost
)
SELECT m.segment AS from_segment, m.segment_label AS from_segment_label, m.profit AS from_profit,
       l.segment AS to_segment, l.segment_label AS to_segment_label, -l.profit AS to_loss,
       m.profit * -l.profit / greatest(t.made, t.lost) AS transfer,
       100.0 * -l.profit / greatest(t.made, t.lost) AS transfer_pct_of_from_profit
FROM makers AS m CROSS JOIN losers AS l CROSS JOIN totals AS t
ORDER BY transfer DESC, from_profit DESC, to_loss DESC
""")
    totals = _frame_query(frame, f"""
WITH segments AS (SELECT sum(profit) AS profit FROM {_FRAME_VIEW} GROUP BY segment, segment_label)
SELECT coalesce(sum(profit) FILTER (WHERE profit > 0), 0) AS made,
       coalesce(-sum(profit) FILTER (WHERE profit < 0), 0) AS lost
FROM segments""").iloc[0]
    result.attrs["uncovered_loss"] = max(0.0, float(totals["lost"] - totals["made"]))
    return result
