"""Every page through AppTest, on an empty database and on a small loaded one.

The app runs as in a browser (app.py with st.navigation); each test points SEGPLAN_DB at its
own temporary file. A page that shows an exception fails here.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from core.errors import SegplanError
from core.store import Store
from page_data import ORDERS_CSV
from page_support import APP, empty_db, loaded_db, open_page, texts  # noqa: F401  (fixtures)

PAGES = ("pages/home.py", "pages/data.py", "pages/explore.py")


def charts(at: AppTest) -> list:
    return [*at.get("vega_lite_chart"), *at.get("plotly_chart")]


@pytest.mark.parametrize("page", PAGES)
@pytest.mark.parametrize("database", ["empty_db", "loaded_db"])
def test_every_page_renders_a_title_and_no_exception(page: str, database: str, request: pytest.FixtureRequest):
    request.getfixturevalue(database)
    at = open_page(page)
    assert len(at.title) == 1
    assert at.error == []


def test_the_navigation_lists_every_page_file():
    source = APP.read_text()
    assert all(f'"{page}"' in source for page in PAGES)


# -- home.py ------------------------------------------------------------------------------
def test_home_on_empty_database_asks_to_load_data(empty_db: Path):
    at = open_page("pages/home.py")
    assert at.title[0].value == "segplan"
    assert [m.value for m in at.metric] == ["0", "0", "0", "0", "0"]
    assert "segplan init --sample" in texts(at)
    assert str(empty_db.resolve()) in texts(at)
    assert "No ingest runs yet" in texts(at)


def test_home_on_loaded_database_shows_counts_and_next_step(loaded_db: Path):
    at = open_page("pages/home.py")
    counts = {m.label: m.value for m in at.metric}
    assert counts == {"orders (rows)": "81", "customers (rows)": "4", "products (rows)": "6", "cost_rates (rows)": "0",
                      "inventory (rows)": "0"}
    assert "81 order lines are loaded: 6 products ordered by 4 customers from 06 Jan 2025 to 30 Jun 2025 (26 weeks)" in texts(at)
    assert at.warning == []
    assert len(at.get("page_link")) == 2


def test_home_shows_an_unopenable_database_as_an_error_not_a_traceback(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    path = tmp_path / "newer.duckdb"
    with Store(path) as store, store.transaction() as cur:
        cur.execute("UPDATE meta SET value = '999' WHERE key = 'schema_version'")
    monkeypatch.setenv("SEGPLAN_DB", str(path))
    at = AppTest.from_file(str(APP), default_timeout=60).run()
    assert not at.exception
    assert "newer than this segplan" in at.error[0].value


# -- data.py ------------------------------------------------------------------------------
def test_data_page_on_empty_database_invites_a_file(empty_db: Path):
    at = open_page("pages/data.py")
    assert at.title[0].value == "Data"
    assert at.selectbox(key="data_table").options == ["orders", "customers", "products", "cost_rates", "inventory"]
    assert len(at.file_uploader) == 1
    assert "Choose a file above" in texts(at)
    columns = at.expander[0].dataframe[0].value
    assert columns["column"].tolist()[:5] == ["order_id", "order_date", "customer_id", "product_id", "quantity"]
    assert columns.set_index("column").loc["order_id", "required"]
    assert "No ingest runs yet" in texts(at)
    assert [t.label for t in at.tabs] == ["orders (0 rows)", "customers (0 rows)", "products (0 rows)", "cost_rates (0 rows)",
                                      "inventory (0 rows)"]


def test_data_page_previews_what_is_loaded(loaded_db: Path):
    at = open_page("pages/data.py")
    assert [t.label for t in at.tabs][:3] == ["orders (81 rows)", "customers (4 rows)", "products (6 rows)"]
    previews = [d for d in at.dataframe if "source_row" in d.value.columns]
    assert len(previews) == 3  # orders, customers, products; cost_rates and inventory are empty
    assert len(previews[0].value) == 20 and previews[0].value["order_id"].iloc[0] == "O1"
    assert sorted(previews[1].value["customer_id"]) == ["C1", "C2", "C3", "C4"]


def upload(at: AppTest, name: str, content: bytes, mime: str = "text/csv") -> AppTest:
    at.file_uploader(key="data_upload").set_value((name, content, mime)).run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def test_data_page_loads_a_csv_through_core_and_shows_the_result(empty_db: Path):
    at = upload(open_page("pages/data.py"), "orders_upload.csv", ORDERS_CSV.encode())
    # The preview shows the file as text; the mapping is prefilled from the ERP synonyms.
    preview = next(d.value for d in at.dataframe if "InvoiceNo" in d.value.columns)
    assert len(preview) == 4 and preview["InvoiceDate"].tolist()[-1] == "not a date"
    assert at.selectbox(key=next(k for k in mapping_keys(at) if k.endswith(":order_id"))).value == "InvoiceNo"
    assert at.selectbox(key=next(k for k in mapping_keys(at) if k.endswith(":product_id"))).value == "StockCode"
    assert at.error == []
    load = at.button[0]
    assert load.label == "Load into orders" and not load.disabled
    load.click().run()
    assert not at.exception
    assert at.status[0].label == "Loaded 3 of 4 rows of orders_upload.csv"
    metrics = {m.label: m.value for m in at.metric}
    assert metrics == {"Rows read": "4", "Rows loaded": "3", "Rows rejected": "1"}
    assert len(at.get("vega_lite_chart")) == 1  # rejected rows by reason
    rejected = next(d.value for d in at.dataframe if "reason" in d.value.columns)
    assert rejected["row_number"].tolist() == [5] and rejected["value"].tolist() == ["not a date"]
    assert at.download_button[0].proto.label == "Download rejected rows (CSV)"
    assert at.tabs[0].label == "orders (3 rows)"
    loaded = next(d.value for d in at.dataframe if "source_row" in d.value.columns)
    assert loaded["order_id"].tolist() == ["A1", "A2", "A3"]
    history = next(d.value for d in at.dataframe if "rows_loaded" in d.value.columns)
    assert history["source_name"].tolist() == ["orders_upload.csv"]


def mapping_keys(at: AppTest) -> list[str]:
    return [s.key for s in at.selectbox if s.key and s.key.startswith("map:")]


def test_data_page_blocks_the_load_until_required_columns_are_mapped(empty_db: Path):
    at = upload(open_page("pages/data.py"), "orders.csv", b"Invoice,When,Who,What,HowMany\nA1,2025-01-06,C1,P1,3\n")
    assert "Required columns are not mapped" in at.error[0].value
    assert at.button[0].disabled
    for column, header in {"order_id": "Invoice", "order_date": "When", "customer_id": "Who",
                           "product_id": "What", "quantity": "HowMany"}.items():
        at.selectbox(key=next(k for k in mapping_keys(at) if k.endswith(f":{column}"))).set_value(header).run()
    assert at.error == [] and not at.button[0].disabled
    at.selectbox(key=next(k for k in mapping_keys(at) if k.endswith(":product_id"))).set_value("Who").run()
    assert "`Who` is chosen for `customer_id` and `product_id`" in at.error[0].value
    at.selectbox(key=next(k for k in mapping_keys(at) if k.endswith(":product_id"))).set_value("What").run()
    at.button[0].click().run()
    assert {m.label: m.value for m in at.metric}["Rows loaded"] == "1"


def test_data_page_shows_an_unreadable_file_as_an_error(empty_db: Path):
    at = upload(open_page("pages/data.py"), "empty.csv", b"")
    assert "the file is empty" in at.error[0].value
    assert at.button == []


def test_data_page_shows_a_failed_load_as_an_error_and_keeps_the_tables(loaded_db: Path, monkeypatch: pytest.MonkeyPatch):
    import core.ingest

    def failing_load(*args, **kwargs):
        raise SegplanError("orders.csv: the disk is full", hint="free some space and load again")

    monkeypatch.setattr(core.ingest, "ingest_file", failing_load)
    at = upload(open_page("pages/data.py"), "orders.csv", ORDERS_CSV.encode())
    at.button[0].click().run()
    assert not at.exception
    assert "Load of orders.csv failed" in at.status[0].label
    assert "the disk is full" in at.error[0].value and "free some space" in at.error[0].value
    assert at.tabs[0].label == "orders (81 rows)"


def test_data_page_loads_master_data_in_replace_mode(loaded_db: Path):
    at = open_page("pages/data.py")
    at.selectbox(key="data_table").set_value("customers").run()
    upload(at, "customers.csv", b"CustomerID,Name,Region\nK1,Kappa,east\nK2,Lambda,west\n")
    assert at.checkbox == []  # allow returns is for orders only
    at.radio(key="ingest_mode").set_value("replace").run()
    at.button[0].click().run()
    assert not at.exception
    assert [t.label for t in at.tabs][1] == "customers (2 rows)"


# -- explore.py ---------------------------------------------------------------------------
def test_explore_on_empty_database_says_what_to_do(empty_db: Path):
    at = open_page("pages/explore.py")
    assert "No orders loaded yet" in texts(at)
    assert charts(at) == []
    assert at.selectbox(key="level").value == "product"


def test_explore_on_loaded_database_draws_every_chart_and_the_table(loaded_db: Path):
    at = open_page("pages/explore.py")
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Products"] == "6"
    assert metrics["Smooth demand"] == "2"  # P1 and P2 sell every week in steady sizes
    assert len(at.get("vega_lite_chart")) == 3  # Pareto, ABC x XYZ, histogram
    assert len(at.get("plotly_chart")) == 1     # ADI vs CV²
    table = at.dataframe[0].value
    assert sorted(table["product_id"]) == ["P1", "P2", "P3", "P4", "P5", "P6"]
    assert {"abc", "xyz", "demand_pattern", "revenue", "cumulative_share", "adi", "cv2"} <= set(table.columns)
    assert table.set_index("product_id").loc["P1", "abc"] == "A"
    assert len(at.download_button) == 1


def test_explore_follows_level_measure_and_bucket_changes(loaded_db: Path):
    at = open_page("pages/explore.py")
    at.selectbox(key="level").set_value("customer").run()
    assert not at.exception
    assert {m.label: m.value for m in at.metric}["Customers"] == "4"
    assert sorted(at.dataframe[0].value["customer_id"]) == ["C1", "C2", "C3", "C4"]

    at.selectbox(key="level").set_value("customer_product").run()
    at.selectbox(key="measure").set_value("quantity").run()
    at.radio(key="bucket").set_value("month").run()
    assert not at.exception
    table = at.dataframe[0].value
    assert {"customer_id", "product_id", "quantity"} <= set(table.columns)
    assert len(table) == len(table[["customer_id", "product_id"]].drop_duplicates())
    assert "Share of quantity in A" in {m.label for m in at.metric}
    assert at.download_button[0].proto.label == "Download classes per customer x product (CSV)"


def test_explore_cutoffs_move_items_between_classes(loaded_db: Path):
    at = open_page("pages/explore.py")
    a_items_default = int({m.label: m.value for m in at.metric}["Class A products"])
    at.slider(key="abc_pct").set_value((50, 60)).run()
    assert not at.exception
    assert int({m.label: m.value for m in at.metric}["Class A products"]) < a_items_default
    at.number_input(key="adi_cutoff").set_value(5.0).run()
    assert {m.label: m.value for m in at.metric}["Lumpy demand"] == "0"  # no item waits 5 weeks on average


def test_explore_keeps_settings_across_pages(loaded_db: Path):
    at = open_page("pages/explore.py")
    at.selectbox(key="measure").set_value("lines").run()
    at.switch_page("pages/home.py").run()
    at.switch_page("pages/explore.py").run()
    assert at.selectbox(key="measure").value == "lines"


def test_explore_with_one_order_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    path = tmp_path / "one.duckdb"
    with Store(path) as store, store.transaction() as cur:
        cur.execute("INSERT INTO orders (order_id, order_date, customer_id, product_id, quantity, unit_price) "
                    "VALUES ('O1', DATE '2025-03-03', 'C1', 'P1', 5, 2.0)")
    monkeypatch.setenv("SEGPLAN_DB", str(path))
    at = open_page("pages/explore.py")
    assert {m.label: m.value for m in at.metric}["Products"] == "1"
    assert at.dataframe[0].value["abc"].tolist() == ["A"]
    assert len(charts(at)) == 4


def test_a_load_on_the_data_page_shows_on_home_and_explore(empty_db: Path):
    at = open_page("pages/explore.py")
    assert "No orders loaded yet" in texts(at)
    at.switch_page("pages/data.py").run()
    upload(at, "orders_upload.csv", ORDERS_CSV.encode())
    at.button[0].click().run()
    at.switch_page("pages/explore.py").run()
    assert not at.exception
    assert {m.label: m.value for m in at.metric}["Products"] == "2"  # P3's line had a bad date
    at.switch_page("pages/home.py").run()
    assert {m.label: m.value for m in at.metric}["orders (rows)"] == "3"
    assert "spans 3 weeks only" in at.warning[0].value
    assert at.dataframe[0].value["source_name"].tolist() == ["orders_upload.csv"]


def test_explore_shows_a_measure_the_data_cannot_support_as_an_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    path = tmp_path / "no_costs.duckdb"
    with Store(path) as store, store.transaction() as cur:
        cur.execute("INSERT INTO orders (order_id, order_date, customer_id, product_id, quantity, unit_price) "
                    "VALUES ('O1', DATE '2025-03-03', 'C1', 'P1', 5, 2.0), ('O2', DATE '2025-03-10', 'C1', 'P2', 1, 4.0)")
    monkeypatch.setenv("SEGPLAN_DB", str(path))
    at = open_page("pages/explore.py")
    at.selectbox(key="measure").set_value("margin").run()
    assert not at.exception
    assert "needs costs" in at.error[0].value
    assert charts(at) == []
    at.selectbox(key="measure").set_value("quantity").run()
    assert at.error == [] and len(charts(at)) == 4
