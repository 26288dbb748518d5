"""`segplan explain --version ID --out FILE.csv`: per item, SHAP values for its own segment and the base value."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from core.cli import app
from core.sample import build_tiny_database
from core.store import Store

runner = CliRunner()


@pytest.fixture(scope="module")
def tiny_db(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("explain") / "tiny.duckdb"
    with Store(path) as store:
        build_tiny_database(store, seed=0)
    return path


def test_explain_writes_additive_shap_values_per_item(tiny_db: Path, tmp_path: Path):
    made = runner.invoke(app, ["--db", str(tiny_db), "segment", "--level", "product", "--method", "kmeans", "--k", "3",
                               "--features", "demand_mean,cv,adi,margin_pct", "--min-share", "0", "--json"])
    assert made.exit_code == 0, made.output
    version = json.loads(made.output)["version"]

    out = tmp_path / "explain.csv"
    result = runner.invoke(app, ["--db", str(tiny_db), "explain", "--version", str(version), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "fidelity" in result.output
    frame = pd.read_csv(out)
    shap_columns = [f"shap_{name}" for name in ("demand_mean", "cv", "adi", "margin_pct")]
    for column in ("product_id", "segment", "segment_label", "base_value", *shap_columns):
        assert column in frame.columns

    saved = runner.invoke(app, ["--db", str(tiny_db), "assignments", "--version", str(version), "--out", str(tmp_path / "a.csv")])
    assert saved.exit_code == 0, saved.output
    assigned = pd.read_csv(tmp_path / "a.csv")
    assert len(frame) == len(assigned)
    # Each item is explained for its own saved segment.
    merged = frame.merge(assigned, on="product_id", suffixes=("", "_saved"))
    assert (merged["segment"] == merged["segment_saved"]).all()
    # SHAP values plus the base value add up to the surrogate's output for that segment.
    np.testing.assert_allclose(frame["base_value"] + frame[shap_columns].sum(axis=1), frame["model_output"], atol=1e-6)


def test_explain_unknown_version_is_one_line(tiny_db: Path, tmp_path: Path):
    result = runner.invoke(app, ["--db", str(tiny_db), "explain", "--version", "999", "--out", str(tmp_path / "x.csv")])
    assert result.exit_code == 1
    assert "version 999 does not exist" in result.output
    assert not (tmp_path / "x.csv").exists()
