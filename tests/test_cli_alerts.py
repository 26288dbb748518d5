"""`segplan alerts`: rule breaks and drift alerts as CSV, recording audited, errors as one line."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from conftest import copy_of
from core.alerts import control_alerts
from core.cli import app
from core.cli_alerts import DRIFT_COLUMNS, RULE_COLUMNS
from core.store import Store
from core.versions import assignments, run_segmentation

runner = CliRunner()


def invoke(db: Path, *args: str):
    return runner.invoke(app, ["--db", str(db), *args])


def error_line(result) -> str:
    assert result.exit_code == 1, result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("segplan: error: "), result.output
    return lines[0]


@pytest.fixture
def db(tiny_sample_file: Path, tmp_path: Path) -> Path:
    """The tiny sample with version 1 (product, k-means, 2 segments), version 2 (ABC x XYZ) and
    version 3 (demand pattern, no boundary distance)."""
    path = copy_of(tiny_sample_file, tmp_path)
    with Store(path) as store:
        run_segmentation(store, "product", "kmeans", k=2, min_share=0)
        run_segmentation(store, "product", "abc_xyz")
        run_segmentation(store, "product", "demand_pattern")
    return path


def test_rule_breaks_as_csv(db: Path, tmp_path: Path):
    out = tmp_path / "rules.csv"
    result = invoke(db, "alerts", "--version", "1", "--out", str(out), "--json")
    assert result.exit_code == 0, result.output
    frame = pd.read_csv(out)
    assert list(frame.columns) == list(RULE_COLUMNS)
    with Store(db) as store:
        expected = control_alerts(store, 1, "week")
    assert len(frame) == len(expected) > 0
    assert set(frame["kpi"]) <= {"otif", "on_time", "fill_rate", "order_cycle_time_days"}
    assert json.loads(result.output) == {"rows": len(frame), "segments": frame["segment"].nunique(), "out": str(out)}
    monthly = invoke(db, "alerts", "--version", "1", "--bucket", "month", "--last-periods", "3", "--out", str(out))
    assert monthly.exit_code == 0, monthly.output
    assert pd.read_csv(out)["period"].nunique() <= 3


def test_drift_recorded_with_an_audit_event(db: Path, tmp_path: Path):
    with Store(db) as store:
        saved = assignments(store, 1)
        moved = saved[saved["segment"] == 0].sort_values("boundary_margin")["product_id"].iloc[15]
        typical_other = saved[saved["segment"] == 1].sort_values("distance_own")["product_id"].iloc[0]
        with store.transaction() as cur:
            cur.execute("DELETE FROM orders WHERE product_id = ?", [moved])
            cur.execute("INSERT INTO orders SELECT * REPLACE (? AS product_id, order_id || '-moved' AS order_id) "
                        "FROM orders WHERE product_id = ?", [moved, typical_other])
    out = tmp_path / "drift.csv"
    result = invoke(db, "alerts", "--version", "1", "--kind", "drift", "--record", "--out", str(out), "--json")
    assert result.exit_code == 0, result.output
    frame = pd.read_csv(out)
    assert list(frame.columns) == ["product_id", *DRIFT_COLUMNS]
    assert list(frame["product_id"]) == [moved] and list(frame["change"]) == ["raised"]
    assert json.loads(result.output)["recorded"] == 1
    again = invoke(db, "alerts", "--version", "1", "--kind", "drift", "--record", "--out", str(out), "--json")
    assert json.loads(again.output)["recorded"] == 0
    assert pd.read_csv(out)["change"].isna().all()  # still on, raised earlier
    with Store(db) as store:
        assert store.cursor().execute("SELECT count(*) FROM audit_log WHERE action = 'record_alerts'").fetchone()[0] == 1


@pytest.mark.parametrize(("args", "message"), [
    (["--out", "x.csv"], "--version ID is missing"),
    (["--version", "1"], "--out FILE.csv is missing"),
    (["--version", "1", "--kind", "margin", "--out", "x.csv"], "--kind 'margin' is unknown"),
    (["--version", "1", "--bucket", "day", "--out", "x.csv"], "--bucket 'day' is unknown"),
    (["--version", "1", "--record", "--out", "x.csv"], "--record goes with --kind drift"),
    (["--version", "1", "--last-periods", "1", "--out", "x.csv"], "at least 2 periods"),
    (["--version", "3", "--kind", "drift", "--out", "x.csv"], "Drift alerts need a clustering version"),
    (["--version", "9", "--out", "x.csv"], "version 9 does not exist"),
])
def test_problems_are_one_line_and_write_nothing(db: Path, tmp_path: Path, monkeypatch, args, message):
    monkeypatch.chdir(tmp_path)
    line = error_line(invoke(db, "alerts", *args))
    assert message in line
    assert not (tmp_path / "x.csv").exists()
