"""Helpers shared by the ingest tests: write a file, read a run's rejects, check the invariant."""

from __future__ import annotations

from pathlib import Path

from core.ingest import IngestResult, rejects
from core.store import quote_ident


def write(path: Path, text: str, encoding: str = "utf-8") -> Path:
    """Write text in the given encoding (utf-8-sig and utf-16 add their BOM)."""
    path.write_bytes(text.encode(encoding))
    return path


def reject_rows(store, run_id: int) -> list[tuple[int, str | None, str | None, str]]:
    """The run's rejects as plain tuples (row, column, value, reason), NA as None."""
    frame = rejects(store, run_id)
    out = []
    for row in frame.itertuples(index=False):
        value = None if row.value is None or row.value != row.value else row.value
        column = None if row.column_name is None or row.column_name != row.column_name else row.column_name
        out.append((int(row.row_number), column, value, row.reason))
    return out


def check_invariant(store, result: IngestResult) -> None:
    """read = loaded + rejected, and the run row, the rejects and the loaded rows agree."""
    assert result.rows_read == result.rows_loaded + result.rows_rejected
    cur = store.cursor()
    run = cur.execute(
        "SELECT rows_read, rows_loaded, rows_rejected, status FROM ingest_runs WHERE run_id = ?", [result.run_id]
    ).fetchall()
    assert run == [(result.rows_read, result.rows_loaded, result.rows_rejected, "ok")]
    distinct_rejected = cur.execute(
        "SELECT count(DISTINCT row_number) FROM ingest_rejects WHERE run_id = ?", [result.run_id]
    ).fetchall()[0][0]
    assert distinct_rejected == result.rows_rejected
    loaded = cur.execute(
        f"SELECT count(*) FROM {quote_ident(result.table)} WHERE run_id = ?", [result.run_id]
    ).fetchall()[0][0]
    assert loaded == result.rows_loaded
