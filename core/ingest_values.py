"""Ingest, step 2: how text values become dates, numbers, yes/no and trimmed text, in SQL.

Everything here runs inside DuckDB over the staging view ``ingest_rows`` (see ingest_read):
the format of each date column and the decimal mark of each number column are detected from
the column's own values, then the parse is one set-based expression per column.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import duckdb

from core.ingest_read import ROWS_VIEW, q

#: Date layouts tried on a column, in order of preference when several fit every value:
#: ISO first, then US month/day (the default when day and month cannot be told apart),
#: then day/month, then layouts with month names (e.g. SCMS '2-Jun-06').
DATE_LAYOUTS: tuple[tuple[str, str], ...] = (
    ("%Y-%m-%d", "iso"),
    ("%Y/%m/%d", "iso"),
    ("%m/%d/%Y", "us"),
    ("%m/%d/%y", "us"),
    ("%m-%d-%Y", "us"),
    ("%d/%m/%Y", "eu"),
    ("%d/%m/%y", "eu"),
    ("%d.%m.%Y", "eu"),
    ("%d.%m.%y", "eu"),
    ("%d-%m-%Y", "eu"),
    ("%d-%b-%y", "named"),
    ("%d-%b-%Y", "named"),
    ("%d %b %Y", "named"),
    ("%d %B %Y", "named"),
    ("%b %d, %Y", "named"),
    ("%B %d, %Y", "named"),
    ("%Y%m%d", "iso"),
)
#: Times that may follow the date (the time of day is dropped: the model stores dates).
#: No '%z': with it DuckDB returns TIMESTAMP WITH TIME ZONE, whose date depends on the session's
#: time zone; an order date must not move with the reader's clock.
TIME_SUFFIXES = ("", " %H:%M", " %H:%M:%S", " %H:%M:%S.%f", "T%H:%M", "T%H:%M:%S", "T%H:%M:%S.%f",
                 " %I:%M %p", " %I:%M:%S %p", "T%H:%M:%SZ", "T%H:%M:%S.%fZ")
#: Values a column's date layout is chosen on (first rows); the choice is then checked on
#: every value when month/day and day/month both fit the sample.
DATE_SAMPLE_ROWS = 20_000
#: at most this many distinct sample values are tried against every layout.
DATE_SAMPLE_VALUES = 2_000

TRUE_WORDS = ("true", "t", "yes", "y", "1", "x", "ja", "oui", "si")
FALSE_WORDS = ("false", "f", "no", "n", "0", "nein", "non")

#: Identifier columns: '17850.0' (a number column saved through a spreadsheet) becomes '17850'.
ID_COLUMNS = frozenset({"order_id", "customer_id", "product_id", "line_number", "shipment_id", "location_id", "activity"})


def date_formats(layout: str) -> list[str]:
    return [layout + suffix for suffix in TIME_SUFFIXES]


def create_macros(cur: duckdb.DuckDBPyConnection) -> None:
    """SQL macros the parse expressions use (temporary: they live with the load's cursor)."""
    cur.execute(
        # text: trimmed (spaces, tabs, line breaks, no-break spaces); empty is NULL
        """CREATE OR REPLACE TEMP MACRO seg_text(v) AS
           NULLIF(trim(v, ' ' || chr(9) || chr(10) || chr(13) || chr(160)), '')"""
    )
    cur.execute(
        # identifiers: trimmed, and a spreadsheet's '17850.0' back to '17850'
        """CREATE OR REPLACE TEMP MACRO seg_id(v) AS
           CASE WHEN seg_text(v) LIKE '%.0' AND regexp_full_match(seg_text(v), '[0-9]+\\.0+')
                THEN regexp_extract(seg_text(v), '^([0-9]+)\\.', 1) ELSE seg_text(v) END"""
    )
    cur.execute(
        # number text with currency, spaces, thousands marks removed; (12) and 12- are negative
        """CREATE OR REPLACE TEMP MACRO seg_num_clean(v) AS
           regexp_replace(v, '[\\s\\x{00A0}''$€£¥₹]|USD|EUR|GBP|CHF', '', 'gi')"""
    )
    cur.execute(
        """CREATE OR REPLACE TEMP MACRO seg_num_sign(x) AS
           CASE WHEN x LIKE '(%)' THEN '-' || x[2:-2]
                WHEN x LIKE '%-' AND x NOT LIKE '-%' THEN '-' || x[1:-2]
                ELSE x END"""
    )
    cur.execute(
        """CREATE OR REPLACE TEMP MACRO seg_num_plain(x, decimal_comma) AS
           CASE WHEN decimal_comma THEN replace(replace(x, '.', ''), ',', '.') ELSE replace(x, ',', '') END"""
    )
    cur.execute(
        """CREATE OR REPLACE TEMP MACRO seg_num_strict(x) AS
           CASE WHEN regexp_full_match(x, '[-+]?([0-9]+(\\.[0-9]*)?|\\.[0-9]+)([eE][-+]?[0-9]+)?')
                THEN CAST(x AS DOUBLE) END"""
    )
    cur.execute(
        # a number: the plain cast when it is a finite number (fast path), else cleaned
        """CREATE OR REPLACE TEMP MACRO seg_number(v, decimal_comma) AS
           CASE WHEN NOT decimal_comma AND isfinite(TRY_CAST(v AS DOUBLE)) THEN TRY_CAST(v AS DOUBLE)
                ELSE seg_num_strict(seg_num_plain(seg_num_sign(seg_num_clean(v)), decimal_comma)) END"""
    )
    cur.execute(
        """CREATE OR REPLACE TEMP MACRO seg_bool(v) AS
           CASE WHEN lower(v) IN ('true', 't', 'yes', 'y', '1', 'x', 'ja', 'oui', 'si') THEN true
                WHEN lower(v) IN ('false', 'f', 'no', 'n', '0', 'nein', 'non') THEN false END"""
    )


@dataclass
class DateChoice:
    """The layout chosen for one date column and why."""

    layout: str | None        # None when no layout parses any value
    ambiguous: bool = False   # month/day and day/month both fit every value
    failures: int = 0         # values with digits that the layout does not parse (sample)
    #: the layout with its time suffixes, commonest in the sample first (DuckDB tries them
    #: in order, so a file of 'm/d/Y H:M' values parses each in one attempt, not two)
    formats: list[str] = field(default_factory=list)


def detect_date_layouts(
    cur: duckdb.DuckDBPyConnection, stage_columns: dict[str, str]
) -> dict[str, DateChoice]:
    """Per date column (model name -> staging column), the layout that parses its values.

    A layout must parse every non-empty value that contains a digit (text notes such as
    'Date Not Captured' are not dates). When US and European layouts both fit the sample,
    the whole column decides; when they still both fit, another column of the same file that
    is unambiguous decides, else the US default is used and the column is marked ambiguous.
    """
    choices: dict[str, DateChoice] = {}
    for model_col, stage_col in stage_columns.items():
        fitting: list[tuple[str, str, int]] = []
        sample = f"""
            -- one row per distinct date-like value among the first rows
            SELECT DISTINCT seg_text({q(stage_col)}) AS v FROM (SELECT {q(stage_col)} FROM {q(ROWS_VIEW)} LIMIT $rows)
            WHERE regexp_matches(seg_text({q(stage_col)}), '[0-9]') LIMIT $values"""
        limits = {"rows": DATE_SAMPLE_ROWS, "values": DATE_SAMPLE_VALUES}
        # try_strptime wants a constant format: one bound parameter per layout
        tests = ", ".join(
            f"count(*) FILTER (WHERE NOT coalesce(year(try_strptime(v, $l{i})) BETWEEN 1900 AND 2200, false))"
            for i in range(len(DATE_LAYOUTS))
        )
        layouts = {f"l{i}": date_formats(layout) for i, (layout, _) in enumerate(DATE_LAYOUTS)}
        # the sample's size and each layout's failures in one pass over the sample
        sample_size, *failures = cur.execute(
            f"WITH sample AS ({sample}) SELECT count(*), {tests} FROM sample", {**limits, **layouts}
        ).fetchall()[0]
        if sample_size == 0:
            choices[model_col] = DateChoice(None)
            continue
        for (layout, family), fail in zip(DATE_LAYOUTS, failures, strict=True):
            fitting.append((layout, family, fail))
        best = min(f for _, _, f in fitting)
        if best == sample_size:
            choices[model_col] = DateChoice(None, failures=best)
            continue
        candidates = [(layout, family) for layout, family, f in fitting if f == best]
        families = {family for _, family in candidates}
        if {"us", "eu"} <= families:
            us = next(layout for layout, family in candidates if family == "us")
            eu = next(layout for layout, family in candidates if family == "eu")
            # the day/month question is in the date part: few distinct values even in big files
            us_fail, eu_fail = cur.execute(
                f"""SELECT count(*) FILTER (WHERE try_strptime(d, ?) IS NULL),
                           count(*) FILTER (WHERE try_strptime(d, ?) IS NULL)
                    FROM (SELECT DISTINCT split_part(seg_text({q(stage_col)}), ' ', 1) AS d FROM {q(ROWS_VIEW)}
                          WHERE regexp_matches(seg_text({q(stage_col)}), '[0-9]'))""",
                [us, eu],
            ).fetchall()[0]
            if us_fail < eu_fail:
                choices[model_col] = DateChoice(us, failures=best)
            elif eu_fail < us_fail:
                choices[model_col] = DateChoice(eu, failures=best)
            else:
                choices[model_col] = DateChoice(us, ambiguous=True, failures=best)
        else:
            choices[model_col] = DateChoice(candidates[0][0], failures=best)
    # a file writes all its dates one way: an unambiguous European column settles the rest
    eu_layouts = {layout for layout, family in DATE_LAYOUTS if family == "eu"}
    if any(c.layout in eu_layouts and not c.ambiguous for c in choices.values()):
        swap = {"%m/%d/%Y": "%d/%m/%Y", "%m/%d/%y": "%d/%m/%y", "%m-%d-%Y": "%d-%m-%Y"}
        for col, choice in choices.items():
            if choice.ambiguous and choice.layout in swap:
                choices[col] = DateChoice(swap[choice.layout], ambiguous=True, failures=choice.failures)
    for col, choice in choices.items():
        if choice.layout is None:
            continue
        formats = date_formats(choice.layout)
        # each distinct value parsed once, weighted by its rows (a sample holds a few hundred
        # dates, each parsed against every format)
        counts = ", ".join(f"coalesce(sum(n) FILTER (WHERE try_strptime(v, [$f{i}]) IS NOT NULL), 0)"
                           for i in range(len(formats)))
        stage_col = stage_columns[col]
        hits = cur.execute(
            f"""WITH sample AS (
                SELECT seg_text({q(stage_col)}) AS v FROM {q(ROWS_VIEW)} LIMIT $rows
            ), distinct_values AS (
                -- one row per distinct sample value and how many rows have it
                SELECT v, count(*) AS n FROM sample GROUP BY v
            )
            SELECT {counts} FROM distinct_values""",
            {"rows": DATE_SAMPLE_ROWS, **{f"f{i}": f for i, f in enumerate(formats)}},
        ).fetchall()[0]
        choice.formats = [f for _, f in sorted(zip(hits, formats, strict=True), key=lambda hf: -hf[0])]
    return choices


def detect_decimal_comma(
    cur: duckdb.DuckDBPyConnection, stage_columns: dict[str, str], delimiter: str | None
) -> dict[str, bool]:
    """Per number column, whether ',' is its decimal mark (European files).

    A column uses a decimal comma when some value ends in a comma and one, two or four or
    more digits ('7,5', '1.234,50') and none reads as US style ('1,234.50', '7.25'). When no
    value decides (integers, or '1,234'), a semicolon-delimited file is taken as European.
    Only columns with a comma somewhere are asked: without one, '.' is the decimal mark.
    """
    result: dict[str, bool] = {}
    for model_col, stage_col in stage_columns.items():
        comma, dot = cur.execute(
            f"""SELECT
                count(*) FILTER (WHERE contains(v, ',') AND regexp_matches(v, ',[0-9]{{1,2}}$|,[0-9]{{4,}}$|\\.[0-9]{{3}},[0-9]+$')),
                count(*) FILTER (WHERE contains(v, '.') AND regexp_matches(v, '\\.[0-9]{{1,2}}$|\\.[0-9]{{4,}}$|,[0-9]{{3}}\\.[0-9]+$'))
            FROM (SELECT seg_text({q(stage_col)}) AS v FROM {q(ROWS_VIEW)})"""
        ).fetchall()[0]
        if comma and not dot:
            result[model_col] = True
        elif dot:
            result[model_col] = False
        else:
            result[model_col] = delimiter == ";"
    return result


@dataclass
class ColumnProfile:
    """What one pass over the staged rows says about a mapped column, to pick a fast parse."""

    rows: int = 0            # staged rows
    values: int = 0          # non-NULL staged values
    plain: int = 0           # values a plain CAST reads (numbers: finite doubles; dates: ISO dates)
    commas: int = 0          # values containing ',' (numbers)
    messy: int = 0           # values needing the slow clean-up (text: spaces to trim, '', '17850.0')


def profile_columns(
    cur: duckdb.DuckDBPyConnection, stage_columns: dict[str, str], kinds: dict[str, str], iso_dates: set[str]
) -> dict[str, ColumnProfile]:
    """One aggregate pass over ``ingest_rows``: per column, whether the cheap parse suffices.

    Most columns of most files are clean (no padding, plain numbers, ISO dates); they are cast
    directly. The full clean-up (trim, currency, thousands marks, layouts) runs only on the
    columns that need it, which keeps a 10M-line load fast.
    """
    parts: list[str] = []
    order: list[tuple[str, str]] = []
    for col, stage_col in stage_columns.items():
        v = q(stage_col)
        kind = kinds[col]
        parts.append(f"count({v})")
        order.append((col, "values"))
        if kind == "text":
            # a blank (space, tab, line break: code <= 32; no-break space: 160) first or last,
            # or '' (Parquet: ord('') is -1); '17850.0' ids. ord() tests the first character and
            # suffix() the last: both look at one end only (v[-1] measures the whole string,
            # 3x the cost on 10M values). The last character is tested for exactly the blanks
            # seg_text trims.
            messy = (f"ord({v}) <= 32 OR ord({v}) = 160 OR suffix({v}, ' ') OR suffix({v}, chr(9)) "
                     f"OR suffix({v}, chr(10)) OR suffix({v}, chr(13)) OR suffix({v}, chr(160))")
            if col in ID_COLUMNS:
                messy += f" OR {v} LIKE '%.0'"
            parts.append(f"count(*) FILTER (WHERE {messy})")
            order.append((col, "messy"))
        elif kind == "number":
            parts.append(f"count(*) FILTER (WHERE isfinite(TRY_CAST({v} AS DOUBLE)))")
            order.append((col, "plain"))
            parts.append(f"count(*) FILTER (WHERE contains({v}, ','))")
            order.append((col, "commas"))
        elif kind == "date" and col in iso_dates:
            parts.append(f"count(TRY_CAST({v} AS DATE))")
            order.append((col, "plain"))
    profiles = {col: ColumnProfile() for col in stage_columns}
    row = cur.execute(f"SELECT {', '.join(['count(*)', *parts])} FROM {q(ROWS_VIEW)}").fetchall()[0]
    for (col, attr), value in zip(order, row[1:], strict=True):
        setattr(profiles[col], attr, int(value or 0))
    for profile in profiles.values():
        profile.rows = int(row[0])
    return profiles


@dataclass
class ColumnSql:
    """SQL over ``ingest_rows`` for one mapped column: its model value and its source text."""

    value: str     # the parsed model value (NULL when empty or unparseable)
    text: str      # the cleaned source text (NULL when empty), for presence checks and rejects
    kind: str
    #: every value reads with a plain cast: nothing can be unparseable (checks are skipped)
    plain: bool = False
    #: no value is empty: nothing can be missing (checks are skipped)
    complete: bool = False


def column_sql(
    cur: duckdb.DuckDBPyConnection,
    table: str,
    stage_columns: dict[str, str],
    kinds: dict[str, str],
    delimiter: str | None,
) -> tuple[dict[str, ColumnSql], dict[str, object], dict[str, object]]:
    """The parse expression of every mapped column, the parameters they bind, and the
    choices made (date layouts, decimal marks, plain-cast columns) for the run's options.

    Expressions are evaluated where they are used (checks, duplicate keys, the insert) rather
    than materialised in a second copy of the file: memory stays at one staged copy.
    """
    date_cols = {c: s for c, s in stage_columns.items() if kinds[c] == "date"}
    date_choices = detect_date_layouts(cur, date_cols)
    iso = {c for c, ch in date_choices.items() if ch.layout == "%Y-%m-%d"}
    profiles = profile_columns(cur, stage_columns, kinds, iso)
    number_cols = {c: s for c, s in stage_columns.items() if kinds[c] == "number"}
    with_commas = {c: s for c, s in number_cols.items() if profiles[c].commas}
    decimal_comma = {c: False for c in number_cols}
    decimal_comma.update(detect_decimal_comma(cur, with_commas, delimiter))

    params: dict[str, object] = {}
    columns: dict[str, ColumnSql] = {}
    fast: list[str] = []
    for i, (col, stage_col) in enumerate(stage_columns.items()):
        v = q(stage_col)
        text = f"seg_text({v})"
        kind = kinds[col]
        prof = profiles[col]
        if kind == "text":
            if table == "cost_rates" and col == "driver":
                value = f"lower({text})"
            elif prof.messy == 0:
                value = text = v
                fast.append(col)
            else:
                value = f"seg_id({v})" if col in ID_COLUMNS else text
        elif kind == "number":
            if prof.plain == prof.values and not prof.commas:
                # every value is a plain finite number: no blanks to trim, nothing to clean
                value, text = f"TRY_CAST({v} AS DOUBLE)", v
                fast.append(col)
            else:
                params[f"dec{i}"] = decimal_comma[col]
                value = f"seg_number({text}, $dec{i})"
        elif kind == "date":
            layout = date_choices[col].layout
            if layout is None:
                value = "CAST(NULL AS DATE)"
            elif col in iso and prof.plain == prof.values:
                value, text = f"TRY_CAST({v} AS DATE)", v
                fast.append(col)
            else:
                params[f"fmt{i}"] = date_choices[col].formats or date_formats(layout)
                value = f"CAST(try_strptime({text}, $fmt{i}) AS DATE)"
        else:
            value = f"seg_bool({text})"
        plain = col in fast
        columns[col] = ColumnSql(value, text, kind, plain=plain, complete=plain and prof.values == prof.rows)
    options = {
        "date_formats": {c: ch.layout for c, ch in date_choices.items()},
        "date_format_ambiguous": sorted(c for c, ch in date_choices.items() if ch.ambiguous),
        "decimal_comma": decimal_comma,
        "plain_cast_columns": fast,
    }
    return columns, params, options
