"""The Data page's mapping checks, without Streamlit drawing anything."""

from __future__ import annotations

from core.model import table_spec
from ui.mapping import NOT_MAPPED, check_mapping, prefill


def test_prefill_keeps_only_known_headers_and_columns():
    spec = table_spec("customers")
    suggestion = {"CustomerID": "customer_id", "Name": "customer_name", "Gone": "region", "Odd": "not_a_column"}
    assert prefill(spec, suggestion, ["CustomerID", "Name", "Odd"]) == {"customer_id": "CustomerID", "customer_name": "Name"}


def test_missing_required_and_doubled_headers_are_reported():
    spec = table_spec("orders")
    chosen = {"order_id": "Invoice", "order_date": "Date", "customer_id": NOT_MAPPED, "product_id": "Date", "quantity": "Qty"}
    check = check_mapping(spec, chosen)
    assert check.missing_required == ["customer_id"]
    assert check.doubled == {"Date": ["order_date", "product_id"]}
    assert not check.ok


def test_complete_mapping_is_ok_and_maps_header_to_column():
    spec = table_spec("cost_rates")
    check = check_mapping(spec, {"activity": "Activity", "driver": "Driver", "rate": "Rate", "currency": NOT_MAPPED})
    assert check.ok
    assert check.mapping == {"Activity": "activity", "Driver": "driver", "Rate": "rate"}
