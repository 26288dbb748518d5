"""Monitor: a saved version's delivery KPIs per segment on control charts, rule breaks, drill-down and alerts."""

from __future__ import annotations

import datetime as dt
import os
from typing import Any

import pandas as pd
import streamlit as st

from core import alerts
from core.auth import can
from core.charts_monitor import NAMES, PLANNING_KPIS, SELECTION, control_chart, planning_points, value_text
from core.features import BUCKETS, LEVELS
from core.kpi import line_kpis, segment_kpis
from core.kpi_targets import SERVICE_KPIS, segment_targets
from core.versions import version_in_force
from ui.controls import ITEM_NAMES, LEVEL_NAMES
from ui.state import CACHE_TTL, data_version, ensure_entry, version_stamp, get_store, kpi_report, saved_versions, stop_with_info, user_errors

ensure_entry()

STATUS_NAMES = {"on_target": "on target", "at_risk": "at risk", "off_target": "off target", "no_target": "no target"}
#: Background and text colour per status: green, amber, red, grey.
STATUS_COLOURS = {"on target": ("#dafbe1", "#116329"), "at risk": ("#fff8c5", "#7d4e00"),
                  "off target": ("#ffebe9", "#a40e26"), "no target": ("#eaeef2", "#57606a")}
#: The drill-down's order lines as a planner reads them (`core.kpi.line_kpis` columns).
LINE_COLUMNS = {
    "order_id": "order", "line_number": "line", "order_date": st.column_config.DateColumn("ordered"),
    "customer_id": "customer", "product_id": "product", "quantity": "quantity",
    "promised_date": st.column_config.DateColumn("promised"), "delivered_date": st.column_config.DateColumn("delivered"),
    "delivered_quantity": "qty delivered", "segment_label": None, "on_time": "on time", "otif": "OTIF",
    "in_full": "in full", "filled_quantity": "qty filled", "days_late": "days late",
    "cycle_time_days": st.column_config.NumberColumn("cycle days", format="%.1f", help="Order cycle time in days"),
}
DELIVERY_COLUMNS = "`promised_date` and `delivered_date` (on time, OTIF, order cycle time) and `delivered_quantity` " \
                   "(fill rate, OTIF)"


# -- cached core calls (keyed on the database and its data version) ------------------------------
@st.cache_data(max_entries=16, ttl=CACHE_TTL, show_spinner=False)
def _kpis(_store: Any, db_path: str, version: str, version_id: int, bucket: str) -> pd.DataFrame:
    return segment_kpis(_store, version_id, bucket)


@st.cache_data(max_entries=16, ttl=CACHE_TTL, show_spinner=False)
def _last_complete(_store: Any, db_path: str, version: str, bucket: str) -> dt.date | None:
    return alerts.last_complete_period(_store, bucket)


@st.cache_data(max_entries=8, ttl=CACHE_TTL, show_spinner=False)
def _margins(_store: Any, db_path: str, version: str, version_id: int) -> pd.DataFrame:
    return alerts.boundary_margins(_store, version_id)


def _date(value: Any) -> dt.date:
    """A period from a frame or a chart selection (epoch milliseconds) as a date."""
    if isinstance(value, int | float):
        return pd.Timestamp(value, unit="ms").date()
    return pd.Timestamp(value).date()


def _breaks_table(hits: pd.DataFrame) -> pd.DataFrame:
    """Rule breaks as the planner reads them: segment, period, KPI, value in its unit, the rule in words."""
    return pd.DataFrame({
        "segment": hits["segment_label"], "period": pd.to_datetime(hits["period"]).dt.date,
        "KPI": hits["kpi"].map(NAMES),
        "value": [value_text(k, v) for k, v in zip(hits["kpi"], hits["value"], strict=True)],
        "rules": hits["rules"], "rule": hits["rule_words"], "lines": hits["lines"],
    })


def _status_style(value: Any) -> str:
    background, colour = STATUS_COLOURS.get(str(value), ("", ""))
    return f"background-color: {background}; color: {colour}; font-weight: 600" if background else ""


st.title("Monitor")
st.caption("How each segment of a saved version is served: OTIF, on-time share, fill rate and order cycle time per "
           "period on control charts, against the segment's target (its policy's service level), with forecast "
           "accuracy and inventory turns beside them. Red points break a Western Electric rule; choose one to see its "
           "order lines. The alerts list segment rule breaks and items drifting toward another segment.")

with user_errors():
    store = get_store()
    counts = store.table_counts()
if not counts.get("orders"):
    stop_with_info("**No orders loaded yet.** The monitor needs order lines with delivery dates.",
                   ("pages/data.py", "Load data", ":material/upload_file:"))
with user_errors():
    versions = saved_versions()
if versions.empty:
    stop_with_info("**No saved segmentation yet.** The monitor follows the segments of a saved version: segment the items "
                   "on the Segment page and save the result.",
                   ("pages/segment.py", "Segment items", ":material/hub:"))

# -- controls (sidebar) -------------------------------------------------------------------------
saved_levels = [level for level in LEVELS if (versions["level"] == level).any()]
with st.sidebar:
    st.header("Monitor settings")
    level = st.selectbox("Level", saved_levels, format_func=LEVEL_NAMES.get, key="mon_level",
                         help="Levels with a saved version.")
    at_level = versions[versions["level"] == level]
    with user_errors():
        in_force = version_in_force(store, level)
    ids = [int(v) for v in at_level["version_id"]]
    default = ids.index(in_force) if in_force in ids else 0

    def _describe(version_id: int) -> str:
        row = at_level[at_level["version_id"] == version_id].iloc[0]
        state = "in force (approved)" if version_id == in_force else \
            ("draft — not approved" if row["status"] == "draft" else f"{row['status']} — not approved")
        return f"Version {version_id}: {row['method']}, {row['k']} segments — {state}"

    version_id = st.selectbox("Version", ids, index=default, format_func=_describe, key=f"mon_version:{level}",
                              help="The approved version in force by default, else the newest saved one.")
    bucket = st.radio("Period", BUCKETS, key="mon_bucket", horizontal=True,
                      help="Lines are counted in the period of their order date.")
    kpi = st.selectbox("KPI", [*alerts.CONTROL_KPIS, *PLANNING_KPIS], format_func=NAMES.get, key="mon_kpi",
                       help="Delivery KPIs from the order lines; forecast accuracy (1 - WAPE of the segment's "
                            "forecast method, one period ahead) and inventory turns (cost of goods sold / average "
                            "stock value, per year) for product-level versions.")

if version_id != in_force:
    st.warning(f"**Version {version_id} is a draft — not approved.** "
               + ("No version is approved at this level yet; " if in_force is None else
                  f"version {in_force} is the one in force; ")
               + "the figures below follow the segments of the draft.", icon=":material/warning:")

with user_errors(), st.spinner("Counting delivery KPIs per segment…"):
    version_key = data_version(store)
    kpis = _kpis(store, str(store.path), version_stamp(store, version_id, data=version_key), version_id, bucket)
    through = _last_complete(store, str(store.path), version_key, bucket)
    targets = segment_targets(store, version_id)
    points = alerts.chart_points(kpis, alerts.CONTROL_KPIS, through=through)
with user_errors(), st.spinner("Scoring forecast accuracy and inventory turns per segment (backtests every product "
                               "once per period: a few seconds the first time)…"):
    report = kpi_report(version_id, bucket, data=version_key)
    planning = pd.concat([planning_points(report.table, name, through=through) for name in PLANNING_KPIS],
                         ignore_index=True)
#: why forecast accuracy or inventory turns are empty, per KPI ('' when they have values)
unavailable = {"forecast_accuracy": next((note for note in report.notes if "inventory" not in note), ""),
               "inventory_turns_annualised": next((note for note in report.notes if "inventory" in note), "")}
for name in PLANNING_KPIS:
    if not unavailable[name] and report.table[name].notna().sum() == 0:
        unavailable[name] = f"no {NAMES[name]} could be computed for this version"

outside = int(kpis.loc[kpis["segment"] == "(not in version)", "lines"].sum()) if len(kpis) else 0
st.caption(f"Version {version_id}, {LEVEL_NAMES[level]} level: {kpis['segment'].nunique() - (outside > 0)} segments, "
           f"{int(kpis['lines'].sum()) if len(kpis) else 0:,} demand lines by {bucket}"
           + (f"; {outside:,} lines of {ITEM_NAMES[level]} not in the version are left out" if outside else "")
           + (f". Periods after the last complete {bucket} ({through:%Y-%m-%d}) are left out." if through else "."))

measured = len(kpis) and (kpis[["otif_base_lines", "on_time_base_lines", "delivered_lines"]].to_numpy().sum() > 0
                          or kpis["ordered_quantity"].sum() > 0)
charts_tab, alerts_tab = st.tabs(["KPIs and control charts", "Alerts"])

with charts_tab:
    if not measured:
        st.warning(f"**The orders carry no delivery data.** The KPIs need {DELIVERY_COLUMNS}. Map these columns "
                   "when loading orders on the Data page.", icon=":material/warning:")
        st.page_link("pages/data.py", label="Load orders with delivery dates", icon=":material/upload_file:")
    elif through is None or points.empty:
        st.info(f"**Too few complete {bucket}s to chart.** A control chart needs at least two periods with a value "
                "per segment; choose weeks or load a longer history.", icon=":material/info:")
    else:
        # -- status per segment ---------------------------------------------------------------
        st.subheader(f"Latest complete {bucket}: {through:%Y-%m-%d}")
        table = alerts.status_table(kpis, targets, points, through)
        shown = pd.DataFrame({"segment": table["segment_label"], "lines": table["lines"]})
        for name in alerts.CONTROL_KPIS:
            shown[alerts.KPI_NAMES[name]] = table[name]
            if name in SERVICE_KPIS:
                shown[f"{alerts.KPI_NAMES[name]} target"] = table[f"{name}_target"]
                shown[f"{alerts.KPI_NAMES[name]} status"] = table[f"{name}_status"].map(STATUS_NAMES)
        latest = report.table[pd.to_datetime(report.table["period"]) == pd.Timestamp(through)] \
            .astype({"segment": str}).set_index("segment")
        for name in PLANNING_KPIS:
            shown[NAMES[name]] = table["segment"].astype(str).map(latest[name]).astype(float) \
                if name in latest.columns else float("nan")
        shown["rule breaks"] = table["rule_breaks"]
        percent = {c: "{:.1%}" for c in shown.columns if any(c.startswith(alerts.KPI_NAMES[k]) and "status" not in c
                                                             for k in SERVICE_KPIS)}
        styled = shown.style.format({**percent, alerts.KPI_NAMES["order_cycle_time_days"]: "{:.1f} d",
                                     NAMES["forecast_accuracy"]: "{:.1%}",
                                     NAMES["inventory_turns_annualised"]: "{:.1f}"}, na_rep="–") \
            .map(_status_style, subset=[c for c in shown.columns if c.endswith(" status")])
        # fifteen columns fit the page's width when each KPI's target and status are headed just "target" and
        # "status" (they follow their KPI's column)
        short = {c: st.column_config.Column(c.rsplit(" ", 1)[1], help=c) for c in shown.columns
                 if c.endswith((" target", " status"))}
        st.dataframe(styled, hide_index=True, width="stretch", key="mon_status", column_config={
            **short,
            NAMES["inventory_turns_annualised"]: st.column_config.Column(
                "inventory turns a year", help="Turns a year: cost of goods sold / average stock value at cost, annualised"),
            NAMES["forecast_accuracy"]: st.column_config.Column(
                "forecast accuracy", help="1 - WAPE of the one-period-ahead forecasts by the segment's policy method"),
            alerts.KPI_NAMES["order_cycle_time_days"]: st.column_config.Column("cycle time",
                                                                               help="Order cycle time in days")})
        st.caption("Target = the segment's policy service level (Policies page). Green on target, amber within 2 "
                   "points below, red further below, grey no target or no lines. Forecast accuracy = 1 - WAPE of "
                   "the one-period-ahead forecasts by the segment's policy method (scored on the latest periods "
                   "only; below 0 the errors exceed the demand); inventory turns = cost of goods sold / average stock value at cost, annualised. Rule "
                   "breaks: points of the four delivery charts that break a Western Electric rule.")
        for name in PLANNING_KPIS:
            if unavailable[name]:
                st.caption(f"**{NAMES[name].capitalize()} not available (–):** {unavailable[name]}.")

        # -- control charts ---------------------------------------------------------------------
        st.subheader(f"Control charts: {NAMES[kpi]}")
        of_kpi = points[points["kpi"] == kpi] if kpi in alerts.CONTROL_KPIS else planning[planning["kpi"] == kpi]
        labels = dict(zip(table["segment"], table["segment_label"], strict=True))
        charted = [s for s in table["segment"] if (of_kpi["segment"].astype(str) == s).any()]
        chosen = st.multiselect("Segments", charted, default=charted, format_func=labels.get,
                                key=f"mon_segments:{version_id}:{bucket}:{kpi}", placeholder="Choose segments to chart")
        target_of = targets.set_index(targets["segment"].astype(str))
        clicked: list[tuple[str, dt.date]] = []
        columns = st.columns(2)
        for position, segment in enumerate(chosen):
            rows = of_kpi[of_kpi["segment"].astype(str) == segment]
            target = float(target_of.loc[segment, kpi]) if kpi in SERVICE_KPIS and segment in target_of.index else None
            chart = control_chart(rows, kpi, segment_label=labels[segment], target=target, bucket=bucket)
            with columns[position % 2]:
                event = st.altair_chart(chart, width="stretch", on_select="rerun", selection_mode=SELECTION,
                                        key=f"mon_chart:{version_id}:{bucket}:{kpi}:{segment}")
            for picked in (event.selection.get(SELECTION) or []) if event else []:
                if picked.get("period") is not None:
                    clicked.append((segment, _date(picked["period"])))
        if not charted and kpi in PLANNING_KPIS and unavailable[kpi]:
            st.info(f"**{NAMES[kpi].capitalize()} is not available for version {version_id}:** {unavailable[kpi]}.",
                    icon=":material/info:")
        elif not charted:
            st.info(f"No segment has two periods with a {NAMES[kpi]} value.", icon=":material/info:")
        elif kpi == "forecast_accuracy":
            st.caption("Individuals (XmR) charts of 1 - WAPE per period: every product forecast one period ahead "
                       "with its segment's policy method on the history before the period, errors summed over the "
                       "segment's products (weighted by volume). Below 0 the errors exceed the demand.")
        elif kpi == "inventory_turns_annualised":
            st.caption("Individuals (XmR) charts of inventory turns a year: the period's cost of goods sold over the "
                       "average stock value at cost on the period's snapshot dates, times the periods in a year.")

        # -- rule breaks -------------------------------------------------------------------------
        breaks = alerts.flagged(of_kpi)
        st.subheader("Rule breaks")
        if breaks.empty:
            st.success(f"No point of the {NAMES[kpi]} charts breaks a Western Electric rule.",
                       icon=":material/check_circle:")
        else:
            st.dataframe(_breaks_table(breaks), hide_index=True, width="stretch", key="mon_breaks")

        # -- drill-down -------------------------------------------------------------------------
        st.subheader("Order lines behind a point")
        source = breaks if not breaks.empty else of_kpi.sort_values("period", ascending=False)
        options = [f"{s}|{p:%Y-%m-%d}" for s, p in zip(source["segment"].astype(str), source["period"], strict=True)]
        words = dict(zip(options, source["rule_words"] if "rule_words" in source else [""] * len(source), strict=True))

        def _point_name(option: str) -> str:
            segment, period = option.split("|")
            return f"{labels.get(segment, segment)} · {bucket} of {period}" + (f" · {words[option]}" if words[option] else "")

        point_key = f"mon_point:{version_id}:{bucket}:{kpi}"
        last_click = st.session_state.get("mon_last_click")
        if clicked and clicked[-1] != last_click:  # a new click on a red point chooses it below
            st.session_state["mon_last_click"] = clicked[-1]
            wanted = f"{clicked[-1][0]}|{clicked[-1][1]:%Y-%m-%d}"
            if wanted in options:
                st.session_state[point_key] = wanted
        point = st.selectbox("Flagged point" if not breaks.empty else "Point (no rule breaks: any period)", options,
                             format_func=_point_name, key=point_key,
                             help="Or click a red point on a chart.")
        if point:
            segment, period = point.split("|")
            with user_errors(stop=False), st.spinner("Reading the order lines…"):
                lines = line_kpis(store, version_id, segment, period, bucket)
                measured_lines = lines["on_time"].notna()
                cols = st.columns(4)
                cols[0].metric("Lines", f"{len(lines):,}")
                cols[1].metric("On time", f"{lines.loc[measured_lines, 'on_time'].mean():.1%}"
                               if measured_lines.any() else "–")
                cols[2].metric("Late lines", f"{int((lines['days_late'] > 0).sum()):,}")
                cols[3].metric("Short lines", f"{int((lines['in_full'] == False).sum()):,}")  # noqa: E712 - NULL stays out
                st.dataframe(lines.drop(columns=["segment", "period"]), hide_index=True, width="stretch",
                             key="mon_lines", column_config=LINE_COLUMNS)

with alerts_tab:
    st.subheader("Items drifting toward a segment boundary")
    with user_errors(stop=False), st.spinner("Measuring today's items against the version's segments…"):
        margins = _margins(store, str(store.path), version_key, version_id)
        drift = alerts.boundary_alerts(store, version_id, margins=margins)
        role = st.session_state.get("role", "admin")
        if can(role, "segment"):
            recorded = alerts.record_boundary_alerts(store, version_id, drift,
                                                     st.session_state.get("user_name") or os.environ.get("USER"))
            if recorded:
                st.caption(f"Recorded {recorded} alert change(s) (raised or cleared) in the audit trail.")
        if drift.attrs.get("reason"):
            st.info(drift.attrs["reason"], icon=":material/info:")
        elif not drift["active"].any():
            st.success("No item is drifting toward another segment.", icon=":material/check_circle:")
        else:
            active = drift[drift["active"]]
            keys = [c for c in ("customer_id", "product_id") if c in active.columns]
            st.dataframe(pd.DataFrame({
                **{k: active[k] for k in keys}, "segment": active["segment_label"],
                "saved relative margin": active["saved_relative_margin"],
                "current relative margin": active["relative_margin"],
                "nearest other segment": active["nearest_segment_label"], "since": active["change"].map(
                    {"raised": "raised now", "": "earlier"}),
            }), hide_index=True, width="stretch", key="mon_drift")
        cleared = drift[drift["change"] == "cleared"]
        new_items = int(drift.attrs.get("new_items", 0))
        margin_words = alerts.margin_definition(
            str(at_level.loc[at_level["version_id"] == version_id, "method"].iloc[0]))
        st.caption(f"Relative margin = {margin_words}; 0 is the boundary. An item alerts below {alerts.ENTER_MARGIN:g} once it "
                   f"fell at least {alerts.MIN_DROP:g} since the version, and clears above "
                   f"{alerts.ENTER_MARGIN + alerts.DEAD_BAND:g}."
                   + (f" {len(cleared)} alert(s) cleared now." if len(cleared) else "")
                   + (f" {new_items:,} {ITEM_NAMES[level]} are new since the version (not in it): they have no saved "
                      "segment and are not counted as drift." if new_items else "")
                   + (f" {drift.attrs['gone_items']:,} have no order lines any more."
                      if drift.attrs.get("gone_items") else ""))

    st.subheader("Rule breaks on every KPI")
    every = alerts.flagged(pd.concat([points if measured else points.iloc[0:0], planning], ignore_index=True))
    if every.empty:
        st.success("No segment's KPI breaks a Western Electric rule.", icon=":material/check_circle:")
    else:
        st.dataframe(_breaks_table(every), hide_index=True, width="stretch", key="mon_all_breaks")
