"""Ingest on the real public datasets of ../shared/data (skipped when absent).

Expected counts are computed here independently with pandas from the same files, or taken
from the datasets' SOURCE.txt.
"""

from __future__ import annotations

import pandas as pd
import pytest

from core.ingest import DEFAULT_NON_PRODUCT_CODES, ingest_file, read_headers, rejects, resolve_mapping
from tests.conftest import shared_file

pytestmark = pytest.mark.realdata

RETAIL = ("uci_online_retail_subset", "online_retail_sample40k.csv")
RETAIL_XLSX = ("uci_online_retail_subset", "Online Retail.xlsx")


def _retail_expectations(allow_returns: bool) -> dict[str, object]:
    """Each rule applied with pandas to the CSV (the same rows as the XLSX)."""
    frame = pd.read_csv(shared_file(*RETAIL), dtype=str, keep_default_na=False)
    quantity = frame["Quantity"].astype(float)
    cancelled = frame["InvoiceNo"].str.match(r"^C[0-9]+$")
    negative = quantity < 0
    no_customer = frame["CustomerID"].str.strip() == ""
    non_product = frame["StockCode"].str.strip().str.upper().isin(DEFAULT_NON_PRODUCT_CODES)
    problems = no_customer | non_product
    if not allow_returns:
        problems |= cancelled | negative
    clean = frame[~problems].copy()
    # duplicate key: every mapped column, dates without their time, ids without '.0'
    clean["day"] = pd.to_datetime(clean["InvoiceDate"]).dt.date
    clean["customer"] = clean["CustomerID"].str.replace(r"\.0$", "", regex=True)
    clean["qty"] = clean["Quantity"].astype(float)
    clean["price"] = clean["UnitPrice"].astype(float)
    duplicated = clean.duplicated(subset=["InvoiceNo", "day", "customer", "StockCode", "qty", "price"])
    loaded = clean[~duplicated]
    return {
        "rows": len(frame),
        "cancelled": int(cancelled.sum()),
        "negative": int(negative.sum()),
        "no_customer": int(no_customer.sum()),
        "non_product": int(non_product.sum()),
        "duplicates": int(duplicated.sum()),
        "loaded": len(loaded),
        "loaded_negative": int((loaded["qty"] < 0).sum()),
    }


@pytest.mark.parametrize("parts", [RETAIL, RETAIL_XLSX], ids=["csv", "xlsx"])
def test_online_retail_rejects_match_pandas(store, parts):
    expected = _retail_expectations(allow_returns=False)
    assert (expected["cancelled"], expected["negative"], expected["no_customer"]) == (674, 778, 10_057)  # SOURCE.txt
    result = ingest_file(store, "orders", shared_file(*parts))
    assert result.rows_read == 40_000
    assert result.reject_reasons == {
        "return: cancelled order": expected["cancelled"],
        "return: negative quantity": expected["negative"],
        "missing key": expected["no_customer"],
        "non-product code": expected["non_product"],
        "duplicate line": expected["duplicates"],
    }
    assert result.rows_loaded == expected["loaded"]
    assert result.rows_read == result.rows_loaded + result.rows_rejected
    frame = rejects(store, result.run_id)
    assert set(frame.loc[frame["reason"] == "missing key", "column_name"]) == {"customer_id"}
    assert frame["row_number"].is_monotonic_increasing


def test_online_retail_csv_and_xlsx_reject_the_same_rows(store):
    csv_run = ingest_file(store, "orders", shared_file(*RETAIL), mode="replace")
    csv_rejects = rejects(store, csv_run.run_id)[["row_number", "column_name", "reason"]]
    xlsx_run = ingest_file(store, "orders", shared_file(*RETAIL_XLSX), mode="replace")
    xlsx_rejects = rejects(store, xlsx_run.run_id)[["row_number", "column_name", "reason"]]
    pd.testing.assert_frame_equal(csv_rejects, xlsx_rejects)


def test_online_retail_allow_returns_keeps_returns(store):
    expected = _retail_expectations(allow_returns=True)
    result = ingest_file(store, "orders", shared_file(*RETAIL), allow_returns=True)
    assert not any(reason.startswith("return") for reason in result.reject_reasons)
    assert result.rows_loaded == expected["loaded"]
    negative = store.cursor().execute("SELECT count(*) FROM orders WHERE quantity < 0").fetchone()[0]
    assert negative == expected["loaded_negative"] > 0


SCMS = ("usaid_scms", "Supply_Chain_Shipment_Pricing_Data.csv")
SCMS_OVERRIDES = {
    "country": "customer_id", "item description": "product_id", "delivery recorded date": "order_date",
    "id": "line_number",
}


def test_scms_dates_and_text_in_optional_numbers(store):
    path = shared_file(*SCMS)
    mapping = resolve_mapping("orders", read_headers(path), SCMS_OVERRIDES)
    assert mapping["scheduled delivery date"] == "promised_date"
    assert mapping["delivered to client date"] == "delivered_date"
    assert mapping["weight (kilograms)"] == "weight_kg"
    result = ingest_file(store, "orders", path, mapping=mapping)
    assert (result.rows_read, result.rows_loaded, result.rows_rejected) == (10_324, 10_324, 0)
    assert result.options["date_formats"]["promised_date"] == "%d-%b-%y"
    on_time, quantity, value = store.cursor().execute(
        "SELECT count(*) FILTER (WHERE delivered_date <= promised_date), sum(quantity), round(sum(net_amount), 2) FROM orders"
    ).fetchone()
    assert (on_time, quantity, value) == (9_138, 189_265_090, 1_627_584_457.29)  # SOURCE.txt

    # weight: text notes are NULL with a warning, numbers load; decided by pandas independently
    frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    weight = frame["weight (kilograms)"].str.strip()
    numeric = pd.to_numeric(weight.str.replace(",", ""), errors="coerce")
    notes = weight.str.contains(r"[A-Za-z]")
    assert result.warnings == {"weight_kg": int(notes.sum())}
    assert int(notes.sum()) > 3000
    loaded_weights, weight_sum = store.cursor().execute("SELECT count(weight_kg), sum(weight_kg) FROM orders").fetchone()
    assert loaded_weights == int(numeric.notna().sum())
    assert weight_sum == pytest.approx(float(numeric.sum()))
    assert "Weight Captured Separately" in str(result.options["nulled_text_values"])


def test_superstore_totals_match_the_file(store):
    path = shared_file("superstore", "Sample - Superstore.csv")
    result = ingest_file(store, "orders", path)
    assert (result.rows_read, result.rows_loaded, result.rows_rejected) == (9_994, 9_994, 0)
    assert result.options["bom"] is True
    assert result.options["date_formats"] == {"order_date": "%m/%d/%Y", "ship_date": "%m/%d/%Y"}
    assert result.mapping["Row ID"] == "line_number" and result.mapping["Sales"] == "net_amount"
    sales, quantity, orders, first_day = store.cursor().execute(
        "SELECT sum(CAST(net_amount AS DECIMAL(18, 4))), sum(quantity), count(DISTINCT order_id), min(order_date)::VARCHAR FROM orders"
    ).fetchone()
    assert str(sales) == "2297200.8603"
    assert quantity == 37_873
    assert orders == 5_009
    assert first_day == "2016-01-03"
