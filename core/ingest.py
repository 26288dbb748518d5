"""Ingest: read CSV, Parquet or XLSX into the data model, mapping columns and keeping every rejected row.

(Contract stub: being implemented. Signatures below are the agreed API.)
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from core.store import Store

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

    def as_json(self) -> dict[str, int]:
        return {"rows_read": self.rows_read, "rows_loaded": self.rows_loaded, "rows_rejected": self.rows_rejected}


def read_headers(path: str | Path) -> list[str]:
    """The column headers of a CSV, Parquet or XLSX file, as written in the file."""
    raise NotImplementedError


def preview(path: str | Path, rows: int = 20) -> pd.DataFrame:
    """The first rows of a file as text, for the mapping screen."""
    raise NotImplementedError


def suggest_mapping(table: str, headers: list[str], store: Store | None = None, source_key: str | None = None) -> dict[str, str]:
    """Source header -> data-model column: a remembered mapping for source_key first, else by name and synonym."""
    raise NotImplementedError


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
) -> IngestResult:
    """Load one file into a data-model table in one transaction; rejects go to ingest_rejects."""
    raise NotImplementedError


def rejects(store: Store, run_id: int) -> pd.DataFrame:
    """The rejected rows of one run: source_name, row_number, column_name, value, reason."""
    raise NotImplementedError
