"""Ingest, step 1: read a CSV, Parquet or XLSX file into a temporary all-text staging table.

The staging table ``ingest_stage`` has one VARCHAR column per source column (``c0``, ``c1``,
... in file order) and is read through the view ``ingest_rows``, which adds ``source_row``:
the row's number in the file (CSV: the line as an editor shows it, header = line 1; XLSX: the
spreadsheet row; Parquet: the 1-based record number). Lines the CSV parser cannot split into
the header's columns land in ``ingest_structural`` (source_row, column_name, value, reason).

CSV goes through DuckDB's ``read_csv`` with ``store_rejects`` (its ``reject_errors`` gives the
line of each structural error). ``read_csv`` has no row-number column, so the line of a good
record is derived from its position: record k follows k-1 good records and the rejected lines
before it. That holds only when every record is one physical line; when the file has quoted
line breaks or blank lines (the physical line count does not match), the file is re-read with
Python's ``csv`` module, which reports the line each record starts on. Either way the numbers
are exact.
"""

from __future__ import annotations

import codecs
import csv
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from core.errors import SegplanError
from core.store import quote_ident

CSV_EXTENSIONS = (".csv", ".txt", ".tsv")
PARQUET_EXTENSIONS = (".parquet", ".pq")
XLSX_EXTENSIONS = (".xlsx", ".xlsm", ".xls")

#: rows per Arrow batch when a file is streamed through Python (XLSX, CSV fallback).
BATCH_ROWS = 50_000
#: bytes per chunk when scanning a file for encoding and line count.
SCAN_CHUNK_BYTES = 16 * 1024 * 1024

STAGE_TABLE = "ingest_stage"
ROWS_VIEW = "ingest_rows"
STRUCTURAL_TABLE = "ingest_structural"
CSV_ERRORS_TABLE = "ingest_csv_errors"
CSV_SCANS_TABLE = "ingest_csv_scans"
ROW_ADJUST_TABLE = "ingest_row_adjust"
HEADER_LINE_TABLE = "ingest_header_line"
_MAX_COLUMNS = 4096
#: names this module writes into SQL besides the data model's: staging tables and c0..cN.
DERIVED_NAMES = frozenset(
    {STAGE_TABLE, ROWS_VIEW, STRUCTURAL_TABLE, CSV_ERRORS_TABLE, CSV_SCANS_TABLE, ROW_ADJUST_TABLE, HEADER_LINE_TABLE,
     "source_row", "file_row_number"}
    | {f"c{i}" for i in range(_MAX_COLUMNS)}
)

#: DuckDB reject error types -> the reason a user reads.
_CSV_ERROR_REASONS = {
    "MISSING COLUMNS": "malformed line: too few columns",
    "TOO MANY COLUMNS": "malformed line: too many columns",
    "UNQUOTED VALUE": "malformed line: bad quoting",
    "LINE SIZE OVER MAXIMUM": "malformed line: line too long",
    "INVALID ENCODING": "malformed line: invalid characters for the file's encoding",
    "INVALID UNICODE": "malformed line: invalid characters for the file's encoding",
}


def q(name: str) -> str:
    """Quote one of this module's derived identifiers (or a data-model name)."""
    return quote_ident(name, allowed=DERIVED_NAMES)


def file_format(path: Path) -> str:
    """'csv', 'parquet' or 'xlsx' from the file's extension, or a SegplanError."""
    ext = path.suffix.lower()
    if ext in CSV_EXTENSIONS:
        return "csv"
    if ext in PARQUET_EXTENSIONS:
        return "parquet"
    if ext in XLSX_EXTENSIONS:
        return "xlsx"  # calamine reads legacy .xls and .xlsm too
    raise SegplanError(
        f"{path.name}: unsupported file type {ext or '(no extension)'!r}",
        hint="use a .csv, .parquet or .xlsx file",
    )


def check_readable(path: Path) -> None:
    """A SegplanError when the path is missing, a folder or an empty file."""
    if not path.exists():
        raise SegplanError(f"{path}: file not found", hint="check the path")
    if path.is_dir():
        raise SegplanError(f"{path}: is a folder, not a file", hint="give the path of one file")
    if path.stat().st_size == 0:
        raise SegplanError(f"{path.name}: the file is empty", hint="export the data again")


# -- CSV dialect and encoding ---------------------------------------------------------------------


@dataclass
class CsvDialect:
    """How a CSV file is written: what the loader found and passes to the reader."""

    encoding: str          # DuckDB's name: utf-8, utf-16 or latin-1
    delimiter: str
    quote: str
    escape: str
    skip_rows: int         # lines before the header
    headers: list[str]
    physical_lines: int    # lines with content up to the last non-blank line
    has_bom: bool = False

    def options(self) -> dict[str, object]:
        return {"encoding": self.encoding, "delimiter": self.delimiter, "quote": self.quote,
                "header_line": self.skip_rows + 1, "bom": self.has_bom}


def _python_codec(encoding: str) -> str:
    return {"utf-8": "utf-8-sig", "utf-16": "utf-16", "latin-1": "latin-1"}[encoding]


def scan_encoding_and_lines(path: Path) -> tuple[str, bool, int]:
    """The file's encoding (BOM, else utf-8 if every byte decodes, else latin-1), whether it
    has a BOM, and its line count up to the last non-blank line (trailing blank lines do not
    count). One streaming pass over the bytes.
    """
    with path.open("rb") as fh:
        head = fh.read(4)
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        encoding, bom = "utf-16", True
    else:
        encoding, bom = "utf-8", head.startswith(codecs.BOM_UTF8)
    if encoding == "utf-16":
        return encoding, bom, _count_lines_text(path, "utf-16")
    decoder = codecs.getincrementaldecoder("utf-8")()
    newlines = 0
    carriage = 0
    tail = b""
    valid = True
    with path.open("rb") as fh:
        while chunk := fh.read(SCAN_CHUNK_BYTES):
            newlines += chunk.count(b"\n")
            if newlines == 0:
                carriage += chunk.count(b"\r")
            if valid and not (chunk.isascii() and decoder.getstate()[0] == b""):
                try:
                    decoder.decode(chunk)
                except UnicodeDecodeError:
                    valid = False
            tail = (tail + chunk)[-65536:]
    if valid:
        try:
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            valid = False
    if newlines == 0 and carriage:
        # old Mac line ends: count CR instead
        sep = b"\r"
        newlines = carriage
    else:
        sep = b"\n"
    lines = _lines_from_tail(newlines, tail, sep)
    return ("utf-8" if valid else "latin-1"), bom, lines


def _lines_from_tail(separators: int, tail: bytes, sep: bytes) -> int:
    """Line count from the number of separators, dropping trailing blank lines."""
    stripped = tail.rstrip(b" \t\r\n")
    trailing_seps = tail[len(stripped):].count(sep)
    lines = separators + 1 - trailing_seps
    if not stripped and tail:
        return 0
    return lines


def _count_lines_text(path: Path, codec: str) -> int:
    """Lines up to the last non-blank one, for encodings whose bytes cannot be counted (utf-16)."""
    last_content = 0
    with path.open("r", encoding=codec, newline="") as fh:
        for number, line in enumerate(fh, start=1):
            if line.strip():
                last_content = number
    return last_content


_DELIMITERS = (",", ";", "\t", "|")
_HEAD_LINES = 50


def _field_count(line: str, delimiter: str, quote: str) -> int:
    return len(next(csv.reader([line], delimiter=delimiter, quotechar=quote), []))


def _guess_layout(head_lines: list[str], quote: str) -> tuple[str, int]:
    """(delimiter, title lines above the header) from the first lines of a file."""
    from collections import Counter

    best: tuple[int, int, str, int] = (0, 0, ",", 0)  # (lines agreeing, fields, delimiter, skip)
    for delimiter in _DELIMITERS:
        counts = [_field_count(line, delimiter, quote) for line in head_lines if line.strip()]
        fields, agreeing = Counter(counts).most_common(1)[0] if counts else (1, 0)
        if fields < 2:
            continue
        skip = next(i for i, line in enumerate(head_lines) if _field_count(line, delimiter, quote) == fields)
        best = max(best, (agreeing, fields, delimiter, skip))
    return best[2], best[3]


def sniff_csv(cur: duckdb.DuckDBPyConnection, path: Path) -> CsvDialect:
    """Encoding, delimiter, quote, header line and headers of a CSV file.

    DuckDB's sniffer decides the dialect; when it cannot (badly broken files), the delimiter
    that splits most of the first lines into the same number of fields decides, the header is
    the first line split that way, and the quote is '"'.
    """
    encoding, bom, lines = scan_encoding_and_lines(path)
    if lines == 0:
        raise SegplanError(f"{path.name}: the file has no lines with content", hint="export the data again")
    delimiter, quote, escape, skip = None, '"', '"', 0
    try:
        row = cur.execute(
            "SELECT Delimiter, Quote, Escape, SkipRows, HasHeader FROM sniff_csv(?, encoding = ?, header = true, all_varchar = true)",
            [str(path), encoding],
        ).fetchall()[0]
    except duckdb.Error:
        row = None
    if row is not None:
        delimiter = row[0]
        quote = '"' if row[1] in ("(empty)", "", None) else row[1]
        escape = quote if row[2] in ("(empty)", "", None) else row[2]
        skip = int(row[3] or 0)
    with path.open("r", encoding=_python_codec(encoding), newline="") as fh:
        head_lines = [line.rstrip("\r\n") for line, _ in zip(fh, range(_HEAD_LINES), strict=False)]
    if skip >= len(head_lines):
        skip = 0
    header_fields = _field_count(head_lines[skip], delimiter, quote) if delimiter in _DELIMITERS else 1
    if header_fields == 1:
        # the sniffer gave up, or settled on a one-column reading of a damaged file: the
        # delimiter that splits the most lines the same way decides, and the header is the
        # first line split that way (lines above it are titles)
        delimiter, skip = _guess_layout(head_lines, quote)
    headers = next(csv.reader([head_lines[skip]], delimiter=delimiter, quotechar=quote), [])
    headers = [h.strip() for h in headers]
    if not any(headers):
        raise SegplanError(f"{path.name}: the first line has no column headers", hint="the first line must name the columns")
    if len(headers) > _MAX_COLUMNS:
        raise SegplanError(f"{path.name}: {len(headers)} columns, more than {_MAX_COLUMNS}")
    return CsvDialect(encoding, delimiter, quote, escape, skip, headers, lines, bom)


# -- staging --------------------------------------------------------------------------------------


@dataclass
class Staged:
    """A file read into ``ingest_rows`` (and ``ingest_structural``)."""

    headers: list[str]
    file_format: str
    rows_read: int                 # records in the file (good + structurally rejected)
    options: dict[str, object] = field(default_factory=dict)


# Every staging table is written by ONE statement (CREATE ... AS). DuckDB 2.0.0 can lose all
# rows of a table that gets an INSERT of no rows, then a large INSERT, then another INSERT in
# the same transaction (seen here; reproduced with plain SQL on a file database), so ingest
# never appends to a table twice within its transaction.

StructuralRow = tuple[int, str | None, str, str]   # source_row, column_name, value, reason


def commit_staging(cur: duckdb.DuckDBPyConnection) -> None:
    """Commit the staging tables written so far and open the next transaction on ``cur``.

    DuckDB scans a table created in the open transaction (transaction-local storage) on one
    thread, so every later pass over the stage (profile, checks, the insert) would run on one
    core; and such a table's rowids are provisional until commit. The staging tables are TEMP:
    committing them writes nothing to the file, and the load proper (rejects, rows, the run,
    mappings) stays one transaction, begun here.
    """
    cur.commit()
    cur.begin()


def create_structural(cur: duckdb.DuckDBPyConnection, rows: list[StructuralRow]) -> None:
    """The structural rejects found while reading (Python readers), as one table."""
    import pyarrow as pa

    table = pa.table(
        {
            "source_row": pa.array([r[0] for r in rows], type=pa.int64()),
            "column_name": pa.array([r[1] for r in rows], type=pa.string()),
            "value": pa.array([r[2] for r in rows], type=pa.string()),
            "reason": pa.array([r[3] for r in rows], type=pa.string()),
        }
    )
    cur.register("ingest_structural_rows", table)
    try:
        cur.execute(f"CREATE OR REPLACE TEMP TABLE {q(STRUCTURAL_TABLE)} AS SELECT * FROM ingest_structural_rows")  # identifiers only, via q = quote_ident
    finally:
        cur.unregister("ingest_structural_rows")


def create_stage_from_rows(cur: duckdb.DuckDBPyConnection, width: int, rows: Iterator[list]) -> int:
    """Stream rows ([c0, ..., cN, source_row]) into the staging table through Arrow batches,
    in one statement; returns how many rows were staged."""
    import pyarrow as pa

    schema = pa.schema([(f"c{i}", pa.string()) for i in range(width)] + [("source_row", pa.int64())])
    staged = 0

    def batches() -> Iterator[pa.RecordBatch]:
        nonlocal staged
        batch: list[list] = []
        for row in rows:
            batch.append(row)
            if len(batch) >= BATCH_ROWS:
                staged += len(batch)
                yield _record_batch(batch, schema)
                batch = []
        if batch:
            staged += len(batch)
            yield _record_batch(batch, schema)

    reader = pa.RecordBatchReader.from_batches(schema, batches())
    cur.register("ingest_batches", reader)
    try:
        cur.execute(f"CREATE OR REPLACE TEMP TABLE {q(STAGE_TABLE)} AS SELECT * FROM ingest_batches")  # identifiers only, via q = quote_ident
    finally:
        cur.unregister("ingest_batches")
    cur.execute(f"CREATE OR REPLACE TEMP VIEW {q(ROWS_VIEW)} AS SELECT * FROM {q(STAGE_TABLE)}")  # identifiers only, via q = quote_ident
    return staged


def _record_batch(rows: list[list], schema):
    import pyarrow as pa

    columns = list(zip(*rows, strict=True))
    return pa.RecordBatch.from_arrays(
        [pa.array(columns[i], type=field.type) for i, field in enumerate(schema)], schema=schema
    )


def stage_csv(cur: duckdb.DuckDBPyConnection, path: Path, dialect: CsvDialect) -> Staged:
    """Read a CSV file with DuckDB into the staging table; fall back to Python's csv reader
    when record positions cannot be mapped to lines (see module docstring)."""
    width = len(dialect.headers)
    names = [f"c{i}" for i in range(width)]
    try:
        cur.execute(
            f"""CREATE OR REPLACE TEMP TABLE {q(STAGE_TABLE)} AS
            SELECT * FROM read_csv(?, encoding = ?, delim = ?, quote = ?, escape = ?, header = true,
                skip = ?, columns = ?, auto_detect = false, null_padding = false,
                store_rejects = true, rejects_table = 'ingest_csv_errors', rejects_scan = 'ingest_csv_scans')""",
            [str(path), dialect.encoding, dialect.delimiter, dialect.quote, dialect.escape,
             dialect.skip_rows, {name: "VARCHAR" for name in names}],
        )
    except duckdb.Error as exc:
        raise SegplanError(
            f"{path.name}: cannot read as CSV: {str(exc).splitlines()[0]}",
            hint="check the file is a text export with one header line",
        ) from exc
    # committed before its rowids are read: they are final (0-based) only once committed
    commit_staging(cur)
    good = cur.execute(f"SELECT count(*) FROM {q(STAGE_TABLE)}").fetchall()[0][0]
    # DuckDB's "line" counts records (and blank lines), one per line in a file without
    # quoted line breaks; one structural reject per line even if it has several errors.
    cur.execute(
        f"""CREATE OR REPLACE TEMP TABLE {q(ROW_ADJUST_TABLE)} AS
        -- one row per rejected line: its line and how many good records come before it
        WITH rejected_lines AS (
            SELECT line, min(error_type) AS error_type, arg_min(column_name, error_type) AS column_name,
                   min(csv_line) AS csv_line
            FROM {q(CSV_ERRORS_TABLE)} GROUP BY line
        )
        SELECT line, error_type, column_name, csv_line,
               row_number() OVER (ORDER BY line) AS rejects_so_far,
               line - ? - row_number() OVER (ORDER BY line) AS good_before
        FROM rejected_lines"""
        , [dialect.skip_rows + 1],
    )
    rejected = cur.execute(f"SELECT count(*) FROM {q(ROW_ADJUST_TABLE)}").fetchall()[0][0]
    header_line = dialect.skip_rows + 1
    if header_line + good + rejected != dialect.physical_lines:
        return _stage_csv_python(cur, path, dialect)
    cur.execute(
        f"""CREATE OR REPLACE TEMP TABLE {q(STRUCTURAL_TABLE)} AS
        -- one row per rejected line; the reader's column names are ours (c0, c1, ...): back
        -- to the file's headers
        SELECT line AS source_row, list_extract(?, TRY_CAST(column_name[2:] AS BIGINT) + 1),
               left(trim(csv_line, chr(13) || chr(10)), 500),
               coalesce(list_extract(?, list_position(?, error_type)), 'malformed line: ' || lower(error_type))
        FROM {q(ROW_ADJUST_TABLE)}""",
        [dialect.headers, list(_CSV_ERROR_REASONS.values()), list(_CSV_ERROR_REASONS)],
    )
    # the line of good record k (0-based rowid): header line + k + 1 + rejected lines before it.
    # (a view cannot take parameters: the header line sits in a one-row table)
    # the rowids of the committed stage count records in file order; counted from the first one
    cur.execute(
        f"""CREATE OR REPLACE TEMP TABLE {q(HEADER_LINE_TABLE)} AS
        SELECT CAST(? AS BIGINT) AS header_line, min(rowid) AS first_rowid, max(rowid) AS last_rowid
        FROM {q(STAGE_TABLE)}""",
        [header_line],
    )
    first_rowid, last_rowid = cur.execute(f"SELECT first_rowid, last_rowid FROM {q(HEADER_LINE_TABLE)}").fetchall()[0]
    if good and last_rowid - first_rowid + 1 != good:
        return _stage_csv_python(cur, path, dialect)
    if rejected:
        cur.execute(
            f"""CREATE OR REPLACE TEMP VIEW {q(ROWS_VIEW)} AS
            SELECT s.*, s.rowid - h.first_rowid + h.header_line + 1 + coalesce(a.rejects_so_far, 0) AS source_row
            FROM {q(STAGE_TABLE)} s CROSS JOIN {q(HEADER_LINE_TABLE)} h
            ASOF LEFT JOIN (
                -- one row per run of adjacent rejected lines: all of them precede later records
                SELECT good_before, max(rejects_so_far) AS rejects_so_far FROM {q(ROW_ADJUST_TABLE)} GROUP BY good_before
            ) a ON s.rowid - h.first_rowid >= a.good_before"""
        )
    else:
        cur.execute(
            f"""CREATE OR REPLACE TEMP VIEW {q(ROWS_VIEW)} AS
            SELECT s.*, s.rowid - h.first_rowid + h.header_line + 1 AS source_row
            FROM {q(STAGE_TABLE)} s CROSS JOIN {q(HEADER_LINE_TABLE)} h"""
        )
    return Staged(dialect.headers, "csv", good + rejected, {**dialect.options(), "csv_parser": "duckdb"})


def _stage_csv_python(cur: duckdb.DuckDBPyConnection, path: Path, dialect: CsvDialect) -> Staged:
    """Read the CSV with Python's csv module, streaming Arrow batches into the staging table."""
    width = len(dialect.headers)
    structural: list[StructuralRow] = []

    def records() -> Iterator[tuple[int, list[str] | None, str | None]]:
        """(first line, fields or None, the raw text when the record is malformed)."""
        with path.open("r", encoding=_python_codec(dialect.encoding), newline="") as fh:
            for _ in range(dialect.skip_rows + 1):
                fh.readline()
            current: list[str] = []  # the lines of the record being read, for a reject's value

            def lines() -> Iterator[str]:
                for text in fh:
                    current.append(text)
                    yield text

            reader = csv.reader(lines(), delimiter=dialect.delimiter, quotechar=dialect.quote,
                                doublequote=dialect.escape == dialect.quote, strict=True,
                                escapechar=None if dialect.escape == dialect.quote else dialect.escape)
            offset = dialect.skip_rows + 1
            last_line = 0
            while True:
                start = offset + last_line + 1
                current.clear()
                try:
                    record = next(reader)
                except StopIteration:
                    return
                except csv.Error:
                    last_line = reader.line_num
                    yield start, None, "".join(current)[:500].strip("\r\n")
                    continue
                last_line = reader.line_num
                yield start, record, None

    def good_rows() -> Iterator[list]:
        for line, record, raw in records():
            if record is None:
                structural.append((line, None, raw or "", "malformed line: bad quoting"))
                continue
            if not record or (len(record) == 1 and not record[0].strip()):
                continue  # blank line: not a record
            if len(record) != width:
                if len(record) < width:
                    structural.append((line, dialect.headers[len(record)], dialect.delimiter.join(record)[:500],
                                       "malformed line: too few columns"))
                else:
                    structural.append((line, None, dialect.delimiter.join(record)[:500],
                                       "malformed line: too many columns"))
                continue
            yield [*[v if v != "" else None for v in record], line]

    good = create_stage_from_rows(cur, width, good_rows())
    create_structural(cur, structural)
    return Staged(dialect.headers, "csv", good + len(structural), {**dialect.options(), "csv_parser": "python"})


def parquet_headers(cur: duckdb.DuckDBPyConnection, path: Path) -> list[str]:
    try:
        rel = cur.execute("SELECT * FROM read_parquet(?) LIMIT 0", [str(path)])
    except duckdb.Error as exc:
        raise SegplanError(
            f"{path.name}: cannot read as Parquet: {str(exc).splitlines()[0]}",
            hint="the file may be damaged or not Parquet; export it again",
        ) from exc
    headers = [d[0] for d in rel.description]
    rel.fetchall()  # finish the result: the cursor may be the thread's shared one
    return headers


def stage_parquet(cur: duckdb.DuckDBPyConnection, path: Path) -> Staged:
    """Copy a Parquet file into the staging table, every value as text; row = record number."""
    headers = parquet_headers(cur, path)
    if not headers:
        raise SegplanError(f"{path.name}: the Parquet file has no columns")
    names = [f"c{i}" for i in range(len(headers))]
    # columns by position, renamed to ours; file_row_number comes last and is 0-based
    as_text = ", ".join(f"CAST({q(n)} AS VARCHAR) AS {q(n)}" for n in names)
    renamed = ", ".join(q(n) for n in [*names, "file_row_number"])
    try:
        cur.execute(
            f"""CREATE OR REPLACE TEMP TABLE {q(STAGE_TABLE)} AS
            SELECT {as_text}, {q('file_row_number')} + 1 AS {q('source_row')}
            FROM read_parquet(?, file_row_number = true) AS t({renamed})""",
            [str(path)],
        )
    except duckdb.Error as exc:
        raise SegplanError(
            f"{path.name}: cannot read as Parquet: {str(exc).splitlines()[0]}",
            hint="the file may be damaged; export it again",
        ) from exc
    cur.execute(f"CREATE OR REPLACE TEMP VIEW {q(ROWS_VIEW)} AS SELECT * FROM {q(STAGE_TABLE)}")  # identifiers only, via q = quote_ident
    create_structural(cur, [])
    rows = cur.execute(f"SELECT count(*) FROM {q(STAGE_TABLE)}").fetchall()[0][0]
    return Staged(headers, "parquet", rows, {})
