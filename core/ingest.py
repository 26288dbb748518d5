"""Ingest: read CSV, Parquet or XLSX into the data model, mapping columns and keeping every rejected row.

Steps (one module each): ``ingest_read`` (``ingest_xlsx`` for spreadsheets) stages the file
as text with exact row numbers, ``ingest_mapping`` decides which source column feeds which
model column, ``ingest_values`` parses dates and numbers, ``ingest_rules`` finds the rows to
reject. This module runs them in
one transaction: a load that fails at any point leaves tables, rejects, runs and remembered
mappings as they were. Always ``rows_read == rows_loaded + rows_rejected``.

Rules and their reasons (``ingest_rejects.reason``) are listed in ``ingest_rules``.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from core.audit import record as audit_record
from core.errors import SegplanError
from core.ingest_mapping import (
    check_mapping,
    header_signature,
    missing_required,
    parse_overrides,
    resolve_mapping,
    source_key_for,
    suggest_mapping,
)
from core.ingest_rules import CANCELLATION_PATTERN, DEFAULT_NON_PRODUCT_CODES
from core.model import table_spec
from core.store import Store

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "CANCELLATION_PATTERN", "DEFAULT_NON_PRODUCT_CODES", "IngestResult", "Progress", "header_signature", "ingest_file",
    "parse_overrides", "preview", "read_headers", "rejects", "resolve_mapping", "source_key_for",
    "suggest_mapping",
]

#: progress callback: fraction done in [0, 1] and a short message for the user.
Progress = Callable[[float, str], None]


@dataclass
class IngestResult:
    """What one load did. Always rows_read == rows_loaded + rows_rejected."""

    run_id: int
    table: str
    source_name: str
    mode: str
    rows_read: int
    rows_loaded: int
    rows_rejected: int
    mapping: dict[str, str] = field(default_factory=dict)   # source header -> model column
    reject_reasons: dict[str, int] = field(default_factory=dict)  # reason -> rows
    #: values set to NULL with a warning (text notes in optional typed columns): column -> rows
    warnings: dict[str, int] = field(default_factory=dict)
    options: dict[str, object] = field(default_factory=dict)  # what the run's options JSON holds

    def as_json(self) -> dict[str, int]:
        return {"rows_read": self.rows_read, "rows_loaded": self.rows_loaded, "rows_rejected": self.rows_rejected}


def _file_format(path: Path) -> str:
    from core.ingest_read import check_readable, file_format

    check_readable(path)
    return file_format(path)


def read_headers(path: str | Path, *, sheet: str | int | None = None) -> list[str]:
    """The column headers of a CSV, Parquet or XLSX file, as written in the file."""
    import duckdb

    from core.ingest_read import parquet_headers, sniff_csv
    from core.ingest_xlsx import xlsx_headers

    path = Path(path)
    fmt = _file_format(path)
    if fmt == "xlsx":
        return xlsx_headers(path, sheet)[1]
    with duckdb.connect() as con:
        if fmt == "parquet":
            return parquet_headers(con, path)
        return sniff_csv(con, path).headers


def preview(path: str | Path, rows: int = 20, *, sheet: str | int | None = None) -> pd.DataFrame:
    """The first rows of a file as text, for the mapping screen (columns = the file's headers)."""
    import duckdb
    import pandas as pd

    from core.ingest_read import parquet_headers, sniff_csv
    from core.ingest_xlsx import cell_text, xlsx_headers, xlsx_rows

    path = Path(path)
    fmt = _file_format(path)
    if fmt == "xlsx":
        header_row, headers = xlsx_headers(path, sheet)
        data: list[list[str | None]] = []
        for number, row in xlsx_rows(path, sheet):
            if number <= header_row:
                continue
            if len(data) >= rows:
                break
            data.append([cell_text(v) for v in (list(row) + [None] * len(headers))[: len(headers)]])
        return pd.DataFrame(data, columns=headers, dtype="string")
    with duckdb.connect() as con:
        if fmt == "parquet":
            headers = parquet_headers(con, path)
            result = con.execute("SELECT * FROM read_parquet(?) LIMIT ?", [str(path), rows]).fetchall()
        else:
            dialect = sniff_csv(con, path)
            headers = dialect.headers
            result = con.execute(
                """SELECT * FROM read_csv(?, encoding = ?, delim = ?, quote = ?, escape = ?, header = true,
                       skip = ?, names = ?, all_varchar = true, ignore_errors = true) LIMIT ?""",
                [str(path), dialect.encoding, dialect.delimiter, dialect.quote, dialect.escape,
                 dialect.skip_rows, [f"c{i}" for i in range(len(headers))], rows],
            ).fetchall()
    text = [[None if v is None else str(v) for v in row] for row in result]
    return pd.DataFrame(text, columns=headers, dtype="string")


def ingest_file(
    store: Store,
    table: str,
    path: str | Path,
    *,
    mapping: dict[str, str] | None = None,
    mode: str = "append",
    allow_returns: bool = False,
    source_name: str | None = None,
    user: str | None = None,
    progress: Progress | None = None,
    source_key: str | None = None,
    non_product_codes: Iterable[str] | None = None,
    cancellation_pattern: str | None = CANCELLATION_PATTERN,
    sheet: str | int | None = None,
) -> IngestResult:
    """Load one file into a data-model table in one transaction; rejects go to ingest_rejects.

    ``mapping`` is {source header: model column}; None uses `suggest_mapping` (a mapping
    remembered for ``source_key`` first; the key defaults to `source_key_for` of the file
    name). The mapping used is remembered for the source when the load succeeds.
    ``mode`` 'replace' empties the table first, in the same transaction.
    ``allow_returns`` keeps negative quantities and cancelled orders (order ids matching
    ``cancellation_pattern``, default 'C' + digits as in Online Retail; None to turn off).
    ``non_product_codes`` are product ids of service and fee lines (postage, bank charges,
    ...) rejected as 'non-product code'; default `DEFAULT_NON_PRODUCT_CODES`, an empty set
    keeps them. ``sheet`` picks the XLSX sheet (name or 0-based index; default the first).
    """
    from core.ingest_read import commit_staging, sniff_csv, stage_csv, stage_parquet
    from core.ingest_xlsx import stage_xlsx, xlsx_headers
    from core.ingest_rules import LoadPlan, run_rules

    def step(fraction: float, message: str) -> None:
        if progress is not None:
            progress(fraction, message)

    spec = table_spec(table)
    if mode not in ("append", "replace"):
        raise SegplanError(f"mode {mode!r} is not append or replace", hint="use mode='append' or mode='replace'")
    path = Path(path)
    source_name = source_name or path.name
    fmt = _file_format(path)
    started_at = dt.datetime.now()
    step(0.0, f"reading {source_name}")

    # preflight, before anything is written: headers, mapping, required columns
    dialect = None
    if fmt == "csv":
        dialect = sniff_csv(store.cursor(), path)
        headers = dialect.headers
    elif fmt == "xlsx":
        headers = xlsx_headers(path, sheet)[1]
    else:
        from core.ingest_read import parquet_headers

        headers = parquet_headers(store.cursor(), path)
    source_key = source_key or source_key_for(source_name, headers)
    if mapping is None:
        mapping = suggest_mapping(table, headers, store, source_key)
    check_mapping(table, headers, mapping, source_name)
    missing = missing_required(table, mapping)
    if missing:
        raise SegplanError(
            f"{source_name}: required column(s) {', '.join(missing)} of {table} not mapped "
            f"(file columns: {', '.join(headers)})",
            hint="map a file column to each required column (e.g. --map SOURCE=" + missing[0] + ")",
        )
    codes = DEFAULT_NON_PRODUCT_CODES if non_product_codes is None else frozenset(non_product_codes)
    if cancellation_pattern is not None:
        try:
            re.compile(cancellation_pattern)
        except re.error as exc:
            raise SegplanError(
                f"cancellation_pattern {cancellation_pattern!r} is not a regular expression: {exc}",
                hint=f"the default is {CANCELLATION_PATTERN!r}",
            ) from exc

    with store.transaction() as cur:
        cur.execute("SET enable_progress_bar = false")
        if fmt == "csv":
            assert dialect is not None
            staged = stage_csv(cur, path, dialect)
        elif fmt == "parquet":
            staged = stage_parquet(cur, path)
        else:
            staged = stage_xlsx(cur, path, sheet)
        # parallel scans of the stage from here on; nothing in the file has changed yet
        commit_staging(cur)
        step(0.4, f"validating {staged.rows_read:,} rows")
        plan = LoadPlan(
            spec=spec,
            stage_columns={column: f"c{headers.index(header)}" for header, column in mapping.items()},
            mode=mode,
            allow_returns=allow_returns,
            non_product_codes=codes,
            cancellation_pattern=cancellation_pattern,
            delimiter=dialect.delimiter if dialect else None,
        )
        run_id = cur.execute("SELECT nextval('ingest_run_seq')").fetchall()[0][0]
        outcome = run_rules(cur, plan, run_id, source_name, step)
        rows_rejected = outcome.rows_rejected
        rows_loaded = outcome.rows_loaded
        if staged.rows_read != rows_loaded + rows_rejected:
            raise RuntimeError(
                f"ingest invariant broken for {source_name}: read {staged.rows_read} != "
                f"loaded {rows_loaded} + rejected {rows_rejected}"
            )
        options = {
            "allow_returns": allow_returns,
            "non_product_codes": sorted(codes),
            "cancellation_pattern": cancellation_pattern,
            **staged.options,
            **outcome.options,
        }
        cur.execute(
            """INSERT INTO ingest_runs (run_id, table_name, source_name, source_key, file_format, mode, mapping,
                   options, rows_read, rows_loaded, rows_rejected, status, message, user_name, started_at, finished_at)
               VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'ok', ?, ?, ?, ?)""",
            [run_id, table, source_name, source_key, fmt, mode, json.dumps(mapping), json.dumps(options),
             staged.rows_read, rows_loaded, rows_rejected, outcome.message,
             user or os.environ.get("USER"), started_at, dt.datetime.now()],
        )
        audit_record(cur, user=user or os.environ.get("USER"), action="ingest", entity="table", entity_id=table,
                     after={"run_id": int(run_id), "file": source_name, "mode": mode, "rows_read": staged.rows_read,
                            "rows_accepted": rows_loaded, "rows_rejected": rows_rejected})
        # one statement (see the note on appends in ingest_read): the source's key and the
        # header signature
        keys = list(dict.fromkeys([source_key, header_signature(headers)]))
        now = dt.datetime.now()
        cur.execute(
            "INSERT OR REPLACE INTO source_mappings VALUES " + ", ".join(["(?, ?, ?, ?)"] * len(keys)),
            [value for key in keys for value in (key, table, json.dumps(mapping), now)],
        )
    step(1.0, f"loaded {rows_loaded:,} rows, rejected {rows_rejected:,}")
    return IngestResult(
        run_id=run_id, table=table, source_name=source_name, mode=mode, rows_read=staged.rows_read,
        rows_loaded=rows_loaded, rows_rejected=rows_rejected, mapping=dict(mapping),
        reject_reasons=outcome.reject_reasons, warnings=outcome.warnings, options=options,
    )


def rejects(store: Store, run_id: int) -> pd.DataFrame:
    """The rejected rows of one run: source_name, row_number, column_name, value, reason."""
    return store.cursor().execute(
        """SELECT source_name, row_number, column_name, value, reason
           FROM ingest_rejects WHERE run_id = ?
           ORDER BY row_number, reason, column_name""",
        [run_id],
    ).df()
