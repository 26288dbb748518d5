"""`segplan kpi` and `segplan cost-to-serve`: the monitoring side of a version, as CSV files.

Registered on the `core.cli` app by the import at the bottom of core/cli.py. Both only read;
a problem the user can fix exits 1 with one line, before any file is written.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Optional

import typer

from core.cli_common import (
    BUCKETS,
    DbOption,
    RequiredOutOption,
    RequiredVersionOption,
    _choice,
    _open_store,
    _required_out,
    _required_version,
    _run,
    _write_csv,
    app,
)
from core.errors import SegplanError

if TYPE_CHECKING:
    import pandas as pd


COST_LEVELS = ("customer", "product")


#: cost-to-serve columns after the activity costs and cost_to_serve, in this order
_COST_TAIL = ("gross_margin", "profit", "revenue", "cost_of_goods", "orders", "order_lines", "units", "shipments",
              "weight_kg", "return_lines")


def _summary(frame: pd.DataFrame, out: Path, **extra: object) -> str:
    """The --json line: rows, segments and periods (when the frame has them), what else is given, out."""
    summary: dict[str, object] = {"rows": int(len(frame))}
    if "segment" in frame.columns:
        summary["segments"] = int(frame["segment"].astype("string").nunique(dropna=False)) if len(frame) else 0
    if "period" in frame.columns:
        summary["periods"] = int(frame["period"].nunique())
    return json.dumps({**summary, **extra, "out": str(out)}, allow_nan=False)


@app.command()
def kpi(
    ctx: typer.Context,
    version: RequiredVersionOption = None,
    out: RequiredOutOption = None,
    bucket: Annotated[str, typer.Option("--bucket", help="Period of the KPIs: week or month of the order date.")
                      ] = "week",
    forecast_periods: Annotated[Optional[int], typer.Option(
        "--forecast-periods",
        help="Latest periods scored for forecast accuracy (default: 12 weeks or 3 months; 0: none).",
        show_default=False)] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print rows, segments, periods and out as JSON.")] = False,
    db: DbOption = None,
) -> None:
    """Per segment and period: lines, OTIF, fill rate, on time, targets and status, forecast accuracy, inventory turns."""

    def body() -> None:
        from core.kpi_report import kpi_report

        version_id = _required_version(version)
        target = _required_out(out)
        period = _choice("--bucket", bucket, BUCKETS)
        if forecast_periods is not None and forecast_periods < 0:
            raise SegplanError(f"--forecast-periods {forecast_periods} is below 0",
                               hint="give the number of latest periods to score, or 0 for none")
        with _open_store(ctx, db) as store:
            report = kpi_report(store, version_id, period, forecast_periods=forecast_periods)
        frame = report.table
        _write_csv(frame, target)
        if as_json:
            typer.echo(_summary(frame, target, version=version_id, bucket=period, notes=list(report.notes)))
            return
        typer.echo(f"{len(frame)} rows ({frame['segment'].nunique()} segments x {frame['period'].nunique()} "
                   f"{period}s) of version {version_id} written to {target}")
        for note in report.notes:
            typer.echo(f"note: {note}", err=True)

    _run(body)


def _cost_columns(frame: pd.DataFrame) -> list[str]:
    """Key, segment columns, the activity costs, cost_to_serve, gross_margin, profit, then the rest."""
    keys = [c for c in ("customer_id", "product_id") if c in frame.columns]
    segments = [c for c in ("segment", "segment_label") if c in frame.columns]
    activities = [c for c in frame.columns
                  if str(c).startswith("cost_") and c not in ("cost_to_serve", "cost_of_goods")]
    lead = [*keys, *segments, *activities, "cost_to_serve", *_COST_TAIL]
    return [*lead, *(c for c in frame.columns if c not in lead)]


@app.command("cost-to-serve")
def cost_to_serve(
    ctx: typer.Context,
    out: RequiredOutOption = None,
    level: Annotated[str, typer.Option("--level", help="Cost per customer or per product.")] = "customer",
    version: Annotated[Optional[int], typer.Option(
        "--version", help="Add each item's segment from this version (same level).", show_default=False)] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print rows, segments, totals and out as JSON.")] = False,
    db: DbOption = None,
) -> None:
    """Activity-based cost-to-serve per customer or product: one column per activity, cost_to_serve, margin, profit."""

    def body() -> None:
        from core.cost_to_serve import cost_to_serve as compute

        target = _required_out(out)
        item = _choice("--level", level, COST_LEVELS)
        with _open_store(ctx, db) as store:
            frame = compute(store, item, version_id=version)
        frame = frame[_cost_columns(frame)]
        _write_csv(frame, target)
        currency = frame.attrs.get("currency")
        totals = {name: (round(float(frame[name].sum()), 2) if frame[name].notna().any() else None)
                  for name in ("cost_to_serve", "gross_margin", "profit")}
        if as_json:
            extra: dict[str, object] = {"level": item, "currency": currency, **totals}
            if version is not None:
                extra["version"] = int(version)
            typer.echo(_summary(frame, target, **extra))
            return
        money = ", ".join(f"{name} {value:,.2f}" for name, value in totals.items() if value is not None)
        typer.echo(f"{len(frame)} {item}s costed to {target}" + (f" ({money}{' ' + currency if currency else ''})"
                                                                   if money else ""))

    _run(body)
