"""Home: what segplan is, which database is in use, what it holds, and what to do next."""

import streamlit as st

from core.model import TABLES
from core.overview import ingest_runs, orders_summary
from ui.state import ensure_entry, get_store, user_errors

ensure_entry()

st.title("segplan")
st.markdown(
    "Supply-chain segmentation planner: load your order history, see how demand behaves per "
    "product and customer, segment items (ABC-XYZ, demand pattern, rules or clustering) and set "
    "policies per segment, monitor service and cost-to-serve per segment, and approve each "
    "segmentation before it is exported."
)

with user_errors():
    store = get_store()
    counts = store.table_counts()
    runs = ingest_runs(store, limit=10)
    history = orders_summary(store)

st.caption(f"Database in use: `{store.path.resolve()}` (set `SEGPLAN_DB` to use another file)")

st.subheader("What is loaded")
for column, (table, rows) in zip(st.columns(len(TABLES)), counts.items(), strict=True):
    column.metric(f"{table} (rows)", f"{rows:,}", help=TABLES[table].description, border=True)

st.subheader("What to do next")
if counts["orders"] == 0:
    st.info(
        "**The database has no orders yet.** Load your order history (CSV, Parquet or Excel) on "
        "the Data page, or build a sample database from the command line with "
        "`segplan init --sample`.",
        icon=":material/info:",
    )
    st.page_link("pages/data.py", label="Load data", icon=":material/upload_file:")
else:
    st.success(
        f"{counts['orders']:,} order lines are loaded: {history.products:,} products ordered by "
        f"{history.customers:,} customers from {history.first_order_date:%d %b %Y} to "
        f"{history.last_order_date:%d %b %Y} ({history.weeks:,} weeks). Explore their demand and classes, "
        "or load more data.",
        icon=":material/check_circle:",
    )
    if history.weeks < 13:
        st.warning(
            f"The order history spans {history.weeks} weeks only: demand variability (XYZ) and "
            "demand patterns need several months to mean much; a year or more is best.",
            icon=":material/warning:",
        )
    left, right = st.columns(2)
    left.page_link("pages/explore.py", label="Explore demand and classes", icon=":material/query_stats:")
    right.page_link("pages/data.py", label="Load more data", icon=":material/upload_file:")
    if counts["products"] == 0 or counts["customers"] == 0:
        st.caption(
            "Products and customers master data are optional; load them for descriptions, "
            "categories and lead times."
        )

st.subheader("Last ingest runs")
if runs.empty:
    st.caption("No ingest runs yet.")
else:
    st.dataframe(
        runs[["run_id", "table_name", "source_name", "mode", "rows_read", "rows_loaded", "rows_rejected", "status", "finished_at"]],
        hide_index=True,
        column_config={
            "run_id": st.column_config.NumberColumn("run", format="%d"),
            "table_name": "table",
            "source_name": "file",
            "rows_read": st.column_config.NumberColumn("rows read", format="localized"),
            "rows_loaded": st.column_config.NumberColumn("rows loaded", format="localized"),
            "rows_rejected": st.column_config.NumberColumn("rows rejected", format="localized"),
            "finished_at": st.column_config.DatetimeColumn("finished (UTC)", format="YYYY-MM-DD HH:mm:ss"),
        },
    )
