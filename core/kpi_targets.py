"""Each segment's KPI targets and the status of a KPI against its target (the colours of Monitor and Overview).

segplan's convention (stated in docs/formulas.md): the service a segment promises is the
service level of its policy (`core.policy_plan.version_policies`: saved, else the default by
class), so that level is the target of the segment's fill rate, OTIF and on-time share. A
value within ``at_risk_band`` below target is *at risk*; further below is *off target*.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from core.store import Store

if TYPE_CHECKING:
    import pandas as pd

#: KPIs whose target is the segment's service level (higher is better).
SERVICE_KPIS: tuple[str, ...] = ("otif", "fill_rate", "on_time")
STATUSES: tuple[str, ...] = ("on_target", "at_risk", "off_target", "no_target")
#: How far below target (in share points) a KPI is still only at risk.
AT_RISK_BAND = 0.02


def segment_targets(store: Store, version_id: int) -> pd.DataFrame:
    """One row per segment of the version: ``segment`` (text), ``service_level`` and a target per service KPI."""
    import pandas as pd

    from core.policy_plan import version_policies

    rows = [{"segment": str(p.segment), "service_level": float(p.service_level),
             **{kpi: float(p.service_level) for kpi in SERVICE_KPIS}}
            for p in version_policies(store, version_id)]
    return pd.DataFrame(rows, columns=["segment", "service_level", *SERVICE_KPIS])


def kpi_status(value: float | None, target: float | None, at_risk_band: float = AT_RISK_BAND) -> str:
    """``on_target`` when value >= target, ``at_risk`` within the band below, else ``off_target``;
    ``no_target`` when either is missing (a period with no lines has no value to judge)."""
    if value is None or target is None or math.isnan(value) or math.isnan(target):
        return "no_target"
    if value >= target:
        return "on_target"
    return "at_risk" if value >= target - at_risk_band else "off_target"
