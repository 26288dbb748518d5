"""KPIs on the real USAID SCMS delivery history (../shared/data; skipped when absent).

The on-time share segplan reports over all lines must equal the share computed here
independently with pandas from the raw file's own scheduled and delivered dates, and the one
stated in the dataset's SOURCE.txt (9,138 of 10,324 lines = 88.512 %).
"""

from __future__ import annotations

import json

import pandas as pd
import pytest
from typer.testing import CliRunner

from core.cli import app
from core.ingest import ingest_file, read_headers, resolve_mapping
from core.kpi import segment_kpis
from core.store import Store
from core.versions import run_segmentation
from tests.conftest import shared_file

pytestmark = pytest.mark.realdata

SCMS = ("usaid_scms", "Supply_Chain_Shipment_Pricing_Data.csv")
#: as in tests/test_ingest_realdata.py: countries are the customers, item descriptions the products
SCMS_OVERRIDES = {
    "country": "customer_id", "item description": "product_id", "delivery recorded date": "order_date",
    "id": "line_number",
}


def _on_time_by_pandas() -> tuple[int, int]:
    """(lines delivered on or before the scheduled date, lines with both dates), from the raw file."""
    frame = pd.read_csv(shared_file(*SCMS), dtype=str, keep_default_na=False)
    scheduled = pd.to_datetime(frame["scheduled delivery date"], format="%d-%b-%y", errors="coerce")
    delivered = pd.to_datetime(frame["delivered to client date"], format="%d-%b-%y", errors="coerce")
    both = scheduled.notna() & delivered.notna()
    return int((both & (delivered <= scheduled)).sum()), int(both.sum())


@pytest.fixture(scope="module")
def scms(tmp_path_factory):
    path = shared_file(*SCMS)
    db = tmp_path_factory.mktemp("kpi_realdata") / "scms.duckdb"
    with Store(db) as store:
        mapping = resolve_mapping("orders", read_headers(path), SCMS_OVERRIDES)
        result = ingest_file(store, "orders", path, mapping=mapping)
        assert result.rows_loaded == 10_324
        version = run_segmentation(store, "product", "abc_xyz", bucket="month").version_id
    return db, version


def test_on_time_share_over_all_lines_matches_the_raw_file(scms):
    db, version = scms
    on_time, measured = _on_time_by_pandas()
    assert (on_time, measured) == (9_138, 10_324)  # SOURCE.txt
    with Store(db) as store:
        kpis = segment_kpis(store, version, "month")
    assert kpis["lines"].sum() == 10_324
    assert (kpis["on_time_lines"].sum(), kpis["on_time_base_lines"].sum()) == (on_time, measured)
    share = kpis["on_time_lines"].sum() / kpis["on_time_base_lines"].sum()
    assert share == pytest.approx(on_time / measured)
    assert round(100 * share, 3) == 88.512  # SOURCE.txt
    # the file has no delivered quantity: OTIF and fill rate are unmeasured, not 0
    assert kpis["otif_base_lines"].sum() == 0 and kpis["otif"].isna().all() and kpis["fill_rate"].isna().all()


def test_kpi_command_on_the_real_file(scms, tmp_path):
    db, version = scms
    out = tmp_path / "kpi.csv"
    result = CliRunner().invoke(app, ["--db", str(db), "kpi", "--version", str(version), "--bucket", "month",
                                      "--out", str(out), "--json"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    frame = pd.read_csv(out)
    assert summary["rows"] == len(frame) and frame["lines"].sum() == 10_324
    assert frame["on_time_lines"].sum() / frame["on_time_base_lines"].sum() == pytest.approx(9_138 / 10_324)
    # no inventory snapshots in this file: turns are empty and a note says so
    assert frame["inventory_turns"].isna().all()
    assert any("no inventory snapshots" in note for note in summary["notes"])
    # forecast accuracy for the latest 3 complete months, at most 1 (it can fall below 0)
    scored = frame.dropna(subset=["forecast_accuracy"])
    assert 1 <= scored["period"].nunique() <= 3 and (scored["forecast_accuracy"] <= 1).all()
