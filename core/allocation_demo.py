"""A demo of allocation by segment made from the order history, for when no stock or open order
lines are at hand.

The last ``weeks`` weeks of order lines (up to the latest order date) stand in for the open
order book, and ``stock_share`` (default 80 %) of each product's open quantity, rounded down to
whole units, for the stock on hand, so every product is short and the tiers decide.

The frames have the shape of `core.policy_plan.read_supply` and `read_orders`, so the demo is
allocated by the one implementation, `core.policy_plan.allocate_version`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from core.errors import SegplanError

if TYPE_CHECKING:
    from core.store import Store

#: Demo defaults: four weeks of orders as open lines, 80 % of their quantity as stock.
DEMO_WEEKS = 4
DEMO_STOCK_SHARE = 0.8


def demo_inputs(store: Store, weeks: int = DEMO_WEEKS,
                stock_share: float = DEMO_STOCK_SHARE) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(supply, open lines) from the order history: the lines of the last ``weeks`` weeks up to
    the latest order date (returns left out, quantities rounded to whole units; columns order_id,
    line_number, product_id, customer_id, quantity, order_date) and, per product,
    floor(``stock_share`` x its open quantity) as available_quantity."""
    if not 0.0 <= float(stock_share) <= 1.0:
        raise SegplanError(f"stock share {stock_share!r} is not between 0 and 1", "e.g. 0.8 for 80 %")
    if int(weeks) < 1:
        raise SegplanError(f"weeks {weeks!r} is not a whole number >= 1", "e.g. 4")
    lines = store.cursor().execute(
        """WITH latest AS (SELECT max(order_date) AS last_day FROM orders)
           SELECT order_id,
                  coalesce(line_number, CAST(row_number() OVER (PARTITION BY order_id ORDER BY rowid) AS VARCHAR))
                      AS line_number,
                  product_id, customer_id, CAST(round(quantity) AS BIGINT) AS quantity, order_date
           FROM orders, latest
           WHERE order_date > last_day - CAST(? AS INTEGER) * 7 AND quantity > 0
           ORDER BY order_date, order_id, line_number""",
        [int(weeks)],
    ).df()
    lines = lines[lines["quantity"] > 0].reset_index(drop=True)
    if lines.empty:
        raise SegplanError("no order lines to make a demo from", "load orders on the Data page first")
    open_quantity = lines.groupby("product_id", sort=True)["quantity"].sum()
    supply = pd.DataFrame({"product_id": open_quantity.index.astype(str),
                           "available_quantity": np.floor(open_quantity.to_numpy() * float(stock_share))
                           .astype(np.int64)})
    return supply, lines
