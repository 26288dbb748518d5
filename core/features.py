"""Features in SQL on DuckDB, per product, customer or customer x product.

Everything is aggregated by DuckDB in one statement of named CTEs; pandas only receives the
result (one row per item). The conventions, stated once here and in `feature_catalog`:

* **Revenue of a line**: ``net_amount`` when given, else ``quantity * unit_price``.
* **Cost of a line**, first that is given: ``cost_amount``; ``quantity * orders.unit_cost``;
  ``quantity * products.unit_cost``. A line with neither price nor cost contributes no
  revenue or cost (NULL, not zero).
* **Returns** are lines with negative quantity. They reduce ``quantity``, ``revenue`` and
  cost: their amounts always count negative, whatever sign the source gave ``net_amount`` or
  ``cost_amount`` (ERPs differ on this). They are not orders: ``order_lines``, ``orders``,
  lead times and on-time share count only demand lines (quantity > 0).
* **Demand buckets hold gross demand**, the positive quantities only. A return says nothing
  about when customers wanted the product, and netting it into the week it was booked would
  make demand negative or hide real peaks; variability and intermittency are about demand.
* **Buckets**: ISO weeks starting Monday (``date_trunc('week', ...)``) or calendar months.
  An item's **horizon** runs from its first bucket with demand to the last bucket of the whole
  data set (the bucket of the latest ``order_date`` in ``orders``); empty buckets count as 0.
* **Standard deviations are population** ones (divide by n): the horizon is the whole series
  observed, not a sample of it, and a single bucket then has spread 0 rather than none.
  This is the coefficient of variation of XYZ analysis, v = sqrt(1/n * sum (x_i - mean)^2) /
  mean (see e.g. https://cusaas.com/blog/xyz-analysis).
* **ADI** (average inter-demand interval) = buckets in horizon / buckets with demand, and
  **CV²** = (std / mean)² of the non-zero bucket demands: the two axes of Syntetos, Boylan &
  Croston (2005), "On the categorization of demand patterns", JORS 56(5), 495-503 (p, CV²).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING

from core.errors import SegplanError
from core.store import Store, quote_ident

if TYPE_CHECKING:
    import pandas as pd

LEVELS = ("product", "customer", "customer_product")
BUCKETS = ("week", "month")

_KEYS = {
    "product": ("product_id",),
    "customer": ("customer_id",),
    "customer_product": ("customer_id", "product_id"),
}
#: interval between bucket starts, for the calendar; bound as a parameter
_BUCKET_STEP = {"week": "7 days", "month": "1 month"}


@dataclass(frozen=True)
class FeatureSpec:
    name: str
    unit: str
    description: str


@dataclass(frozen=True)
class _FeatureDef:
    """A feature: its catalog entry, the SQL that computes it in the final SELECT, and levels."""

    spec: FeatureSpec
    sql: str
    levels: tuple[str, ...] = LEVELS


def _f(name: str, unit: str, description: str, sql: str, levels: tuple[str, ...] = LEVELS) -> _FeatureDef:
    return _FeatureDef(FeatureSpec(name, unit, description), sql, levels)


_PRODUCT_PAIR = ("product", "customer_product")

# The final SELECT reads `t` (item_totals), `d` (demand_stats), `s` (data_span) and,
# at product level, `p` (products). Order here is the column order of the result.
_FEATURES: tuple[_FeatureDef, ...] = (
    _f("quantity", "units", "Net quantity: ordered minus returned.", "t.quantity"),
    _f("gross_quantity", "units", "Quantity of demand lines (quantity > 0).", "t.gross_quantity"),
    _f("returned_quantity", "units", "Quantity returned (negative lines, counted positive).", "t.returned_quantity"),
    _f("revenue", "currency", "Net revenue: net_amount, else quantity * unit_price; returns reduce it.", "t.revenue"),
    _f("cost", "currency",
       "Cost: cost_amount, else quantity * unit_cost, else quantity * products.unit_cost.", "t.cost"),
    _f("margin", "currency", "Gross margin = revenue - cost, over lines where both are known.", "t.margin"),
    _f("margin_pct", "%", "Margin as % of the revenue of lines with a known cost; NULL when that revenue <= 0.",
       "CASE WHEN t.revenue_with_cost > 0 THEN 100.0 * t.margin / t.revenue_with_cost END"),
    _f("order_lines", "lines", "Demand lines (quantity > 0).", "t.order_lines"),
    _f("return_lines", "lines", "Return lines (quantity < 0).", "t.return_lines"),
    _f("orders", "orders", "Distinct order_id among demand lines.", "t.orders"),
    _f("distinct_customers", "customers", "Distinct customers with a demand line.", "t.distinct_customers", ("product",)),
    _f("distinct_products", "products", "Distinct products with a demand line.", "t.distinct_products", ("customer",)),
    _f("average_order_value", "currency/order", "Revenue of demand lines / orders.",
       "t.gross_revenue / NULLIF(t.orders, 0)", ("customer",)),
    _f("lines_per_order", "lines/order", "Demand lines / orders.", "t.order_lines / NULLIF(t.orders, 0)", ("customer",)),
    _f("orders_per_bucket", "orders/bucket",
       "Order frequency: orders / buckets in the customer's horizon (first demand bucket to last bucket of the data).",
       "t.orders / d.horizon_buckets", ("customer",)),
    _f("horizon_buckets", "buckets", "Buckets from the first bucket with demand to the last bucket of the data.",
       "d.horizon_buckets"),
    _f("demand_buckets", "buckets", "Buckets with demand (gross quantity > 0).", "d.demand_buckets"),
    _f("demand_mean", "units/bucket", "Mean gross demand per bucket over the horizon, empty buckets as 0.",
       "d.demand_mean"),
    _f("demand_std", "units/bucket", "Population standard deviation of bucket demand over the horizon, zeros included.",
       "d.demand_std"),
    _f("cv", "ratio", "Coefficient of variation of bucket demand = demand_std / demand_mean; NULL when the mean is 0.",
       "d.demand_std / NULLIF(d.demand_mean, 0)"),
    _f("adi", "buckets", "Average inter-demand interval = horizon_buckets / demand_buckets (Syntetos et al. 2005).",
       "d.horizon_buckets / d.demand_buckets"),
    _f("cv2", "ratio", "Squared coefficient of variation of the non-zero bucket demands (Syntetos et al. 2005).",
       "power(d.demand_size_std / NULLIF(d.demand_size_mean, 0), 2)"),
    _f("demand_share", "share", "Share of horizon buckets with demand = 1 / adi.", "d.demand_buckets / d.horizon_buckets"),
    _f("weeks_since_last_sale", "weeks", "(Last order_date of the data - last demand date of the item) / 7 days.",
       "date_diff('day', t.last_sale_date, s.last_date) / 7.0", _PRODUCT_PAIR),
    _f("recency_days", "days", "Last order_date of the data - the customer's last order date.",
       "date_diff('day', t.last_sale_date, s.last_date)", ("customer",)),
    _f("return_share", "share", "Returned quantity / gross (ordered) quantity.",
       "t.returned_quantity / NULLIF(t.gross_quantity, 0)"),
    _f("on_time_share", "share", "Share of demand lines with delivered_date <= promised_date, among lines with both.",
       "t.on_time_share"),
    _f("lead_time_days_mean", "days", "Mean of delivered_date - order_date over demand lines with both.",
       "t.lead_time_days_mean"),
    _f("lead_time_days_std", "days", "Sample standard deviation of delivered_date - order_date (n - 1).",
       "t.lead_time_days_std"),
    _f("promised_lead_time_days_mean", "days", "Mean of promised_date - order_date over demand lines with both.",
       "t.promised_lead_time_days_mean"),
    _f("planned_lead_time_days", "days", "products.lead_time_days (master data).", "p.lead_time_days", ("product",)),
    _f("planned_lead_time_std_days", "days", "products.lead_time_std_days (master data).",
       "p.lead_time_std_days", ("product",)),
)

#: feature names, the whitelist `quote_ident` accepts for the result's column aliases
_FEATURE_NAMES = frozenset(f.spec.name for f in _FEATURES)

# Aggregates of item_totals that only some levels need (distinct counts are the costly ones).
_LEVEL_TOTALS = {
    "product": "count(DISTINCT customer_id) FILTER (WHERE quantity > 0) AS distinct_customers,",
    "customer": "count(DISTINCT product_id) FILTER (WHERE quantity > 0) AS distinct_products,",
    "customer_product": "",
}


def _check_level(level: str) -> None:
    if level not in LEVELS:
        raise SegplanError(f"unknown level {level!r} for parameter 'level'", hint="choose one of: " + ", ".join(LEVELS))


def _check_bucket(bucket: str) -> None:
    if bucket not in BUCKETS:
        raise SegplanError(f"unknown bucket {bucket!r} for parameter 'bucket'", hint="choose one of: " + ", ".join(BUCKETS))


def key_columns(level: str) -> tuple[str, ...]:
    """The key columns of a level: ('product_id',), ('customer_id',) or ('customer_id', 'product_id')."""
    _check_level(level)
    return _KEYS[level]


def feature_catalog(level: str) -> list[FeatureSpec]:
    """The features computed at a level, with units and descriptions (for pages and docs).

    Exactly the non-key columns of `compute_features(store, level)`, in the same order.
    """
    _check_level(level)
    return [f.spec for f in _FEATURES if level in f.levels]


#: The order lines of a period only (``compute_features(period=...)``); parameters
#: $period_start and $period_end, both inclusive. A subquery rather than a CTE, so that DuckDB
#: does not materialise a copy of the orders for the two places that read it.
_PERIOD_ORDERS = "(SELECT * FROM orders WHERE order_date BETWEEN $period_start AND $period_end)"


def _line_ctes(keys: Sequence[str], period: bool = False) -> str:
    """CTEs shared by `compute_features` and `bucket_demand`: data span, calendar, lines, demand.

    Parameters: $bucket ('week' or 'month') and $step (the interval between bucket starts);
    with ``period``, also $period_start and $period_end (order lines outside are left out).
    """
    group_keys = ", ".join(quote_ident(k) for k in keys)
    orders = _PERIOD_ORDERS if period else "orders"
    return f"""
-- one row: the data set's first demand bucket, last order date and last bucket
data_span AS (
    SELECT max(order_date) AS last_date,
           CAST(date_trunc($bucket, max(order_date)) AS DATE) AS last_bucket,
           CAST(date_trunc($bucket, min(order_date) FILTER (WHERE quantity > 0)) AS DATE) AS first_bucket
    FROM {orders}
),
-- one row per bucket of the data set, numbered 1, 2, ... in time order
calendar AS (
    SELECT CAST(bucket_start AS DATE) AS bucket_start,
           row_number() OVER (ORDER BY bucket_start) AS bucket_index
    FROM (SELECT unnest(generate_series(first_bucket, last_bucket, CAST($step AS INTERVAL))) AS bucket_start
          FROM data_span)
),
-- one row per product of the master data; product_id is unique after ingest, and grouping
-- keeps a duplicate row, should one slip in, from doubling the order lines joined to it
product_master AS (
    SELECT product_id, max(unit_cost) AS unit_cost, max(lead_time_days) AS lead_time_days,
           max(lead_time_std_days) AS lead_time_std_days
    FROM products
    GROUP BY product_id
),
-- one row per order line, with its bucket, revenue and cost resolved
priced_lines AS (
    SELECT o.customer_id, o.product_id, o.order_id, o.order_date, o.quantity,
           CAST(date_trunc($bucket, o.order_date) AS DATE) AS bucket_start,
           -- returns always count negative, whatever sign the source gave the amount
           CASE WHEN o.quantity < 0
                THEN -abs(coalesce(o.net_amount, o.quantity * o.unit_price))
                ELSE coalesce(o.net_amount, o.quantity * o.unit_price) END AS line_revenue,
           CASE WHEN o.quantity < 0
                THEN -abs(coalesce(o.cost_amount, o.quantity * o.unit_cost, o.quantity * p.unit_cost))
                ELSE coalesce(o.cost_amount, o.quantity * o.unit_cost, o.quantity * p.unit_cost) END AS line_cost,
           o.promised_date, o.delivered_date
    FROM {orders} AS o
    LEFT JOIN product_master AS p ON p.product_id = o.product_id
),
-- one row per item and bucket with demand: gross demand (positive quantities) in the bucket
bucket_demand AS (
    SELECT {group_keys}, bucket_start, sum(quantity) AS demand_quantity, count(*) AS order_lines
    FROM priced_lines
    WHERE quantity > 0
    GROUP BY {group_keys}, bucket_start
)"""


def _demand_stats_ctes(keys: Sequence[str]) -> str:
    """CTEs from bucket_demand to demand_stats (one row per item with demand)."""
    group_keys = ", ".join(quote_ident(k) for k in keys)
    b_keys = ", ".join(f"b.{quote_ident(k)}" for k in keys)
    join_on = " AND ".join(f"b.{quote_ident(k)} = h.{quote_ident(k)}" for k in keys)
    return f"""
-- one row per item with demand: its horizon on the calendar and the size of its demands
demand_horizon AS (
    SELECT {group_keys},
           count(*) AS demand_buckets,
           (SELECT max(bucket_index) FROM calendar) - min(c.bucket_index) + 1 AS horizon_buckets,
           sum(demand_quantity) AS demand_total,
           avg(demand_quantity) AS demand_size_mean,
           stddev_pop(demand_quantity) AS demand_size_std
    FROM bucket_demand JOIN calendar AS c USING (bucket_start)
    GROUP BY {group_keys}
),
-- one row per item with demand: mean and spread over the horizon, empty buckets as zeros.
-- Sum of squared deviations = sum over demand buckets of (d - mean)^2
--                             + (horizon_buckets - demand_buckets) * mean^2  (the zeros)
demand_stats AS (
    SELECT {b_keys},
           any_value(h.demand_buckets) AS demand_buckets,
           any_value(h.horizon_buckets) AS horizon_buckets,
           any_value(h.demand_size_mean) AS demand_size_mean,
           any_value(h.demand_size_std) AS demand_size_std,
           any_value(h.demand_total / h.horizon_buckets) AS demand_mean,
           sqrt((sum(power(b.demand_quantity - h.demand_total / h.horizon_buckets, 2))
                 + any_value((h.horizon_buckets - h.demand_buckets)
                             * power(h.demand_total / h.horizon_buckets, 2)))
                / any_value(h.horizon_buckets)) AS demand_std
    FROM bucket_demand AS b JOIN demand_horizon AS h ON {join_on}
    GROUP BY {b_keys}
)"""


def features_sql(level: str, period: bool = False) -> str:
    """The statement behind `compute_features` (parameters $bucket, $step, and with ``period``
    $period_start, $period_end); for EXPLAIN and tests."""
    _check_level(level)
    keys = _KEYS[level]
    group_keys = ", ".join(quote_ident(k) for k in keys)
    t_keys = ", ".join(f"t.{quote_ident(k)}" for k in keys)
    d_join = " AND ".join(f"d.{quote_ident(k)} = t.{quote_ident(k)}" for k in keys)
    features = ",\n       ".join(f"{f.sql} AS {quote_ident(f.spec.name, allowed=_FEATURE_NAMES)}"
                                  for f in _FEATURES if level in f.levels)
    product_join = "LEFT JOIN product_master AS p ON p.product_id = t.product_id" if level == "product" else ""
    return f"""
WITH {_line_ctes(keys, period)},
{_demand_stats_ctes(keys)},
-- one row per item (every item with an order line): totals over all its lines
item_totals AS (
    SELECT {group_keys},
           sum(quantity) AS quantity,
           coalesce(sum(quantity) FILTER (WHERE quantity > 0), 0) AS gross_quantity,
           coalesce(-sum(quantity) FILTER (WHERE quantity < 0), 0) AS returned_quantity,
           sum(line_revenue) AS revenue,
           sum(line_cost) AS cost,
           sum(line_revenue - line_cost) AS margin,
           sum(line_revenue) FILTER (WHERE line_cost IS NOT NULL) AS revenue_with_cost,
           sum(line_revenue) FILTER (WHERE quantity > 0) AS gross_revenue,
           count(*) FILTER (WHERE quantity > 0) AS order_lines,
           count(*) FILTER (WHERE quantity < 0) AS return_lines,
           count(DISTINCT order_id) FILTER (WHERE quantity > 0) AS orders,
           {_LEVEL_TOTALS[level]}
           max(order_date) FILTER (WHERE quantity > 0) AS last_sale_date,
           avg(date_diff('day', order_date, delivered_date)) FILTER (WHERE quantity > 0) AS lead_time_days_mean,
           stddev_samp(date_diff('day', order_date, delivered_date)) FILTER (WHERE quantity > 0)
               AS lead_time_days_std,
           avg(date_diff('day', order_date, promised_date)) FILTER (WHERE quantity > 0)
               AS promised_lead_time_days_mean,
           avg(CASE WHEN delivered_date <= promised_date THEN 1.0 ELSE 0.0 END)
               FILTER (WHERE quantity > 0 AND delivered_date IS NOT NULL AND promised_date IS NOT NULL)
               AS on_time_share
    FROM priced_lines
    GROUP BY {group_keys}
)
-- one row per item: key columns, then the features of the level's catalog
SELECT {t_keys},
       {features}
FROM item_totals AS t
LEFT JOIN demand_stats AS d ON {d_join}
{product_join}
CROSS JOIN data_span AS s
ORDER BY {t_keys}
"""


def _params(bucket: str) -> dict[str, str]:
    _check_bucket(bucket)
    return {"bucket": bucket, "step": _BUCKET_STEP[bucket]}


def compute_features(
    store: Store,
    level: str = "product",
    bucket: str = "week",
    *,
    period: tuple[date, date] | None = None,
) -> pd.DataFrame:
    """One row per item of the level: key columns then features, computed in DuckDB.

    Items are those with at least one order line (products never ordered are not listed).
    Items without demand (only returns) get NULL demand features. Columns and units are
    in `feature_catalog(level)`; conventions (revenue, cost fallback, returns, buckets,
    horizon, population standard deviation) are in this module's docstring.

    ``period`` = (first day, last day), both inclusive, computes the features as if the data
    held only the order lines with an order_date in it (the time-window stability check):
    the calendar and every item's horizon end at the period's last order date.
    """
    sql = features_sql(level, period=period is not None)
    params: dict[str, object] = _params(bucket)
    if period is not None:
        params.update(_period_params(period))
    return store.cursor().execute(sql, params).df()


def _period_params(period: tuple[date, date]) -> dict[str, date]:
    """$period_start and $period_end from ``period``, checked to be two dates in order."""
    try:
        start, end = period
    except (TypeError, ValueError):
        raise SegplanError(f"parameter 'period' must be (first day, last day), got {period!r}",
                           hint="e.g. (date(2025, 1, 1), date(2025, 6, 30))") from None
    if not all(isinstance(d, date) for d in (start, end)):
        raise SegplanError(f"parameter 'period' must hold two dates, got {period!r}",
                           hint="e.g. (date(2025, 1, 1), date(2025, 6, 30))")
    if start > end:
        raise SegplanError(f"parameter 'period' starts {start} after it ends {end}",
                           hint="give the first day first")
    return {"period_start": start, "period_end": end}


def bucket_demand(
    store: Store,
    level: str = "product",
    bucket: str = "week",
    keys: Sequence[str | tuple[str, ...]] | None = None,
) -> pd.DataFrame:
    """Demand per item and bucket, zero-filled over each item's horizon (for charts).

    Columns: key columns, ``bucket_start`` (DATE, Monday of the ISO week or first of the
    month), ``demand_quantity`` (gross demand, 0 in empty buckets) and ``order_lines``.
    ``keys`` limits the items: ids for product or customer, (customer_id, product_id)
    tuples for customer_product. Ordered by key, then bucket.
    """
    _check_level(level)
    key_cols = _KEYS[level]
    params: dict[str, object] = _params(bucket)
    group_keys = ", ".join(quote_ident(k) for k in key_cols)
    f_keys = ", ".join(f"f.{quote_ident(k)}" for k in key_cols)
    b_join = " AND ".join(f"b.{quote_ident(k)} = f.{quote_ident(k)}" for k in key_cols)
    item_filter = ""
    if keys is not None:
        # the wanted items arrive as bound lists, zipped by unnest into one row per item
        columns = _split_keys(level, key_cols, keys)
        wanted = ", ".join(
            f"unnest(CAST(${name}_wanted AS VARCHAR[])) AS {quote_ident(name)}" for name in key_cols
        )
        for name, values in zip(key_cols, columns, strict=True):
            params[f"{name}_wanted"] = values
        item_filter = f"SEMI JOIN (SELECT {wanted}) AS wanted USING ({group_keys})"
    sql = f"""
WITH {_line_ctes(key_cols)},
-- one row per item with demand: where its horizon starts
item_start AS (
    SELECT {group_keys}, min(bucket_start) AS first_bucket
    FROM bucket_demand
    {item_filter}
    GROUP BY {group_keys}
),
-- one row per item and bucket of its horizon (first demand bucket to last bucket of the data)
item_calendar AS (
    SELECT {", ".join(f"i.{quote_ident(k)}" for k in key_cols)}, c.bucket_start
    FROM item_start AS i JOIN calendar AS c ON c.bucket_start >= i.first_bucket
)
-- one row per item and bucket: gross demand, 0 where the bucket had none
SELECT {f_keys}, f.bucket_start,
       coalesce(b.demand_quantity, 0) AS demand_quantity,
       coalesce(b.order_lines, 0) AS order_lines
FROM item_calendar AS f
LEFT JOIN bucket_demand AS b ON {b_join} AND b.bucket_start = f.bucket_start
ORDER BY {f_keys}, f.bucket_start
"""
    return store.cursor().execute(sql, params).df()


def _split_keys(level: str, key_cols: tuple[str, ...], keys: Sequence[str | tuple[str, ...]]) -> list[list[str]]:
    """Item keys as one list per key column, checking each key has the level's shape."""
    columns: list[list[str]] = [[] for _ in key_cols]
    for key in keys:
        parts = (key,) if isinstance(key, str) else tuple(key)
        if len(parts) != len(key_cols):
            raise SegplanError(
                f"key {key!r} in parameter 'keys' does not fit level {level!r}",
                hint="give " + " and ".join(key_cols) + " for each item",
            )
        for column, part in zip(columns, parts, strict=True):
            column.append(str(part))
    return columns
