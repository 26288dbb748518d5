"""Segment: group items by their features (or by classes or rules), tune live, rename, save as a version."""

import streamlit as st

from core.auth import is_money_column
from core.errors import SegplanError
from core.features import feature_catalog, key_columns
from core.segment import METHODS
from core.segment_methods import CLUSTER_METHODS
from core.segment_quality import pick_k
from core.segment_items import DEFAULT_FEATURES, features_with_values
from core.segment_rules import OPERATORS
from ui.rules import DEFAULT_RULES, rules_from_rows
from ui.auth import can_see_money, mask_money, masked_config
from ui.controls import ITEM_NAMES, LEVEL_NAMES, item_controls
from ui.state import (
    bootstrap_stability,
    ensure_entry,
    get_store,
    save_segmentation,
    saved_versions,
    segmentation,
    segmentation_items,
    show_error,
    stop_with_info,
    user_errors,
    weighted_matrix,
    window_stability,
)

ensure_entry()

METHOD_NAMES = {
    "kmeans": "k-means", "hierarchical": "Hierarchical (Ward)", "hdbscan": "HDBSCAN (density)",
    "gmm": "Gaussian mixture", "nine_box": "ABC x XYZ nine-box", "demand_pattern": "Demand pattern",
    "rules": "Rules (planner's list)",
}
st.title("Segment")
st.caption("Group items that behave alike, so each group gets one planning policy. Choose the method and the "
           "features in the sidebar; the result follows every change. Rename the segments, check their "
           "stability, and save the result as a version.")

# -- controls (sidebar) -------------------------------------------------------------------
with st.sidebar:
    st.header("Segment settings")
    level, bucket, measure = item_controls(
        bucket_help="Demand is summed per week or calendar month for CV, ADI and the classes.",
        measure_help="What ABC ranks on, and what the minimum segment share is a share of.",
    )
    method = st.selectbox("Method", METHODS, format_func=METHOD_NAMES.get, key="seg_method", persist_state="session",
                          help="Clustering (k-means, Ward, HDBSCAN, Gaussian mixture) groups by the chosen features; "
                               "nine-box, demand pattern and rules assign fixed classes.")
    clustering = method in CLUSTER_METHODS
    catalog = feature_catalog(level)
    units = {spec.name: spec.unit for spec in catalog}
    names = [spec.name for spec in catalog]
    settings: dict = {"method": method}
    if clustering:
        chosen = st.multiselect(
            "Features", names, default=[f for f in DEFAULT_FEATURES[level] if f in names], key=f"seg_features:{level}",
            format_func=lambda name: f"{name} ({units[name]})", persist_state="session",
            help="What makes items alike. Each feature is scaled, so units do not matter; weights below.",
        )
        with st.expander("Feature weights (0 drops, 5 counts five times)", expanded=True):
            weights = {feature: st.slider(feature, 0.0, 5.0, 1.0, 0.5, key=f"seg_weight:{level}:{feature}",
                                          persist_state="session") for feature in chosen}
        log = st.toggle("Log-transform skewed features", key="seg_log", persist_state="session",
                        help="Revenue and volume are skewed: a few items carry most; logs spread the rest out.")
        outliers = st.radio("Outliers", ["cap", "keep"], key="seg_outliers", persist_state="session", horizontal=True,
                            format_func={"cap": "cap at a percentile", "keep": "keep as they are"}.get)
        cap_pct = st.slider("Cap percentile", 90, 100, key="seg_cap_pct", persist_state="session",
                            disabled=outliers == "keep", help="Values beyond this percentile (and below its mirror) are capped.")
        k_auto = st.toggle("Choose the number of segments (k) automatically", key="seg_k_auto", persist_state="session",
                           disabled=method == "hdbscan",
                           help="Scan k = 2..10 and take the best silhouette. HDBSCAN always finds its own count.")
        k = st.number_input("Number of segments (k)", 2, 10, key="seg_k", persist_state="session",
                            disabled=k_auto or method == "hdbscan")
        settings.update({"k": "auto" if k_auto or method == "hdbscan" else int(k), "features": list(chosen),
                         "weights": weights, "log": "auto" if log else "none",
                         "cap_percentile": float(cap_pct) if outliers == "cap" else None})
    min_share = st.slider("Minimum segment share (% of the measure)", 0, 30, key="seg_min_share",
                          persist_state="session", help="Smaller segments are merged into the nearest one.")
    min_items = st.number_input("Minimum items per segment", 1, 100_000, key="seg_min_items", persist_state="session")
    seed = st.number_input("Seed", 0, 1_000_000, key="seg_seed", persist_state="session",
                           help="The same seed and settings give the same segments.")
    settings.update({"min_share": min_share / 100, "min_items": int(min_items), "seed": int(seed)})

items_name = ITEM_NAMES[level]

with user_errors():
    store = get_store()
    order_lines = store.table_counts()["orders"]

if order_lines == 0:
    stop_with_info("**No orders loaded yet, so there is nothing to segment.** Load your order history on the Data page, "
                   "or build a sample database with `segplan init --sample`.",
                   ("pages/data.py", "Load data", ":material/upload_file:"))

if clustering and not settings["features"]:
    st.warning("**Choose at least one feature** in the sidebar to cluster on.", icon=":material/warning:")
    st.stop()

if method == "rules":
    st.subheader("Rules")
    st.caption("Each item goes to the first rule whose conditions all hold. Rows with the same name, one after "
               "the other, are one rule; the last rule has no feature and takes every other item. Values: a number "
               "or text; a comma-separated list for `in`, `not in` and `between` (low, high).")
    rows = st.data_editor(
        DEFAULT_RULES, num_rows="dynamic", key="seg_rules_editor", width="stretch",
        column_config={
            "name": st.column_config.TextColumn("segment name", required=True),
            "feature": st.column_config.SelectboxColumn(
                "feature or class", options=["abc", "xyz", "demand_pattern", *names]),
            "operator": st.column_config.SelectboxColumn("operator", options=list(OPERATORS)),
            "value": st.column_config.TextColumn("value"),
        },
    )
    settings["rules"] = rules_from_rows(rows)

with user_errors(), st.spinner(f"Segmenting {items_name}…", show_time=True):
    items = segmentation_items(level, bucket, measure)
    if clustering:
        usable = features_with_values(items, settings["features"])
        if left_out := [name for name in settings["features"] if name not in usable]:
            st.info("Left out, as no item has a value for them in this data: " + ", ".join(f"`{n}`" for n in left_out),
                    icon=":material/info:")
            settings["features"] = usable
            settings["weights"] = {name: w for name, w in settings["weights"].items() if name in usable}
    result = segmentation(level, bucket, measure, settings)
st.session_state["seg_current"] = {"level": level, "bucket": bucket, "measure": measure, "settings": settings}

from core import charts_segment as charts  # noqa: E402  (altair and plotly load once there is a result)

keys = list(key_columns(level))
segments = result.profile["segment"].tolist()

# -- renames ------------------------------------------------------------------------------
with st.expander("Rename segments", icon=":material/edit:"):
    st.caption("Automatic names describe where a segment differs most from the typical item. "
               "Give your own names; they are saved with the version.")
    columns = st.columns(min(len(segments), 4) or 1)
    renames = {}
    for position, seg in enumerate(segments):
        name = columns[position % len(columns)].text_input(
            f"Segment {seg}", value=result.label_of(seg), key=f"seg_name:{result.fingerprint}:{seg}")
        if name.strip() and name.strip() != result.label_of(seg):
            renames[seg] = name.strip()
    if renames:
        try:
            result = result.with_labels(renames)
        except SegplanError as err:
            show_error(err)

labels = [str(result.label_of(seg)) for seg in segments]

# -- headline numbers ---------------------------------------------------------------------
metrics = st.columns(5)
metrics[0].metric(items_name.capitalize(), f"{len(result.assignments):,}", border=True)
metrics[1].metric("Segments", f"{result.k}", border=True,
                  help="After merging segments below the minimum share or items.")
silhouette = result.metrics.get("silhouette")
metrics[2].metric("Silhouette", "–" if silhouette is None or silhouette != silhouette else f"{silhouette:.2f}",
                  border=True, help="How well items sit in their own segment: -1 to 1, above 0.25 is a usable structure.")
metrics[3].metric("Merged segments", f"{len(result.merges)}", border=True,
                  help="Clusters below the minimum share or item count, merged into the nearest segment.")
metrics[4].metric("Unclassified", f"{int(result.metrics.get('unclassified_items', 0)):,}", border=True,
                  help="HDBSCAN's noise: items that belong to no dense group.")

# -- sizes and 2-D view -------------------------------------------------------------------
shares = charts.segment_shares(result.assignments, items, keys)
sizes_column, view_column = st.columns(2)
sizes_column.plotly_chart(charts.segment_sizes_chart(shares, item_label=items_name), width="stretch")
with view_column:
    # a role that may not see money gets no money feature (revenue, margin ...) to plot its values on an axis
    numeric = [n for n in names if n in items.columns and (can_see_money() or not is_money_column(n))]
    for axis in (f"seg_x:{level}", f"seg_y:{level}"):
        if axis in st.session_state and st.session_state[axis] not in numeric:
            del st.session_state[axis]
    pick_view, pick_x, pick_y, pick_log = st.columns([2, 2, 2, 1.4], vertical_alignment="bottom")
    view = pick_view.radio("2-D view", ["pca", "features"], key="seg_view", persist_state="session", horizontal=True,
                           format_func={"pca": "PCA", "features": "two features"}.get,
                           disabled=not clustering)
    use_pca = view == "pca" and clustering
    x_feature = pick_x.selectbox("x axis", numeric, index=numeric.index("revenue") if "revenue" in numeric else 0,
                                 key=f"seg_x:{level}", disabled=use_pca, persist_state="session")
    y_feature = pick_y.selectbox("y axis", numeric, index=numeric.index("cv") if "cv" in numeric else min(1, len(numeric) - 1),
                                 key=f"seg_y:{level}", disabled=use_pca, persist_state="session")
    log_axes = pick_log.toggle("Log axes", key="seg_log_axes", persist_state="session", disabled=use_pca)
    points = result.assignments.merge(items[[*keys, *{x_feature, y_feature}]], on=keys, how="left")
    points["segment_label"] = points["segment_label"].astype(str)
    if use_pca:
        coordinates, explained = charts.pca_coordinates(weighted_matrix(level, bucket, measure, settings))
        points["pc1"], points["pc2"] = coordinates[:, 0], coordinates[:, 1]
        figure = charts.segment_scatter(
            points, "pc1", "pc2", x_title=f"principal component 1 ({explained[0]:.0%} of variance)",
            y_title=f"principal component 2 ({explained[1]:.0%} of variance)", hover=keys, order=labels,
            title="Items by segment (PCA of the weighted features)")
    else:
        figure = charts.segment_scatter(
            points, x_feature, y_feature, x_title=f"{x_feature} ({units.get(x_feature, '')})",
            y_title=f"{y_feature} ({units.get(y_feature, '')})", log_x=log_axes, log_y=log_axes, hover=keys,
            order=labels)
    st.plotly_chart(figure, width="stretch")

# -- profiles -----------------------------------------------------------------------------
st.subheader("Segment profiles")
profile_features = settings.get("features") or [f for f in DEFAULT_FEATURES[level] if f in names]
st.caption(f"Medians per segment in original units. Shares of {result.profile['measure'].iloc[0]} and of items.")
profile_columns = ["segment_label", "items", "item_share", "measure_share",
                   *[f"median_{f}" for f in profile_features if f"median_{f}" in result.profile.columns]]
st.dataframe(mask_money(result.profile[profile_columns]), hide_index=True, column_config=masked_config({
    "segment_label": st.column_config.TextColumn("segment"),
    "items": st.column_config.NumberColumn(items_name, format="localized"),
    "item_share": st.column_config.NumberColumn(f"share of {items_name}", format="percent"),
    "measure_share": st.column_config.NumberColumn(f"share of {result.profile['measure'].iloc[0]}", format="percent"),
    **{f"median_{f}": st.column_config.NumberColumn(f"median {f} ({units.get(f, '')})", format="%.3g")
       for f in profile_features},
}))
overall = items[[f for f in profile_features if f in items.columns]].median(numeric_only=True).to_dict()
heat_column, box_column = st.columns(2)
heat_column.altair_chart(charts.profile_heatmap(charts.profile_ratios(result.profile.assign(
    segment_label=labels), overall, profile_features), units), width="stretch")
if {"abc", "xyz"} <= set(items.columns):
    box_column.altair_chart(charts.nine_box_heatmap(charts.nine_box_crosstab(result.assignments, items, keys), labels,
                                                    item_label=items_name), width="stretch")

if result.k_scan is not None:
    st.altair_chart(charts.k_scan_chart(result.k_scan, pick_k(result.k_scan)), width="content")
    if result.merges:
        st.caption("The scan chose k before merging; small segments were then merged (below), so fewer remain.")

# -- merges and rule hits ---------------------------------------------------------------------
if result.merges:
    st.markdown("**Merged to meet the minimums** (clusters numbered by falling share before merging)")
    st.dataframe([{"cluster": f"cluster {source}", "merged into": result.label_of(into), "reason": reason}
                  for source, into, reason in result.merges], hide_index=True)
elif clustering:
    st.caption(f"No segment was merged: every segment holds at least {min_share}% of the measure and "
               f"{int(min_items)} item(s).")
if result.rule_hits is not None:
    st.markdown("**Items per rule**")
    st.dataframe(result.rule_hits, hide_index=True)

# -- stability ------------------------------------------------------------------------------
st.subheader("Stability")
if clustering:
    st.caption("Bootstrap: the items are resampled 20 times and clustered again; a segment's Jaccard similarity "
               "with its best match reads unstable below 0.6, doubtful below 0.75, stable above. Time windows: the "
               "same settings on the first and second half of the history.")
    if st.button("Check stability", icon=":material/balance:"):
        st.session_state["seg_stability_for"] = result.fingerprint
    if st.session_state.get("seg_stability_for") == result.fingerprint:
        jaccard = windows = None
        with st.status("Checking stability…", expanded=False) as status:
            with user_errors(stop=False):
                status.update(label="Bootstrap resamples…")
                jaccard = bootstrap_stability(level, bucket, measure, settings)
            status.update(label="Time windows…")
            with user_errors(stop=False):
                windows = window_stability(level, bucket, measure, settings,
                                           None if method == "hdbscan" else int(result.k))
            status.update(label="Stability checked", state="complete")
        boot_column, window_column = st.columns(2)
        if jaccard is not None:
            boot_column.dataframe(jaccard.assign(segment_label=jaccard["segment"].map(result.label_of)),
                                  hide_index=True, column_config={
                "segment": None,
                "segment_label": st.column_config.TextColumn("segment"),
                "jaccard_mean": st.column_config.ProgressColumn("mean Jaccard", min_value=0.0, max_value=1.0, format="%.2f"),
                "dissolved_share": st.column_config.NumberColumn("dissolved in", format="percent"),
                "reading": st.column_config.TextColumn("reading"),
            })
        if windows is not None:
            window_column.metric("Adjusted Rand index between the halves", f"{windows.ari:.2f}", border=True,
                                 help="1 = the same grouping in both halves; about 0 = no more alike than chance.")
            window_column.caption(f"{windows.common_items:,} {items_name} in both halves; {windows.first_only:,} only "
                                  f"in the first, {windows.second_only:,} only in the second. Migration: rows = first "
                                  "half's segment, columns = second half's.")
            window_column.dataframe(windows.migration)
else:
    st.caption("Class and rule methods assign fixed classes: there is no clustering to resample.")

# -- save -----------------------------------------------------------------------------------
st.subheader("Save")
note_column, button_column = st.columns([3, 1], vertical_alignment="bottom")
note = note_column.text_input("Note (optional)", key="seg_note", placeholder="e.g. first try, revenue weighted x2")
if button_column.button("Save as version", type="primary", icon=":material/save:"):
    with user_errors(), st.spinner("Saving the version…"):
        st.session_state["seg_saved"] = save_segmentation(result, level, bucket, measure, note)
if st.session_state.get("seg_saved") is not None:
    st.success(f"Saved as version {st.session_state['seg_saved']}. Explain it on the Explain page.",
               icon=":material/check_circle:")
    st.page_link("pages/explain.py", label="Explain the segments", icon=":material/psychology:")

with user_errors():
    versions = saved_versions()
st.markdown(f"**Saved versions** ({len(versions)})")
if versions.empty:
    st.caption("No version saved yet.")
else:
    st.dataframe(versions.drop(columns=["fingerprint"]), hide_index=True, column_config={
        "version_id": st.column_config.NumberColumn("version", format="%d"),
        "created_at": st.column_config.DatetimeColumn("saved at", format="YYYY-MM-DD HH:mm"),
        "k": st.column_config.NumberColumn("segments"),
        "items": st.column_config.NumberColumn("items", format="localized"),
        "silhouette": st.column_config.NumberColumn("silhouette", format="%.2f"),
    })
