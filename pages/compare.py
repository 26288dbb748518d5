"""Compare versions: which items moved between two saved segmentations of a level, why, and what it does to policy."""

import streamlit as st

from core import charts_compare as charts
from core.diff import NOT_IN_A, NOT_IN_B
from core.versions import version_stamp
from core.features import feature_catalog
from core.versions import version_in_force
from ui.controls import ITEM_NAMES, LEVEL_NAMES
from ui.state import data_version, ensure_entry, get_store, saved_versions, user_errors

ensure_entry()

#: Movers drawn in the table at most (largest moves first); the download has them all.
MAX_SHOWN_MOVERS = 5_000


@st.cache_data(max_entries=8, ttl="2h", show_spinner=False)
def _compare(db_path: str, data: str, stamp: str, a: int, b: int):
    """The comparison, kept per data version and per change of the two versions (``stamp``)."""
    from core.diff import compare_versions

    return compare_versions(get_store(), a, b)


st.title("Compare versions")
st.caption("Two saved segmentations of the same level side by side: how many items moved from each segment to "
           "each other one, which items moved and how their features changed between the two saves, and what "
           "the move does to their service level, strategy, forecast method and stock.")

with user_errors():
    store = get_store()
    versions = saved_versions()

counts = versions["level"].value_counts() if not versions.empty else None
levels = [level for level in LEVEL_NAMES if counts is not None and counts.get(level, 0) >= 2]
if not levels:
    st.info("**Fewer than two saved versions of any level.** A comparison needs two versions of the same level: "
            "segment the items on the Segment page and save a result, then save another one (other settings, or "
            "after new orders were loaded).", icon=":material/info:")
    st.page_link("pages/segment.py", label="Segment items", icon=":material/hub:")
    st.stop()

# -- which two versions -------------------------------------------------------------------------
with st.sidebar:
    st.header("Versions to compare")
    preferred = st.session_state.get("level")
    level = st.selectbox("Level", levels, index=levels.index(preferred) if preferred in levels else 0,
                         format_func=LEVEL_NAMES.get, key="cmp_level",
                         help="Only levels with at least two saved versions are offered.")
    of_level = versions[versions["level"] == level]
    ids = [int(v) for v in of_level["version_id"]]    # newest first
    described = {int(r.version_id): f"Version {r.version_id} ({r.status}): {r.method}, {r.k} segments, "
                 f"{r.created_at:%Y-%m-%d %H:%M}" for r in of_level.itertuples()}
    with user_errors():
        in_force = version_in_force(store, level)
    drafts = [int(v) for v in of_level.loc[of_level["status"] == "draft", "version_id"] if int(v) != in_force]
    default_a, default_b = (in_force, drafts[0]) if in_force is not None and drafts else (ids[1], ids[0])
    a = st.selectbox("Version A (before)", ids, index=ids.index(default_a), format_func=described.get,
                     key=f"cmp_a_{level}", help="Default: the version in force (approved), else the second newest.")
    b = st.selectbox("Version B (after)", ids, index=ids.index(default_b), format_func=described.get,
                     key=f"cmp_b_{level}", help="Default: the newest draft, else the newest version.")

if a == b:
    st.warning("**Version A and version B are the same.** Choose two different versions.", icon=":material/warning:")
    st.stop()

with user_errors(), st.spinner("Comparing the versions…", show_time=True):
    diff = _compare(str(store.path), data_version(store), version_stamp(store, a, b), a, b)

# -- headline -------------------------------------------------------------------------------------
items_word = ITEM_NAMES[level]
matrix = diff.matrix
entered = int(matrix.loc[NOT_IN_A].sum()) if NOT_IN_A in matrix.index else 0
left = int(matrix[NOT_IN_B].sum()) if NOT_IN_B in matrix.columns else 0
cols = st.columns(5)
cols[0].metric(f"{items_word.capitalize()} in A", f"{int(matrix.drop(index=NOT_IN_A, errors='ignore').to_numpy().sum()):,}")
cols[1].metric(f"{items_word.capitalize()} in B", f"{int(matrix.drop(columns=NOT_IN_B, errors='ignore').to_numpy().sum()):,}")
cols[2].metric("Stayed (same segment name)", f"{diff.items_stayed:,}")
cols[3].metric("Moved to another segment", f"{diff.items_moved - entered - left:,}")
cols[4].metric("New in B / gone from A", f"{entered:,} / {left:,}")
for note in diff.notes:
    st.caption(note)

# -- matrix and Sankey -----------------------------------------------------------------------------
st.subheader("Where the items went")
st.altair_chart(charts.migration_heatmap(diff), width="stretch")
st.plotly_chart(charts.sankey_figure(diff), width="stretch")

# -- movers ---------------------------------------------------------------------------------------
st.subheader("Movers")
st.caption("Items whose segment changed, largest move first: the move size is how far the item travelled in its "
           "features, each feature's change counted in standard deviations over both versions' items. Values are "
           "those saved with each version, so a change of the data between the two saves shows here.")
units = {spec.name: spec.unit for spec in feature_catalog(level)}
filters = st.columns(3)
from_segments = filters[0].multiselect("From segment (A)", list(matrix.index), key="cmp_from",
                                       placeholder="every segment")
to_segments = filters[1].multiselect("To segment (B)", list(matrix.columns), key="cmp_to",
                                     placeholder="every segment")
shown = filters[2].multiselect("Features", list(diff.features), default=list(diff.features)[:5], key="cmp_features",
                               help="Each chosen feature is shown as its value in A, in B and the change.")
table = charts.movers_table(diff, shown, from_segments, to_segments)
st.caption(f"{len(table):,} of {diff.items_moved:,} movers."
           + (f" The table shows the {MAX_SHOWN_MOVERS:,} largest moves; the download has all of them."
              if len(table) > MAX_SHOWN_MOVERS else ""))
titles = {column: charts.column_title(column, a, b, units) for column in table.columns}
config = {column: st.column_config.NumberColumn(title, format="%.3g" if column == "move_size" else "localized")
          for column, title in titles.items() if table[column].dtype.kind == "f"}
config.update({column: title for column, title in titles.items() if column not in config})
st.dataframe(table.head(MAX_SHOWN_MOVERS), hide_index=True, width="stretch", column_config=config)
st.download_button("Download movers (CSV)", table.to_csv(index=False).encode(), f"movers_{a}_to_{b}.csv",
                   "text/csv", icon=":material/download:")

# -- policy impact --------------------------------------------------------------------------------
st.subheader("Policy impact")
impact = diff.pair_impact
changed_only = st.toggle("Only segment pairs whose policy or stock changes", value=True, key="cmp_changed_only")
if changed_only:
    differs = impact["segment_a"] != impact["segment_b"]
    for field in ("service_level", "inventory_strategy", "forecast_method"):
        differs |= impact[f"{field}_a"].astype(str) != impact[f"{field}_b"].astype(str)
    if diff.stock_computed:
        differs |= impact["safety_stock_change"].abs() > 1e-9
    impact = impact[differs]
if diff.stock_computed:
    st.caption("Per pair of segments: each version's policy for the items that went from the one to the other, and "
               "their safety stock and reorder point (units, summed over the items) and safety-stock value "
               "(currency) under A and under B.")
else:
    st.caption("Per pair of segments: each version's policy for the items that went from the one to the other.")
impact_titles = {column: charts.column_title(column, a, b, {"safety_stock": "units", "reorder_point": "units",
                                                            "safety_stock_value": "currency"})
                 for column in impact.columns}
impact_config = {column: st.column_config.NumberColumn(title, format="localized")
                 if impact[column].dtype.kind in "fi" else title for column, title in impact_titles.items()}
for column in ("service_level_a", "service_level_b"):
    impact_config[column] = st.column_config.NumberColumn(impact_titles[column], format="percent")
st.dataframe(impact, hide_index=True, width="stretch", column_config=impact_config)
