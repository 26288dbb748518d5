"""Ingest of each file format and shape: CSV structure and encodings, Parquet, XLSX, large
files; row numbers checked exactly (CSV line, spreadsheet row, Parquet record)."""

from __future__ import annotations

import pytest

from core.errors import SegplanError
from core.ingest import ingest_file, preview, read_headers
from tests.ingest_support import check_invariant, reject_rows, write


def test_structural_errors_become_rejects_with_editor_line_numbers(store, tmp_path):
    text = (
        "customer_id,customer_name,region\n"   # 1
        "K1,Alpha,North\n"                      # 2
        "K2,Beta\n"                             # 3 too few
        "K3,Gamma,South,extra\n"                # 4 too many
        "K4,Delta,East\n"                       # 5
        'K5,"bad"q,West\n'                      # 6 bad quoting
        "K6,Epsilon,West\n"                     # 7
    )
    result = ingest_file(store, "customers", write(tmp_path / "customers.csv", text))
    assert reject_rows(store, result.run_id) == [
        (3, "region", "K2,Beta", "malformed line: too few columns"),
        (4, None, "K3,Gamma,South,extra", "malformed line: too many columns"),
        (6, "customer_name", 'K5,"bad"q,West', "malformed line: bad quoting"),
    ]
    assert store.cursor().execute("SELECT customer_id, source_row FROM customers ORDER BY 2").fetchall() == [
        ("K1", 2), ("K4", 5), ("K6", 7)
    ]
    assert result.options["csv_parser"] == "duckdb"
    check_invariant(store, result)


def test_quoted_line_breaks_and_blank_lines_keep_exact_line_numbers(store, tmp_path):
    text = (
        "customer_id,customer_name,region\n"   # 1
        'K1,"Alpha\nand Co",North\n'            # 2-3
        "\n"                                     # 4 blank
        "K2,Beta\n"                              # 5 too few
        'K3,"Gamma ""G""",South\n'              # 6
        "K4,,\n"                                 # 7
        'K5,"bad"q,West\n'                      # 8 bad quoting
        "K6,Zeta,East\n"                         # 9
    )
    result = ingest_file(store, "customers", write(tmp_path / "customers.csv", text))
    assert result.options["csv_parser"] == "python"
    assert reject_rows(store, result.run_id) == [
        (5, "region", "K2,Beta", "malformed line: too few columns"),
        (8, None, 'K5,"bad"q,West', "malformed line: bad quoting"),
    ]
    assert store.cursor().execute(
        "SELECT source_row, customer_id, customer_name, region FROM customers ORDER BY 1"
    ).fetchall() == [(2, "K1", "Alpha\nand Co", "North"), (6, "K3", 'Gamma "G"', "South"), (7, "K4", None, None),
                     (9, "K6", "Zeta", "East")]
    assert result.rows_read == 6
    check_invariant(store, result)


@pytest.mark.parametrize("encoding,bom", [("utf-8-sig", True), ("utf-16", True), ("latin-1", False), ("utf-8", False)])
def test_encodings(store, tmp_path, encoding, bom):
    text = "Customer ID,Name,Country\nK1,Zoë Müller,Côte d'Ivoire\nK2,Ørsted,Danmark\n"
    path = write(tmp_path / "customers.csv", text, encoding)
    assert read_headers(path) == ["Customer ID", "Name", "Country"]
    result = ingest_file(store, "customers", path)
    assert store.cursor().execute("SELECT customer_id, customer_name, region FROM customers ORDER BY 1").fetchall() == [
        ("K1", "Zoë Müller", "Côte d'Ivoire"), ("K2", "Ørsted", "Danmark")
    ]
    assert result.options["bom"] is bom
    assert result.options["encoding"] == {"utf-8-sig": "utf-8", "utf-16": "utf-16"}.get(encoding, encoding)
    check_invariant(store, result)


def test_semicolon_file_with_decimal_comma_and_european_dates(store, tmp_path):
    text = (
        "Auftrag;Material;Kunde;Menge;Datum;Preis\n"
        "A1;M1;K1;1.234,50;13.01.2024;7,5\n"
        "A2;M2;K1;2;01.02.2024;€ 1.000,25\n"
        "A3;M3;K2;3;31.12.2024;(2,00)\n"
    )
    mapping = {"Auftrag": "order_id", "Material": "product_id", "Kunde": "customer_id", "Menge": "quantity",
               "Datum": "order_date", "Preis": "unit_price"}
    result = ingest_file(store, "orders", write(tmp_path / "auftraege.csv", text), mapping=mapping, allow_returns=True)
    assert store.cursor().execute(
        "SELECT order_id, quantity, order_date::VARCHAR, unit_price FROM orders ORDER BY 1"
    ).fetchall() == [("A1", 1234.5, "2024-01-13", 7.5), ("A2", 2.0, "2024-02-01", 1000.25), ("A3", 3.0, "2024-12-31", -2.0)]
    assert result.options["delimiter"] == ";"
    assert result.options["decimal_comma"] == {"quantity": True, "unit_price": True}
    check_invariant(store, result)


def test_parquet_row_numbers_are_record_numbers(store, tmp_path):
    import datetime as dt

    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.table({
        "InvoiceNo": ["1", "2", "3", "4"],
        "StockCode": ["85123A", "22633", "POST", "21730"],
        "CustomerID": [17850.0, None, 12.0, 13.0],
        "Quantity": [1, 2, 3, -4],
        "InvoiceDate": [dt.datetime(2010, 12, 1, 8, 26)] * 4,
        "UnitPrice": [1.5, 2.0, 3.0, 4.0],
    })
    path = tmp_path / "retail.parquet"
    pq.write_table(table, path)
    assert read_headers(path) == ["InvoiceNo", "StockCode", "CustomerID", "Quantity", "InvoiceDate", "UnitPrice"]
    result = ingest_file(store, "orders", path)
    assert [(r[0], r[3]) for r in reject_rows(store, result.run_id)] == [
        (2, "missing key"), (3, "non-product code"), (4, "return: negative quantity")
    ]
    assert store.cursor().execute("SELECT source_row, customer_id, order_date::VARCHAR FROM orders").fetchall() == [
        (1, "17850", "2010-12-01")
    ]
    check_invariant(store, result)


def test_xlsx_row_numbers_are_spreadsheet_rows(store, tmp_path):
    import datetime as dt

    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    ws.append(["InvoiceNo", "StockCode", "Quantity", "InvoiceDate", "UnitPrice", "CustomerID"])  # row 1
    ws.append([536365, "85123A", 6, dt.datetime(2010, 12, 1, 8, 26), 2.55, 17850])                 # row 2
    ws.append([536366, 22633, 6, dt.datetime(2010, 12, 1, 8, 28), 1.85, None])                      # row 3
    ws.append([None, None, None, None, None, None])                                                 # row 4 empty
    ws.append(["C536379", "D", -1, dt.datetime(2010, 12, 1, 9, 41), 27.5, 14527])                  # row 5
    ws.append([536370, 21730, 3, "not a date", 4.25, 17850])                                        # row 6
    path = tmp_path / "retail.xlsx"
    wb.save(path)
    assert preview(path, 2)["StockCode"].tolist() == ["85123A", "22633"]
    result = ingest_file(store, "orders", path)
    assert [(r[0], r[1], r[3]) for r in reject_rows(store, result.run_id)] == [
        (3, "customer_id", "missing key"),
        (5, "product_id", "non-product code"),
        (5, "order_id", "return: cancelled order"),
        (5, "quantity", "return: negative quantity"),
        (6, "order_date", "unparseable date"),
    ]
    assert store.cursor().execute("SELECT source_row, order_id, customer_id, product_id FROM orders").fetchall() == [
        (2, "536365", "17850", "85123A")
    ]
    assert result.rows_read == 4
    check_invariant(store, result)


def test_xlsx_without_data(store, tmp_path):
    from openpyxl import Workbook

    wb = Workbook()
    wb.save(tmp_path / "blank.xlsx")
    with pytest.raises(SegplanError, match="blank.xlsx: the spreadsheet has no data"):
        read_headers(tmp_path / "blank.xlsx")
    # headers and no rows: a load of nothing, like a CSV with only its header line
    wb.active.append(["customer_id", "customer_name"])
    wb.save(tmp_path / "headers_only.xlsx")
    result = ingest_file(store, "customers", tmp_path / "headers_only.xlsx")
    assert (result.rows_read, result.rows_loaded, result.rows_rejected) == (0, 0, 0)


def test_crlf_preamble_and_header_only_files(store, tmp_path):
    crlf = write(tmp_path / "crlf.csv", "customer_id,customer_name\r\nK1,A\r\nK2\r\nK3,C\r\n\r\n")
    result = ingest_file(store, "customers", crlf)
    assert reject_rows(store, result.run_id) == [(3, "customer_name", "K2", "malformed line: too few columns")]
    assert store.cursor().execute("SELECT source_row, customer_id FROM customers ORDER BY 1").fetchall() == [(2, "K1"), (4, "K3")]

    preamble = write(tmp_path / "preamble.csv", "Customer export\nGenerated 2024-01-01\ncustomer_id,customer_name,region\nK1,A,N\nK2,B,S\nK3,C,E\n")
    result = ingest_file(store, "customers", preamble, mode="replace")
    assert result.options["header_line"] == 3
    assert store.cursor().execute("SELECT source_row, customer_id FROM customers ORDER BY 1").fetchall() == [(4, "K1"), (5, "K2"), (6, "K3")]

    empty = write(tmp_path / "header_only.csv", "customer_id,customer_name\n")
    result = ingest_file(store, "customers", empty, mode="replace")
    assert (result.rows_read, result.rows_loaded, result.rows_rejected) == (0, 0, 0)
    check_invariant(store, result)


def test_large_file_keeps_every_reject(store, tmp_path):
    """700k generated lines: rejects of several checks, counted exactly.

    Guards the one-statement-per-table rule of ingest: with DuckDB 2.0.0, appending to a table
    twice in one transaction after a large append lost every row, and with them these rejects.
    """
    import duckdb
    import pyarrow.csv

    path = tmp_path / "big_orders.csv"
    with duckdb.connect() as con:
        # order i: customer empty when i % 3 == 0, quantity negative when i % 7 == 0; US dates
        # so that the date check runs (and finds nothing) before the others
        lines = con.sql(
            """SELECT 'SO' || i AS order_id, i AS line_number,
                      strftime(DATE '2024-01-01' + (i % 300)::INTEGER, '%m/%d/%Y') AS order_date,
                      CASE WHEN i % 3 = 0 THEN NULL ELSE 'C' || (i % 500) END AS customer_id,
                      'P' || (i % 997) AS product_id,
                      CASE WHEN i % 7 = 0 THEN -1 ELSE 1 + i % 5 END AS quantity
               FROM range(1, 700001) t(i) ORDER BY i"""
        ).to_arrow_table()
    pyarrow.csv.write_csv(lines, path)
    result = ingest_file(store, "orders", path, mode="replace")
    missing = 700_000 // 3
    negative = 700_000 // 7
    both = 700_000 // 21
    assert result.reject_reasons == {"missing key": missing, "return: negative quantity": negative}
    assert result.rows_rejected == missing + negative - both
    assert result.rows_loaded == 700_000 - result.rows_rejected
    first = store.cursor().execute(
        "SELECT row_number, reason FROM ingest_rejects WHERE run_id = ? ORDER BY row_number, reason LIMIT 3",
        [result.run_id],
    ).fetchall()
    # line = i + 1 (header on line 1): i = 3 missing, i = 6 missing, i = 7 negative
    assert first == [(4, "missing key"), (7, "missing key"), (8, "return: negative quantity")]
    check_invariant(store, result)


def test_xlsx_sheet_by_name_and_unknown_sheet(store, tmp_path):
    from openpyxl import Workbook

    wb = Workbook()
    wb.active.title = "Notes"
    wb.active.append(["nothing here"])
    rates = wb.create_sheet("Rates")
    rates.append(["Activity", "Driver", "Rate"])
    rates.append(["picking", "per_line", 0.4])
    path = tmp_path / "rates.xlsx"
    wb.save(path)
    assert read_headers(path, sheet="Rates") == ["Activity", "Driver", "Rate"]
    result = ingest_file(store, "cost_rates", path, sheet="Rates")
    assert (result.rows_loaded, result.options["sheet"]) == (1, "Rates")
    with pytest.raises(SegplanError, match="rates.xlsx: cannot read as a spreadsheet"):
        ingest_file(store, "cost_rates", path, sheet="Missing")


def test_title_lines_and_broken_lines_together(store, tmp_path):
    text = ("Customer export\nGenerated 2024-01-01\n"           # 1-2 titles
            "customer_id,customer_name,region\n"               # 3 header
            "K1,A,N\nK2,B\nK3,C,E\nK4,D,E,F\nK5,E,W\n")        # 4-8
    result = ingest_file(store, "customers", write(tmp_path / "titled.csv", text))
    assert result.options["header_line"] == 3
    assert reject_rows(store, result.run_id) == [
        (5, "region", "K2,B", "malformed line: too few columns"),
        (7, None, "K4,D,E,F", "malformed line: too many columns"),
    ]
    assert store.cursor().execute("SELECT source_row, customer_id FROM customers ORDER BY 1").fetchall() == [
        (4, "K1"), (6, "K3"), (8, "K5")
    ]
    check_invariant(store, result)


def test_xlsx_table_not_in_the_corner(store, tmp_path):
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    ws["C3"], ws["D3"] = "customer_id", "customer_name"   # header on row 3, from column C
    ws["C4"], ws["D4"] = "K1", "A"
    ws["C6"], ws["D6"] = "K2", "B"                         # row 5 left empty
    ws["C7"] = "K3"                                        # row 7: no name, still a row
    path = tmp_path / "offset.xlsx"
    wb.save(path)
    assert read_headers(path) == ["customer_id", "customer_name"]
    assert preview(path)["customer_id"].tolist() == ["K1", "K2", "K3"]
    result = ingest_file(store, "customers", path)
    assert store.cursor().execute("SELECT source_row, customer_id, customer_name FROM customers ORDER BY 1").fetchall() == [
        (4, "K1", "A"), (6, "K2", "B"), (7, "K3", None)
    ]
    check_invariant(store, result)


def test_large_file_with_broken_lines_numbers_every_row_exactly(store, tmp_path):
    """800k lines read in parallel by DuckDB, three broken ones far apart: every good row's
    source_row is its line (its id says which line it is on), every reject's line is exact."""
    broken = {100: "K,too,many,cols", 350_000: "Konly", 699_999: 'K,"x"y'}
    path = tmp_path / "customers.csv"
    with path.open("w") as fh:
        fh.write("customer_id,customer_name\n")
        fh.writelines(broken.get(line, f"K{line},N{line}") + "\n" for line in range(2, 800_001))
    result = ingest_file(store, "customers", path)
    assert result.options["csv_parser"] == "duckdb"
    assert [(r[0], r[3]) for r in reject_rows(store, result.run_id)] == [
        (100, "malformed line: too many columns"),
        (350_000, "malformed line: too few columns"),
        (699_999, "malformed line: bad quoting"),
    ]
    misplaced, first, last, rows = store.cursor().execute(
        "SELECT count(*) FILTER (WHERE customer_id <> 'K' || source_row), min(source_row), max(source_row), count(*) FROM customers"
    ).fetchall()[0]
    assert (misplaced, first, last, rows) == (0, 2, 800_000, 799_996)
    check_invariant(store, result)


def test_the_threads_shared_cursor_is_left_usable(store, tmp_path):
    """Preflight reads go through store.cursor(); a half-read result there would block the
    next caller's work (this DuckDB refuses new work while a result is unfinished)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    pq.write_table(pa.table({"customer_id": ["K1"]}), tmp_path / "c.parquet")
    for path in (tmp_path / "c.parquet", write(tmp_path / "c.csv", "customer_id\nK1\n")):
        ingest_file(store, "customers", path, mode="replace")
        cur = store.cursor()
        cur.register("probe", pa.table({"x": [1]}))
        assert cur.execute("SELECT count(*) FROM probe").fetchall() == [(1,)]
        cur.unregister("probe")
