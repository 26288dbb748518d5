"""Policies: a planning policy per segment of a saved version, what it costs in stock, what-ifs, allocation."""

import streamlit as st

from core import charts_policy as charts
from core.allocation_demo import DEMO_STOCK_SHARE, DEMO_WEEKS
from core.approval import LOCKED
from core.errors import SegplanError
from core.policy import (
    FORECAST_METHODS,
    INVENTORY_STRATEGIES,
    SERVICE_LEVEL_TYPES,
    plan_items,
    segment_summary,
    service_curve,
)
from core.policy_plan import DEMAND_SOURCES, allocate_version, read_orders, read_supply
from ui.auth import can_see_money, mask_money, masked_config, money_text
from ui.state import (
    allocation_demo,
    ensure_entry,
    get_store,
    policy_backtest,
    policy_plan,
    save_upload,
    save_version_policies,
    saved_version,
    saved_versions,
    show_error,
    stop_with_info,
    user_errors,
    version_is_current,
    version_policies,
)

ensure_entry()

TYPE_NAMES = {"cycle_service_level": "cycle service level", "fill_rate": "fill rate"}
STRATEGY_NAMES = {"make_to_stock": "MTS (make to stock)", "assemble_to_order": "ATO (assemble to order)",
                  "make_to_order": "MTO (make to order)"}
SOURCE_NAMES = {"history": "demand history (std. dev. per bucket)",
                "forecast_errors": "forecast errors (RMSE on held-out buckets)"}
ITEM_COLUMNS = ["product_id", "segment_label", "service_level_type", "service_level", "inventory_strategy",
                "forecast_method", "demand_mean", "demand_std", "demand_std_source", "lead_time", "lead_time_std",
                "lead_time_days", "lead_time_std_days", "lead_time_source", "review_period", "z", "safety_stock",
                "reorder_point", "order_quantity", "order_quantity_source", "moq", "unit_cost", "expected_fill_rate",
                "safety_stock_value", "cycle_stock_value", "inventory_value"]

st.title("Policies")
st.caption("One planning policy per segment: the service level to aim for, how stock is held, how often it is "
           "reviewed, how demand is forecast and who is served first when stock is short. The page shows what "
           "each policy costs in stock and what service it buys, lets you try other levels, and allocates short "
           "stock by the segments' priority tiers.")

with user_errors():
    store = get_store()
    versions = saved_versions()

if versions.empty:
    stop_with_info("**No saved segmentation yet.** Policies are set per segment of a saved version: segment the "
                   "products on the Segment page (level *product*) and save the result.",
                   ("pages/segment.py", "Segment items", ":material/hub:"))

# -- controls (sidebar) -------------------------------------------------------------------
ids = [int(v) for v in versions["version_id"]]
product_ids = [int(v) for v in versions.loc[versions["level"] == "product", "version_id"]]
described = {int(r.version_id): f"Version {r.version_id}: {r.method}, {r.level}, {r.k} segments, "
             f"{r.created_at:%Y-%m-%d %H:%M}" for r in versions.itertuples()}
with st.sidebar:
    st.header("Policy settings")
    version_id = st.selectbox("Segmentation version", ids, index=ids.index(product_ids[0]) if product_ids else 0,
                              format_func=described.get, key="pol_version",
                              help="Newest first. Stock policies are set per segment of a product-level version.")
    demand_source = st.radio("Demand variability from", DEMAND_SOURCES, format_func=SOURCE_NAMES.get,
                             key="pol_demand_source", persist_state="session",
                             help="What safety stock has to cover: the spread of demand itself, or the errors of "
                                  "the forecast it is replenished by (when the history is long enough).")
    eoq = st.toggle("Order quantity by EOQ", key="pol_eoq", persist_state="session",
                    help="For segments with continuous review (review period 0): on, an order is the economic "
                         "order quantity; off, it covers one bucket of demand. Periodic review orders the demand of "
                         "the review period either way. MOQs always apply.")
    ordering_cost = st.number_input("Ordering cost (currency per order)", 0.01, 1e6, 50.0, key="pol_ordering_cost",
                                    disabled=not eoq, persist_state="session")
    holding_rate = st.number_input("Holding rate (% of unit cost per year)", 1.0, 100.0, 25.0,
                                   key="pol_holding_rate", disabled=not eoq, persist_state="session")
eoq_options = {"ordering_cost": float(ordering_cost), "holding_rate": holding_rate / 100} if eoq else \
    {"ordering_cost": None, "holding_rate": None}

with user_errors(), st.spinner("Loading the version…"):
    version = saved_version(version_id)
if version.level != "product":
    what = {"customer": "customers", "customer_product": "customer x product pairs"}.get(version.level, version.level)
    st.warning(f"**Version {version_id} segments {what}, so it has no stock policy here.** Stock is planned per "
               "product: safety stock, reorder points and allocation tiers need a product for every item. Choose a "
               "product-level version in the sidebar, or segment at the product level and save it.",
               icon=":material/warning:")
    st.page_link("pages/segment.py", label="Segment products", icon=":material/hub:")
    st.stop()
if not version_is_current(version_id):
    st.warning(f"**The data changed since version {version_id} was saved.** Items are planned with today's demand; "
               "products gone from the data are left out.", icon=":material/warning:")

assigned = version.result.assignments
labels = {str(s): str(label) for s, label in zip(assigned["segment"], assigned["segment_label"], strict=True)}
with user_errors():
    saved = version_policies(version_id)
st.caption(f"Version {version_id}: {version.result.method}, {version.result.k} segments of {len(assigned):,} "
           f"products, {version.bucket}ly buckets.")

# -- the policy table ---------------------------------------------------------------------
st.subheader("Policy per segment")
st.caption("Edit any cell. New versions start from defaults by class: service level by ABC x XYZ (AX 98 % down to "
           "CZ 85 %, CZ made to order), review period A 7 / B 14 / C 28 days, allocation tier A 1 / B 2 / C 3, "
           "forecast method *auto* (by demand pattern). Save to keep the changes with the version.")
editor_key = f"pol_editor:{version_id}:{st.session_state.get(f'pol_saves:{version_id}', 0)}"
rows = st.data_editor(
    charts.policy_rows(saved, labels), key=editor_key, hide_index=True, width="stretch", num_rows="fixed",
    disabled=["segment_label"],
    column_config={
        "segment": None,
        "segment_label": st.column_config.TextColumn("segment"),
        "service_level": st.column_config.NumberColumn(
            "service level", min_value=charts.SERVICE_LEVEL_RANGE[0], max_value=charts.SERVICE_LEVEL_RANGE[1],
            step=0.001, format="%.3f", required=True, help="Target as a share: 0.95 = 95 %."),
        "service_level_type": st.column_config.SelectboxColumn(
            "type", options=list(SERVICE_LEVEL_TYPES), required=True, format_func=TYPE_NAMES.get,
            help="cycle_service_level: chance of no stock-out in a cycle; fill_rate: share of demand met from stock."),
        "inventory_strategy": st.column_config.SelectboxColumn(
            "strategy", options=list(INVENTORY_STRATEGIES), required=True, format_func=STRATEGY_NAMES.get,
            help="make_to_stock (MTS), assemble_to_order (ATO), make_to_order (MTO: no stock held)."),
        "review_period_days": st.column_config.NumberColumn(
            "review period (days)", min_value=0.0, max_value=365.0, step=1.0, format="%.0f", required=True,
            help="0 = continuous review."),
        "forecast_method": st.column_config.SelectboxColumn(
            "forecast method", options=list(FORECAST_METHODS), required=True,
            help="auto picks by demand pattern: SES smooth and erratic, SBA intermittent, TSB lumpy."),
        "allocation_tier": st.column_config.NumberColumn(
            "allocation tier", min_value=1, max_value=9, step=1, format="%d", required=True,
            help="1 is served first when stock is short."),
    },
)
edited = saved
try:
    edited = charts.policies_from_rows(rows)
except SegplanError as err:
    show_error(err)
changes = charts.policy_changes(saved, edited, labels)

# a submitted or approved version is locked (core.approval): edits stay a what-if, saving is for drafts
locked = version.status in LOCKED
if locked:
    st.info(f"Version {version_id} is {version.status}: its policies are locked, so edits here only show what "
            "they would do. Save a new version on the Segment page to change them.", icon=":material/lock:")
save_column, changes_column = st.columns([1, 3])
if save_column.button("Save policies", type="primary", icon=":material/save:", disabled=changes.empty or locked):
    with user_errors(), st.spinner("Saving the policies…"):
        save_version_policies(version_id, edited)
    st.session_state[f"pol_saves:{version_id}"] = st.session_state.get(f"pol_saves:{version_id}", 0) + 1
    st.session_state["pol_saved_message"] = (version_id, changes)
    st.rerun()
message = st.session_state.get("pol_saved_message")
if changes.empty:
    if message is not None and message[0] == version_id:
        st.success(f"Saved {len(message[1])} change(s) to version {version_id}'s policies.",
                   icon=":material/check_circle:")
        changes_column.dataframe(message[1], hide_index=True)
    else:
        changes_column.caption("No unsaved changes.")
else:
    st.session_state["pol_saved_message"] = None
    changes_column.markdown(f"**{len(changes)} unsaved change(s)** (results below already use them)")
    changes_column.dataframe(changes, hide_index=True)

# -- results per segment ------------------------------------------------------------------
with user_errors(), st.spinner("Planning safety stock and order quantities…", show_time=True):
    saved_plan = policy_plan(version_id, saved, demand_source, **eoq_options)
    plan = policy_plan(version_id, edited, demand_source, **eoq_options) if not changes.empty else saved_plan

st.subheader("Results per segment")
st.caption("Stock values at unit cost: safety stock, plus cycle stock (half an order on average). Expected fill rate: "
           "share of demand met from stock, weighted by demand; make-to-order segments hold no stock and have none.")
summary = segment_summary(plan)
backtest = None
backtest_key = f"pol_backtest:{version_id}"
if st.toggle("Backtest each segment's forecast method (WAPE and bias on the last quarter held out)",
             key=backtest_key):
    with user_errors(stop=False), st.spinner("Backtesting the forecasts…", show_time=True):
        backtest = policy_backtest(version_id, version.bucket, edited)
results = charts.segment_results(summary, edited, labels, backtest)
money_columns = ["safety_stock_value", "cycle_stock_value", "inventory_value"]
shown_results = results.round({c: 0 for c in money_columns}).assign(
    inventory_strategy=results["inventory_strategy"].map(lambda v: STRATEGY_NAMES.get(v, v).split(" ")[0]))
st.dataframe(mask_money(shown_results), hide_index=True, width="stretch",
             column_order=["segment_label", "items", "service_level", "inventory_strategy", *money_columns,
                           "expected_fill_rate", "forecast_method", "wape", "bias", "backtest_methods",
                           "items_without_unit_cost"],
             column_config=masked_config({
    "segment": None,
    "segment_label": st.column_config.TextColumn("segment"),
    "service_level": st.column_config.NumberColumn("service level", format="percent"),
    "service_level_type": st.column_config.TextColumn("type"),
    "inventory_strategy": st.column_config.TextColumn("strategy"),
    "forecast_method": st.column_config.TextColumn("forecast method"),
    "items": st.column_config.NumberColumn("products", format="localized"),
    "items_without_unit_cost": st.column_config.NumberColumn("without unit cost", format="localized"),
    "safety_stock_value": st.column_config.NumberColumn("safety stock value", format="localized"),
    "cycle_stock_value": st.column_config.NumberColumn("cycle stock value", format="localized"),
    "inventory_value": st.column_config.NumberColumn("inventory value", format="localized"),
    "expected_fill_rate": st.column_config.NumberColumn("expected fill rate", format="percent"),
    "wape": st.column_config.NumberColumn("backtest WAPE", format="percent",
                                          help="sum |forecast - actual| / sum actual on the held-out buckets"),
    "bias": st.column_config.NumberColumn("backtest bias", format="percent",
                                          help="sum (forecast - actual) / sum actual: above 0 over-forecasts"),
    "backtest_methods": st.column_config.TextColumn("methods fitted"),
}))
if backtest is None:
    st.caption("Turn the backtest on to see each segment's forecast error beside its policy.")
if can_see_money():
    st.altair_chart(charts.stock_value_chart(results), width="stretch")
else:
    st.caption("Stock values are masked for your role: the inventory investment charts are not shown.")

# -- what-if ------------------------------------------------------------------------------
st.subheader("What-if")
st.caption("Move one segment's service level and see the stock it takes and the service it buys, against the saved "
           "policies (the table's unsaved changes count as part of the what-if).")
segments = [str(p.segment) for p in edited]
pick_column, slider_column, axis_column = st.columns([1.2, 2, 1.2], vertical_alignment="bottom")
segment = pick_column.selectbox("Segment", segments, format_func=lambda s: labels.get(s, s), key=f"pol_whatif_segment:{version_id}")
current_policy = next(p for p in edited if str(p.segment) == segment)
level = slider_column.slider(f"Service level of «{labels.get(segment, segment)}»", 0.50, 0.999,
                             float(current_policy.service_level), 0.001, format="%.3f",
                             key=f"pol_whatif_level:{version_id}:{segment}:{current_policy.service_level}",
                             disabled=current_policy.inventory_strategy == "make_to_order")
axis = axis_column.radio("Curve x axis", list(charts.CURVE_AXES), horizontal=True, key="pol_curve_axis",
                         format_func={"expected_fill_rate": "fill rate", "service_level": "service level"}.get,
                         persist_state="session")
what_if = charts.with_service_level(edited, segment, level)
with user_errors():
    inputs = charts.plan_inputs(plan)
    plan_options = {"bucket": version.bucket, **eoq_options}
    what_if_plan = plan_items(inputs, what_if, **plan_options)
before, after = charts.plan_totals(saved_plan), charts.plan_totals(what_if_plan)
comparison = charts.compare_plans(saved_plan, what_if_plan, labels)
row = comparison.set_index("segment").loc[segment]
seg_name = labels.get(segment, segment)
figures = [
    ("Inventory investment (all segments)", money_text(charts.money(after["inventory_value"])),
     can_see_money() and charts.change_text(after["inventory_value"] - before["inventory_value"]), "inverse"),
    ("Expected fill rate (all segments)", f"{after['expected_fill_rate']:.2%}",
     charts.change_text(after["expected_fill_rate"] - before["expected_fill_rate"], "rate"), "normal"),
    (f"Safety stock value of «{seg_name}»", money_text(charts.money(row["safety_stock_value_b"])),
     can_see_money() and charts.change_text(row["safety_stock_value_change"]), "inverse"),
    (f"Expected fill rate of «{seg_name}»",
     "–" if row["expected_fill_rate_b"] != row["expected_fill_rate_b"] else f"{row['expected_fill_rate_b']:.2%}",
     charts.change_text(row["expected_fill_rate_change"], "rate"), "normal"),
]
for column, (label, value, change, colour) in zip(st.columns(4), figures, strict=True):
    column.metric(label, value, delta=change or (None if change is False else "same as saved"), border=True,
                  delta_color=colour if change else "off", delta_arrow="auto" if change else "off")

curve_column, compare_column = st.columns(2)
if current_policy.inventory_strategy == "make_to_order":
    curve_column.info(f"«{labels.get(segment, segment)}» is made to order: it holds no stock, so there is no "
                      "service-against-inventory curve. Change its strategy in the table to plan stock.",
                      icon=":material/info:")
else:
    with user_errors(stop=False):
        curve = service_curve(inputs[inputs["segment"] == segment],
                              charts.curve_levels(level, row["service_level_a"]), policies=what_if, **plan_options)
        point = {"service_level": level, "expected_fill_rate": row["expected_fill_rate_b"],
                 "safety_stock_value": row["safety_stock_value_b"]}
        saved_point = {"service_level": row["service_level_a"], "expected_fill_rate": row["expected_fill_rate_a"],
                       "safety_stock_value": row["safety_stock_value_a"]}
        if can_see_money():
            curve_column.altair_chart(charts.service_curve_chart(curve, labels.get(segment, segment), point,
                                                                 saved_point, x=axis), width="stretch")
if not can_see_money():
    pass   # the curve and the difference chart plot stock values: not for viewers (said above)
elif (comparison["inventory_value_change"].abs() < 0.5).all():
    compare_column.info("The what-if holds the same stock as the saved policies. Move the slider, or edit the table "
                        "above, to see the change per segment here.", icon=":material/info:")
else:
    compare_column.altair_chart(charts.policy_difference_chart(comparison), width="stretch")
st.markdown("**Saved policies (a) against the what-if (b)**")
comparison = comparison.assign(expected_fill_rate_change=comparison["expected_fill_rate_change"] * 100)
st.dataframe(mask_money(comparison.round({c: 0 for c in comparison.columns
                                          if c.endswith(("_value_a", "_value_b", "value_change"))})),
             hide_index=True, width="stretch",
             column_order=["segment_label", "items", "service_level_a", "service_level_b", "inventory_value_a",
                           "inventory_value_b", "inventory_value_change",
                           "expected_fill_rate_a", "expected_fill_rate_b", "expected_fill_rate_change"],
             column_config=masked_config({
    "segment": None,
    "segment_label": st.column_config.TextColumn("segment"),
    "items": st.column_config.NumberColumn("products", format="localized"),
    **{f"{name}{side}": st.column_config.NumberColumn(f"{title} {side[1]}", format=fmt)
       for side in ("_a", "_b")
       for name, title, fmt in (("service_level", "service level", "percent"),
                                ("safety_stock_value", "safety stock value", "localized"),
                                ("cycle_stock_value", "cycle stock value", "localized"),
                                ("inventory_value", "inventory value", "localized"),
                                ("expected_fill_rate", "expected fill rate", "percent"))},
    "safety_stock_value_change": st.column_config.NumberColumn("safety stock change", format="%+,.0f"),
    "cycle_stock_value_change": st.column_config.NumberColumn("cycle stock change", format="%+,.0f"),
    "inventory_value_change": st.column_config.NumberColumn("inventory change", format="%+,.0f"),
    "expected_fill_rate_change": st.column_config.NumberColumn("fill rate change (pts)", format="%+.2f"),
    "items_without_unit_cost_a": None, "items_without_unit_cost_b": None,
    "service_level_type_a": None, "service_level_type_b": None,
}))

# -- per item -----------------------------------------------------------------------------
st.subheader("Per product")
st.caption(f"Every figure and its inputs, for the policies in the table. Demand per {version.bucket}; lead time, "
           f"its standard deviation and the review period in {version.bucket}s (lead times also in days); "
           "z is the safety factor.")
shown = [c for c in ITEM_COLUMNS if c in plan.columns]
shown_plan = mask_money(plan[shown])   # viewers: unit cost and stock values masked
st.dataframe(shown_plan, hide_index=True, width="stretch", column_config=masked_config({
    **{c: st.column_config.TextColumn(c.replace("_", " ")) for c in shown},
    "product_id": st.column_config.TextColumn("product", pinned=True),
    "segment_label": st.column_config.TextColumn("segment"),
    "service_level": st.column_config.NumberColumn("service level", format="percent"),
    "expected_fill_rate": st.column_config.NumberColumn("expected fill rate", format="percent"),
    **{c: st.column_config.NumberColumn(c.replace("_", " "), format="%.2f")
       for c in ("demand_mean", "demand_std", "lead_time", "lead_time_std", "lead_time_days", "lead_time_std_days",
                 "review_period", "z", "safety_stock", "reorder_point", "order_quantity", "moq", "unit_cost")},
    **{c: st.column_config.NumberColumn(c.replace("_", " "), format="localized")
       for c in ("safety_stock_value", "cycle_stock_value", "inventory_value")},
}))
st.download_button("Download the plan (CSV)", mask_money(plan).to_csv(index=False).encode(), f"policy_plan_v{version_id}.csv",
                   "text/csv", icon=":material/download:")

# -- allocation ---------------------------------------------------------------------------
st.subheader("Allocation of short stock")
st.caption("Open order lines are served by their segment's allocation tier (1 first); within a tier short stock is "
           "shared in proportion to the ordered quantity, in whole units; products not in the version go last.")
source = st.radio("Stock and open lines", ["demo", "upload"], horizontal=True, key="pol_alloc_source",
                  format_func={"demo": "demo from the data", "upload": "upload CSV files"}.get)
stock = lines = None
if source == "demo":
    weeks_column, share_column = st.columns(2)
    weeks = weeks_column.number_input("Open lines: orders of the last … weeks", 1, 26, DEMO_WEEKS, key="pol_demo_weeks")
    share = share_column.slider("Stock on hand (% of the open quantity)", 0, 100, int(DEMO_STOCK_SHARE * 100), 5,
                                key="pol_demo_share")
    with user_errors(stop=False):
        stock, lines = allocation_demo(int(weeks), share / 100)
else:
    stock_column, lines_column = st.columns(2)
    stock_file = stock_column.file_uploader("Available stock (CSV: product_id, available_quantity)", type=["csv"],
                                            key="pol_stock_file")
    lines_file = lines_column.file_uploader("Open order lines (CSV: order_id, line_number, product_id, quantity)",
                                            type=["csv"], key="pol_lines_file")
    if stock_file is None or lines_file is None:
        st.caption("Upload both files to allocate.")
    else:
        with user_errors(stop=False):
            stock = read_supply(save_upload(stock_file))
            lines = read_orders(save_upload(lines_file), version.level)
if stock is not None and lines is not None:
    with user_errors(stop=False), st.spinner("Allocating…"):
        allocation = allocate_version(store, version_id, stock, lines, policies=edited)
        summary = allocation.summary.assign(segment=allocation.summary["segment"].map(lambda s: labels.get(s, s)))
        st.info("**At the product level the tiers cannot rank lines against each other:** every line of a product "
                "is in that product's segment, so each product's stock is shared among its own lines in proportion, "
                "and a segment's fill rate is the stock its products have. Tiers decide when lines of one product "
                "belong to segments of different tiers (customer-based segments).", icon=":material/info:")
        fill_column, cut_column = st.columns([1, 1])
        fill_column.altair_chart(charts.allocation_fill_chart(summary), width="stretch")
        cut = allocation.lines[allocation.lines["cut_quantity"] > 0].assign(
            segment=lambda f: f["segment"].map(lambda s: labels.get(s, s)))
        cut_column.markdown(f"**Lines cut** ({len(cut):,} of {len(allocation.lines):,})")
        cut_column.dataframe(cut, hide_index=True, height=320, column_config={
            "order_date": st.column_config.DateColumn("order date", format="YYYY-MM-DD"),
            "quantity": st.column_config.NumberColumn("ordered", format="%d"),
            "allocation_tier": st.column_config.NumberColumn("tier", format="%d"),
            "allocated_quantity": st.column_config.NumberColumn("allocated", format="%d"),
            "cut_quantity": st.column_config.NumberColumn("cut", format="%d")})
        st.dataframe(summary, hide_index=True, width="stretch", column_config={
            "allocation_tier": st.column_config.NumberColumn("tier", format="%d"),
            "fill_rate": st.column_config.NumberColumn("fill rate", format="percent"),
            "line_fill_rate": st.column_config.NumberColumn("lines filled in full", format="percent"),
            "lines_cut": st.column_config.NumberColumn("lines cut", format="localized"),
            "lines": st.column_config.NumberColumn("lines", format="localized"),
            **{c: st.column_config.NumberColumn(f"{c} (units)", format="localized")
               for c in ("ordered", "allocated", "cut")},
        })
        st.download_button("Download the allocation (CSV)", allocation.lines.to_csv(index=False).encode(),
                           f"allocation_v{version_id}.csv", "text/csv", icon=":material/download:")
