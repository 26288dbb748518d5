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
- ``unknown cost driver``   cost_rates.driver not in core.cost_to_serve.DRIVERS nor of the form
  ``per_line:ship_mode=<mode>`` (core.cost_to_serve.SHIP_MODE_DRIVER_PATTERN);
- ``malformed ship_mode driver``  cost_rates.driver with ``:``, ``=`` or ``ship_mode`` that is
  not ``per_line:ship_mode=<mode>`` with a mode (``per_line:ship_mode=``, ``per_kg:ship_mode=air``);
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
from core.ingest_values import column_sql, create_macros
from core.cost_to_serve import CONDITIONAL_DRIVER_HINT, DRIVERS, SHIP_MODE_DRIVER_PATTERN
from core.model import TableSpec
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

PROBLEMS_TABLE = "ingest_problems"
REJECTS_TABLE = "ingest_all_rejects"
REJECTED_ROWS_TABLE = "ingest_rejected_rows"
REPEATED_KEYS_TABLE = "ingest_repeated_keys"
_NAMES = DERIVED_NAMES | {PROBLEMS_TABLE, REJECTS_TABLE, REJECTED_ROWS_TABLE, REPEATED_KEYS_TABLE}

_UNPARSEABLE = {"date": "unparseable date", "number": "unparseable number", "bool": "unparseable yes/no"}


def _q(name: str) -> str:
    return quote_ident(name, allowed=_NAMES)


def _bind(sql: str, params: dict[str, object]) -> dict[str, object]:
    """The named parameters a statement uses (DuckDB wants exactly those)."""
    return {name: value for name, value in params.items() if f"${name}" in sql}


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
    cols, params, parse_options = column_sql(cur, spec.name, plan.stage_columns, kinds, plan.delimiter)
    rows = _q(ROWS_VIEW)

    # -- problems: one row per (record, problem) -----------------------------------------------
    checks: list[tuple[str, dict[str, object]]] = []
    warnings_sql: list[tuple[str, str]] = []
    for col, c in cols.items():
        required = spec.column(col).required
        p = {"col": col}
        if required and not c.complete:
            checks.append((f"SELECT source_row, $col, NULL, 'missing key' FROM {rows} WHERE {c.text} IS NULL", p))
        if c.kind == "text" or c.plain:
            continue
        bad = f"{c.text} IS NOT NULL AND {c.value} IS NULL"
        note = f"regexp_matches({c.text}, '[A-Za-z]')"
        p = {"col": col, "reason": _UNPARSEABLE[c.kind]}
        if required:
            checks.append((f"SELECT source_row, $col, {c.text}, $reason FROM {rows} WHERE {bad}", p))
        else:
            checks.append((f"SELECT source_row, $col, {c.text}, $reason FROM {rows} WHERE {bad} AND NOT {note}", p))
            warnings_sql.append((col, f"""
                -- rows with a text note in the column, and the commonest notes
                SELECT sum(n), list(note ORDER BY n DESC, note)[1:5] FROM (
                    SELECT {c.text} AS note, count(*) AS n FROM {rows} WHERE {bad} AND {note} GROUP BY ALL
                )"""))
    if spec.name == "orders" and not plan.allow_returns:
        if "quantity" in cols:
            q_ = cols["quantity"]
            checks.append((f"SELECT source_row, 'quantity', {q_.text}, 'return: negative quantity' FROM {rows} WHERE {q_.value} < 0", {}))
        if plan.cancellation_pattern is not None and "order_id" in cols:
            checks.append((
                f"SELECT source_row, 'order_id', {cols['order_id'].value}, 'return: cancelled order' FROM {rows} "
                f"WHERE regexp_matches({cols['order_id'].value}, $pattern)",
                {"pattern": plan.cancellation_pattern},
            ))
    if "product_id" in cols and plan.non_product_codes:
        product = cols["product_id"].value
        checks.append((
            f"SELECT source_row, 'product_id', {product}, 'non-product code' FROM {rows} WHERE list_contains($codes, upper({product}))",
            {"codes": sorted(code.strip().upper() for code in plan.non_product_codes)},
        ))
    if spec.name == "cost_rates" and "driver" in cols:
        driver = cols["driver"].value
        # the driver value is lowercased and trimmed (ingest_values); patterns bound, not formatted
        other = (f"{driver} IS NOT NULL AND NOT list_contains($drivers, {driver}) "
                 f"AND NOT regexp_full_match({driver}, $mode_pattern)")
        checks.append((
            f"SELECT source_row, 'driver', {driver}, 'malformed ship_mode driver' FROM {rows} "
            f"WHERE {other} AND regexp_matches({driver}, $conditional)",
            {"drivers": list(DRIVERS), "mode_pattern": SHIP_MODE_DRIVER_PATTERN,
             "conditional": CONDITIONAL_DRIVER_HINT},
        ))
        checks.append((
            f"SELECT source_row, 'driver', {driver}, 'unknown cost driver' FROM {rows} "
            f"WHERE {other} AND NOT regexp_matches({driver}, $conditional)",
            {"drivers": list(DRIVERS), "mode_pattern": SHIP_MODE_DRIVER_PATTERN,
             "conditional": CONDITIONAL_DRIVER_HINT},
        ))
    # one statement per table: see the note on DuckDB appends in ingest_read
    no_rows = "SELECT CAST(NULL AS BIGINT), CAST(NULL AS VARCHAR), CAST(NULL AS VARCHAR), CAST(NULL AS VARCHAR) WHERE false"
    union = "\nUNION ALL\n".join([sql for sql, _ in checks] or [no_rows])
    statement = f"""CREATE OR REPLACE TEMP TABLE {_q(PROBLEMS_TABLE)} AS
        -- one row per (record, problem) before duplicate checks
        SELECT * FROM ({union}) AS problems(source_row, column_name, value, reason)"""
    check_args: dict[str, object] = {}
    for i, (sql, args) in enumerate(checks):
        # each check's parameters get their own names in the union
        renamed = sql
        for name in sorted(args, key=len, reverse=True):
            renamed = re.sub(rf"\${name}\b", f"${name}_{i}", renamed)
            check_args[f"{name}_{i}"] = args[name]
        statement = statement.replace(sql, renamed, 1)
    cur.execute(statement, {**check_args, **_bind(statement, params)})

    # -- duplicates among rows with no other problem -------------------------------------------
    key = [c for c in spec.duplicate_key_columns(frozenset(cols)) if c in cols]
    # the anti-joins below are skipped when there is nothing to leave out (the common case)
    has_problems = cur.execute(f"SELECT count(*) FROM {_q(PROBLEMS_TABLE)}").fetchall()[0][0] > 0
    without_problems = (
        f"WHERE source_row NOT IN (SELECT source_row FROM {_q(PROBLEMS_TABLE)})" if has_problems else ""
    )
    parts = [f"SELECT * FROM {_q(PROBLEMS_TABLE)}", f"SELECT * FROM {_q(STRUCTURAL_TABLE)}"]
    part_args: dict[str, object] = {}
    if key:
        key_values = ", ".join(f"{cols[c].value} AS {_q(c)}" for c in key)
        clean = f"SELECT source_row, {key_values} FROM {rows} {without_problems}"
        names = ", ".join(_q(c) for c in key)
        statement = f"""CREATE OR REPLACE TEMP TABLE {_q(REPEATED_KEYS_TABLE)} AS
            -- one row per key that more than one clean row of the file has, with its first row
            SELECT {names}, min(source_row) AS first_row FROM ({clean}) GROUP BY ALL HAVING count(*) > 1"""
        cur.execute(statement, _bind(statement, params))
        key_text = "concat_ws(' | ', " + ", ".join(f"p.{_q(c)}" for c in key) + ")"
        part_args["key"] = ",".join(key)
        if cur.execute(f"SELECT count(*) FROM {_q(REPEATED_KEYS_TABLE)}").fetchall()[0][0]:
            same = " AND ".join(f"p.{_q(c)} IS NOT DISTINCT FROM g.{_q(c)}" for c in key)
            parts.append(f"""
                -- later copies of a key seen earlier in this file
                SELECT p.source_row, $key, {key_text} || ' (first on row ' || g.first_row || ')', 'duplicate line'
                FROM ({clean}) p JOIN {_q(REPEATED_KEYS_TABLE)} g ON {same}
                WHERE p.source_row > g.first_row""")
        existing = cur.execute(f"SELECT count(*) FROM {_q(spec.name)}").fetchall()[0][0]
        if plan.mode == "append" and existing:
            same_existing = " AND ".join(f"p.{_q(c)} IS NOT DISTINCT FROM t.{_q(c)}" for c in key)
            parts.append(f"""
                -- clean records whose key is already in the table
                SELECT p.source_row, $key, {key_text}, 'already loaded'
                FROM ({clean}) p SEMI JOIN {_q(spec.name)} t ON {same_existing}""")
    statement = f"""CREATE OR REPLACE TEMP TABLE {_q(REJECTS_TABLE)} AS
        -- one row per (record, problem): every reason a record is not loaded
        {" UNION ALL ".join(parts)}"""
    cur.execute(statement, {**_bind(statement, part_args), **_bind(statement, params)})
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
    target_cols = ", ".join(_q(c) for c in cols)
    values = ", ".join(c.value for c in cols.values())
    any_rejects = cur.execute(f"SELECT count(*) FROM {_q(REJECTED_ROWS_TABLE)}").fetchall()[0][0] > 0
    keep = f"WHERE source_row NOT IN (SELECT source_row FROM {_q(REJECTED_ROWS_TABLE)})" if any_rejects else ""
    statement = f"""INSERT INTO {_q(spec.name)} ({target_cols}, run_id, source_row)
        SELECT {values}, $run_id, source_row FROM {rows} {keep}"""
    cur.execute(statement, {"run_id": run_id, **_bind(statement, params)})
    step(0.9, "recording the run")
    rows_loaded = cur.execute(f"SELECT count(*) FROM {_q(spec.name)} WHERE run_id = ?", [run_id]).fetchall()[0][0]
    rows_rejected = cur.execute(f"SELECT count(*) FROM {_q(REJECTED_ROWS_TABLE)}").fetchall()[0][0]
    reasons = dict(cur.execute(
        f"SELECT reason, count(DISTINCT source_row) FROM {_q(REJECTS_TABLE)} GROUP BY reason ORDER BY reason"
    ).fetchall())
    warnings: dict[str, int] = {}
    warning_examples: dict[str, list[str]] = {}
    for col, sql in warnings_sql:
        count, examples = cur.execute(sql, _bind(sql, params)).fetchall()[0]
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
