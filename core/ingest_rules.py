"""Ingest, step 3: parse the staged rows, find the rows to reject, write rows and rejects.

All set-based SQL over the staging view (see ingest_read). Rejects (``ingest_rejects.reason``):

- ``malformed line: ...``   the CSV line does not split into the header's columns (from
  DuckDB's reject_errors, or the Python fallback reader);
- ``missing key``           a required column is empty (column = the model column);
- ``unparseable date`` / ``unparseable number`` / ``unparseable yes/no``: a value of a typed
  column that does not parse. In an OPTIONAL typed column, a value containing letters is a
  text note, not a malformed number (SCMS weight 'Weight Captured Separately', 'See ASN-93
  (ID#:1281)'): it is stored as NULL and counted in the run's warnings instead, so that an
  annotation on a cost driver does not throw away the order line. A value without letters
  that does not parse ('1.2.3', '31/31/2020') is a reject in any column;
- ``return: negative quantity`` and ``return: cancelled order`` (order id matching the
  cancellation pattern, Online Retail's 'C536379'): returns, unless allow_returns;
- ``non-product code``      a service or fee line (postage, bank charges ...);
- ``unknown cost driver``   cost_rates.driver not in core.model.COST_DRIVERS;
- ``duplicate line``        same key (TableSpec.duplicate_key_columns) as an earlier row of the
  file; only rows with no other problem take part, the first one loads;
- ``already loaded``        append mode: same key as a row already in the table.

A row with several problems has a reject entry for each; it counts once in rows_rejected.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field

import duckdb

from core.ingest_read import DERIVED_NAMES, ROWS_VIEW, STRUCTURAL_TABLE
from core.ingest_values import create_macros, create_parsed, raw_name
from core.model import COST_DRIVERS, TABLES, TableSpec
from core.store import quote_ident

#: Stock codes of Online Retail lines that are services or fees, not merchandise: postage
#: (POST, DOT = dotcom postage, C2 = carriage), manual adjustments (M), discounts (D),
#: samples (S), bank charges, Amazon fees, CRUK charity commission, pads (PADS, 'to match
#: cushion'), bad debt adjustments (B), test and adjustment codes, and gift vouchers.
#: Source: the StockCode/Description pairs of the UCI Online Retail data set (Chen et al.
#: 2012). Compared case-insensitively after trimming.
DEFAULT_NON_PRODUCT_CODES = frozenset({
    "POST", "DOT", "M", "D", "C2", "C3", "S", "B", "CRUK", "AMAZONFEE", "BANK CHARGES", "PADS",
    "ADJUST", "ADJUST2", "TEST001", "TEST002",
    "GIFT_0001_10", "GIFT_0001_20", "GIFT_0001_30", "GIFT_0001_40", "GIFT_0001_50",
})
#: Online Retail marks a cancelled invoice with a leading 'C' ('C536379'). Other files use
#: letters in ordinary order ids (Superstore 'CA-2016-152156'), hence C followed by digits only.
CANCELLATION_PATTERN = r"^C[0-9]+$"

PARSED_TABLE = "ingest_parsed"
PROBLEMS_TABLE = "ingest_problems"
REJECTS_TABLE = "ingest_all_rejects"
REJECTED_ROWS_TABLE = "ingest_rejected_rows"
_NAMES = DERIVED_NAMES | {PARSED_TABLE, PROBLEMS_TABLE, REJECTS_TABLE, REJECTED_ROWS_TABLE}

_RAW_NAMES = frozenset(raw_name(c.name) for spec in TABLES.values() for c in spec.columns)

_UNPARSEABLE = {"date": "unparseable date", "number": "unparseable number", "bool": "unparseable yes/no"}


def _q(name: str) -> str:
    return quote_ident(name, allowed=_NAMES)


def _q_any(name: str) -> str:
    """Quote a model column, a derived name, or a parsed table's raw_<column>."""
    return quote_ident(name, allowed=_NAMES | _RAW_NAMES)


def _raw(column: str) -> str:
    """The parsed table's column holding a typed value's source text where it did not parse."""
    return _q_any(raw_name(column))


@dataclass
class LoadPlan:
    spec: TableSpec
    stage_columns: dict[str, str]       # model column -> staging column (c0, c1, ...)
    mode: str
    allow_returns: bool
    non_product_codes: frozenset[str]
    cancellation_pattern: str | None
    delimiter: str | None


@dataclass
class RulesOutcome:
    rows_loaded: int
    rows_rejected: int
    reject_reasons: dict[str, int] = field(default_factory=dict)
    warnings: dict[str, int] = field(default_factory=dict)
    options: dict[str, object] = field(default_factory=dict)
    message: str | None = None


def run_rules(
    cur: duckdb.DuckDBPyConnection,
    plan: LoadPlan,
    run_id: int,
    source_name: str,
    step: Callable[[float, str], None],
) -> RulesOutcome:
    """Parse, validate and write one staged file (inside the caller's transaction)."""
    spec = plan.spec
    create_macros(cur)
    kinds = {col: spec.column(col).kind for col in plan.stage_columns}
    if plan.cancellation_pattern is not None:
        re.compile(plan.cancellation_pattern)  # a bad pattern fails here, before anything is written
    parse_options = create_parsed(
        cur, spec.name, plan.stage_columns, kinds, plan.delimiter, PARSED_TABLE, _q_any
    )

    # -- problems: one row per (record, problem) -----------------------------------------------
    checks: list[tuple[str, list[object]]] = []
    warnings_sql: list[tuple[str, str]] = []
    for col in plan.stage_columns:
        kind = kinds[col]
        required = spec.column(col).required
        lit = [col]
        if kind == "text":
            if required:
                checks.append((f"SELECT source_row, ?, NULL, 'missing key' FROM {_q(PARSED_TABLE)} WHERE {_q(col)} IS NULL", lit))
            continue
        if required:
            checks.append((f"SELECT source_row, ?, NULL, 'missing key' FROM {_q(PARSED_TABLE)} WHERE {_q(col)} IS NULL AND {_raw(col)} IS NULL", lit))
        bad = f"{_raw(col)} IS NOT NULL AND {_q(col)} IS NULL"
        note = f"regexp_matches({_raw(col)}, '[A-Za-z]')"
        reason = _UNPARSEABLE[kind]
        if required:
            checks.append((f"SELECT source_row, ?, {_raw(col)}, ? FROM {_q(PARSED_TABLE)} WHERE {bad}", [col, reason]))
        else:
            checks.append((f"SELECT source_row, ?, {_raw(col)}, ? FROM {_q(PARSED_TABLE)} WHERE {bad} AND NOT {note}", [col, reason]))
            warnings_sql.append((col, f"""
                -- rows with a text note in the column, and the commonest notes
                SELECT sum(n), list(note ORDER BY n DESC, note)[1:5] FROM (
                    SELECT {_raw(col)} AS note, count(*) AS n FROM {_q(PARSED_TABLE)} WHERE {bad} AND {note} GROUP BY ALL
                )"""))
    mapped = set(plan.stage_columns)
    if spec.name == "orders" and not plan.allow_returns:
        if "quantity" in mapped:
            checks.append((f"SELECT source_row, 'quantity', {_raw('quantity')}, 'return: negative quantity' FROM {_q(PARSED_TABLE)} WHERE quantity < 0", []))
        if plan.cancellation_pattern is not None:
            checks.append((f"SELECT source_row, 'order_id', order_id, 'return: cancelled order' FROM {_q(PARSED_TABLE)} WHERE regexp_matches(order_id, ?)", [plan.cancellation_pattern]))
    if "product_id" in mapped and plan.non_product_codes:
        checks.append((
            f"SELECT source_row, 'product_id', product_id, 'non-product code' FROM {_q(PARSED_TABLE)} WHERE list_contains(?, upper(product_id))",
            [sorted(code.strip().upper() for code in plan.non_product_codes)],
        ))
    if spec.name == "cost_rates" and "driver" in mapped:
        checks.append((
            f"SELECT source_row, 'driver', driver, 'unknown cost driver' FROM {_q(PARSED_TABLE)} WHERE driver IS NOT NULL AND NOT list_contains(?, driver)",
            [list(COST_DRIVERS)],
        ))
    cur.execute(f"CREATE OR REPLACE TEMP TABLE {_q(PROBLEMS_TABLE)} (source_row BIGINT, column_name VARCHAR, value VARCHAR, reason VARCHAR)")
    for sql, args in checks:
        cur.execute(f"INSERT INTO {_q(PROBLEMS_TABLE)} {sql}", args)

    # -- duplicates among rows with no other problem -------------------------------------------
    key = [c for c in spec.duplicate_key_columns(frozenset(mapped)) if c in mapped]
    # the anti-joins below are skipped when there is nothing to leave out (the common case)
    has_problems = cur.execute(f"SELECT count(*) FROM {_q(PROBLEMS_TABLE)}").fetchone()[0] > 0
    without_problems = (
        f"WHERE source_row NOT IN (SELECT source_row FROM {_q(PROBLEMS_TABLE)})" if has_problems else ""
    )
    cur.execute(f"CREATE OR REPLACE TEMP TABLE {_q(REJECTS_TABLE)} AS SELECT * FROM {_q(PROBLEMS_TABLE)}")
    cur.execute(f"INSERT INTO {_q(REJECTS_TABLE)} SELECT * FROM {_q(STRUCTURAL_TABLE)}")
    if key:
        cols = ", ".join(_q(c) for c in key)
        same = " AND ".join(f"p.{_q(c)} IS NOT DISTINCT FROM g.{_q(c)}" for c in key)
        key_text = "concat_ws(' | ', " + ", ".join(f"p.{_q(c)}" for c in key) + ")"
        cur.execute(
            f"""INSERT INTO {_q(REJECTS_TABLE)}
            -- one row per later copy of a key seen earlier in this file
            WITH clean AS (
                SELECT * FROM {_q(PARSED_TABLE)} {without_problems}
            ), repeated_keys AS (
                SELECT {cols}, min(source_row) AS first_row FROM clean GROUP BY ALL HAVING count(*) > 1
            )
            SELECT p.source_row, ?, {key_text} || ' (first on row ' || g.first_row || ')', 'duplicate line'
            FROM clean p JOIN repeated_keys g ON {same}
            WHERE p.source_row > g.first_row""",
            [",".join(key)],
        )
        existing = cur.execute(f"SELECT count(*) FROM {_q(spec.name)}").fetchone()[0]
        if plan.mode == "append" and existing:
            same_existing = " AND ".join(f"p.{_q(c)} IS NOT DISTINCT FROM t.{_q(c)}" for c in key)
            cur.execute(
                f"""INSERT INTO {_q(REJECTS_TABLE)}
                -- one row per record whose key is already in the table
                SELECT p.source_row, ?, {key_text}, 'already loaded'
                FROM {_q(PARSED_TABLE)} p SEMI JOIN {_q(spec.name)} t ON {same_existing}
                {without_problems.replace("WHERE source_row", "WHERE p.source_row")}""",
                [",".join(key)],
            )
    cur.execute(
        f"CREATE OR REPLACE TEMP TABLE {_q(REJECTED_ROWS_TABLE)} AS SELECT DISTINCT source_row FROM {_q(REJECTS_TABLE)}"
    )

    # -- write -------------------------------------------------------------------------------
    step(0.7, "writing")
    if plan.mode == "replace":
        cur.execute(f"DELETE FROM {_q(spec.name)}")
    cur.execute(
        f"""INSERT INTO ingest_rejects (run_id, source_name, row_number, column_name, value, reason)
        SELECT ?, ?, source_row, column_name, value, reason FROM {_q(REJECTS_TABLE)}
        ORDER BY source_row, reason, column_name""",
        [run_id, source_name],
    )
    target_cols = ", ".join(_q(c) for c in plan.stage_columns)
    any_rejects = cur.execute(f"SELECT count(*) FROM {_q(REJECTED_ROWS_TABLE)}").fetchone()[0] > 0
    keep = f"WHERE source_row NOT IN (SELECT source_row FROM {_q(REJECTED_ROWS_TABLE)})" if any_rejects else ""
    cur.execute(
        f"""INSERT INTO {_q(spec.name)} ({target_cols}, run_id, source_row)
        SELECT {target_cols}, ?, source_row FROM {_q(PARSED_TABLE)} {keep}""",
        [run_id],
    )
    step(0.9, "recording the run")
    rows_loaded = cur.execute(f"SELECT count(*) FROM {_q(spec.name)} WHERE run_id = ?", [run_id]).fetchone()[0]
    rows_rejected = cur.execute(f"SELECT count(*) FROM {_q(REJECTED_ROWS_TABLE)}").fetchone()[0]
    reasons = dict(cur.execute(
        f"SELECT reason, count(DISTINCT source_row) FROM {_q(REJECTS_TABLE)} GROUP BY reason ORDER BY reason"
    ).fetchall())
    warnings: dict[str, int] = {}
    warning_examples: dict[str, list[str]] = {}
    for col, sql in warnings_sql:
        count, examples = cur.execute(sql).fetchone()
        if count:
            warnings[col] = int(count)
            warning_examples[col] = list(examples or [])
    options: dict[str, object] = {**parse_options, "duplicate_key": key}
    message = None
    if warnings:
        options["nulled_text_values"] = {
            c: {"rows": n, "examples": warning_examples[c]} for c, n in warnings.items()
        }
        message = "; ".join(
            f"{c}: {n} text value(s) stored as empty, e.g. {warning_examples[c][0]!r}" for c, n in warnings.items()
        )
    return RulesOutcome(rows_loaded, rows_rejected, reasons, warnings, options, message)


def q_rows() -> str:
    return _q(ROWS_VIEW)
