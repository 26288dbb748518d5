"""Cost to serve: activity-based cost and profit per customer or product, the whale curve, segments that subsidise others."""

import pandas as pd
import streamlit as st

from core import charts_cost as charts
from core.auth import can
from core.charts_overview import version_label
from core.cost_to_serve import cost_to_serve, driver_volumes
from core.cost_to_serve_analysis import cost_to_serve_by_segment, subsidies, whale_curve
from core.errors import SegplanError
from core.overview import table_head
from core.versions import version_in_force
from ui.auth import can_see_money, mask_money
from ui.controls import ITEM_NAMES, LEVEL_NAMES
from ui.state import CACHE_TTL, data_version, ensure_entry, version_stamp, get_store, saved_versions, show_error, stop_with_info, user_errors

ensure_entry()

LEVELS = ("customer", "product")
RATES_EXAMPLE = ("activity,driver,rate,currency\n"
                 "order handling,per_order,4.50,EUR\n"
                 "picking,per_line,0.85,EUR\n"
                 "transport,per_shipment,12.00,EUR\n"
                 "transport,per_kg,0.18,EUR\n")


@st.cache_data(max_entries=8, ttl=CACHE_TTL, show_spinner=False)
def _cost_table(db_path: str, version: str, level: str, version_id: int | None) -> pd.DataFrame:
    return cost_to_serve(get_store(), level, version_id)


@st.cache_data(max_entries=8, ttl=CACHE_TTL, show_spinner=False)
def _volumes(db_path: str, version: str) -> dict[str, float]:
    return driver_volumes(get_store())


def number_columns(frame: pd.DataFrame, money: bool, cents: bool = False) -> dict:
    """Column settings for a cost table: activities by name, amounts and volumes in readable units.
    ``cents``: amounts with two decimals each ("1,318.00", not "1,318" under "1,638.23")."""
    amount = "accounting" if cents else "localized"
    config: dict = {c: st.column_config.NumberColumn(c.replace("_", " "), format="localized")
                    for c in charts.volume_columns(frame)}
    if money:
        config.update({c: st.column_config.NumberColumn(charts.activity_name(c), format=amount)
                       for c in charts.activity_columns(frame)})
        config.update({c: st.column_config.NumberColumn(c.replace("_", " "), format=amount)
                       for c in ("cost_to_serve", "revenue", "cost_of_goods", "gross_margin", "profit")})
    return config


def rounded(frame: pd.DataFrame, decimals: int) -> pd.DataFrame:
    """Money to ``decimals``, allocated volumes (a third of an order) to 2: what a table needs to be read."""
    money = [*charts.activity_columns(frame), "cost_to_serve", "revenue", "cost_of_goods", "gross_margin", "profit"]
    return frame.round({**{c: decimals for c in money if c in frame.columns},
                        **{c: 2 for c in ("orders", "shipments", "weight_kg") if c in frame.columns}})


st.title("Cost to serve")
st.caption("What it costs to serve each customer or product (activity-based: each activity's rate times how often "
           "its driver occurs in the order lines), what is left of the gross margin after it, and which customers, "
           "products and segments carry the others.")

with user_errors():
    store = get_store()
    counts = store.table_counts()
    stamp = data_version(store)
role = st.session_state.get("role", "admin")

if counts["orders"] == 0:
    stop_with_info("**No orders loaded yet, so there is nothing to cost.** Load your order history (and a "
                   "cost_rates file) on the Data page, or build a sample database with `segplan init --sample`.",
                   ("pages/data.py", "Load data", ":material/upload_file:") if can(role, "ingest") else None)

# -- controls (sidebar) -------------------------------------------------------------------
with user_errors():
    versions = saved_versions()
with st.sidebar:
    st.header("Cost-to-serve settings")
    level = st.radio("Level", LEVELS, format_func=LEVEL_NAMES.get, key="cts_level", persist_state="session",
                     horizontal=True, help="Cost and profit per customer (who you serve) or per product (what you ship).")
    at_level = versions[versions["level"] == level]
    choices: list[int | None] = [None, *(int(v) for v in at_level["version_id"])]
    labels = {int(r.version_id): version_label(int(r.version_id), str(r.status), str(r.method))
              for r in at_level.itertuples()}
    with user_errors():
        in_force = version_in_force(store, level)
    default = in_force if in_force is not None else (choices[1] if len(choices) > 1 else None)
    version_id = st.selectbox(
        "Segments from version", choices, index=choices.index(default), key=f"cts_version:{level}",
        format_func=lambda v: "none (no segments)" if v is None else labels[v],
        help="The version in force (approved) first, else the newest draft. Segments sum the items' costs and "
             "show which segments subsidise which.")

items = ITEM_NAMES[level]
try:
    with st.spinner(f"Costing every {LEVEL_NAMES[level]}…"):
        frame = _cost_table(str(store.path), stamp if version_id is None else version_stamp(store, version_id),
                            level, version_id)
except SegplanError as err:   # rates in several currencies or an unknown driver: the rates must be reloaded
    show_error(err)
    if can(role, "ingest"):
        st.page_link("pages/data.py", label="Load cost rates again", icon=":material/upload_file:")
    st.stop()
currency = charts.currency_name(frame.attrs.get("currency"))
for note in frame.attrs.get("notes", []):   # a ship-mode rate whose mode no order line has: it costs 0
    st.caption(f"Note: {note}.")
money = can_see_money()
with_segments = version_id is not None

if counts["cost_rates"] == 0:
    st.info("**No cost rates loaded, so every cost to serve is 0 and profit equals gross margin.** A cost_rates "
            "file has one row per activity rate: the activity, the driver it is charged per (per_order, per_line, "
            "per_unit, per_shipment, per_kg, per_return_line, or per_line:ship_mode=<mode> for lines shipped with "
            "one ship mode such as Express), the rate per driver unit and its currency (one currency for all "
            "rates). An activity charged per two drivers (transport per shipment and per kg) has two rows. Load it "
            "on the Data page, table *cost_rates*, for example:", icon=":material/info:")
    st.code(RATES_EXAMPLE, language="csv")
    if can(role, "ingest"):
        st.page_link("pages/data.py", label="Load cost rates", icon=":material/upload_file:")
if not money:
    st.info(f"**Your role ({role}) does not see revenue, margin or cost.** Shown below: how many orders, lines, "
            f"units, shipments and kilograms each of the {items} drives; ask a planner for the money figures.",
            icon=":material/visibility_off:")

# -- headline ----------------------------------------------------------------------------
known = frame["profit"].notna()
cells = st.columns(5)
cells[0].metric(items.capitalize(), f"{len(frame):,}", border=True)
if money:
    cost, margin, profit = (float(frame[c].sum()) for c in ("cost_to_serve", "gross_margin", "profit"))
    revenue = float(frame["revenue"].sum())
    cells[1].metric(f"Cost to serve ({currency})", f"{cost:,.0f}", border=True,
                    help="Sum over every activity of rate x driver volume.")
    cells[2].metric(f"Gross margin ({currency})", f"{margin:,.0f}", border=True,
                    help="Revenue - cost of goods, over the lines with both known.")
    cells[3].metric(f"Profit ({currency})", f"{profit:,.0f}", border=True,
                    help="Gross margin - cost to serve (items with a known margin).")
    cells[4].metric(f"Loss-making {items}", f"{int((frame['profit'] < 0).sum()):,}", border=True,
                    help=f"{items.capitalize()} whose cost to serve exceeds their gross margin.")
    st.caption(f"Cost to serve is {100 * cost / revenue:.1f} % of revenue ({revenue:,.0f} {currency})."
               if revenue else "No revenue is known, so no share of it.")
else:
    for cell, column in zip(cells[1:], ("orders", "order_lines", "shipments", "weight_kg"), strict=True):
        cell.metric(column.replace("_", " ").capitalize(), f"{float(frame[column].sum()):,.0f}", border=True)

# -- whale curve ----------------------------------------------------------------------------
if money:
    st.subheader("Whale curve")
    with user_errors(stop=False):
        curve = whale_curve(frame)
        if curve.empty:
            st.caption(f"No {items} have a known margin, so there is no curve.")
        else:
            peak = charts.whale_peak(curve)
            st.altair_chart(charts.whale_curve_chart(curve, items, frame.attrs.get("currency")), width="stretch")
            words = charts.whale_words(peak, items)
            if (~known).any():
                words += f" {int((~known).sum()):,} {items} without a known margin are not on the curve."
            st.caption(words)

# -- segments ------------------------------------------------------------------------------
st.subheader("Per segment")
if not with_segments:
    st.info(f"Choose a saved {LEVEL_NAMES[level]}-level version in the sidebar to sum the {items} by segment and "
            "see which segments subsidise which.", icon=":material/info:")
else:
    with user_errors(stop=False):
        by_segment = cost_to_serve_by_segment(frame)
        if money:
            left, right = st.columns(2)
            left.altair_chart(charts.cost_margin_chart(by_segment, frame.attrs.get("currency")), width="stretch")
            right.altair_chart(charts.activity_cost_chart(by_segment, frame.attrs.get("currency")), width="stretch")
        shown = rounded(by_segment, 0) if money else mask_money(by_segment)
        st.dataframe(shown, hide_index=True, width="stretch", column_config={
            **number_columns(by_segment, money),
            "segment": None,
            "segment_label": st.column_config.TextColumn("segment"),
            "items": st.column_config.NumberColumn(items, format="localized"),
            "loss_making_items": st.column_config.NumberColumn(f"loss-making {items}", format="localized"),
            "profit_share_pct": st.column_config.NumberColumn("share of profit (%)", format="%.1f"),
            "cost_to_serve_pct_of_revenue": st.column_config.NumberColumn("cost to serve (% of revenue)", format="%.1f"),
        })
        if money:
            flows = subsidies(frame)
            if flows.empty:
                st.success("**No segment loses money as a whole, so none is carried by another.** Loss-making "
                           f"{items} inside a segment are counted in the table above.", icon=":material/check_circle:")
            else:
                left, right = st.columns(2)
                left.altair_chart(charts.subsidy_chart(flows, frame.attrs.get("currency")), width="stretch")
                right.dataframe(flows.round(1), hide_index=True, width="stretch", column_order=[
                    "from_segment_label", "to_segment_label", "transfer", "transfer_pct_of_from_profit", "from_profit",
                    "to_loss"], column_config={
                    "from_segment_label": "pays", "to_segment_label": "carries",
                    "transfer": st.column_config.NumberColumn(f"transfer ({currency})", format="localized"),
                    "transfer_pct_of_from_profit": st.column_config.NumberColumn("% of the payer's profit"),
                    "from_profit": st.column_config.NumberColumn(f"payer's profit ({currency})", format="localized"),
                    "to_loss": st.column_config.NumberColumn(f"loss carried ({currency})", format="localized")})

# -- per item ----------------------------------------------------------------------------------
st.subheader(f"Per {LEVEL_NAMES[level]}")
key = f"{level}_id"
activities = charts.activity_columns(frame)
volumes_cols = charts.volume_columns(frame)
columns = [key, *(["segment_label"] if with_segments else []), *activities, "cost_to_serve", "revenue",
           "gross_margin", "profit", *volumes_cols]
table = rounded(frame[columns].sort_values("profit", na_position="last", kind="stable"), 2) if money \
    else mask_money(frame[columns])
st.caption("Sort by any column by clicking its header." + (" Least profitable first." if money else ""))
st.dataframe(table, hide_index=True, width="stretch", column_config={
    key: st.column_config.TextColumn(LEVEL_NAMES[level]),
    "segment_label": st.column_config.TextColumn("segment"),
    **number_columns(frame, money, cents=True),
})
st.download_button(f"Download the cost to serve per {LEVEL_NAMES[level]} (CSV)", table.to_csv(index=False).encode(),
                   f"cost_to_serve_{level}.csv", "text/csv", icon=":material/download:")

# -- drivers and rates ------------------------------------------------------------------------
st.subheader("Drivers and rates")
volumes = _volumes(str(store.path), stamp)
left, right = st.columns(2)
left.markdown("**Driver volumes in the data** (demand lines; shared orders and shipments are split over the "
              f"{items} in them by their share of the lines)")
left.dataframe(charts.driver_table(volumes), hide_index=True, width="stretch", column_config={
    "volume": st.column_config.NumberColumn("volume", format="localized")})
right.markdown("**Rates used**")
if not money:
    right.caption("Rates are costs: not shown to your role.")
elif counts["cost_rates"] == 0:
    right.caption("No cost rates loaded.")
else:
    with user_errors(stop=False):
        rates = charts.rates_used(table_head(store, "cost_rates", rows=counts["cost_rates"]), volumes)
        right.dataframe(rates, hide_index=True, width="stretch", column_config={
            "volume": st.column_config.NumberColumn("driver volume", format="localized"),
            "cost": st.column_config.NumberColumn(f"cost ({currency})", format="localized")})
