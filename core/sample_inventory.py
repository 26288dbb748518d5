"""Sample inventory snapshots: the stock a periodic-review (R, S) policy would have held for the sample's demand.

One snapshot per product and week, on the Monday the week starts, before that week's demand:
so the sample shows inventory turns per segment (`core.inventory_turns`). The simulation is
the textbook order-up-to policy with weekly review (Silver, Pyke & Thomas, *Inventory and
Production Management in Supply Chains*, 4th ed., 2017, ch. 6): each week the planner orders
up to S = m * (L + 1) + z * s * sqrt(L + 1), where m and s are the mean and standard deviation
of the product's weekly demand in the 9 weeks around (the planner's forecast, a little better
than real ones), L is the lead time in whole weeks and z a safety factor drawn per product;
the order arrives L weeks later; demand the shelf cannot serve is lost. Vectorised over
products; the loop runs over weeks.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from core.sample import START_DATE

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

#: Weeks of demand around a week that the planner's order-up-to level looks at.
FORECAST_WINDOW_WEEKS = 9
#: Safety factor z per product, drawn uniformly from this range.
SAFETY_FACTOR_RANGE = (0.8, 2.0)


def _weekly_demand(orders: pd.DataFrame, product_ids: np.ndarray, weeks: int) -> np.ndarray:
    """Gross demand (quantity > 0) per product (rows in ``product_ids`` order) and week."""
    import numpy as np

    sold = orders[orders["quantity"] > 0]
    week = ((sold["order_date"] - np.datetime64(START_DATE.isoformat())).dt.days // 7).to_numpy()
    row = np.searchsorted(product_ids, sold["product_id"].to_numpy())
    demand = np.zeros((len(product_ids), weeks))
    np.add.at(demand, (row, week), sold["quantity"].to_numpy())
    return demand


def build_inventory(rng: np.random.Generator, orders: pd.DataFrame, products: pd.DataFrame,
                    weeks: int) -> pd.DataFrame:
    """The inventory table: snapshot_date, product_id, on_hand_quantity; one row per product and
    week from the product's first stocked week (``products`` sorted by product_id)."""
    import numpy as np
    import pandas as pd

    product_ids = products["product_id"].to_numpy(dtype=str)
    demand = _weekly_demand(orders, product_ids, weeks)
    n_products = len(product_ids)
    lead_weeks = np.maximum(1, np.ceil(products["lead_time_days"].to_numpy() / 7.0)).astype(int)
    z = rng.uniform(*SAFETY_FACTOR_RANGE, n_products)

    # mean and standard deviation of demand in the window around each week (zero padded at the ends)
    half = FORECAST_WINDOW_WEEKS // 2
    padded = np.pad(demand, ((0, 0), (half, half)))
    windows = np.lib.stride_tricks.sliding_window_view(padded, FORECAST_WINDOW_WEEKS, axis=1)
    mean, std = windows.mean(axis=2), windows.std(axis=2)
    cover = (lead_weeks + 1)[:, None]
    order_up_to = np.round(mean * cover + z[:, None] * std * np.sqrt(cover))

    on_hand = np.zeros((n_products, weeks))
    arriving = np.zeros((n_products, weeks + int(lead_weeks.max()) + 1))
    stock = order_up_to[:, 0].copy()  # the shelf starts full
    on_order = np.zeros(n_products)
    rows = np.arange(n_products)
    for week in range(weeks):
        stock += arriving[:, week]
        on_order -= arriving[:, week]
        on_hand[:, week] = stock  # Monday's count, before the week's demand
        stock = np.maximum(0.0, stock - demand[:, week])  # lost sales
        order = np.maximum(0.0, order_up_to[:, week] - stock - on_order)
        arriving[rows, week + lead_weeks] += order
        on_order += order

    stocked = np.cumsum(on_hand > 0, axis=1) > 0  # from the first week with stock on
    product, week = np.nonzero(stocked)
    snapshot = np.datetime64(START_DATE.isoformat()) + (week * 7).astype("timedelta64[D]")
    return pd.DataFrame({
        "snapshot_date": snapshot.astype("datetime64[ns]"),
        "product_id": product_ids.astype(object)[product],
        "on_hand_quantity": on_hand[product, week],
    })
