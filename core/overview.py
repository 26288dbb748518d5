"""Read-only summaries of the database for the app's Home and Data pages.

What is loaded (first rows per table), the history of ingest runs, and a data version that
changes whenever a load changes the data, so that caches keyed on it refresh.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import pandas as pd

from core.model import table_spec
from core.store import LINEAGE_COLUMNS, Store, quote_ident

#: Columns of the ingest history shown to a user, in the order shown.
RUN_COLUMNS = (
    "run_id", "table_name", "source_name", "mode", "rows_read", "rows_loaded",
    "rows_rejected", "status", "message", "user_name", "started_at", "finished_at",
)


def data_version(store: Store) -> str:
    """A fingerprint of the data: last ingest run and rows per table.

    Row counts are part of it because writes outside ingest (tests, the sample builder) do not
    always leave a run behind.
    """
    cur = store.cursor()
    last_run = cur.execute("SELECT coalesce(max(run_id), 0) FROM ingest_runs").fetchone()[0]
    counts = store.table_counts()
    return f"{last_run}:" + ",".join(f"{table}={rows}" for table, rows in counts.items())


def ingest_runs(store: Store, limit: int = 20) -> pd.DataFrame:
    """The last ``limit`` ingest runs, newest first; one row per run."""
    columns = ", ".join(RUN_COLUMNS)
    return store.cursor().execute(
        f"SELECT {columns} FROM ingest_runs ORDER BY run_id DESC LIMIT ?", [limit]
    ).df()


def table_head(store: Store, table: str, rows: int = 20, run_id: int | None = None) -> pd.DataFrame:
    """The first ``rows`` rows of a data-model table in load order, data-model columns first;
    only those one ingest run loaded when ``run_id`` is given."""
    spec = table_spec(table)
    columns = [*spec.column_names, *(name for name, _ in LINEAGE_COLUMNS)]
    select = ", ".join(quote_ident(c) for c in columns)
    return store.cursor().execute(
        f"SELECT {select} FROM {quote_ident(table)} WHERE ? IS NULL OR run_id = ? "
        "ORDER BY run_id, source_row LIMIT ?",
        [run_id, run_id, rows],
    ).df()


@dataclass(frozen=True)
class OrdersSummary:
    """What the order history covers: its period and how many products and customers order."""

    first_order_date: dt.date | None
    last_order_date: dt.date | None
    products: int
    customers: int

    @property
    def weeks(self) -> int:
        if self.first_order_date is None or self.last_order_date is None:
            return 0
        return (self.last_order_date - self.first_order_date).days // 7 + 1


def orders_summary(store: Store) -> OrdersSummary:
    """Period and breadth of the order history (one row over all of orders)."""
    first, last, products, customers = store.cursor().execute(
        "SELECT min(order_date), max(order_date), count(DISTINCT product_id), count(DISTINCT customer_id) FROM orders"
    ).fetchone()
    return OrdersSummary(first, last, int(products), int(customers))
