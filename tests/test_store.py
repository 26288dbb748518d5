"""The store: path resolution, migrations, all-or-nothing writes, identifier whitelist."""

from __future__ import annotations

import subprocess
import sys

import pytest

from core.errors import SegplanError
from core.store import DEFAULT_DB_PATH, SCHEMA_VERSION, Store, quote_ident, resolve_db_path


def test_db_path_precedence(monkeypatch, tmp_path):
    monkeypatch.delenv("SEGPLAN_DB", raising=False)
    assert resolve_db_path(None) == DEFAULT_DB_PATH
    monkeypatch.setenv("SEGPLAN_DB", str(tmp_path / "env.duckdb"))
    assert resolve_db_path(None) == tmp_path / "env.duckdb"
    assert resolve_db_path(tmp_path / "flag.duckdb") == tmp_path / "flag.duckdb"


def test_new_file_is_migrated_and_reopens(tmp_path):
    path = tmp_path / "a.duckdb"
    with Store(path) as s:
        assert s.schema_version() == SCHEMA_VERSION
        assert s.table_counts() == {"orders": 0, "customers": 0, "products": 0, "cost_rates": 0, "inventory": 0}
    with Store(path) as s:  # a second open applies nothing twice
        assert s.schema_version() == SCHEMA_VERSION


def test_failed_write_changes_nothing(store):
    with pytest.raises(RuntimeError):
        with store.transaction() as cur:
            cur.execute("INSERT INTO customers (customer_id) VALUES ('C1')")
            raise RuntimeError("fails half way")
    assert store.table_counts()["customers"] == 0
    with store.transaction() as cur:
        cur.execute("INSERT INTO customers (customer_id) VALUES ('C1')")
    assert store.table_counts()["customers"] == 1


def test_newer_schema_is_refused(tmp_path):
    path = tmp_path / "b.duckdb"
    with Store(path) as s, s.transaction() as cur:
        cur.execute("UPDATE meta SET value = '999' WHERE key = 'schema_version'")
    with pytest.raises(SegplanError, match="newer than this segplan"):
        Store(path)


def test_quote_ident_accepts_only_known_names():
    assert quote_ident("orders") == '"orders"'
    assert quote_ident("my_feature", allowed={"my_feature"}) == '"my_feature"'
    with pytest.raises(SegplanError):
        quote_ident('x"; DROP TABLE orders; --')


def test_core_does_not_import_streamlit():
    code = "import sys, core.store, core.model, core.ingest, core.features, core.classify; sys.exit('streamlit' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code]).returncode == 0


def test_engine_reads_its_own_writes_inside_a_transaction(tmp_path):
    """Guard against DuckDB 2.0.0's regression: inside one transaction, an INSERT that adds no rows, a
    large INSERT, then another INSERT into the same table made the table read back as empty (the
    committed file was right, but ingest validates and copies inside its transaction). pyproject.toml
    excludes 2.0.0; this test fails on any version with the same fault."""
    import duckdb

    con = duckdb.connect(str(tmp_path / "engine.duckdb"))
    con.execute("CREATE TABLE source AS SELECT i, CASE WHEN i % 4 = 0 THEN NULL ELSE 'c' || i END AS c FROM range(700000) t(i)")
    con.execute("CREATE TABLE target (a BIGINT, b VARCHAR)")
    con.begin()
    con.execute("INSERT INTO target SELECT i, c FROM source WHERE false")
    con.execute("INSERT INTO target SELECT i, c FROM source WHERE c IS NULL")
    con.execute("INSERT INTO target SELECT i, c FROM source WHERE i % 7 = 0")
    assert con.execute("SELECT count(*) FROM target").fetchall() == [(275000,)]
    con.commit()
    con.close()
