"""`segplan kpi` and `segplan cost-to-serve`: the contracts scripts rely on, on the tiny sample."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pandas as pd
import pytest

from core.kpi import segment_kpis
from core.store import Store
from core.versions import run_segmentation
from tests.test_cli_policy import error_line, invoke

KPI_LEAD = ["segment", "period", "lines", "otif", "fill_rate", "on_time"]
KPI_REST = ["segment_label", "otif_base_lines", "otif_lines", "on_time_base_lines", "on_time_lines", "ordered_quantity",
            "filled_quantity", "delivered_lines", "order_cycle_time_days", "service_level", "otif_target",
            "otif_status", "fill_rate_target", "fill_rate_status", "on_time_target", "on_time_status",
            "forecast_items", "forecast_demand", "forecast_abs_error", "forecast_accuracy", "cost_of_goods_sold",
            "inventory_snapshots", "average_inventory_value", "inventory_turns", "inventory_turns_annualised"]
STATUSES = {"on_target", "at_risk", "off_target", "no_target"}


@pytest.fixture(scope="module")
def tiny_file(tiny_sample_file, tmp_path_factory) -> tuple[Path, dict[str, int]]:
    path = tmp_path_factory.mktemp("cli_monitor") / "tiny.duckdb"
    shutil.copy(tiny_sample_file, path)
    with Store(path) as store:
        ids = {"product": run_segmentation(store, "product", "abc_xyz").version_id,
               "customer": run_segmentation(store, "customer", "kmeans", k=2).version_id}
    return path, ids


# -- kpi -------------------------------------------------------------------------------------------
def test_kpi_columns_and_values_match_the_core(tiny_file, tmp_path):
    db, ids = tiny_file
    out = tmp_path / "kpi.csv"
    result = invoke(db, "kpi", "--version", str(ids["product"]), "--out", str(out))
    assert result.exit_code == 0, result.output
    frame = pd.read_csv(out, dtype={"segment": str})
    assert list(frame.columns) == KPI_LEAD + KPI_REST
    with Store(db) as store:
        core = segment_kpis(store, ids["product"], "week")
    assert len(frame) == len(core)
    assert frame["period"].iloc[0] == core["period"].iloc[0].date().isoformat()
    pd.testing.assert_series_equal(frame["otif"], core["otif"], check_names=False)
    assert frame["lines"].sum() == core["lines"].sum()
    for kpi in ("otif", "fill_rate", "on_time"):
        assert set(frame[f"{kpi}_status"]) <= STATUSES
        # the target is the segment's service level
        assert (frame[f"{kpi}_target"].dropna() == frame["service_level"].dropna()).all()
    # forecast accuracy in the latest 12 complete weeks only; turns from the sample's weekly stock
    scored = frame.dropna(subset=["forecast_accuracy"])
    assert 1 <= scored["period"].nunique() <= 12 and scored["period"].min() > frame["period"].min()
    assert (scored["forecast_accuracy"] == 1 - scored["forecast_abs_error"] / scored["forecast_demand"]).all()
    assert frame["inventory_turns"].notna().mean() > 0.9
    assert "written to" in result.output


def test_kpi_json_month_and_customer_version_notes(tiny_file, tmp_path):
    db, ids = tiny_file
    out = tmp_path / "kpi.csv"
    result = invoke(db, "kpi", "--version", str(ids["customer"]), "--bucket", "month", "--out", str(out), "--json")
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert list(summary) == ["rows", "segments", "periods", "version", "bucket", "notes", "out"]
    frame = pd.read_csv(out)
    assert (summary["rows"], summary["segments"], summary["periods"]) == (
        len(frame), frame["segment"].nunique(), frame["period"].nunique())
    assert summary["bucket"] == "month" and summary["out"] == str(out)
    # a customer version: no forecast accuracy or turns, and the notes say why
    assert frame["forecast_accuracy"].isna().all() and frame["inventory_turns"].isna().all()
    assert len(summary["notes"]) == 2 and "stock is not held per customer" in summary["notes"][1]
    assert (pd.to_datetime(frame["period"]).dt.day == 1).all()


def test_kpi_forecast_periods_zero_skips_forecast_accuracy(tiny_file, tmp_path):
    db, ids = tiny_file
    out = tmp_path / "kpi.csv"
    result = invoke(db, "kpi", "--version", str(ids["product"]), "--forecast-periods", "0", "--out", str(out))
    assert result.exit_code == 0, result.output
    assert pd.read_csv(out)["forecast_accuracy"].isna().all()


@pytest.mark.parametrize("args, words", [
    (["--version", "999"], "version 999 does not exist"),
    (["--version", "{product}", "--bucket", "day"], "--bucket 'day' is unknown"),
    (["--version", "{product}", "--forecast-periods", "-1"], "--forecast-periods -1 is below 0"),
    (["--version", "{product}", "--no-out"], "--out FILE.csv is missing"),
    (["--out-only"], "--version ID is missing"),
])
def test_kpi_errors_are_one_line_and_write_nothing(tiny_file, tmp_path, args, words):
    fails_writing_nothing(tiny_file, tmp_path, "kpi", args, words)


def fails_writing_nothing(tiny_file, tmp_path: Path, command: str, args: list[str], words: str) -> None:
    """``args`` ({product} is the product version) + --out, unless "--no-out" says to leave it out
    or "--out-only" to give nothing else: one error line with ``words``, no file."""
    db, ids = tiny_file
    out = tmp_path / "out.csv"
    args = [a.format(**ids) for a in args]
    if "--no-out" in args:
        args.remove("--no-out")
    elif "--out-only" in args:
        args = ["--out", str(out)]
    else:
        args += ["--out", str(out)]
    assert words in error_line(invoke(db, command, *args))
    assert not out.exists()


# -- cost-to-serve -------------------------------------------------------------------------------
def _activities(frame: pd.DataFrame) -> list[str]:
    """The activity columns: between the key (and segment) columns and cost_to_serve."""
    end = list(frame.columns).index("cost_to_serve")
    return [c for c in frame.columns[:end] if c.startswith("cost_")]


@pytest.mark.parametrize("level", ["customer", "product"])
def test_cost_to_serve_columns_add_up(tiny_file, tmp_path, level):
    db, _ = tiny_file
    out = tmp_path / "cts.csv"
    result = invoke(db, "cost-to-serve", "--level", level, "--out", str(out))
    assert result.exit_code == 0, result.output
    frame = pd.read_csv(out)
    activities = _activities(frame)
    # the sample's rates: order handling, invoicing, picking, handling, packing, transport
    assert activities == ["cost_handling", "cost_invoicing", "cost_order_handling", "cost_packing", "cost_picking",
                          "cost_transport"]
    assert list(frame.columns[:len(activities) + 4]) == [f"{level}_id", *activities, "cost_to_serve", "gross_margin",
                                                         "profit"]
    assert frame[f"{level}_id"].is_unique
    assert frame["cost_to_serve"].to_numpy() == pytest.approx(frame[activities].sum(axis=1).to_numpy())
    assert frame["profit"].to_numpy() == pytest.approx((frame["gross_margin"] - frame["cost_to_serve"]).to_numpy())
    # picking is 0.85 per demand line
    assert frame["cost_picking"].sum() == pytest.approx(0.85 * frame["order_lines"].sum())


def test_cost_to_serve_default_level_json_and_segments(tiny_file, tmp_path):
    db, ids = tiny_file
    out = tmp_path / "cts.csv"
    result = invoke(db, "cost-to-serve", "--out", str(out), "--json")
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert list(summary) == ["rows", "level", "currency", "cost_to_serve", "gross_margin", "profit", "out"]
    frame = pd.read_csv(out)
    assert frame.columns[0] == "customer_id" and summary["level"] == "customer" and summary["currency"] == "EUR"
    assert summary["rows"] == len(frame)
    assert summary["profit"] == pytest.approx(frame["profit"].sum(), abs=0.01)

    result = invoke(db, "cost-to-serve", "--level", "product", "--version", str(ids["product"]), "--out", str(out),
                    "--json")
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert list(summary) == ["rows", "segments", "level", "currency", "cost_to_serve", "gross_margin", "profit",
                             "version", "out"]
    frame = pd.read_csv(out)
    assert list(frame.columns[:3]) == ["product_id", "segment", "segment_label"]
    assert summary["segments"] == frame["segment"].nunique(dropna=False) and summary["version"] == ids["product"]


@pytest.mark.parametrize("args, words", [
    (["--level", "warehouse"], "--level 'warehouse' is unknown"),
    (["--version", "999"], "version 999 does not exist"),
    (["--level", "customer", "--version", "{product}"], "segments at level 'product', not 'customer'"),
    (["--no-out"], "--out FILE.csv is missing"),
])
def test_cost_to_serve_errors_are_one_line_and_write_nothing(tiny_file, tmp_path, args, words):
    fails_writing_nothing(tiny_file, tmp_path, "cost-to-serve", args, words)
