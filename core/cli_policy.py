"""`segplan forecast|policy|allocate`: demand forecasts, inventory policies and allocation of short supply.

Registered on the app by the import in core/cli.py.
"""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import Annotated, Optional

import typer

from core.cli_common import (
    Bucket,
    BucketOption,
    DbOption,
    Level,
    LevelOption,
    OutOption,
    VersionOption,
    _open_store,
    _run,
    _write_csv,
    app,
)
from core.errors import SegplanError

FORECAST_METHODS = ("auto", "ses", "holt", "holt_winters", "croston", "sba", "tsb")


class DemandSource(str, Enum):
    history = "history"
    forecast_errors = "forecast_errors"


@app.command()
def forecast(
    ctx: typer.Context,
    out: OutOption,
    level: LevelOption = Level.product,
    bucket: BucketOption = Bucket.week,
    method: Annotated[str, typer.Option("--method", help="auto, ses, holt, holt_winters, croston, sba or tsb.")] = "auto",
    alpha: Annotated[Optional[float], typer.Option(
        "--alpha", help="Smoothing constant in (0, 1] (default: fitted per item).", show_default=False)] = None,
    horizon: Annotated[int, typer.Option("--horizon", help="Future buckets to forecast.")] = 12,
    db: DbOption = None,
) -> None:
    """Forecast demand per item: method used, then one column per future bucket (its start date)."""

    def body() -> None:
        from core.features import bucket_demand
        from core.forecast import forecast as forecast_demand

        if method not in FORECAST_METHODS:
            raise SegplanError(f"--method {method!r} is unknown", hint="choose one of: " + ", ".join(FORECAST_METHODS))
        with _open_store(ctx, db) as store:
            demand = bucket_demand(store, level.value, bucket.value)
        if demand.empty:
            raise SegplanError("no order lines are loaded, so there is no demand to forecast", hint="load orders first")
        result = forecast_demand(demand, method=method, alpha=alpha, horizon=horizon, bucket=bucket.value)
        frame = result.wide()
        _write_csv(frame, out)
        used = result.items["method"].value_counts().sort_index()
        typer.echo(f"{len(frame)} {level.value} forecasts of {horizon} {bucket.value}(s) written to {out} ("
                   + ", ".join(f"{name} {count}" for name, count in used.items()) + ")")

    _run(body)


@app.command()
def policy(
    ctx: typer.Context,
    version: VersionOption,
    out: OutOption,
    ordering_cost: Annotated[Optional[float], typer.Option(
        "--ordering-cost", help="Cost per order, for the EOQ (with --holding-rate).", show_default=False)] = None,
    holding_rate: Annotated[Optional[float], typer.Option(
        "--holding-rate", help="Holding cost as a share of unit cost per year, for the EOQ (with --ordering-cost).",
        show_default=False)] = None,
    demand_source: Annotated[DemandSource, typer.Option(
        "--demand-source", help="Demand variability: history (demand_std) or forecast_errors (backtest RMSE).")
    ] = DemandSource.history,
    bucket: Annotated[Optional[Bucket], typer.Option(
        "--bucket", help="Demand bucket (default: the version's).", show_default=False)] = None,
    default_lead_time_days: Annotated[Optional[float], typer.Option(
        "--default-lead-time-days", help="Lead time for products with none in products or orders.",
        show_default=False)] = None,
    db: DbOption = None,
) -> None:
    """Per item of a version: its segment's policy, safety stock, reorder point, order quantity and inputs."""

    def body() -> None:
        from core.policy_plan import policy_items

        with _open_store(ctx, db) as store:
            frame = policy_items(store, version, bucket=bucket.value if bucket else None,
                                 demand_source=demand_source.value, ordering_cost=ordering_cost,
                                 holding_rate=holding_rate, default_lead_time_days=default_lead_time_days)
        _write_csv(frame, out)
        sources = frame["lead_time_source"].value_counts().sort_index()
        typer.echo(f"{len(frame)} items of version {version} planned to {out} (lead time from: "
                   + ", ".join(f"{name} {count}" for name, count in sources.items()) + ")")
        if "assumed_one_bucket" in sources.index:
            typer.echo(f"note: {sources['assumed_one_bucket']} item(s) have no lead time in products or orders; one "
                       f"{frame['bucket'].iloc[0]} was assumed: load products.lead_time_days or give "
                       "--default-lead-time-days", err=True)

    _run(body)


@app.command()
def allocate(
    ctx: typer.Context,
    version: VersionOption,
    supply: Annotated[Path, typer.Option("--supply", help="CSV: product_id, available_quantity.")],
    orders: Annotated[Path, typer.Option(
        "--orders", help="CSV of open order lines: order_id, line_number (optional), customer_id, product_id, quantity.")],
    out: OutOption,
    db: DbOption = None,
) -> None:
    """Allocate short supply to open order lines by the allocation tier of each line's segment."""

    def body() -> None:
        from core.policy_plan import allocate_version, read_orders, read_supply, version_info

        with _open_store(ctx, db) as store:
            level = str(version_info(store, version)["level"])
            stock = read_supply(supply)
            lines = read_orders(orders, level)
            result = allocate_version(store, version, stock, lines)
        _write_csv(result.lines, out)
        typer.echo(f"{len(result.lines)} order lines allocated by version {version} to {out}")
        for row in result.summary.itertuples(index=False):
            fill = "-" if row.fill_rate != row.fill_rate else f"{row.fill_rate:.1%}"
            typer.echo(f"  {row.segment!s:>16}  tier {row.allocation_tier:<3} {row.ordered:>9} ordered "
                       f"{row.allocated:>9} allocated  fill rate {fill:>6}  {row.lines_cut} of {row.lines} lines cut")

    _run(body)
