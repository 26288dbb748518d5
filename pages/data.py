"""Data: load a CSV, Parquet or Excel file into a data-model table, see what was rejected and what is loaded."""

import streamlit as st

from core.errors import SegplanError
from core.model import TABLES
from core.overview import ingest_runs, table_head
from ui.mapping import NOT_MAPPED, check_mapping, prefill
from ui.auth import require_page
from ui.state import ensure_entry, file_headers, file_preview, get_store, save_upload, show_error, user_errors

ensure_entry()
require_page("ingest")

MODES = {"append": "Append to the rows already loaded", "replace": "Replace the table's rows"}


def table_height(rows: int, most: int = 8) -> int:
    """Pixels for a grid of ``rows`` rows, at most ``most`` rows tall (no empty rows below short tables)."""
    return 38 + 35 * min(max(rows, 1), most)


def date_columns(table: str) -> dict:
    """Show DATE columns as dates (DuckDB hands them to pandas as midnight timestamps)."""
    return {c.name: st.column_config.DateColumn(c.name, format="YYYY-MM-DD") for c in TABLES[table].columns if c.sql_type == "DATE"}


st.title("Data")
st.caption("Load order history and master data. Every load is one transaction: it lands whole or not at all, "
           "and every rejected row is kept with its reason.")

with user_errors():
    store = get_store()

# -- what to load -------------------------------------------------------------------------
st.subheader("Load a file")
choose, describe = st.columns([1, 2])
table = choose.selectbox(
    "Table to load", list(TABLES), key="data_table", persist_state="session",
    help="orders is the one table the analysis needs; the others add master data.",
)
spec = TABLES[table]
describe.markdown(f"**{table}**: {spec.description}  \nRequired columns: " + ", ".join(f"`{c}`" for c in spec.required))
with describe.expander(f"All columns of {table}, and the file headers recognised for each"):
    st.dataframe(
        [{"column": c.name, "required": c.required, "type": c.kind, "meaning": c.description,
          "recognised headers": ", ".join(c.synonyms)} for c in spec.columns],
        hide_index=True,
    )

upload = st.file_uploader(
    "File to load (CSV, Parquet or Excel .xlsx)", type=["csv", "parquet", "xlsx"], key="data_upload",
    help="The first row holds the column headers. Column names are matched to the data model below.",
)

if upload is not None:
    with user_errors():
        path = save_upload(upload)
        headers = file_headers(str(path))
        sample = file_preview(str(path), 20)
        from core.ingest import source_key_for, suggest_mapping

        # A mapping confirmed for a file of this name before comes back first.
        suggestion = suggest_mapping(table, headers, store, source_key=source_key_for(upload.name))

    st.markdown(f"**Preview** of `{upload.name}`: first {len(sample)} rows, {len(headers)} columns, as text")
    st.dataframe(sample, hide_index=True, height=table_height(len(sample)))

    st.markdown("**Column mapping**: which column of the file holds each data-model column (\\* = required)")
    preselected = prefill(spec, suggestion, headers)
    options = [NOT_MAPPED, *headers]
    chosen: dict[str, str | None] = {}
    grid = st.columns(4)
    for position, column in enumerate(spec.columns):
        header = preselected.get(column.name)
        chosen[column.name] = grid[position % 4].selectbox(
            f"{column.name} *" if column.required else column.name,
            options,
            index=options.index(header) if header in options else 0,
            key=f"map:{table}:{upload.file_id}:{column.name}",
            help=column.description,
        )
    check = check_mapping(spec, chosen)
    if check.missing_required:
        st.error("Required columns are not mapped: " + ", ".join(f"`{c}`" for c in check.missing_required)
                 + ". Choose the file column that holds each, or add it to the file.", icon=":material/error:")
    for header, columns in check.doubled.items():
        st.error(f"File column `{header}` is chosen for " + " and ".join(f"`{c}`" for c in columns)
                 + "; a file column can fill one data-model column only.", icon=":material/error:")

    mode_column, returns_column = st.columns(2)
    mode = mode_column.radio("If the table already has rows", list(MODES), format_func=MODES.get,
                             key="ingest_mode", persist_state="session", horizontal=True)
    allow_returns = False
    if table == "orders":
        allow_returns = returns_column.checkbox(
            "Allow returns (negative quantities)", key="allow_returns", persist_state="session",
            help="Off: lines with a negative quantity are rejected. On: they are loaded as returns.",
        )

    if st.button(f"Load into {table}", type="primary", disabled=not check.ok, icon=":material/download:"):
        from core.ingest import ingest_file

        failure: SegplanError | None = None
        with st.status(f"Loading {upload.name} into {table}…", expanded=True) as status:
            bar = st.progress(0.0, text="Starting")
            try:
                result = ingest_file(
                    store, table, path, mapping=check.mapping, mode=mode, allow_returns=allow_returns,
                    source_name=upload.name, user=st.session_state.get("user_name"),
                    progress=lambda done, message: bar.progress(min(max(done, 0.0), 1.0), text=message),
                )
            except SegplanError as err:
                failure = err
                status.update(label=f"Load of {upload.name} failed: nothing was changed", state="error")
            else:
                st.session_state["last_ingest"] = result
                status.update(label=f"Loaded {result.rows_loaded:,} of {result.rows_read:,} rows of {upload.name}",
                              state="complete", expanded=False)
        if failure is not None:
            show_error(failure)
else:
    st.info("Choose a file above to see its columns and load it. "
            "Or build a sample database from the command line: `segplan init --sample`.", icon=":material/info:")

# -- the last load ------------------------------------------------------------------------
result = st.session_state["last_ingest"]
if result is not None:
    st.subheader(f"Last load: run {result.run_id}, `{result.source_name}` into {result.table} ({result.mode})")
    read, loaded, rejected = st.columns(3)
    read.metric("Rows read", f"{result.rows_read:,}", border=True)
    loaded.metric("Rows loaded", f"{result.rows_loaded:,}", border=True)
    rejected.metric("Rows rejected", f"{result.rows_rejected:,}", border=True)
    for column, rows in result.warnings.items():
        st.warning(f"`{column}`: {rows:,} values could not be read and were loaded as empty.", icon=":material/warning:")
    if result.rows_loaded:
        with user_errors(stop=False), st.container(key="loaded_by_run"):
            st.caption(f"First rows loaded by run {result.run_id}, as stored (source_row is the line in the file):")
            st.dataframe(table_head(store, result.table, 10, run_id=result.run_id), hide_index=True,
                         column_config=date_columns(result.table))
    if result.rows_rejected:
        from core.charts import reject_reasons_chart
        from core.ingest import rejects

        with user_errors(stop=False):
            rejected_rows = rejects(store, result.run_id)
            chart_column, table_column = st.columns([2, 3])
            chart_column.altair_chart(reject_reasons_chart(result.reject_reasons, result.rows_rejected), width="stretch")
            table_column.dataframe(rejected_rows, hide_index=True, height=table_height(len(rejected_rows), 10))
            st.download_button(
                "Download rejected rows (CSV)", rejected_rows.to_csv(index=False).encode(),
                file_name=f"rejects-run-{result.run_id}.csv", mime="text/csv", icon=":material/download:",
            )

# -- what is loaded -----------------------------------------------------------------------
st.subheader("What is loaded")
with user_errors():
    counts = store.table_counts()
for tab, name in zip(st.tabs([f"{name} ({counts[name]:,} rows)" for name in TABLES]), TABLES, strict=True):
    with tab:
        if counts[name] == 0:
            st.caption(f"No rows in {name} yet.")
        else:
            st.caption(f"First 20 of {counts[name]:,} rows, in load order (run_id and source_row trace each row to its file).")
            st.dataframe(table_head(store, name, 20), hide_index=True, column_config=date_columns(name))

st.subheader("Ingest history")
history = ingest_runs(store, limit=50)
if history.empty:
    st.caption("No ingest runs yet.")
else:
    st.dataframe(history, hide_index=True, column_config={
        "run_id": st.column_config.NumberColumn("run", format="%d"),
        "table_name": "table", "source_name": "file",
        "rows_read": st.column_config.NumberColumn("rows read", format="localized"),
        "rows_loaded": st.column_config.NumberColumn("rows loaded", format="localized"),
        "rows_rejected": st.column_config.NumberColumn("rows rejected", format="localized"),
        "user_name": "user",
        "started_at": st.column_config.DatetimeColumn("started (UTC)", format="YYYY-MM-DD HH:mm:ss"),
        "finished_at": st.column_config.DatetimeColumn("finished (UTC)", format="YYYY-MM-DD HH:mm:ss"),
    })
