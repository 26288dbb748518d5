"""The baselines of the ingest benchmark (`bench.ingest_features`), each reading the generated CSV:

- ``pandas``: `pd.read_csv` + `groupby`, the baseline every ratio is taken against.
- ``duckdb``: DuckDB's own `read_csv` into a table of a fresh database file, and the same
  product features in plain SQL, with no validation: the floor of what segplan can reach.
- ``duckdb_csv`` (opt-in): the same SQL straight from `read_csv`, no table stored.

Each returns seconds (the work only: imports and interpreter start-up are excluded for all),
phases (wall and CPU seconds per step), totals and feature sums.
"""

from __future__ import annotations

import math
from pathlib import Path

from bench.common import _nan_fsum, _now, _span


def _feature_sums(demand_mean, demand_std, adi, cv2) -> dict[str, float]:
    """Sums over products of the demand features: a fingerprint to compare contenders by."""
    return {
        "demand_mean_units_per_week": _nan_fsum(demand_mean),
        "demand_std_units_per_week": _nan_fsum(demand_std),
        "adi_weeks": _nan_fsum(adi),
        "cv2_nonzero_weeks": _nan_fsum(cv2),
    }


def run_pandas(csv: Path, workdir: Path, engine: str = "c") -> dict:
    """The baseline: `read_csv` + vectorised `groupby`, the way a pandas user would write it."""
    import numpy as np
    import pandas as pd

    t0 = _now()
    orders = pd.read_csv(
        csv,
        usecols=["order_id", "order_date", "customer_id", "product_id", "quantity", "unit_price"],
        dtype={"order_id": "str", "customer_id": "str", "product_id": "str", "quantity": "float64", "unit_price": "float64"},
        parse_dates=["order_date"],
        engine=engine,
    )
    t_read = _now()

    orders["revenue"] = orders["quantity"] * orders["unit_price"]
    # Weeks start on Monday, as DuckDB's date_trunc('week', ...) does.
    orders["week"] = orders["order_date"] - pd.to_timedelta(orders["order_date"].dt.dayofweek, unit="D")
    per_product = orders.groupby("product_id", sort=True).agg(
        quantity_units=("quantity", "sum"),
        revenue=("revenue", "sum"),
        order_lines=("quantity", "size"),
        orders=("order_id", "nunique"),
        customers=("customer_id", "nunique"),
    )
    weekly = orders.groupby(["product_id", "week"], sort=True)["quantity"].sum()

    # Zero-filled product x week grid over each product's horizon: first week with demand to
    # the last week of the data; weeks before a product's first are NaN, so skipped.
    all_weeks = pd.date_range(orders["week"].min(), orders["week"].max(), freq="7D")
    grid = weekly.unstack("week", fill_value=0).reindex(columns=all_weeks, fill_value=0)
    first_week = weekly.reset_index().groupby("product_id")["week"].min().reindex(grid.index)
    in_horizon = grid.columns.values[np.newaxis, :] >= first_week.values[:, np.newaxis]
    horizon = grid.where(in_horizon)
    per_product["horizon_weeks"] = in_horizon.sum(axis=1)
    per_product["demand_mean_units_per_week"] = horizon.mean(axis=1)
    # Population standard deviations (ddof=0), segplan's convention: the horizon is the whole
    # series observed, not a sample of it.
    per_product["demand_std_units_per_week"] = horizon.std(axis=1, ddof=0)

    nonzero = weekly[weekly != 0].groupby(level="product_id")
    per_product["demand_weeks"] = nonzero.size()
    per_product["adi_weeks"] = per_product["horizon_weeks"] / per_product["demand_weeks"]
    per_product["cv2_nonzero_weeks"] = (nonzero.std(ddof=0) / nonzero.mean()) ** 2
    t_features = _now()

    return {
        "seconds": t_features[0] - t0[0],
        "phases": {"read_csv": _span(t0, t_read), "groupby features": _span(t_read, t_features)},
        "totals": {
            "quantity_units": float(per_product["quantity_units"].sum()),
            "revenue": math.fsum(per_product["revenue"]),
            "products": int(len(per_product)),
            "order_lines": int(per_product["order_lines"].sum()),
        },
        "feature_sums": _feature_sums(
            per_product["demand_mean_units_per_week"], per_product["demand_std_units_per_week"],
            per_product["adi_weeks"], per_product["cv2_nonzero_weeks"],
        ),
    }


#: The product features in plain SQL; zero-filled weeks enter through sums (a zero adds nothing
#: to a sum or sum of squares), so the product x week grid is never built.
DUCKDB_FEATURES_SQL = """
WITH weekly AS (
    SELECT product_id, date_trunc('week', order_date)::DATE AS week, sum(quantity) AS demand_units
    FROM orders
    GROUP BY ALL
), data_end AS (
    SELECT max(week) AS last_week FROM weekly
), per_product_weeks AS (
    SELECT
        product_id,
        min(week) AS first_week,
        sum(demand_units) AS demand_units,
        sum(demand_units * demand_units) AS demand_units_squared,
        count(*) FILTER (WHERE demand_units <> 0) AS demand_weeks,
        avg(demand_units) FILTER (WHERE demand_units <> 0) AS nonzero_mean_units,
        stddev_pop(demand_units) FILTER (WHERE demand_units <> 0) AS nonzero_std_units
    FROM weekly
    GROUP BY product_id
), per_product_lines AS (
    SELECT
        product_id,
        sum(quantity) AS quantity_units,
        sum(quantity * unit_price) AS revenue,
        count(*) AS order_lines,
        count(DISTINCT order_id) AS orders,
        count(DISTINCT customer_id) AS customers
    FROM orders
    GROUP BY product_id
), horizon AS (
    SELECT w.*, (d.last_week - w.first_week) // 7 + 1 AS horizon_weeks
    FROM per_product_weeks w CROSS JOIN data_end d
)
SELECT
    l.product_id, l.quantity_units, l.revenue, l.order_lines, l.orders, l.customers,
    h.horizon_weeks, h.demand_weeks,
    h.demand_units / h.horizon_weeks AS demand_mean_units_per_week,
    -- population standard deviation (divide by n), segplan's convention
    sqrt(greatest(
        (h.demand_units_squared - h.demand_units * h.demand_units / h.horizon_weeks) / h.horizon_weeks,
        0)) AS demand_std_units_per_week,
    h.horizon_weeks / NULLIF(h.demand_weeks, 0) AS adi_weeks,
    (h.nonzero_std_units / NULLIF(h.nonzero_mean_units, 0)) ** 2 AS cv2_nonzero_weeks
FROM per_product_lines l JOIN horizon h USING (product_id)
ORDER BY l.product_id
"""


def run_duckdb(csv: Path, workdir: Path) -> dict:
    """The raw engine: `read_csv` into a table of a fresh file, then the features in SQL. No validation."""
    import duckdb

    t0 = _now()
    with duckdb.connect(str(workdir / "raw.duckdb")) as con:
        con.execute("CREATE TABLE orders AS SELECT * FROM read_csv($csv, header = true)", {"csv": str(csv)})
        t_read = _now()
        features = con.execute(DUCKDB_FEATURES_SQL).df()
        t_features = _now()
    phases = {"read_csv into table": _span(t0, t_read), "SQL features": _span(t_read, t_features)}
    return _duckdb_result(features, t_features[0] - t0[0], phases)


def run_duckdb_csv(csv: Path, workdir: Path) -> dict:
    """The raw engine on the baseline's exact job: features straight from `read_csv`, no table stored."""
    import duckdb

    from_csv = DUCKDB_FEATURES_SQL.replace(
        "WITH weekly AS", "WITH orders AS (SELECT * FROM read_csv($csv, header = true)),\nweekly AS", 1
    )
    t0 = _now()
    with duckdb.connect() as con:
        features = con.execute(from_csv, {"csv": str(csv)}).df()
    t_features = _now()
    return _duckdb_result(features, t_features[0] - t0[0], {"read_csv + SQL features": _span(t0, t_features)})


def _duckdb_result(features, seconds: float, phases: dict) -> dict:
    return {
        "seconds": seconds,
        "phases": phases,
        "totals": {
            "quantity_units": float(features["quantity_units"].sum()),
            "revenue": math.fsum(features["revenue"]),
            "products": int(len(features)),
            "order_lines": int(features["order_lines"].sum()),
        },
        "feature_sums": _feature_sums(
            features["demand_mean_units_per_week"], features["demand_std_units_per_week"],
            features["adi_weeks"], features["cv2_nonzero_weeks"],
        ),
    }
