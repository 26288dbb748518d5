"""The Overview page's data and charts: headline KPIs against target, trends, and what the URL asks for.

Pure functions, no Streamlit. The KPIs come from `core.kpi.segment_kpis` (one row per segment
and period), the targets and statuses from `core.kpi_targets` (a segment's target is its
policy's service level). Here they are shaped for a steering committee: one period's value per
segment and KPI with the change against the period before and a status colour, small-multiple
trends with the target line, and the checks that turn query parameters
(``?version=&segment=&period=&level=&bucket=``) into a selection or a plain warning.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import altair as alt
import numpy as np
import pandas as pd

from core.charts import _title
from core.kpi_targets import SERVICE_KPIS, kpi_status

#: Headline KPIs in the order shown, with the planner's name.
HEADLINE_KPIS: dict[str, str] = {"otif": "OTIF", "fill_rate": "fill rate", "on_time": "on time",
                                 "order_cycle_time_days": "order cycle time"}
#: Status -> colour (green, amber, red, grey) and words.
STATUS_COLOURS: dict[str, str] = {"on_target": "#2da44e", "at_risk": "#f0a32f", "off_target": "#cf222e",
                                  "no_target": "#9aa4b1"}
STATUS_NAMES: dict[str, str] = {"on_target": "on target", "at_risk": "at risk", "off_target": "off target",
                                "no_target": "no target"}
#: Periods a trend shows by default.
TREND_PERIODS = 12
#: Planning KPIs of the monitoring report (`core.kpi_report`: `core.kpi_forecast`, `core.kpi_inventory`)
#: shown under the headline where the version has them (product level; turns need inventory snapshots).
PLANNING_KPIS: dict[str, str] = {"forecast_accuracy": "forecast accuracy", "inventory_turns_annualised": "inventory turns"}
LEVEL_ORDER = ("product", "customer", "customer_product")


# -- periods ----------------------------------------------------------------------------------
def period_end(period: dt.date, bucket: str) -> dt.date:
    """The last day of the bucket that starts on ``period`` (a Monday week or a calendar month)."""
    if bucket == "week":
        return period + dt.timedelta(days=6)
    first_of_next = (period.replace(day=1) + dt.timedelta(days=32)).replace(day=1)
    return first_of_next - dt.timedelta(days=1)


def period_start(day: dt.date, bucket: str) -> dt.date:
    """The start of the bucket holding ``day``, as `core.kpi` buckets order dates (date_trunc)."""
    return day - dt.timedelta(days=day.weekday()) if bucket == "week" else day.replace(day=1)


def period_name(period: dt.date, bucket: str) -> str:
    """A period as a committee reads it: "week of 28 Apr 2025" or "Apr 2025"."""
    return f"week of {period:%d %b %Y}" if bucket == "week" else f"{period:%b %Y}"


def latest_complete_period(periods: Iterable[dt.date], last_order_date: dt.date | None, bucket: str) -> dt.date | None:
    """The newest period that ends on or before the last order date: the one before a period
    still running (its few lines would read as a collapse or a jump). When no period is
    complete yet, the newest period; None without periods."""
    ordered = sorted({pd.Timestamp(p).date() for p in periods})
    if not ordered:
        return None
    if last_order_date is None:
        return ordered[-1]
    complete = [p for p in ordered if period_end(p, bucket) <= last_order_date]
    return complete[-1] if complete else ordered[-1]


# -- headline --------------------------------------------------------------------------------
def _as_dates(kpis: pd.DataFrame) -> pd.DataFrame:
    return kpis.assign(period=pd.to_datetime(kpis["period"]).dt.date, segment=kpis["segment"].astype(str))


def headline(kpis: pd.DataFrame, targets: pd.DataFrame, period: dt.date) -> pd.DataFrame:
    """One row per segment and headline KPI for ``period``: segment, segment_label, kpi, name,
    value, previous (the period before, among all periods with lines), change, target, status.

    Segments come from the targets (every segment of the version) and the KPIs; a segment with
    no lines in the period has no value and status ``no_target``. Order cycle time has no
    target (lower is better, but the policies do not set one), so it is always ``no_target``.
    """
    frame = _as_dates(kpis)
    periods = sorted(frame["period"].unique())
    before = [p for p in periods if p < period]
    previous_period = before[-1] if before else None
    labels = dict(zip(frame["segment"], frame["segment_label"].astype(str), strict=False))
    segments = list(dict.fromkeys([*targets["segment"].astype(str), *frame["segment"]]))
    target_of = targets.assign(segment=targets["segment"].astype(str)).set_index("segment")
    now = frame[frame["period"] == period].set_index("segment")
    then = frame[frame["period"] == previous_period].set_index("segment")
    rows = []
    for segment in segments:
        for kpi, name in HEADLINE_KPIS.items():
            value = float(now.at[segment, kpi]) if segment in now.index and pd.notna(now.at[segment, kpi]) else np.nan
            prior = float(then.at[segment, kpi]) if segment in then.index and pd.notna(then.at[segment, kpi]) else np.nan
            target = (float(target_of.at[segment, kpi]) if kpi in SERVICE_KPIS and segment in target_of.index
                      else np.nan)
            rows.append({"segment": segment, "segment_label": labels.get(segment, segment), "kpi": kpi, "name": name,
                         "value": value, "previous": prior, "change": value - prior, "target": target,
                         "status": kpi_status(value, target)})
    result = pd.DataFrame(rows, columns=["segment", "segment_label", "kpi", "name", "value", "previous", "change",
                                         "target", "status"])
    result.attrs.update(period=period, previous_period=previous_period)
    return result


def kpi_text(kpi: str, value: float) -> str:
    """A KPI value on a tile: shares as "93.1 %", cycle time as "4.6 days", turns as "4.9 a year", unknown as "–"."""
    if value is None or pd.isna(value):
        return "–"
    if kpi == "inventory_turns_annualised":
        return f"{value:.1f} a year"
    return f"{value:.1f} days" if kpi == "order_cycle_time_days" else f"{100 * value:.1f} %"


def change_text(kpi: str, change: float) -> str | None:
    """The change against the period before: "+1.2 pts" for a share, "+0.3 days", "+0.4 turns"; None when unknown."""
    if change is None or pd.isna(change):
        return None
    if kpi != "inventory_turns_annualised" and kpi != "order_cycle_time_days":
        change = 100 * change
    change = round(change, 1) + 0.0   # a change that rounds to nothing reads +0.0, not -0.0
    if kpi == "inventory_turns_annualised":
        return f"{change:+.1f} turns"
    return f"{change:+.1f} days" if kpi == "order_cycle_time_days" else f"{change:+.1f} pts"


def planning_headline(report: pd.DataFrame, period: dt.date) -> pd.DataFrame:
    """One row per segment of ``report`` (`core.kpi_report.kpi_report`'s table) and planning KPI for
    ``period``: segment, segment_label, kpi, name, value, previous (the period before, among the
    report's periods), change. A value is NaN where the period has none: forecast accuracy is
    scored on the latest periods only, turns need a stock snapshot in the period."""
    frame = _as_dates(report)
    periods = sorted(frame["period"].unique())
    before = [p for p in periods if p < period]
    previous_period = before[-1] if before else None
    labels = dict(zip(frame["segment"], frame["segment_label"].astype(str), strict=False))
    now = frame[frame["period"] == period].set_index("segment")
    then = frame[frame["period"] == previous_period].set_index("segment")
    rows = []
    for segment in dict.fromkeys(frame["segment"]):
        for kpi, name in PLANNING_KPIS.items():
            value = float(now.at[segment, kpi]) if segment in now.index and pd.notna(now.at[segment, kpi]) else np.nan
            prior = float(then.at[segment, kpi]) if segment in then.index and pd.notna(then.at[segment, kpi]) else np.nan
            rows.append({"segment": segment, "segment_label": labels.get(segment, segment), "kpi": kpi, "name": name,
                         "value": value, "previous": prior, "change": value - prior})
    result = pd.DataFrame(rows, columns=["segment", "segment_label", "kpi", "name", "value", "previous", "change"])
    result.attrs.update(period=period, previous_period=previous_period)
    return result


def status_grid_chart(rows: pd.DataFrame, period_label: str) -> alt.LayerChart:
    """Segments (rows) x headline KPIs (columns): each cell the value, coloured by its status
    against the segment's target (green on target, amber at risk, red off target, grey no target).
    Large type: it is read on a projector. ``rows``: `headline`."""
    frame = rows.assign(text=[kpi_text(k, v) for k, v in zip(rows["kpi"], rows["value"], strict=True)],
                        status_name=rows["status"].map(STATUS_NAMES),
                        target_text=[kpi_text(k, t) if pd.notna(t) else "none"
                                     for k, t in zip(rows["kpi"], rows["target"], strict=True)],
                        change_text=[change_text(k, c) or "–" for k, c in zip(rows["kpi"], rows["change"], strict=True)])
    frame.attrs = {}   # the periods in attrs are dates, which the chart's JSON cannot hold
    segments = list(dict.fromkeys(frame["segment_label"].astype(str)))
    base = alt.Chart(frame).encode(
        x=alt.X("name:N", title=None, sort=list(HEADLINE_KPIS.values()),
                axis=alt.Axis(orient="top", labelAngle=0, labelFontSize=15, labelLimit=400)),
        y=alt.Y("segment_label:N", title="segment", sort=segments, axis=alt.Axis(labelFontSize=15)),
    )
    cells = base.mark_rect(stroke="white", strokeWidth=3).encode(
        color=alt.Color("status_name:N", title="status", scale=alt.Scale(
            domain=[STATUS_NAMES[s] for s in STATUS_COLOURS], range=list(STATUS_COLOURS.values())),
            legend=alt.Legend(orient="bottom", labelFontSize=14)),
        tooltip=[alt.Tooltip("segment_label:N", title="segment"), alt.Tooltip("name:N", title="KPI"),
                 alt.Tooltip("text:N", title="value"), alt.Tooltip("target_text:N", title="target"),
                 alt.Tooltip("change_text:N", title="change vs period before"),
                 alt.Tooltip("status_name:N", title="status")],
    )
    text = base.mark_text(fontSize=18, fontWeight="bold", color="white").encode(text="text:N")
    return alt.layer(cells, text).properties(
        title=_title(f"KPI status per segment, {period_label}",
                     "service KPIs against the segment's policy service level; at risk = up to 2 pts below"),
        height=60 + 48 * len(segments))


# -- trends --------------------------------------------------------------------------------------
def trend_frame(kpis: pd.DataFrame, targets: pd.DataFrame, kpi: str, up_to: dt.date,
                periods: int = TREND_PERIODS) -> pd.DataFrame:
    """The last ``periods`` periods up to ``up_to`` of one KPI per segment: segment,
    segment_label, period, value, target, status, selected (the period ``up_to``)."""
    frame = _as_dates(kpis)
    shown = sorted(p for p in frame["period"].unique() if p <= up_to)[-periods:]
    frame = frame[frame["period"].isin(shown)]
    target_of = dict(zip(targets["segment"].astype(str), targets[kpi], strict=True)) if kpi in SERVICE_KPIS else {}
    out = pd.DataFrame({"segment": frame["segment"], "segment_label": frame["segment_label"].astype(str),
                        "period": pd.to_datetime(frame["period"]), "value": frame[kpi].astype(float)})
    out["target"] = out["segment"].map(target_of).astype(float)
    out["status"] = [kpi_status(v, t) for v, t in zip(out["value"], out["target"], strict=True)]
    out["selected"] = out["period"].dt.date == up_to
    return out.reset_index(drop=True)


def kpi_trend_chart(trend: pd.DataFrame, kpi: str, bucket: str, columns: int = 4) -> alt.FacetChart:
    """Small multiples, one per segment: the KPI over the periods (points coloured by status),
    the segment's target as a dashed line and the selected period as a vertical rule.
    ``trend``: `trend_frame`."""
    name = HEADLINE_KPIS.get(kpi, kpi)
    share = kpi != "order_cycle_time_days"
    y_title = f"{name} (%)" if share else f"{name} (days)"
    frame = trend.assign(value=trend["value"] * (100 if share else 1), target=trend["target"] * (100 if share else 1),
                         status_name=trend["status"].map(STATUS_NAMES))
    x = alt.X("period:T", title=f"{bucket} (order date)",
              axis=alt.Axis(format="%d %b" if bucket == "week" else "%b %Y", labelAngle=-40))
    y = alt.Y("value:Q", title=y_title, scale=alt.Scale(zero=False))
    line = alt.Chart().mark_line(color="#57606a").encode(x=x, y=y)
    dots = alt.Chart().mark_point(filled=True, size=70).encode(
        x=x, y=y,
        color=alt.Color("status_name:N", title="status", scale=alt.Scale(
            domain=[STATUS_NAMES[s] for s in STATUS_COLOURS], range=list(STATUS_COLOURS.values()))),
        tooltip=[alt.Tooltip("segment_label:N", title="segment"), alt.Tooltip("period:T", title=bucket),
                 alt.Tooltip("value:Q", title=y_title, format=".1f"),
                 alt.Tooltip("target:Q", title="target", format=".1f"), alt.Tooltip("status_name:N", title="status")])
    target = alt.Chart().mark_line(strokeDash=[6, 4], color="#cf222e").encode(x=x, y=alt.Y("target:Q"))
    selected = alt.Chart().mark_rule(color="#1f6feb", strokeWidth=2).encode(x=x).transform_filter(alt.datum.selected)
    subtitle = "dashed red: the segment's target (its policy service level); blue: the period shown above"
    if not share:
        subtitle = "mean days from order to delivery, lower is better; blue: the period shown above"
    return (
        alt.layer(line, target, dots, selected, data=frame)
        .properties(width=230, height=150)
        .facet(facet=alt.Facet("segment_label:N", title=None, sort=list(dict.fromkeys(frame["segment_label"]))),
               columns=columns)
        .properties(title=_title(f"{name} per segment over the last {frame['period'].nunique()} {bucket}s", subtitle))
        .resolve_scale(y="shared")
    )


# -- versions and the URL ------------------------------------------------------------------------
def version_label(version_id: int, status: str, method: str | None = None, level: str | None = None) -> str:
    """A version as a committee must read it: approved ones are in force, anything else is a draft."""
    what = ", ".join(str(p) for p in (method, level) if p)
    state = "approved, in force" if status == "approved" else f"{status} — not approved"
    return f"Version {version_id}" + (f" ({what})" if what else "") + f": {state}"


@dataclass(frozen=True)
class VersionChoice:
    """The version the page opens on, its level, and why a requested one was not used."""

    level: str
    version_id: int
    warnings: tuple[str, ...] = ()


def default_version(versions: pd.DataFrame, in_force: dict[str, int | None], level: str) -> int:
    """The version in force at the level, else the newest saved at it (a draft). ``versions``:
    `core.versions.list_versions` (newest first) holding the level."""
    if in_force.get(level) is not None:
        return int(in_force[level])
    return int(versions.loc[versions["level"] == level, "version_id"].iloc[0])


def choose_version(versions: pd.DataFrame, in_force: dict[str, int | None], level: str | None = None,
                   version: str | None = None) -> VersionChoice:
    """Turn the ``level`` and ``version`` query parameters into a version to show.

    A valid version id wins (its level with it; a ``level`` that disagrees is warned about).
    Otherwise the version in force at the level asked for, else the newest draft there; with no
    level asked, the first level (product, customer, customer x product) with a version in force,
    else the level of the newest version. Anything that cannot be used gives a warning.
    """
    warnings: list[str] = []
    levels = [lv for lv in LEVEL_ORDER if lv in set(versions["level"])]
    if level is not None and level not in levels:
        warnings.append(f"level {level!r} in the link has no saved version (levels with versions: "
                        f"{', '.join(levels)}); showing the default")
        level = None
    if version is not None:
        try:
            wanted = int(str(version).strip())
        except ValueError:
            wanted = None
        known = versions.set_index("version_id")["level"] if len(versions) else pd.Series(dtype=str)
        if wanted is None or wanted not in known.index:
            warnings.append(f"version {version!r} in the link does not exist; showing the default version")
        else:
            version_level = str(known.loc[wanted])
            if level is not None and level != version_level:
                warnings.append(f"version {wanted} segments at level {version_level!r}, not {level!r}; "
                                f"showing it at its own level")
            return VersionChoice(version_level, wanted, tuple(warnings))
    if level is None:
        approved = [lv for lv in levels if in_force.get(lv) is not None]
        level = approved[0] if approved else str(versions["level"].iloc[0])
    return VersionChoice(level, default_version(versions, in_force, level), tuple(warnings))


def parse_period(text: str | None, periods: Sequence[dt.date], bucket: str) -> tuple[dt.date | None, str | None]:
    """A ``period`` query parameter (YYYY-MM-DD, any day of the period) as one of ``periods``,
    or (None, warning) when it is not a date or the version has no lines then."""
    if text is None:
        return None, None
    try:
        day = dt.date.fromisoformat(str(text).strip()[:10])
    except ValueError:
        return None, f"period {text!r} in the link is not a date (YYYY-MM-DD); showing the latest complete period"
    start = period_start(day, bucket)
    if start not in set(periods):
        return None, (f"period {text!r} in the link ({period_name(start, bucket)}) has no order lines in this "
                      "version; showing the latest complete period")
    return start, None


def parse_choice(text: str | None, choices: Sequence[str], what: str, fallback: str) -> tuple[str | None, str | None]:
    """A text query parameter (``segment``, ``bucket``) checked against its choices: (value, None)
    or (None, warning saying what is shown instead)."""
    if text is None:
        return None, None
    if text in choices:
        return text, None
    return None, f"{what} {text!r} in the link is not one of: {', '.join(choices)}; showing {fallback}"

