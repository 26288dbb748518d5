"""Overview: one page to run a steering-committee meeting from: the version in force, KPIs against target, trends, profit."""

from urllib.parse import urlencode

import pandas as pd
import streamlit as st

from core import charts_cost
from core import charts_overview as charts
from core.cost_to_serve import LEVELS as COST_LEVELS
from core.cost_to_serve import cost_to_serve
from core.cost_to_serve_analysis import cost_to_serve_by_segment
from core.errors import SegplanError
from core.features import BUCKETS
from core.kpi import segment_kpis
from core.kpi_targets import segment_targets
from core.overview import orders_summary
from core.versions import version_in_force
from ui.auth import can_see_money
from ui.controls import LEVEL_NAMES
from ui.state import (CACHE_TTL, data_version, ensure_entry, version_stamp, get_store, kpi_report, saved_versions, show_error,
                      stop_with_info, user_errors)

ensure_entry()

#: The query parameters the page reads and writes, in the order of its link.
PARAMS = ("level", "version", "bucket", "segment", "period")
STATUS_BADGES = {"on_target": "green", "at_risk": "orange", "off_target": "red", "no_target": "gray"}


@st.cache_data(max_entries=8, ttl=CACHE_TTL, show_spinner=False)
def _kpis(db_path: str, version: str, version_id: int, bucket: str) -> pd.DataFrame:
    return segment_kpis(get_store(), version_id, bucket)


# keyed on the version's stamp: a policy saved on the Policies page shows at once
@st.cache_data(max_entries=8, ttl=CACHE_TTL, show_spinner=False)
def _targets(db_path: str, version: str, version_id: int) -> pd.DataFrame:
    return segment_targets(get_store(), version_id)


@st.cache_data(max_entries=8, ttl=CACHE_TTL, show_spinner=False)
def _cost_by_segment(db_path: str, version: str, level: str, version_id: int) -> pd.DataFrame:
    frame = cost_to_serve(get_store(), level, version_id)
    by_segment = cost_to_serve_by_segment(frame)
    by_segment.attrs["currency"] = frame.attrs.get("currency")
    return by_segment


def apply_link(params: dict[str, str], versions: pd.DataFrame, in_force: dict[str, int | None]) -> list[str]:
    """Put what the link asks for into the widgets' state; returns the warnings for what it cannot use.
    Segment and period are checked later, against the version's KPIs."""
    choice = charts.choose_version(versions, in_force, params.get("level"), params.get("version"))
    st.session_state["ov_level"] = choice.level
    st.session_state[f"ov_version:{choice.level}"] = choice.version_id
    warnings = list(choice.warnings)
    bucket, warning = charts.parse_choice(params.get("bucket"), BUCKETS, "bucket", "the selected bucket")
    if bucket is not None:
        st.session_state["ov_bucket"] = bucket
    return warnings + ([warning] if warning else [])


def keep_valid(key: str, options: list, default: object) -> None:
    """A widget's remembered value that its options no longer hold falls back to the default."""
    if st.session_state.get(key) not in options:
        st.session_state[key] = default


st.title("Overview")

with user_errors():
    store = get_store()
    stamp = data_version(store)
    versions = saved_versions()
    history = orders_summary(store)

if versions.empty:
    stop_with_info("**No saved segmentation yet.** The overview follows the segments of a version: segment the "
                   "items on the Segment page and save the result (and have it approved to put it in force).",
                   ("pages/segment.py", "Segment items", ":material/hub:"))

levels = [lv for lv in charts.LEVEL_ORDER if lv in set(versions["level"])]
with user_errors():
    in_force = {lv: version_in_force(store, lv) for lv in levels}

# -- the link: a pasted or shared URL sets the selection once; the selection then writes the URL ----------
params = {name: st.query_params[name] for name in PARAMS if name in st.query_params}
link_warnings: list[str] = []
if params and params != st.session_state.get("ov_link"):
    link_warnings = apply_link(params, versions, in_force)
    st.session_state["ov_link_pending"] = {k: params[k] for k in ("segment", "period") if k in params}

# -- in force per level --------------------------------------------------------------------------------
status_of = dict(zip(versions["version_id"].astype(int), versions["status"].astype(str), strict=True))
method_of = dict(zip(versions["version_id"].astype(int), versions["method"].astype(str), strict=True))
force_cells = st.columns(len(levels))
for cell, lv in zip(force_cells, levels, strict=True):
    if in_force[lv] is not None:
        cell.success(f"**{LEVEL_NAMES[lv]}**: version {in_force[lv]} is in force", icon=":material/verified:")
    else:
        newest = int(versions.loc[versions["level"] == lv, "version_id"].iloc[0])
        cell.warning(f"**{LEVEL_NAMES[lv]}**: no approved version; newest is version {newest}, draft — not approved",
                     icon=":material/pending:")

# -- selection (sidebar) -------------------------------------------------------------------------------
with st.sidebar:
    st.header("Overview")
    keep_valid("ov_level", levels, next((lv for lv in levels if in_force[lv] is not None), levels[0]))
    level = st.selectbox("Level", levels, format_func=LEVEL_NAMES.get, key="ov_level")
    at_level = [int(v) for v in versions.loc[versions["level"] == level, "version_id"]]
    version_key = f"ov_version:{level}"
    keep_valid(version_key, at_level, charts.default_version(versions, in_force, level))
    version_id = st.selectbox("Segmentation version", at_level, key=version_key,
                              format_func=lambda v: charts.version_label(v, status_of[v], method_of[v]),
                              help="The version in force (approved) by default, else the newest draft.")
    keep_valid("ov_bucket", list(BUCKETS), "month")
    bucket = st.radio("Period", BUCKETS, key="ov_bucket", horizontal=True,
                      format_func=lambda b: {"week": "weeks", "month": "months"}[b],
                      help="KPIs per week (Monday to Sunday) or calendar month of the order date.")

with user_errors(), st.spinner("Measuring delivery KPIs…"):
    segments_stamp = version_stamp(store, version_id, data=stamp)   # moves with overrides and policy edits too
    kpis = _kpis(str(store.path), segments_stamp, version_id, bucket)
    targets = _targets(str(store.path), segments_stamp, version_id)

status = status_of[version_id]
if status != "approved":
    st.warning(f"**Version {version_id} is a {status} — not approved.** Its segments and targets are not in force; "
               "read the figures as a draft.", icon=":material/pending:")
if kpis.empty:
    st.info("**No order lines to measure.** Load order history with promised and delivered dates and quantities "
            "to see OTIF, fill rate, on time and order cycle time.", icon=":material/info:")
    st.stop()

periods = sorted(pd.to_datetime(kpis["period"]).dt.date.unique())
labels = dict(zip(kpis["segment"].astype(str), kpis["segment_label"].astype(str), strict=False))
labels.update({str(s): labels.get(str(s), str(s)) for s in targets["segment"]})
segments = list(dict.fromkeys([*targets["segment"].astype(str), *kpis["segment"].astype(str)]))
latest = charts.latest_complete_period(periods, history.last_order_date, bucket)

pending = st.session_state.pop("ov_link_pending", {})
if "segment" in pending:
    names = {labels[s]: s for s in segments}   # a link may name the segment by its code or its name
    segment, warning = charts.parse_choice(names.get(pending["segment"], pending["segment"]), segments,
                                           "segment", f"segment {labels[segments[0]]!r}")
    link_warnings += [warning] if warning else []
    if segment is not None:
        st.session_state["ov_segment"] = segment
if "period" in pending:
    period, warning = charts.parse_period(pending["period"], periods, bucket)
    link_warnings += [warning] if warning else []
    if period is not None:
        st.session_state["ov_period"] = period
for warning in link_warnings:
    st.warning(f"**The link could not be followed in full:** {warning}.", icon=":material/link_off:")

with st.sidebar:
    keep_valid("ov_segment", segments, segments[0])
    segment = st.selectbox("Segment", segments, key="ov_segment", format_func=lambda s: labels.get(s, s))
    remembered = st.session_state.get("ov_period")
    if remembered is not None and remembered not in periods:   # weeks <-> months: stay at the same time
        st.session_state["ov_period"] = charts.period_start(remembered, bucket)
    keep_valid("ov_period", periods, latest)
    period = st.selectbox("Period shown", periods[::-1], key="ov_period",
                          format_func=lambda p: charts.period_name(p, bucket) + (" (running)" if p > latest else ""),
                          help="The latest complete period by default: a period still running has too few lines.")

# -- write the selection back to the URL -------------------------------------------------------------------
selection = {"level": level, "version": str(version_id), "bucket": bucket, "segment": segment,
             "period": period.isoformat()}
if dict(st.query_params) != selection:
    st.query_params.from_dict(selection)
st.session_state["ov_link"] = selection
link = "overview?" + urlencode(selection)

# -- headline ----------------------------------------------------------------------------------------
rows = charts.headline(kpis, targets, period)
previous = rows.attrs["previous_period"]
period_words = charts.period_name(period, bucket)
st.header(f"{labels.get(segment, segment)} · {period_words}")
st.caption(f"{LEVEL_NAMES[level]} version {version_id} · change against "
           f"{charts.period_name(previous, bucket) if previous else 'no earlier period'}")
mine = rows[rows["segment"] == segment].set_index("kpi")
for cell, (kpi, name) in zip(st.columns(len(charts.HEADLINE_KPIS)), charts.HEADLINE_KPIS.items(), strict=True):
    row = mine.loc[kpi]
    target = charts.kpi_text(kpi, row["target"]) if pd.notna(row["target"]) else "no target"
    cell.metric(name, charts.kpi_text(kpi, row["value"]), charts.change_text(kpi, row["change"]), border=True,
                delta_color="inverse" if kpi == "order_cycle_time_days" else "normal",
                help=f"Target: {target}")
    words = charts.STATUS_NAMES[row["status"]] + (f" · target {target}" if pd.notna(row["target"]) else "")
    cell.badge(words, color=STATUS_BADGES[row["status"]])

st.altair_chart(charts.status_grid_chart(rows, period_words), width="stretch")

# -- forecast accuracy and inventory turns ----------------------------------------------------------------
st.subheader("Forecast accuracy and inventory turns")
try:
    with st.spinner("Scoring forecast accuracy and inventory turns (a backtest per period: a few seconds the first "
                    "time)…"):
        report = kpi_report(version_id, bucket, data=stamp)
except SegplanError as err:
    show_error(err)
else:
    # why a KPI has no values at all for this version ('' when it has some)
    missing = {"forecast_accuracy": next((n for n in report.notes if "inventory" not in n), ""),
               "inventory_turns_annualised": next((n for n in report.notes if "inventory" in n), "")}
    for kpi in charts.PLANNING_KPIS:
        if not missing[kpi] and report.table[kpi].notna().sum() == 0:
            missing[kpi] = "no period of this version has a value"
    if all(missing.values()):
        st.info(f"**Forecast accuracy and inventory turns are not available for version {version_id}.** "
                + " ".join(f"{why[0].upper()}{why[1:]}." for why in dict.fromkeys(missing.values())),
                icon=":material/info:")
    else:
        planning = charts.planning_headline(report.table, period)
        scored = sorted(pd.to_datetime(report.table.loc[report.table["forecast_accuracy"].notna(), "period"])
                        .dt.date.unique())
        own = planning[planning["segment"] == segment].set_index("kpi")
        cells = st.columns(len(charts.HEADLINE_KPIS))
        for cell, (kpi, name) in zip(cells, charts.PLANNING_KPIS.items()):
            if missing[kpi]:
                cell.metric(name, "not available", border=True, help=missing[kpi].capitalize() + ".")
                cell.caption(f"Not available: {missing[kpi]}.")
                continue
            value = own.at[kpi, "value"] if kpi in own.index else float("nan")
            cell.metric(name, charts.kpi_text(kpi, value),
                        charts.change_text(kpi, own.at[kpi, "change"]) if kpi in own.index else None, border=True,
                        help="1 - WAPE of the one-period-ahead forecasts by the segment's policy method, over its "
                             "products" if kpi == "forecast_accuracy" else
                             "Cost of goods sold over the average stock value at cost, per year")
            if pd.isna(value):
                cell.caption(f"Not scored for {period_words}: forecast accuracy is scored for the latest "
                             f"{len(scored)} complete {bucket}s ({charts.period_name(scored[0], bucket)} to "
                             f"{charts.period_name(scored[-1], bucket)})." if kpi == "forecast_accuracy" and scored
                             else f"No value for {period_words}: no stock snapshot or demand in it.")
        per_segment = planning.pivot(index=["segment", "segment_label"], columns="kpi", values="value").reset_index()
        per_segment = per_segment[per_segment["segment"] != "(not in version)"]
        shown = pd.DataFrame({"segment": per_segment["segment_label"],
                              **{name: [charts.kpi_text(k, v) if not missing[k] else "not available"
                                        for v in per_segment.get(k, pd.Series(float("nan"), index=per_segment.index))]
                                 for k, name in charts.PLANNING_KPIS.items()}})
        st.dataframe(shown, hide_index=True, key="ov_planning")
        st.caption(f"Every segment in {period_words}; – where the period has no value.")

# -- trends ----------------------------------------------------------------------------------------------
st.subheader("Trends")
trend_kpi = st.segmented_control("KPI", list(charts.HEADLINE_KPIS), format_func=charts.HEADLINE_KPIS.get,
                                 default="otif", key="ov_trend_kpi", label_visibility="collapsed") or "otif"
trend = charts.trend_frame(kpis, targets, trend_kpi, period)
st.altair_chart(charts.kpi_trend_chart(trend, trend_kpi, bucket))

# -- cost to serve and profit ------------------------------------------------------------------------------
st.subheader("Cost to serve and profit per segment")
if level not in COST_LEVELS:
    st.caption(f"Cost to serve is per customer or per product; version {version_id} segments "
               f"{LEVEL_NAMES[level]} pairs. Choose a customer or product version.")
elif not can_see_money():
    st.info(f"**Your role ({st.session_state.get('role')}) does not see revenue, margin or cost.**",
            icon=":material/visibility_off:")
else:
    try:
        by_segment = _cost_by_segment(str(store.path), segments_stamp, level, version_id)
    except SegplanError as err:
        show_error(err)
    else:
        currency = charts_cost.currency_name(by_segment.attrs.get("currency"))
        st.caption(f"Over the whole order history, not the period: {labels.get(segment, segment)} and every "
                   "segment of the version.")
        this = by_segment[by_segment["segment"].astype(str) == segment]
        if len(this):
            one = this.iloc[0]
            cells = st.columns(4)
            cells[0].metric(f"Cost to serve ({currency})", f"{one['cost_to_serve']:,.0f}", border=True)
            cells[1].metric(f"Gross margin ({currency})", f"{one['gross_margin']:,.0f}", border=True)
            cells[2].metric(f"Profit ({currency})", f"{one['profit']:,.0f}", border=True)
            share = one["profit_share_pct"]
            cells[3].metric("Share of all profit", "–" if pd.isna(share) else f"{share:.1f} %", border=True)
        st.altair_chart(charts_cost.cost_margin_chart(by_segment, by_segment.attrs.get("currency")), width="stretch")
        st.page_link("pages/cost_to_serve.py", label="Cost to serve in detail", icon=":material/payments:")

# -- link -------------------------------------------------------------------------------------------------
st.subheader("Link to this view")
st.caption("Paste it after the app's address (for example http://localhost:8501/) to open this version, segment "
           "and period.")
st.code(link, language=None)
