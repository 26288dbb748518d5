"""Delivery KPIs per segment and period, for monitoring a segmentation version with control charts.

One SQL statement over ``orders`` joined to a version's assignments (a registered frame)
gives one row per segment and period. Conventions, stated once here:

* **Lines** are demand lines only (quantity > 0), as in `core.features`: returns are not
  deliveries to a customer and have no service to measure.
* **Period** of a line is the bucket of its **order_date** (ISO week starting Monday via
  ``date_trunc('week', ...)``, or calendar month), as in `core.features`. The order date is
  the one date every line has, so every line is counted, and a period's figures do not change
  when a promise is moved. (Lines are judged against their own promised date whatever the
  period.)
* **Segment** of a line is the segment of its item in the version: by product_id, by
  customer_id, or by both, as the version's level says, with the planner's overrides active
  today applied (`core.overrides.effective_assignments`): a moved item's lines count in the
  segment it was moved to. ``segment`` is text (clustering segments as their number); lines of
  items the version does not hold get segment and label ``"(not in version)"``.
* **On time**: delivered_date <= promised_date, among the lines that have both dates
  (``on_time_base_lines``); ``on_time`` = on_time_lines / on_time_base_lines.
* **OTIF** (on time, in full): delivered on or before the promised date *and* delivered
  quantity >= ordered quantity, among the lines with both dates and a delivered quantity
  (``otif_base_lines``); ``otif`` = otif_lines / otif_base_lines. The line-level OTIF of
  the ASCM (APICS) Dictionary ("perfect order" family): a line is a success only when it is
  both on time and complete.
* **Fill rate** (unit fill rate): the fraction of ordered units delivered, sum of
  min(delivered_quantity, quantity) / sum of quantity, over lines with a delivered quantity.
  Silver, Pyke & Thomas, *Inventory and Production Management in Supply Chains* (4th ed.,
  2017), ch. 7: the fraction of demand satisfied. Over-delivery of one line is capped at its
  order so that it cannot hide a short line (the one departure from a plain sum delivered /
  sum ordered); ``ordered_quantity`` and ``filled_quantity`` are the sums behind it.
* **Order cycle time**: mean of delivered_date - order_date in days, over lines with a
  delivered date (``delivered_lines``).

A share with no base line is NULL, not 0. Each share comes with its counts so that a p-chart
(`core.control_charts.p_chart`) can use them: e.g. ``p_chart(k.otif_lines, k.otif_base_lines)``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import TYPE_CHECKING

from core.errors import SegplanError
from core.features import BUCKETS
from core.store import Store, quote_ident

if TYPE_CHECKING:
    import pandas as pd

NOT_IN_VERSION = "(not in version)"
_ASSIGNMENTS_VIEW = "kpi_assignments"
_KEY_COLUMNS = ("customer_id", "product_id")

#: KPI columns of `segment_kpis` with their units, in result order after segment, segment_label, period.
KPI_COLUMNS: dict[str, str] = {
    "lines": "lines",
    "otif_base_lines": "lines",
    "otif_lines": "lines",
    "otif": "share",
    "on_time_base_lines": "lines",
    "on_time_lines": "lines",
    "on_time": "share",
    "ordered_quantity": "units",
    "filled_quantity": "units",
    "fill_rate": "share",
    "delivered_lines": "lines",
    "order_cycle_time_days": "days",
}


def _check_bucket(bucket: str) -> None:
    if bucket not in BUCKETS:
        raise SegplanError(f"unknown bucket {bucket!r} for parameter 'bucket'", hint="choose one of: " + ", ".join(BUCKETS))


def _lines_cte(keys: tuple[str, ...]) -> str:
    """The CTEs ``assigned`` and ``kpi_lines``: one row per demand line with its period, segment and flags.

    Parameters: $bucket, $not_in_version.
    """
    k = ", ".join(quote_ident(c) for c in keys)
    on = " AND ".join(f"a.{quote_ident(c)} = o.{quote_ident(c)}" for c in keys)
    return f"""
-- one row per item of the version: its segment as text
assigned AS (
    SELECT {k}, CAST(segment AS VARCHAR) AS segment, CAST(segment_label AS VARCHAR) AS segment_label
    FROM {_ASSIGNMENTS_VIEW}
),
-- one row per demand line: period of its order date, segment, and what each KPI needs
kpi_lines AS (
    SELECT o.order_id, o.line_number, o.order_date, o.customer_id, o.product_id, o.quantity,
           o.promised_date, o.delivered_date, o.delivered_quantity,
           CAST(date_trunc($bucket, o.order_date) AS DATE) AS period,
           coalesce(a.segment, $not_in_version) AS segment,
           coalesce(a.segment_label, $not_in_version) AS segment_label,
           (o.promised_date IS NOT NULL AND o.delivered_date IS NOT NULL) AS on_time_measured,
           (o.promised_date IS NOT NULL AND o.delivered_date IS NOT NULL
            AND o.delivered_quantity IS NOT NULL) AS otif_measured,
           o.delivered_date <= o.promised_date AS on_time,
           o.delivered_quantity >= o.quantity AS in_full,
           -- least() skips NULLs: a line with no delivered quantity has no filled quantity
           CASE WHEN o.delivered_quantity IS NOT NULL THEN least(o.delivered_quantity, o.quantity) END AS filled_quantity,
           date_diff('day', o.order_date, o.delivered_date) AS cycle_time_days
    FROM orders AS o
    LEFT JOIN assigned AS a ON {on}
    WHERE o.quantity > 0
)"""


def segment_kpis_sql(keys: tuple[str, ...]) -> str:
    """The statement behind `segment_kpis` for a version keyed on ``keys`` (for EXPLAIN and tests)."""
    return f"""
WITH {_lines_cte(keys)}
SELECT segment, segment_label, period,
       count(*) AS lines,
       count(*) FILTER (WHERE otif_measured) AS otif_base_lines,
       count(*) FILTER (WHERE otif_measured AND on_time AND in_full) AS otif_lines,
       CAST(count(*) FILTER (WHERE otif_measured AND on_time AND in_full) AS DOUBLE)
           / NULLIF(count(*) FILTER (WHERE otif_measured), 0) AS otif,
       count(*) FILTER (WHERE on_time_measured) AS on_time_base_lines,
       count(*) FILTER (WHERE on_time_measured AND on_time) AS on_time_lines,
       CAST(count(*) FILTER (WHERE on_time_measured AND on_time) AS DOUBLE)
           / NULLIF(count(*) FILTER (WHERE on_time_measured), 0) AS on_time,
       coalesce(sum(quantity) FILTER (WHERE delivered_quantity IS NOT NULL), 0) AS ordered_quantity,
       coalesce(sum(filled_quantity), 0) AS filled_quantity,
       sum(filled_quantity) / NULLIF(sum(quantity) FILTER (WHERE delivered_quantity IS NOT NULL), 0) AS fill_rate,
       count(delivered_date) AS delivered_lines,
       avg(cycle_time_days) AS order_cycle_time_days
FROM kpi_lines
GROUP BY segment, segment_label, period
ORDER BY segment = $not_in_version, segment, period
"""


def _version_keys(store: Store, version_id: int) -> tuple[pd.DataFrame, tuple[str, ...]]:
    """The version's effective assignments (keys, segment, segment_label) and its key columns.

    Effective: the overrides active today applied (`core.overrides.effective_assignments`), the
    segments the version plans with, so that each segment's KPIs are those of its items.
    """
    from core.overrides import effective_assignments

    frame = effective_assignments(store, version_id)
    keys = tuple(c for c in _KEY_COLUMNS if c in frame.columns)
    return frame[[*keys, "segment", "segment_label"]], keys


def _query(store: Store, version_id: int, sql_for_keys: Callable[[tuple[str, ...]], str],
           params: dict[str, object]) -> pd.DataFrame:
    """Run the statement for the version's keys with its assignments registered as ``kpi_assignments``."""
    frame, keys = _version_keys(store, version_id)
    cur = store.cursor()
    cur.register(_ASSIGNMENTS_VIEW, frame)
    try:
        return cur.execute(sql_for_keys(keys), {**params, "not_in_version": NOT_IN_VERSION}).df()
    finally:
        cur.unregister(_ASSIGNMENTS_VIEW)


def segment_kpis(store: Store, version_id: int, bucket: str = "week") -> pd.DataFrame:
    """Delivery KPIs per segment of a version and period of order date (see the module docstring).

    One row per segment and period with demand lines: ``segment``, ``segment_label``,
    ``period`` (bucket start date), then `KPI_COLUMNS`: ``lines``; ``otif_base_lines``,
    ``otif_lines``, ``otif``; ``on_time_base_lines``, ``on_time_lines``, ``on_time``;
    ``ordered_quantity``, ``filled_quantity``, ``fill_rate``; ``delivered_lines``,
    ``order_cycle_time_days``. Segments in text order, ``"(not in version)"`` last; periods in
    time order; only periods with lines appear. No order lines give an empty frame.
    """
    _check_bucket(bucket)
    frame = _query(store, version_id, segment_kpis_sql, {"bucket": bucket})
    frame.attrs.update(version_id=int(version_id), bucket=bucket)
    return frame


def line_kpis_sql(keys: tuple[str, ...]) -> str:
    """The statement behind `line_kpis` (parameters $bucket, $not_in_version, $segment, $period)."""
    return f"""
WITH {_lines_cte(keys)}
SELECT order_id, line_number, order_date, customer_id, product_id, quantity, promised_date, delivered_date,
       delivered_quantity, segment, segment_label, period,
       CASE WHEN on_time_measured THEN on_time END AS on_time,
       CASE WHEN otif_measured THEN on_time AND in_full END AS otif,
       in_full, filled_quantity,
       CASE WHEN on_time_measured THEN date_diff('day', promised_date, delivered_date) END AS days_late,
       cycle_time_days
FROM kpi_lines
WHERE segment = $segment AND period = CAST(date_trunc($bucket, CAST($period AS DATE)) AS DATE)
ORDER BY order_date, order_id, line_number, customer_id, product_id
"""


def line_kpis(store: Store, version_id: int, segment: object, period: dt.date | str,
              bucket: str = "week") -> pd.DataFrame:
    """The demand lines behind one point of `segment_kpis`: drill-down from a chart.

    ``segment`` as in `segment_kpis` (a clustering segment may be given as its number;
    ``"(not in version)"`` for the rest); ``period`` any date in the period (its bucket start
    is taken). Per line: the order columns that matter, segment, period, ``on_time`` and
    ``otif`` (NULL when the line lacks what they need), ``in_full``, ``filled_quantity``,
    ``days_late`` (delivered - promised; negative is early) and ``cycle_time_days``.
    """
    _check_bucket(bucket)
    try:
        period_date = dt.date.fromisoformat(str(period)[:10]) if not isinstance(period, dt.date) else period
    except ValueError as exc:
        raise SegplanError(f"period {period!r} is not a date", hint="give a date as YYYY-MM-DD") from exc
    return _query(store, version_id, line_kpis_sql,
                  {"bucket": bucket, "segment": str(segment), "period": period_date})
