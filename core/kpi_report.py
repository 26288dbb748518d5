"""The monitoring table of a version: delivery KPIs, their targets and status, forecast accuracy and inventory turns.

One row per segment and period of `core.kpi.segment_kpis` (the segments and periods with
demand lines), with the columns of `core.kpi_targets` (a target per service KPI from the
segment's policy service level, and its status), `core.kpi_forecast` and `core.kpi_inventory`
joined on (segment, period). What `segplan kpi` writes and what pages can draw. Every part
takes an item's segment from `core.overrides.effective_assignments` (the planner's overrides
active today applied), so the rows of one segment describe the same items throughout.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from core.kpi_targets import SERVICE_KPIS, kpi_status, segment_targets

if TYPE_CHECKING:
    import pandas as pd

    from core.store import Store

#: The columns every report starts with, in this order (the `segplan kpi` contract).
LEAD_COLUMNS = ["segment", "period", "lines", "otif", "fill_rate", "on_time"]


@dataclass(frozen=True)
class KpiReport:
    """``table``: one row per segment and period (columns in `report_columns` order);
    ``notes``: why forecast accuracy or inventory turns are empty, when they are."""

    table: pd.DataFrame
    notes: tuple[str, ...]


def report_columns(kpis: pd.DataFrame) -> list[str]:
    """LEAD_COLUMNS, then segment_label and the other KPI columns, targets and statuses, forecast and turns."""
    from core.kpi_forecast import FORECAST_COLUMNS
    from core.kpi_inventory import TURNS_COLUMNS

    rest = [c for c in kpis.columns if c not in LEAD_COLUMNS]
    targets = ["service_level", *(f"{kpi}_{part}" for kpi in SERVICE_KPIS for part in ("target", "status"))]
    extra = [c for c in (*FORECAST_COLUMNS, *TURNS_COLUMNS) if c not in ("segment", "period")]
    return [*LEAD_COLUMNS, *rest, *targets, *extra]


def kpi_report(store: Store, version_id: int, bucket: str = "week", forecast_periods: int | None = None) -> KpiReport:
    """The monitoring table of a version (module docstring). ``forecast_periods``: latest periods
    scored for forecast accuracy (default the backtest holdout; 0 for none)."""
    import pandas as pd

    from core.kpi import segment_kpis
    from core.kpi_forecast import segment_forecast_accuracy
    from core.kpi_inventory import segment_inventory_turns

    kpis = segment_kpis(store, version_id, bucket)
    columns = report_columns(kpis)
    targets = segment_targets(store, version_id).rename(columns={kpi: f"{kpi}_target" for kpi in SERVICE_KPIS})
    accuracy = segment_forecast_accuracy(store, version_id, bucket, periods=forecast_periods)
    turns = segment_inventory_turns(store, version_id, bucket)
    table = kpis.assign(segment=kpis["segment"].astype(str), period=pd.to_datetime(kpis["period"]))
    table = table.merge(targets.assign(segment=targets["segment"].astype(str)), on="segment", how="left")
    for extra in (accuracy, turns):
        keyed = extra.assign(segment=extra["segment"].astype(str), period=pd.to_datetime(extra["period"]))
        table = table.merge(keyed, on=["segment", "period"], how="left")
    for kpi in SERVICE_KPIS:
        table[f"{kpi}_status"] = [kpi_status(_number(v), _number(t))
                                  for v, t in zip(table[kpi], table[f"{kpi}_target"], strict=True)]
    table["period"] = table["period"].dt.date
    notes = tuple(str(frame.attrs["reason"]) for frame in (accuracy, turns) if frame.attrs.get("reason"))
    table.attrs.update(version_id=int(version_id), bucket=bucket)
    return KpiReport(table[columns].reset_index(drop=True), notes)


def _number(value: object) -> float | None:
    """A cell as a float, None when missing (pandas gives NaN or NA)."""
    import pandas as pd

    return None if value is None or pd.isna(value) else float(value)
