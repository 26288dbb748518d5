"""Explore: how demand behaves per item, and its ABC, XYZ and demand-pattern classes."""

import streamlit as st

from core.features import feature_catalog, key_columns
from ui.controls import ITEM_NAMES, LEVEL_NAMES, item_controls
from ui.auth import mask_money, masked_config
from ui.state import classified, ensure_entry, features, get_store, stop_with_info, user_errors

ensure_entry()

MEASURE_UNITS = {"revenue": "currency", "quantity": "units", "margin": "currency", "lines": "order lines"}

st.title("Explore")
st.caption("ABC ranks items by their share of the measure; XYZ by how much bucket demand varies (CV); "
           "the demand pattern by how often demand comes (ADI) and how much its size varies (CV²). "
           "Set the level, bucket and cut-offs in the sidebar.")

# -- controls (sidebar) -------------------------------------------------------------------
with st.sidebar:
    st.header("Explore settings")
    level, bucket, measure = item_controls(
        bucket_help="Demand is summed per week or calendar month for XYZ, ADI and CV².",
        measure_help="What ranks items for ABC: revenue, quantity, margin or number of order lines.",
    )
    abc_a_pct, abc_b_pct = st.slider(
        "ABC cut-offs (cumulative % of measure)", 50, 99, key="abc_pct", persist_state="session",
        help="A = items making up the first share, B = up to the second, C = the rest.",
    )
    xyz_x, xyz_y = st.slider(
        "XYZ cut-offs (coefficient of variation of bucket demand)", 0.1, 3.0, step=0.05, key="xyz_cv",
        persist_state="session", help="X = CV up to the first value (steady), Y = up to the second, Z = above.",
    )
    adi_cutoff = st.number_input("ADI cut-off (buckets between demands)", 1.0, 10.0, step=0.01, key="adi_cutoff",
                                 persist_state="session", help="Syntetos-Boylan-Croston: 1.32 by default.")
    cv2_cutoff = st.number_input("CV² cut-off (demand size variability)", 0.01, 10.0, step=0.01, key="cv2_cutoff",
                                 persist_state="session", help="Syntetos-Boylan-Croston: 0.49 by default.")

items = ITEM_NAMES[level]

with user_errors():
    store = get_store()
    order_lines = store.table_counts()["orders"]

if order_lines == 0:
    stop_with_info("**No orders loaded yet, so there is nothing to explore.** Load your order history on the Data page, "
                   "or build a sample database with `segplan init --sample`.",
                   ("pages/data.py", "Load data", ":material/upload_file:"))

with user_errors(), st.spinner(f"Computing features and classes per {LEVEL_NAMES[level]}…", show_time=True):
    classes = classified(level, measure, bucket, (abc_a_pct / 100, abc_b_pct / 100), (xyz_x, xyz_y),
                         adi_cutoff, cv2_cutoff)
    item_features = features(level, bucket)
    catalog = feature_catalog(level)
    keys = key_columns(level)

from core import charts  # noqa: E402  (altair loads only once there is something to draw)

# -- headline numbers ---------------------------------------------------------------------
counts = classes["abc"].astype(str).value_counts()
# Shares of the positive measure, as classify draws the ABC lines (returns and losses count 0).
positive_measure = classes[measure].clip(lower=0)
total_measure = positive_measure.sum()
share_a = positive_measure[classes["abc"].astype(str) == "A"].sum() / total_measure if total_measure else 0.0
metrics = st.columns(5)
metrics[0].metric(f"{items.capitalize()}", f"{len(classes):,}", border=True)
metrics[1].metric(f"Class A {items}", f"{counts.get('A', 0):,}", border=True,
                  help=f"Items making up the first {abc_a_pct}% of {measure}.")
metrics[2].metric(f"Share of {measure} in A", f"{share_a:.0%}", border=True)
metrics[3].metric("Smooth demand", f"{(classes['demand_pattern'].astype(str) == 'smooth').sum():,}", border=True,
                  help="Items with ADI and CV² below the cut-offs: forecastable with standard methods.")
metrics[4].metric("Lumpy demand", f"{(classes['demand_pattern'].astype(str) == 'lumpy').sum():,}", border=True,
                  help="Items with ADI and CV² above the cut-offs: rare and irregular.")

# -- ABC and ABC x XYZ --------------------------------------------------------------------
# Revenue share per cell is what planners compare; use the measure when revenue is not there.
matrix_value = "revenue" if "revenue" in classes.columns else measure
pareto_column, matrix_column = st.columns(2)
pareto_column.altair_chart(
    charts.pareto_chart(classes, measure, (abc_a_pct / 100, abc_b_pct / 100), unit=MEASURE_UNITS.get(measure, ""), item_label=items),
    width="stretch",
)
matrix_column.altair_chart(charts.class_matrix_heatmap(classes, matrix_value, item_label=items), width="stretch")

# -- demand patterns and feature distributions --------------------------------------------
scatter_column, histogram_column = st.columns(2)
scatter_column.plotly_chart(
    charts.adi_cv2_scatter(classes, adi_cutoff, cv2_cutoff, key_columns=keys, bucket=bucket, item_label=items), width="stretch",
)
with histogram_column:
    names = [spec.name for spec in catalog]
    units = {spec.name: spec.unit for spec in catalog}
    choose_feature, choose_log = st.columns([3, 1])
    feature = choose_feature.selectbox(
        "Feature", names, index=names.index("revenue") if "revenue" in names else 0, key=f"hist_feature:{level}",
        format_func=lambda name: f"{name} ({units[name]})", persist_state="session",
    )
    log_scale = choose_log.toggle("Log scale", key="hist_log", persist_state="session",
                                  help="Spread out skewed features; zero and negative values are left out.")
    st.altair_chart(
        charts.feature_histogram(item_features, feature, units[feature], log_scale=log_scale, item_label=items),
        width="stretch",
    )
    st.caption(next(spec.description for spec in catalog if spec.name == feature))

# -- the classified table -----------------------------------------------------------------
st.subheader(f"Classes per {LEVEL_NAMES[level]}")
st.caption(f"Largest {measure} first. Demand pattern `no_demand`: only returns in the data.")
shown_classes = mask_money(classes.sort_values(measure, ascending=False, na_position="last"))  # viewers: masked
st.dataframe(shown_classes, hide_index=True, height=420, column_config=masked_config({
    "revenue": st.column_config.NumberColumn("revenue (currency)", format="localized"),
    measure: st.column_config.NumberColumn(f"{measure} ({MEASURE_UNITS.get(measure, '')})", format="localized"),
    "cumulative_share": st.column_config.NumberColumn("cumulative share", format="percent"),
    "cv": st.column_config.NumberColumn("CV", format="%.2f"),
    "adi": st.column_config.NumberColumn(f"ADI ({bucket}s)", format="%.2f"),
    "cv2": st.column_config.NumberColumn("CV²", format="%.2f"),
}))
st.download_button(
    f"Download classes per {LEVEL_NAMES[level]} (CSV)",
    lambda: shown_classes.to_csv(index=False),  # written on click: a big level takes seconds to write
    file_name=f"classes-{level}-{measure}-{bucket}.csv", mime="text/csv", icon=":material/download:",
    on_click="ignore",
)
