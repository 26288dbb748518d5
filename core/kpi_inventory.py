"""Inventory turns per segment and period, from the inventory snapshots and the cost of the goods sold.

Definition (docs/formulas.md, "KPIs"): inventory turnover = cost of goods sold / average
inventory value (ASCM/APICS Dictionary, "inventory turnover"; Chopra & Meindl, *Supply Chain
Management*, ch. 3, supply chain drivers and metrics: turns = cost of goods sold / average
inventory). Per segment and period:

* **Cost of goods sold** of a period: the cost of the segment's demand lines (quantity > 0)
  whose order date falls in the period (the period of `core.kpi`); a line's cost is
  cost_amount, else quantity * unit_cost, else quantity * products.unit_cost, as in
  `core.features`. A line with none of these leaves the period's cost unknown (NULL).
* **Average inventory value** of a period: the mean over the period's snapshot dates (every
  date the ``inventory`` table has in the period, over all products) of the segment's stock
  value on that date, sum of on_hand_quantity * unit_cost (the snapshot's unit_cost, else
  products.unit_cost) over its products and locations. A product with no row on a date holds
  nothing that day. A snapshot row without a unit cost leaves the value unknown (NULL).
* ``inventory_turns`` = cost_of_goods_sold / average_inventory_value, turns *in the period*;
  ``inventory_turns_annualised`` multiplies by the periods in a year (365.25 / 7 weeks or 12
  months), the yearly figure the Dictionary quotes. NULL where the period has no snapshot or
  the value is 0 or unknown.

Stock is held per product, so turns are per product segment: a product-level version maps
snapshots and lines to segments through its assignments (products it does not hold form
"(not in version)"). A customer segment holds no stock of its own, and a customer x product
item has no stock apart from its product's: for those versions turns are not defined (empty
frame, with the reason in ``attrs``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from core.kpi import NOT_IN_VERSION, _check_bucket
from core.store import Store

if TYPE_CHECKING:
    import pandas as pd

TURNS_COLUMNS = ["segment", "period", "cost_of_goods_sold", "inventory_snapshots", "average_inventory_value",
                 "inventory_turns", "inventory_turns_annualised"]
#: Periods in a year, to annualise a period's turns.
PERIODS_PER_YEAR = {"week": 365.25 / 7.0, "month": 12.0}
_ASSIGNMENTS_VIEW = "turns_assignments"

INVENTORY_TURNS_SQL = f"""
WITH product_master AS (
    SELECT product_id, max(unit_cost) AS unit_cost FROM products GROUP BY product_id
),
assigned AS (
    SELECT product_id, CAST(segment AS VARCHAR) AS segment FROM {_ASSIGNMENTS_VIEW}
),
-- one row per segment and period: cost of the demand lines ordered in it
period_cogs AS (
    SELECT coalesce(a.segment, $not_in_version) AS segment,
           CAST(date_trunc($bucket, o.order_date) AS DATE) AS period,
           CASE WHEN count(*) FILTER (WHERE coalesce(o.cost_amount, o.quantity * o.unit_cost,
                                                     o.quantity * p.unit_cost) IS NULL) = 0
                THEN sum(coalesce(o.cost_amount, o.quantity * o.unit_cost, o.quantity * p.unit_cost)) END
               AS cost_of_goods_sold
    FROM orders AS o
    LEFT JOIN product_master AS p ON p.product_id = o.product_id
    LEFT JOIN assigned AS a ON a.product_id = o.product_id
    WHERE o.quantity > 0
    GROUP BY ALL
),
-- one row per snapshot date: the period it counts in, and how many dates that period has
snapshot_dates AS (
    SELECT snapshot_date, CAST(date_trunc($bucket, snapshot_date) AS DATE) AS period,
           count(*) OVER (PARTITION BY date_trunc($bucket, snapshot_date)) AS dates_in_period
    FROM (SELECT DISTINCT snapshot_date FROM inventory)
),
-- one row per segment and snapshot date: the value on hand (NULL when a row has no cost)
snapshot_values AS (
    SELECT coalesce(a.segment, $not_in_version) AS segment, i.snapshot_date,
           CASE WHEN count(*) FILTER (WHERE coalesce(i.unit_cost, p.unit_cost) IS NULL) = 0
                THEN sum(i.on_hand_quantity * coalesce(i.unit_cost, p.unit_cost)) END AS inventory_value
    FROM inventory AS i
    LEFT JOIN product_master AS p ON p.product_id = i.product_id
    LEFT JOIN assigned AS a ON a.product_id = i.product_id
    GROUP BY ALL
),
-- one row per segment and period with snapshots: the mean over the period's dates (absent = 0)
period_inventory AS (
    SELECT v.segment, d.period, any_value(d.dates_in_period) AS inventory_snapshots,
           CASE WHEN count(*) FILTER (WHERE v.inventory_value IS NULL) = 0
                THEN sum(v.inventory_value) / any_value(d.dates_in_period) END AS average_inventory_value
    FROM snapshot_values AS v JOIN snapshot_dates AS d USING (snapshot_date)
    GROUP BY v.segment, d.period
)
SELECT coalesce(c.segment, v.segment) AS segment, coalesce(c.period, v.period) AS period,
       -- no demand line in a period with stock: nothing was sold, a cost of 0
       CASE WHEN c.segment IS NULL THEN 0.0 ELSE c.cost_of_goods_sold END AS cost_of_goods_sold,
       coalesce(v.inventory_snapshots, 0) AS inventory_snapshots,
       v.average_inventory_value,
       CASE WHEN c.segment IS NULL THEN 0.0 ELSE c.cost_of_goods_sold END
           / NULLIF(v.average_inventory_value, 0) AS inventory_turns,
       CASE WHEN c.segment IS NULL THEN 0.0 ELSE c.cost_of_goods_sold END
           / NULLIF(v.average_inventory_value, 0) * $periods_per_year AS inventory_turns_annualised
FROM period_cogs AS c
FULL JOIN period_inventory AS v ON v.segment = c.segment AND v.period = c.period
ORDER BY coalesce(c.segment, v.segment) = $not_in_version, 1, 2
"""


def segment_inventory_turns(store: Store, version_id: int, bucket: str = "week") -> pd.DataFrame:
    """One row per segment and period with demand lines or snapshots (module docstring):
    ``segment`` (text), ``period``, ``cost_of_goods_sold``, ``inventory_snapshots`` (snapshot
    dates in the period), ``average_inventory_value``, ``inventory_turns`` and
    ``inventory_turns_annualised``. A product's segment is its effective one (overrides active
    today applied, `core.overrides.effective_assignments`). Not a product-level version, or no
    snapshots loaded: an empty frame whose ``attrs["reason"]`` says why.
    """
    import pandas as pd

    from core.overrides import effective_assignments
    from core.policy_plan import version_info

    _check_bucket(bucket)
    level = str(version_info(store, version_id)["level"])
    reason = None
    if level != "product":
        reason = (f"inventory turns are per product segment: stock is not held per "
                  f"{level.replace('_', ' x ')} (version {version_id})")
    elif not store.cursor().execute("SELECT count(*) FROM inventory").fetchone()[0]:
        reason = "no inventory snapshots are loaded (segplan ingest inventory FILE)"
    if reason is not None:
        frame = pd.DataFrame(columns=TURNS_COLUMNS)
        frame.attrs["reason"] = reason
        return frame
    items = effective_assignments(store, version_id)[["product_id", "segment"]]   # overrides applied
    cur = store.cursor()
    cur.register(_ASSIGNMENTS_VIEW, items)
    try:
        frame = cur.execute(INVENTORY_TURNS_SQL, {"bucket": bucket, "not_in_version": NOT_IN_VERSION,
                                                  "periods_per_year": PERIODS_PER_YEAR[bucket]}).df()
    finally:
        cur.unregister(_ASSIGNMENTS_VIEW)
    frame.attrs.update(version_id=int(version_id), bucket=bucket)
    return frame
