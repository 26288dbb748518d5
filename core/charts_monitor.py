"""Chart builders for the Monitor page: a KPI control chart per segment (Altair, no Streamlit).

One chart is one segment and one KPI over time: the period values joined by a line, the centre
line, the control limits drawn as steps (a p-chart's limits move with each period's number of
lines, so they are a band of steps, not two straight lines), the segment's target as a dashed
line where it has one, and the points that break a Western Electric rule in red, with a
tooltip naming the rules and the counts behind the point. Points come from
`core.alerts.chart_points` (delivery KPIs) or `planning_points` (forecast accuracy and inventory
turns from the monitoring report, `core.kpi_report`, on individuals charts).
"""

from __future__ import annotations

import altair as alt
import pandas as pd

from core.alerts import KPI_NAMES, KPI_UNITS, POINT_COLUMNS, rule_words

#: Colours: values and limits quiet, breaks red (as the status colours of the page), target green.
VALUE_COLOUR = "#1f6feb"
LIMIT_COLOUR = "#57606a"
BREAK_COLOUR = "#cf222e"
TARGET_COLOUR = "#2da44e"
#: Name of the point selection on flagged points (the page reads it with on_select).
SELECTION = "flagged_point"

#: KPIs of the monitoring report (`core.kpi_report`) charted beside the delivery KPIs, on XmR charts:
#: forecast accuracy (1 - WAPE, `core.kpi_forecast`) and inventory turns a year (`core.kpi_inventory`).
PLANNING_KPIS: tuple[str, ...] = ("forecast_accuracy", "inventory_turns_annualised")
#: Planner names and axis units of every KPI the Monitor page charts.
NAMES: dict[str, str] = {**KPI_NAMES, "forecast_accuracy": "forecast accuracy",
                         "inventory_turns_annualised": "inventory turns"}
UNITS: dict[str, str] = {**KPI_UNITS, "forecast_accuracy": "1 - WAPE",
                         "inventory_turns_annualised": "turns a year"}
#: Planning KPI -> (the report column it is measured on, the report column counted as its lines).
_PLANNING_BASE: dict[str, tuple[str, str]] = {"forecast_accuracy": ("forecast_demand", "forecast_items"),
                                              "inventory_turns_annualised": ("inventory_snapshots", "lines")}
_NOT_SHARES = frozenset({"days", "turns a year"})


def is_share(kpi: str) -> bool:
    """Whether the KPI is a share (drawn in %) rather than a number of days or turns."""
    return UNITS.get(kpi) not in _NOT_SHARES


def axis_title(kpi: str) -> str:
    """``"OTIF (% of lines)"``, ``"order cycle time (days)"``, ``"inventory turns (turns a year)"``."""
    return f"{NAMES.get(kpi, kpi)} ({UNITS.get(kpi, '')})"


def value_text(kpi: str, value: float) -> str:
    """A KPI value in its unit: '96.5%', '4.6 days', '5.2 turns a year'; '–' when missing."""
    if value is None or pd.isna(value):
        return "–"
    if is_share(kpi):
        return f"{value:.1%}"
    return f"{value:,.1f} {UNITS[kpi]}"


def planning_points(report: pd.DataFrame, kpi: str, *, through: object = None) -> pd.DataFrame:
    """XmR chart points (`core.alerts.POINT_COLUMNS`, chart ``"xmr"``) of a planning KPI per segment.

    ``report``: the table of `core.kpi_report.kpi_report` (segment, segment_label, period,
    lines and the KPI columns). Periods after ``through`` (the last complete one) and the lines
    outside the version are left out; a segment with fewer than two periods with a value has
    no chart (as in `core.alerts.chart_points`). ``base`` is the demand scored (accuracy) or
    the snapshot dates (turns); ``lines`` the products forecast (accuracy) or demand lines (turns).
    """
    from core.control_charts import xmr_chart
    from core.kpi import NOT_IN_VERSION

    if kpi not in _PLANNING_BASE:
        raise ValueError(f"not a planning KPI: {kpi!r}")
    base, counted = _PLANNING_BASE[kpi]
    if report.empty or kpi not in report.columns:
        return pd.DataFrame({c: [] for c in POINT_COLUMNS})
    frame = report[(report["segment"].astype(str) != NOT_IN_VERSION) & report[kpi].notna()]
    if through is not None:
        frame = frame[pd.to_datetime(frame["period"]) <= pd.Timestamp(through)]
    parts = []
    for _, rows in frame.sort_values(["segment", "period"]).groupby("segment", sort=True):
        if len(rows) < 2:
            continue
        points = xmr_chart(rows[kpi].to_numpy(dtype=float))
        parts.append(pd.DataFrame({
            "segment": rows["segment"].astype(str).to_numpy(), "segment_label": rows["segment_label"].astype(str).to_numpy(),
            "kpi": kpi, "chart": "xmr", "period": pd.to_datetime(rows["period"]).to_numpy(),
            "value": points["value"].to_numpy(), "centre": points["centre"].to_numpy(),
            "lcl": points["lcl"].to_numpy(), "ucl": points["ucl"].to_numpy(), "sigma": points["sigma"].to_numpy(),
            "rules": points["rules"].to_numpy(), "lines": rows[counted].fillna(0).to_numpy(dtype="int64"),
            "base": rows[base].to_numpy(dtype=float), "successes": float("nan"),
        }))
    if not parts:
        return pd.DataFrame({c: [] for c in POINT_COLUMNS})
    return pd.concat(parts, ignore_index=True)


def _counts(row: pd.Series, kpi: str) -> str:
    """What the point is made of, in words: '95 of 111 lines', '111 lines, 2,340 units ordered'."""
    if row["chart"] == "p":
        return f"{int(row['successes']):,} of {int(row['base']):,} lines measured ({int(row['lines']):,} lines)"
    if kpi == "forecast_accuracy":
        products = int(row["lines"])
        return f"{row['base']:,.0f} units of demand on {products:,} product{'s' if products != 1 else ''} forecast"
    if kpi == "inventory_turns_annualised":
        dates = int(row["base"])
        return f"{dates:,} stock snapshot date{'s' if dates != 1 else ''}, {int(row['lines']):,} demand lines"
    if kpi == "fill_rate":
        return f"{row['base']:,.0f} units ordered on {int(row['lines']):,} lines"
    return f"{int(row['base']):,} delivered lines ({int(row['lines']):,} lines)"


def chart_frame(points: pd.DataFrame, kpi: str) -> pd.DataFrame:
    """The points of one segment and KPI shaped for the chart: text for the tooltip, a break flag."""
    frame = points.sort_values("period").reset_index(drop=True).copy()
    frame["period"] = pd.to_datetime(frame["period"])
    frame["rules"] = frame["rules"].astype(str)
    frame["broken"] = frame["rules"] != ""
    frame["rule_words"] = [rule_words(r) or "none" for r in frame["rules"]]
    frame["counts"] = [_counts(row, kpi) for _, row in frame.iterrows()] if len(frame) else []
    return frame


def control_chart(points: pd.DataFrame, kpi: str, *, segment_label: str, target: float | None = None,
                  bucket: str = "week", height: int = 260) -> alt.LayerChart:
    """Control chart of one segment's KPI: values, centre, step limits, dashed target, red rule breaks.

    ``points``: the rows of `core.alerts.chart_points` for one segment and ``kpi``. ``target``
    (a share, for the service KPIs) is drawn when given. The red points carry a point selection
    named `SELECTION` on ``period``, so a page can drill into a clicked break.
    """
    frame = chart_frame(points, kpi)
    share = is_share(kpi)
    number = ".1%" if share else ",.1f"
    y_title = axis_title(kpi)
    x = alt.X("period:T", title=f"{bucket} (start date)", axis=alt.Axis(format="%Y-%m-%d", labelAngle=-30))
    y_scale = alt.Scale(zero=False)
    base = alt.Chart(frame).encode(x=x)
    tooltip = [
        alt.Tooltip("period:T", title=bucket, format="%Y-%m-%d"),
        alt.Tooltip("value:Q", title=NAMES.get(kpi, kpi), format=number),
        alt.Tooltip("centre:Q", title="centre line", format=number),
        alt.Tooltip("lcl:Q", title="lower limit", format=number),
        alt.Tooltip("ucl:Q", title="upper limit", format=number),
        alt.Tooltip("rule_words:N", title="rules broken"),
        alt.Tooltip("counts:N", title="counts"),
    ]
    values = base.mark_line(color=VALUE_COLOUR, strokeWidth=1.8, point=alt.OverlayMarkDef(color=VALUE_COLOUR, size=30)) \
        .encode(y=alt.Y("value:Q", title=y_title, scale=y_scale, axis=alt.Axis(format="%" if share else ",.1f")),
                tooltip=tooltip)
    # Limits as steps centred on each point: a p-chart's limits belong to one period each.
    limits = [base.mark_line(color=LIMIT_COLOUR, strokeDash=[2, 2], interpolate="step", strokeWidth=1.2)
              .encode(y=alt.Y(f"{column}:Q", scale=y_scale), tooltip=tooltip) for column in ("lcl", "ucl")]
    centre = base.mark_line(color=LIMIT_COLOUR, strokeWidth=1.2).encode(y=alt.Y("centre:Q", scale=y_scale))
    layers: list[alt.Chart] = [*limits, centre, values]
    if target is not None and pd.notna(target):
        target_frame = pd.DataFrame({"target": [float(target)], "label": [f"target {float(target):{number}}"]})
        layers.append(alt.Chart(target_frame).mark_rule(color=TARGET_COLOUR, strokeDash=[6, 4], strokeWidth=1.5)
                      .encode(y=alt.Y("target:Q", scale=y_scale), tooltip=[alt.Tooltip("label:N", title="target")]))
    selection = alt.selection_point(name=SELECTION, fields=["period"], on="click", clear="dblclick")
    breaks = base.transform_filter(alt.datum.broken).mark_point(
        color=BREAK_COLOUR, fill=BREAK_COLOUR, size=110, filled=True, opacity=0.95,
    ).encode(y=alt.Y("value:Q", scale=y_scale), tooltip=tooltip).add_params(selection)
    layers.append(breaks)
    n_breaks = int(frame["broken"].sum())
    method = "p-chart, limits vary with the lines per period" if (len(frame) and frame["chart"].iloc[0] == "p") \
        else "individuals (XmR) chart"
    # Two subtitle lines: one line is cut off in a half-width chart.
    subtitle = [f"{method}; dotted: control limits",
                f"{n_breaks} point{'s' if n_breaks != 1 else ''} breaking a Western Electric rule (red)"
                + (f"; dashed green: target {float(target):{number}}" if target is not None and pd.notna(target) else "")]
    return alt.layer(*layers).properties(
        title=alt.TitleParams(text=f"{NAMES.get(kpi, kpi)} of «{segment_label}»", subtitle=subtitle, anchor="start"),
        height=height,
    )
