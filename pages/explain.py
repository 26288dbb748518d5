"""Explain: why items are in their segments, from a surrogate tree model and its exact SHAP values."""

import streamlit as st

from core.features import feature_catalog, key_columns
from ui.auth import can_see_money, mask_money_rows
from ui.controls import ITEM_NAMES
from ui.state import (
    ensure_entry,
    get_store,
    global_explanations,
    saved_version,
    saved_versions,
    segmentation,
    segmentation_items,
    surrogate,
    user_errors,
    version_is_current,
)

ensure_entry()

#: Items the global views (importance, beeswarm) are computed from; single items are exact.
GLOBAL_SAMPLE = 2_000
#: Most item keys offered in the item picker at once; the search narrows them.
MAX_ITEM_CHOICES = 500
CURRENT = "current"

st.title("Explain")
st.caption("Why is an item in its segment? A tree model (the surrogate) learns the segments from the item "
           "features; its accuracy on held-out items says how far its explanations can be trusted. SHAP values "
           "then show how each feature pushes an item towards a segment.")

with user_errors():
    store = get_store()
    versions = saved_versions()
current = st.session_state.get("seg_current")

if versions.empty and current is None:
    st.info("**No segmentation to explain yet.** Segment the items on the Segment page and save a version.",
            icon=":material/info:")
    st.page_link("pages/segment.py", label="Segment items", icon=":material/hub:")
    st.stop()

# -- what to explain ----------------------------------------------------------------------
sources = [int(v) for v in versions["version_id"]] + ([CURRENT] if current is not None else [])
described = {int(r.version_id): f"Version {r.version_id}: {r.method}, {r.level}, {r.k} segments, "
             f"{r.created_at:%Y-%m-%d %H:%M}" for r in versions.itertuples()}
described[CURRENT] = "The current result on the Segment page (not saved)"
with st.sidebar:
    st.header("Explain settings")
    source = st.selectbox("Segmentation", sources, format_func=described.get, key="explain_source",
                          help="Newest saved version first; or the unsaved result you are tuning on the Segment page.")

with user_errors(), st.spinner("Loading the segmentation…", show_time=True):
    if source == CURRENT:
        level, bucket, measure = current["level"], current["bucket"], current["measure"]
        result = segmentation(level, bucket, measure, current["settings"])
        source_key = f"current:{result.fingerprint}"
    else:
        version = saved_version(source)
        level, bucket = version.level, version.bucket
        measure = dict(version.result.parameters.get("items") or {}).get("abc_measure", "revenue")
        result = version.result
        source_key = f"version:{source}"
        if not version_is_current(source):
            st.warning(f"**The data changed since version {source} was saved.** Items added since are explained "
                       "by the surrogate's own pick; items gone are left out.", icon=":material/warning:")
    items = segmentation_items(level, bucket, measure)

st.caption(f"Explaining {'the unsaved result' if source == CURRENT else f'version {source}'}: {result.method}, "
           f"{result.k} segments of {len(result.assignments):,} {ITEM_NAMES[level]} ({level} level, {bucket}ly buckets).")
keys = list(key_columns(level))
units = {spec.name: spec.unit for spec in feature_catalog(level)}
items_name = ITEM_NAMES[level]
features = result.parameters.get("features")

with user_errors(), st.spinner("Training the surrogate model…", show_time=True):
    fitted = surrogate(source_key, level, bucket, measure, features, result.assignments)

from core import charts_segment as charts  # noqa: E402  (altair and plotly load once there is a model)

# -- fidelity -------------------------------------------------------------------------------
st.subheader("How far the explanations can be trusted")
metrics = st.columns(4)
metrics[0].metric("Fidelity (held-out accuracy)", f"{fitted.fidelity:.0%}", border=True,
                  help="Share of held-out items the surrogate puts in their own segment. Above 90% its "
                       "explanations describe the segmentation well.")
metrics[1].metric("Held-out items", f"{fitted.test_items:,}", border=True)
metrics[2].metric("Training items", f"{fitted.train_items:,}", border=True)
metrics[3].metric("Features", f"{len(fitted.features)}", border=True)
st.dataframe(
    [{"segment": fitted.label_of(s), "recall": fitted.recall_by_segment.get(s)} for s in fitted.classes],
    hide_index=True, column_config={
        "recall": st.column_config.ProgressColumn("held-out items put back in their segment", min_value=0.0,
                                                  max_value=1.0, format="percent"),
    },
)
if fitted.fidelity == fitted.fidelity and fitted.fidelity < 0.8:
    st.warning("The surrogate misplaces more than one item in five: read its explanations as rough hints.",
               icon=":material/warning:")

# -- per segment ----------------------------------------------------------------------------
st.subheader("What drives each segment")
with user_errors(), st.spinner("Computing SHAP values on a sample…", show_time=True):
    importance, swarm = global_explanations(source_key, level, bucket, measure, GLOBAL_SAMPLE, fitted)
sampled = int(importance["items_sampled"].iloc[0]) if len(importance) else 0
st.caption(f"Global views from a sample of {sampled:,} of {len(items):,} {items_name} (stratified by segment, "
           "seeded); single items below are explained exactly.")
labels = [fitted.label_of(s) for s in fitted.classes]
chosen_label = st.columns([1, 1])[0].selectbox("Segment", labels, key=f"explain_segment:{source_key}")
bar_column, swarm_column = st.columns(2)
bar_column.altair_chart(charts.shap_bar(importance, chosen_label), width="stretch")
swarm_column.plotly_chart(charts.beeswarm(swarm, chosen_label), width="stretch")

# -- one item -------------------------------------------------------------------------------
st.subheader("Why is this item in its segment?")
assigned = result.assignments
item_keys = assigned[keys[0]].astype(str)
for column in keys[1:]:
    item_keys = item_keys + " | " + assigned[column].astype(str)
search_column, pick_column = st.columns([1, 2])
search = search_column.text_input("Search an item (part of its key)", key="explain_search",
                                  placeholder="e.g. SKU-10001")
in_segment = assigned["segment_label"].astype(str) == str(chosen_label)
matches = item_keys[item_keys.str.contains(search.strip(), case=False, regex=False)] if search.strip() else item_keys[in_segment]
if matches.empty:
    st.info(f"No {items_name} match “{search}”.", icon=":material/search_off:")
    st.stop()
choice = pick_column.selectbox(f"Item ({len(matches):,} found" + (f", first {MAX_ITEM_CHOICES} shown)" if len(matches) > MAX_ITEM_CHOICES else ")"),
                               matches.index[:MAX_ITEM_CHOICES].tolist(), format_func=lambda i: item_keys[i],
                               key=f"explain_item:{source_key}")
key = {k: assigned.at[choice, k] for k in keys}

from core.explain import explain_item, sentence  # noqa: E402  (shap loads when an item is asked about)

with user_errors():
    explanation = explain_item(fitted, items, key)
contributions = explanation.contributions
if can_see_money():
    st.info(sentence(explanation, fitted.medians, bucket=bucket), icon=":material/lightbulb:")
else:   # viewers: the sentence and the chart would quote revenue, cost and margin
    from core.auth import is_money_column

    contributions = contributions.assign(feature_value=contributions["feature_value"].where(
        ~contributions["feature"].map(is_money_column).astype(bool)))
    st.caption("Money values (revenue, cost, margin) are masked for your role: the chart shows how much each "
               "feature pushes the item, with money features' values left out.")
st.plotly_chart(charts.waterfall(contributions, explanation.base_value, explanation.model_output,
                                 explanation.segment_label, units=units), width="stretch")
with st.expander("Every feature of this item"):
    st.dataframe(mask_money_rows(explanation.contributions.assign(unit=explanation.contributions["feature"].map(units)),
                                 "feature", ["feature_value"]),
                 hide_index=True, column_config={
        "feature_value": st.column_config.NumberColumn("value (original units)", format="%.4g"),
        "shap_value": st.column_config.NumberColumn("SHAP (log-odds)", format="%+.3f"),
        "start": None, "end": None,
    })
