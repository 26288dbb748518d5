"""The `segplan` command line: contracts that users' scripts rely on (commands, flags, --json keys, CSV columns)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from core.cli import app
from core.sample import TINY_SIZES, write_sample
from core.store import Store

runner = CliRunner()

ORDERS_CSV = """doc,when,who,what,how_many,price
1001,2025-01-06,C1,P1,10,2.5
1001,2025-01-06,C1,P2,5,4
1002,2025-01-14,C2,P1,-3,2.5
1003,not a date,C2,P1,4,2.5
1004,2025-02-03,C1,P1,8,2.5
"""


def invoke(*args: str):
    return runner.invoke(app, list(args))


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / "cli.duckdb"


def counts(db: Path) -> dict[str, int]:
    with Store(db) as store:
        return store.table_counts()


def test_help_lists_every_command():
    result = invoke("--help")
    assert result.exit_code == 0
    for command in ("init", "sample", "ingest", "runs", "rejects", "features", "classify"):
        assert command in result.output


def test_help_starts_fast_without_heavy_imports():
    code = "import sys; import core.cli; sys.exit(any(m in sys.modules for m in ('pandas', 'sklearn', 'streamlit')))"
    assert subprocess.run([sys.executable, "-c", code]).returncode == 0


def test_init_creates_database(db: Path):
    result = invoke("--db", str(db), "init")
    assert result.exit_code == 0, result.output
    assert db.exists()
    assert counts(db) == {"orders": 0, "customers": 0, "products": 0, "cost_rates": 0, "inventory": 0}


def test_ingest_with_map_and_json(tmp_path: Path, db: Path):
    source = tmp_path / "erp_orders.csv"
    source.write_text(ORDERS_CSV)
    result = invoke(
        "ingest", "orders", str(source), "--db", str(db), "--json",
        "--map", "doc=order_id", "--map", "when=order_date", "--map", "who=customer_id",
        "--map", "what=product_id", "--map", "how_many=quantity", "--map", "price=unit_price",
    )
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output)
    assert summary == {"rows_read": 5, "rows_loaded": 3, "rows_rejected": 2}
    assert counts(db)["orders"] == 3

    # The confirmed mapping is remembered for this source: no --map needed the second time.
    again = invoke("--db", str(db), "ingest", "orders", str(source), "--mode", "replace", "--allow-returns", "--json")
    assert again.exit_code == 0, again.output
    assert json.loads(again.output) == {"rows_read": 5, "rows_loaded": 4, "rows_rejected": 1}
    assert counts(db)["orders"] == 4

    rejects_csv = tmp_path / "rejects.csv"
    runs = invoke("--db", str(db), "runs")
    assert runs.exit_code == 0 and "erp_orders.csv" in runs.output
    first_run = int(runs.output.split()[0])
    result = invoke("--db", str(db), "rejects", "--run", str(first_run), "--out", str(rejects_csv))
    assert result.exit_code == 0, result.output
    rejected = pd.read_csv(rejects_csv)
    assert {"row_number", "column_name", "value", "reason"} <= set(rejected.columns)
    assert set(rejected["row_number"]) == {4, 5}  # header is line 1
    assert "not a date" in set(rejected["value"].astype(str))


def test_unloadable_file_exits_one_line_and_changes_nothing(tmp_path: Path, db: Path):
    invoke("--db", str(db), "init")
    missing = invoke("--db", str(db), "ingest", "orders", str(tmp_path / "nope.csv"))
    assert missing.exit_code == 1
    assert "nope.csv" in missing.output and len(missing.output.strip().splitlines()) == 1

    no_quantity = tmp_path / "no_qty.csv"
    no_quantity.write_text("order_id,order_date,customer_id,product_id\n1,2025-01-01,C1,P1\n")
    result = invoke("--db", str(db), "ingest", "orders", str(no_quantity), "--json")
    assert result.exit_code == 1
    assert "quantity" in result.output and "no_qty.csv" in result.output
    assert counts(db)["orders"] == 0

    bad_map = invoke("--db", str(db), "ingest", "orders", str(no_quantity), "--map", "order_id")
    assert bad_map.exit_code == 1 and "--map" in bad_map.output


def test_unknown_table_is_one_clear_line(tmp_path: Path, db: Path):
    result = invoke("--db", str(db), "ingest", "invoices", str(tmp_path / "x.csv"))
    assert result.exit_code == 1
    assert "unknown table 'invoices'" in result.output


@pytest.fixture(scope="module")
def sample_db(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("tiny_sample")
    write_sample(folder, seed=0, **TINY_SIZES)
    path = folder / "sample.duckdb"
    result = invoke("--db", str(path), "init", "--sample", "--sample-dir", str(folder))
    assert result.exit_code == 0, result.output
    assert "orders:" in result.output
    return path


@pytest.mark.parametrize("level,keys", [
    ("product", ["product_id"]), ("customer", ["customer_id"]), ("customer_product", ["customer_id", "product_id"]),
])
def test_features_csv_has_keys_first(sample_db: Path, tmp_path: Path, level: str, keys: list[str]):
    out = tmp_path / f"features_{level}.csv"
    result = invoke("--db", str(sample_db), "features", "--level", level, "--bucket", "month", "--out", str(out))
    assert result.exit_code == 0, result.output
    frame = pd.read_csv(out)
    assert list(frame.columns[: len(keys)]) == keys
    assert len(frame) > 0 and not frame.duplicated(keys).any()
    assert "revenue" in frame.columns


def test_classify_csv_columns_and_cutoffs(sample_db: Path, tmp_path: Path):
    out = tmp_path / "classes.csv"
    result = invoke("--db", str(sample_db), "classify", "--level", "product", "--measure", "quantity", "--out", str(out))
    assert result.exit_code == 0, result.output
    frame = pd.read_csv(out)
    for column in ("product_id", "abc", "xyz", "demand_pattern", "quantity", "cumulative_share", "cv", "adi", "cv2"):
        assert column in frame.columns
    assert set(frame["abc"]) <= {"A", "B", "C"} and set(frame["xyz"]) <= {"X", "Y", "Z"}

    # Tighter A cut-off: fewer A items.
    tight = tmp_path / "tight.csv"
    assert invoke("--db", str(sample_db), "classify", "--measure", "quantity", "--abc-cutoffs", "0.5,0.9", "--out", str(tight)).exit_code == 0
    assert (pd.read_csv(tight)["abc"] == "A").sum() < (frame["abc"] == "A").sum()

    bad = invoke("--db", str(sample_db), "classify", "--abc-cutoffs", "0.9", "--out", str(tight))
    assert bad.exit_code == 1 and "--abc-cutoffs" in bad.output


def test_console_script_runs(tmp_path: Path):
    exe = Path(sys.executable).with_name("segplan")
    if not exe.exists():
        pytest.skip("segplan console script not installed in this environment")
    result = subprocess.run([str(exe), "--db", str(tmp_path / "s.duckdb"), "init"], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert "schema version" in result.stdout
