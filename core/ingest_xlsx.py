"""Ingest, step 1 for spreadsheets: read an XLSX sheet with python-calamine into the staging
table (see ingest_read), streaming Arrow batches; row = the spreadsheet's row number.

No DuckDB extension is needed (nothing may be INSTALLed): calamine reads the workbook, DuckDB
takes the rows from Arrow.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import duckdb

from core.errors import SegplanError
from core.ingest_read import Staged, StructuralRow, create_stage_from_rows, create_structural


def cell_text(value: object) -> str | None:
    """A spreadsheet cell as the text a CSV export would hold (integral numbers without '.0')."""
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        if value.is_integer() and abs(value) < 1e15:
            return str(int(value))
        return repr(value)
    if isinstance(value, dt.datetime):
        return value.isoformat(sep=" ")
    if isinstance(value, (dt.date, dt.time)):
        return value.isoformat()
    return str(value)


def _open_sheet(path: Path, sheet: str | int | None):
    from python_calamine import CalamineError, CalamineWorkbook

    try:
        workbook = CalamineWorkbook.from_path(str(path))
        if sheet is None:
            sheet = 0
        if isinstance(sheet, int):
            return workbook.get_sheet_by_index(sheet)
        return workbook.get_sheet_by_name(sheet)
    except (CalamineError, OSError, ValueError, IndexError) as exc:
        raise SegplanError(
            f"{path.name}: cannot read as a spreadsheet: {exc}",
            hint="save it again as .xlsx, or export it as CSV",
        ) from exc


def xlsx_rows(path: Path, sheet: str | int | None = None) -> Iterator[tuple[int, list[object]]]:
    """(spreadsheet row number, cells) for every non-empty row of the sheet's used range.

    calamine's ``iter_rows`` may begin at the sheet's first row or at the used range's first
    row; either way the first row with a value is the used range's first row (``start``),
    which anchors the numbering.
    """
    from python_calamine import CalamineError

    worksheet = _open_sheet(path, sheet)
    start_row = worksheet.start[0] + 1 if worksheet.start else 1
    anchor: int | None = None  # iteration offset of the first row with a value
    try:
        for offset, row in enumerate(worksheet.iter_rows()):
            if all(v is None or v == "" for v in row):
                continue
            if anchor is None:
                anchor = offset
            yield start_row + offset - anchor, row
    except CalamineError as exc:
        raise SegplanError(f"{path.name}: cannot read the spreadsheet: {exc}", hint="save it again as .xlsx") from exc


def xlsx_headers(path: Path, sheet: str | int | None = None) -> tuple[int, list[str]]:
    for number, row in xlsx_rows(path, sheet):
        headers = [cell_text(v) or "" for v in row]
        while headers and not headers[-1]:
            headers.pop()
        if any(headers):
            return number, [h.strip() for h in headers]
    raise SegplanError(f"{path.name}: the spreadsheet has no data", hint="check the first sheet holds the table")


def stage_xlsx(cur: duckdb.DuckDBPyConnection, path: Path, sheet: str | int | None = None) -> Staged:
    """Stream a sheet into the staging table in Arrow batches; row = spreadsheet row number."""
    header_row, headers = xlsx_headers(path, sheet)
    width = len(headers)
    structural: list[StructuralRow] = []

    def good_rows() -> Iterator[list]:
        for number, row in xlsx_rows(path, sheet):
            if number <= header_row:
                continue
            cells = [cell_text(v) for v in row]
            extra = [c for c in cells[width:] if c is not None and c.strip()]
            cells = (cells + [None] * width)[:width]
            if extra:
                structural.append((number, None, ", ".join(extra)[:500], "malformed line: too many columns"))
                continue
            if all(c is None or not c.strip() for c in cells):
                continue  # empty spreadsheet row: not a record
            yield [*cells, number]

    rows = create_stage_from_rows(cur, width, good_rows())
    create_structural(cur, structural)
    rows += len(structural)
    return Staged(headers, "xlsx", rows, {"sheet": sheet if sheet is not None else 0, "header_row": header_row})
