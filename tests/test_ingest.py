"""Ingest rules on small hand-made files: every rule with its exact row numbers and reasons;
values, modes, atomicity, mapping. File formats and shapes: test_ingest_formats.py."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from core.errors import SegplanError
from core.ingest import (
    header_signature,
    ingest_file,
    parse_overrides,
    preview,
    read_headers,
    resolve_mapping,
    source_key_for,
    suggest_mapping,
)
from tests.ingest_support import check_invariant, reject_rows, write

RETAIL_HEADER = "InvoiceNo,StockCode,Quantity,InvoiceDate,UnitPrice,CustomerID\n"


# -- the Online Retail rules, line by line ----------------------------------------------------------


RETAIL_LINES = (
    RETAIL_HEADER
    + "536365,85123A,6,12/1/2010 8:26,2.55,17850\n"        # 2 ok
    + "536366,22633,6,12/1/2010 8:28,1.85,\n"              # 3 missing key customer_id
    + "C536379,D,-1,12/1/2010 9:41,27.50,14527\n"          # 4 cancelled + negative + non-product
    + "536367,84879,abc,12/1/2010 8:34,1.69,13047\n"       # 5 unparseable number
    + "536368,22960,3,13/13/2010,4.25,13047\n"             # 6 unparseable date
    + "536365,85123A,6,12/1/2010 8:26,2.55,17850\n"        # 7 duplicate of line 2
    + "536369,POST,1,12/2/2010 10:00,18.00,12583\n"        # 8 non-product code
    + '536370,21730," 1,000 ",12/2/2010 10:03,£4.25,17850\n'  # 9 ok: 1000 at 4.25
    + "536371,22086,-2,12/2/2010 10:05,2.55,17850\n"       # 10 return (negative quantity)
)


def test_retail_rules_exact_rows_and_reasons(store, tmp_path):
    path = write(tmp_path / "retail.csv", RETAIL_LINES)
    result = ingest_file(store, "orders", path)
    assert (result.rows_read, result.rows_loaded, result.rows_rejected) == (9, 2, 7)
    assert reject_rows(store, result.run_id) == [
        (3, "customer_id", None, "missing key"),
        (4, "product_id", "D", "non-product code"),
        (4, "order_id", "C536379", "return: cancelled order"),
        (4, "quantity", "-1", "return: negative quantity"),
        (5, "quantity", "abc", "unparseable number"),
        (6, "order_date", "13/13/2010", "unparseable date"),
        (7, "order_id,order_date,customer_id,product_id,quantity,unit_price",
         "536365 | 2010-12-01 | 17850 | 85123A | 6.0 | 2.55 (first on row 2)", "duplicate line"),
        (8, "product_id", "POST", "non-product code"),
        (10, "quantity", "-2", "return: negative quantity"),
    ]
    assert result.reject_reasons == {
        "duplicate line": 1, "missing key": 1, "non-product code": 2, "return: cancelled order": 1,
        "return: negative quantity": 2, "unparseable date": 1, "unparseable number": 1,
    }
    rows = store.cursor().execute(
        "SELECT source_row, order_id, product_id, quantity, unit_price, order_date::VARCHAR, customer_id, run_id "
        "FROM orders ORDER BY source_row"
    ).fetchall()
    assert rows == [
        (2, "536365", "85123A", 6.0, 2.55, "2010-12-01", "17850", result.run_id),
        (9, "536370", "21730", 1000.0, 4.25, "2010-12-02", "17850", result.run_id),
    ]
    assert result.options["date_formats"] == {"order_date": "%m/%d/%Y"}
    check_invariant(store, result)


def test_allow_returns_and_empty_non_product_codes_keep_those_lines(store, tmp_path):
    path = write(tmp_path / "retail.csv", RETAIL_LINES)
    result = ingest_file(store, "orders", path, allow_returns=True, non_product_codes=set())
    assert [r[0] for r in reject_rows(store, result.run_id)] == [3, 5, 6, 7]
    loaded = store.cursor().execute("SELECT source_row, quantity FROM orders ORDER BY source_row").fetchall()
    assert loaded == [(2, 6.0), (4, -1.0), (8, 1.0), (9, 1000.0), (10, -2.0)]
    check_invariant(store, result)


def test_progress_is_reported_in_order(store, tmp_path):
    path = write(tmp_path / "retail.csv", RETAIL_LINES)
    seen: list[tuple[float, str]] = []
    ingest_file(store, "orders", path, progress=lambda f, m: seen.append((f, m)))
    fractions = [f for f, _ in seen]
    assert fractions == sorted(fractions) and fractions[0] == 0.0 and fractions[-1] == 1.0
    assert any(m.startswith("validating") for _, m in seen) and any(m == "writing" for _, m in seen)


# -- dates, numbers, booleans ----------------------------------------------------------------------


def _orders_csv(tmp_path: Path, dates: list[str], name: str = "orders.csv") -> Path:
    lines = ["order_id,customer_id,product_id,quantity,order_date,promised_date"]
    lines += [f"O{i},C1,P{i},1,{d},{d}" for i, d in enumerate(dates)]
    return write(tmp_path / name, "\n".join(lines) + "\n")


def test_day_month_order_is_taken_from_the_data(store, tmp_path):
    result = ingest_file(store, "orders", _orders_csv(tmp_path, ["01/02/2024", "13/02/2024", "28/02/2024"]))
    assert result.options["date_formats"] == {"order_date": "%d/%m/%Y", "promised_date": "%d/%m/%Y"}
    assert result.options["date_format_ambiguous"] == []
    assert store.cursor().execute("SELECT min(order_date)::VARCHAR FROM orders").fetchone()[0] == "2024-02-01"


def test_ambiguous_dates_default_to_us_and_are_recorded(store, tmp_path):
    result = ingest_file(store, "orders", _orders_csv(tmp_path, ["01/02/2024", "03/04/2024"]))
    assert result.options["date_formats"]["order_date"] == "%m/%d/%Y"
    assert result.options["date_format_ambiguous"] == ["order_date", "promised_date"]
    run_options = json.loads(store.cursor().execute("SELECT options FROM ingest_runs").fetchone()[0])
    assert run_options["date_format_ambiguous"] == ["order_date", "promised_date"]
    assert store.cursor().execute("SELECT min(order_date)::VARCHAR FROM orders").fetchone()[0] == "2024-01-02"


@pytest.mark.parametrize("values,expected", [
    (["2-Jun-06", "14-Nov-06"], ["2006-06-02", "2006-11-14"]),
    (["2010-12-01 08:26", "2010-12-02 17:05:00"], ["2010-12-01", "2010-12-02"]),
    (["12/1/2010 8:26", "12/31/2010 17:05"], ["2010-12-01", "2010-12-31"]),
    (["2024-03-05", "2024-03-06"], ["2024-03-05", "2024-03-06"]),
])
def test_date_layouts(store, tmp_path, values, expected):
    ingest_file(store, "orders", _orders_csv(tmp_path, values))
    got = store.cursor().execute("SELECT order_date::VARCHAR FROM orders ORDER BY source_row").fetchall()
    assert [g[0] for g in got] == expected


def test_optional_number_text_note_is_null_with_warning_but_malformed_number_is_rejected(store, tmp_path):
    text = (
        "order_id,customer_id,product_id,quantity,order_date,weight (kilograms),Sales\n"
        "O1,C1,P1,1,2024-01-01,13,\"$1,200.50\"\n"            # 2 ok
        "O2,C1,P2,1,2024-01-01,Weight Captured Separately,5\n"  # 3 ok, weight NULL + warning
        "O3,C1,P3,1,2024-01-01,See ASN-93 (ID#:1281),5\n"       # 4 ok, weight NULL + warning
        "O4,C1,P4,1,2024-01-01,1.2.3,5\n"                        # 5 reject: malformed number
        "O5,C1,P5,1,2024-01-01, ,5\n"                            # 6 ok, weight empty
    )
    result = ingest_file(store, "orders", write(tmp_path / "o.csv", text))
    assert reject_rows(store, result.run_id) == [(5, "weight_kg", "1.2.3", "unparseable number")]
    assert result.warnings == {"weight_kg": 2}
    assert sorted(result.options["nulled_text_values"]["weight_kg"]["examples"]) == [
        "See ASN-93 (ID#:1281)", "Weight Captured Separately"
    ]
    assert store.cursor().execute("SELECT source_row, weight_kg, net_amount FROM orders ORDER BY 1").fetchall() == [
        (2, 13.0, 1200.5), (3, None, 5.0), (4, None, 5.0), (6, None, 5.0)
    ]
    message = store.cursor().execute("SELECT message FROM ingest_runs").fetchone()[0]
    assert "weight_kg: 2 text value(s)" in message
    check_invariant(store, result)


def test_booleans_and_trimmed_text(store, tmp_path):
    text = ("customer_id,customer_name,strategic_account\n K1 ,  Alpha  ,yes\nK2,Beta,N\nK3,Gamma,x\nK4,Delta,0\n"
            "K5,Eps,\nK6,Zeta,2\nK7,Eta,maybe\n")
    result = ingest_file(store, "customers", write(tmp_path / "c.csv", text))
    assert store.cursor().execute("SELECT customer_id, customer_name, strategic_account FROM customers ORDER BY 1").fetchall() == [
        ("K1", "Alpha", True), ("K2", "Beta", False), ("K3", "Gamma", True), ("K4", "Delta", False), ("K5", "Eps", None),
        ("K7", "Eta", None),
    ]
    # '2' is a malformed flag (reject); 'maybe' is a text note in an optional column (NULL + warning)
    assert reject_rows(store, result.run_id) == [(7, "strategic_account", "2", "unparseable yes/no")]
    assert result.warnings == {"strategic_account": 1}


def test_cost_rates_unknown_driver(store, tmp_path):
    text = "activity,driver,rate\npicking,per_line,0.4\ntransport,per_pallet,12\nhandling,PER_ORDER,2\n"
    result = ingest_file(store, "cost_rates", write(tmp_path / "rates.csv", text))
    assert reject_rows(store, result.run_id) == [(3, "driver", "per_pallet", "unknown cost driver")]
    assert store.cursor().execute("SELECT activity, driver, rate FROM cost_rates ORDER BY 1").fetchall() == [
        ("handling", "per_order", 2.0), ("picking", "per_line", 0.4)
    ]


# -- modes, duplicates, atomicity ------------------------------------------------------------------


CUSTOMERS_A = "customer_id,customer_name\nK1,Alpha\nK2,Beta\nK1,Alpha again\n"


CUSTOMERS_B = "customer_id,customer_name\nK2,Beta\nK3,Gamma\n"


def test_duplicates_within_file_and_against_loaded_rows_in_append_mode(store, tmp_path):
    first = ingest_file(store, "customers", write(tmp_path / "a.csv", CUSTOMERS_A))
    assert reject_rows(store, first.run_id) == [(4, "customer_id", "K1 (first on row 2)", "duplicate line")]
    second = ingest_file(store, "customers", write(tmp_path / "b.csv", CUSTOMERS_B), mode="append")
    assert reject_rows(store, second.run_id) == [(2, "customer_id", "K2", "already loaded")]
    assert store.cursor().execute("SELECT customer_id, run_id FROM customers ORDER BY 1").fetchall() == [
        ("K1", first.run_id), ("K2", first.run_id), ("K3", second.run_id)
    ]
    check_invariant(store, first)
    check_invariant(store, second)


def test_replace_mode_empties_the_table_first(store, tmp_path):
    ingest_file(store, "customers", write(tmp_path / "a.csv", CUSTOMERS_A))
    result = ingest_file(store, "customers", write(tmp_path / "b.csv", CUSTOMERS_B), mode="replace")
    assert result.rows_rejected == 0
    assert store.cursor().execute("SELECT customer_id FROM customers ORDER BY 1").fetchall() == [("K2",), ("K3",)]


def _snapshot(store) -> dict[str, list]:
    cur = store.cursor()
    return {t: cur.execute(f"SELECT * FROM {t} ORDER BY ALL").fetchall()
            for t in ("customers", "orders", "ingest_runs", "ingest_rejects", "source_mappings")}


def test_a_load_failing_half_way_changes_nothing(store, tmp_path):
    ingest_file(store, "customers", write(tmp_path / "a.csv", CUSTOMERS_A))
    before = _snapshot(store)

    def fail_after_writing(fraction: float, message: str) -> None:
        if message == "recording the run":  # rows and rejects are written by now
            raise RuntimeError("disk full")

    with pytest.raises(RuntimeError, match="disk full"):
        ingest_file(store, "customers", write(tmp_path / "b.csv", CUSTOMERS_B + "K2,dup\n"),
                    mode="replace", progress=fail_after_writing)
    assert _snapshot(store) == before


def test_missing_required_column_stops_before_anything_is_written(store, tmp_path):
    before = _snapshot(store)
    path = write(tmp_path / "no_customer.csv", "InvoiceNo,StockCode,Qty\n1,A,2\n")
    with pytest.raises(SegplanError) as err:
        ingest_file(store, "orders", path)
    assert "no_customer.csv" in str(err.value)
    assert "order_date" in str(err.value) and "customer_id" in str(err.value)
    assert "product_id" not in err.value.message.split("not mapped")[0]
    assert _snapshot(store) == before


# -- mapping ---------------------------------------------------------------------------------------


def test_suggest_mapping_by_name_and_erp_synonyms():
    headers = ["InvoiceNo", "StockCode", "Description", "Qty", "InvoiceDate", "UnitPrice", "SoldTo", "Country"]
    assert suggest_mapping("orders", headers) == {
        "InvoiceNo": "order_id", "StockCode": "product_id", "Qty": "quantity", "InvoiceDate": "order_date",
        "UnitPrice": "unit_price", "SoldTo": "customer_id",
    }
    assert suggest_mapping("orders", ["Material", "Order Date", "order_date"]) == {
        "Material": "product_id", "Order Date": "order_date"
    }


def test_remembered_mapping_round_trip(store, tmp_path):
    text = "Beleg,Artikel,Kd,Stk,Tag\nB1,A1,K1,2,2024-05-01\n"
    mapping = {"Beleg": "order_id", "Artikel": "product_id", "Kd": "customer_id", "Stk": "quantity", "Tag": "order_date"}
    assert source_key_for("export_2024-05.csv") == source_key_for("Export 2024-06-30.xlsx") == "export"
    assert source_key_for("/data/2024-05.csv", ["Beleg", "Tag"]) == source_key_for("2024-06.csv", ["beleg", "TAG"])
    assert source_key_for("2024-05.csv", ["Beleg", "Tag"]).startswith("columns:")
    assert source_key_for("2024-05.csv", ["Beleg", "Tag"]) != source_key_for("2024-05.csv", ["Beleg", "Datum"])
    headers = read_headers(write(tmp_path / "export_2024-05.csv", text))
    assert suggest_mapping("orders", headers, store, "export") == {}  # nothing known yet
    ingest_file(store, "orders", tmp_path / "export_2024-05.csv", mapping=mapping)
    assert suggest_mapping("orders", headers, store, source_key_for("export_2024-06.csv")) == mapping
    # next month's file loads with the remembered mapping and no mapping given
    result = ingest_file(store, "orders", write(tmp_path / "export_2024-06.csv", text.replace("B1", "B2")))
    assert result.mapping == mapping and result.rows_loaded == 1
    # a file with the same columns under another name finds it through the header signature
    assert suggest_mapping("orders", headers, store, source_key_for("belege.csv")) == mapping
    keys = store.cursor().execute("SELECT source_key FROM source_mappings ORDER BY 1").fetchall()
    assert keys == [(header_signature(headers),), ("export",)]


def test_resolve_mapping_applies_overrides(store):
    headers = ["InvoiceNo", "StockCode", "Qty", "InvoiceDate", "Client", "Country"]
    overrides = parse_overrides(["Country=customer_id", "Qty="])
    assert resolve_mapping("orders", headers, overrides, store, "x") == {
        "InvoiceNo": "order_id", "StockCode": "product_id", "InvoiceDate": "order_date", "Country": "customer_id"
    }
    with pytest.raises(SegplanError, match="'Nope' is not in the file"):
        resolve_mapping("orders", headers, {"Nope": "order_id"})
    with pytest.raises(SegplanError, match="no column 'colour'"):
        resolve_mapping("orders", headers, {"Country": "colour"})
    with pytest.raises(SegplanError, match="not SOURCE=COLUMN"):
        parse_overrides(["Country"])


def test_bad_mapping_names_the_column(store, tmp_path):
    path = write(tmp_path / "o.csv", RETAIL_LINES)
    with pytest.raises(SegplanError, match="no column 'invoice'"):
        ingest_file(store, "orders", path, mapping={"InvoiceNo": "invoice"})
    with pytest.raises(SegplanError, match="'Invoice Number', which is not in the file"):
        ingest_file(store, "orders", path, mapping={"Invoice Number": "order_id"})


# -- files that cannot be read ---------------------------------------------------------------------


def test_unreadable_files_say_which_and_why(store, tmp_path):
    cases = {
        tmp_path / "missing.csv": "file not found",
        write(tmp_path / "empty.csv", ""): "empty",
        write(tmp_path / "orders.json", "{}"): "unsupported file type",
        write(tmp_path / "broken.parquet", "not parquet at all"): "cannot read as Parquet",
        write(tmp_path / "broken.xlsx", "not a zip"): "cannot read as a spreadsheet",
    }
    for path, words in cases.items():
        with pytest.raises(SegplanError) as err:
            ingest_file(store, "orders", path)
        assert path.name in str(err.value) and words in str(err.value), str(err.value)


# -- more values and user errors ------------------------------------------------------------------


def test_blanks_are_trimmed_everywhere(store, tmp_path):
    text = "customer_id,customer_name,region\nK1\t,Alpha\u00a0,North\n  K2,\t Beta,  \n"
    ingest_file(store, "customers", write(tmp_path / "c.csv", text))
    assert store.cursor().execute("SELECT customer_id, customer_name, region FROM customers ORDER BY 1").fetchall() == [
        ("K1", "Alpha", "North"), ("K2", "Beta", None)
    ]


@pytest.mark.parametrize("blank", [" ", "\t", "\r", "\n", "\u00a0"])
@pytest.mark.parametrize("where", ["first", "last"])
def test_one_blank_at_one_end_is_trimmed(store, tmp_path, blank, where):
    # the profile's cheap end-of-value tests must catch each blank seg_text trims, even when
    # it is the only one in the column (otherwise the column is taken as clean and not trimmed)
    padded = blank + "Beta" if where == "first" else "Beta" + blank
    text = f'customer_id,customer_name\nK1,Alpha\nK2,"{padded}"\nK3,Gamma\n'
    ingest_file(store, "customers", write(tmp_path / "c.csv", text))
    assert store.cursor().execute("SELECT customer_id, customer_name FROM customers ORDER BY 1").fetchall() == [
        ("K1", "Alpha"), ("K2", "Beta"), ("K3", "Gamma")
    ]


def test_number_spellings(store, tmp_path):
    text = (
        "order_id,customer_id,product_id,quantity,order_date,Sales\n"
        'O1,C1,P1, 7 ,2024-01-01,"$1,234.50"\n'
        "O2,C1,P2,1,2024-01-01,(12.5)\n"
        "O3,C1,P3,1,2024-01-01,12-\n"
        "O4,C1,P4,1,2024-01-01,USD 3\n"
        "O5,C1,P5,1,2024-01-01,1e3\n"
        "O6,C1,P6,1,2024-01-01,nan\n"
        "O7,C1,P7,1,2024-01-01,12.5.1\n"
    )
    result = ingest_file(store, "orders", write(tmp_path / "o.csv", text))
    assert store.cursor().execute("SELECT order_id, quantity, net_amount FROM orders ORDER BY 1").fetchall() == [
        ("O1", 7.0, 1234.5), ("O2", 1.0, -12.5), ("O3", 1.0, -12.0), ("O4", 1.0, 3.0), ("O5", 1.0, 1000.0),
        ("O6", 1.0, None),
    ]
    # 'nan' is a text note in an optional column; '12.5.1' is a malformed number
    assert reject_rows(store, result.run_id) == [(8, "net_amount", "12.5.1", "unparseable number")]
    assert result.warnings == {"net_amount": 1}


def test_preview_and_headers_of_a_csv(tmp_path):
    path = write(tmp_path / "retail.csv", RETAIL_LINES)
    frame = preview(path, 3)
    assert list(frame.columns) == ["InvoiceNo", "StockCode", "Quantity", "InvoiceDate", "UnitPrice", "CustomerID"]
    assert frame["InvoiceNo"].tolist() == ["536365", "536366", "C536379"]
    assert frame["CustomerID"].isna().tolist() == [False, True, False]


def test_repeated_header_and_bad_mode_are_user_errors(store, tmp_path):
    path = write(tmp_path / "twice.csv", "customer_id,customer_id\nK1,K2\n")
    with pytest.raises(SegplanError, match="'customer_id' appears 2 times"):
        ingest_file(store, "customers", path)
    with pytest.raises(SegplanError, match="mode 'merge'"):
        ingest_file(store, "customers", write(tmp_path / "ok.csv", CUSTOMERS_B), mode="merge")


def test_bad_cancellation_pattern_is_a_user_error(store, tmp_path):
    with pytest.raises(SegplanError, match=r"cancellation_pattern '\^C\[' is not a regular expression"):
        ingest_file(store, "orders", write(tmp_path / "o.csv", RETAIL_LINES), cancellation_pattern="^C[")
    assert store.cursor().execute("SELECT count(*) FROM ingest_runs").fetchall() == [(0,)]
