"""The Overview and Cost to serve pages (pages/overview.py, pages/cost_to_serve.py) through AppTest.

Databases: empty; the tiny sample (it has cost_rates, 7 rates in EUR) with a product-level
ABC x XYZ version 1 approved and a customer-level version 2 left a draft; the same without
cost rates; with a rate in a second currency. A viewer account checks the money masking.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from core.cost_to_serve import cost_to_serve
from core.sample import build_tiny_database
from core.store import Store
from core.users import add_user
from core.versions import run_segmentation
from page_support import (  # noqa: F401  (empty_db: fixture)
    chart_titles, empty_db, frame_with, metrics, no_exception, open_page, texts, use_copy,
)

OVERVIEW = "pages/overview.py"
COST = "pages/cost_to_serve.py"


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("tiny_monitoring") / "tiny.duckdb"
    with Store(path) as store:
        build_tiny_database(store)
        run_segmentation(store, "product", "abc_xyz")     # version 1
        run_segmentation(store, "customer", "abc_xyz")    # version 2
        with store.transaction() as cur:   # test set-up: approval itself is another page's business
            cur.execute("UPDATE segment_versions SET status = 'approved' WHERE version_id = 1")
    return path


@pytest.fixture
def loaded(template: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    return use_copy(template, tmp_path, monkeypatch)


def change(path: Path, *statements: str) -> None:
    with Store(path) as store, store.transaction() as cur:
        for sql in statements:
            cur.execute(sql)


def as_viewer(path: Path) -> dict[str, str]:
    with Store(path) as store:
        add_user(store, "ada", "admin", by="setup")
        add_user(store, "vic", "viewer", by="ada")
    return {"user_name": "vic"}


# -- Cost to serve ------------------------------------------------------------------------------------
def test_cost_page_on_an_empty_database_says_load_orders(empty_db: Path):
    at = open_page(COST)
    assert at.title[0].value == "Cost to serve"
    assert "No orders loaded yet" in at.info[0].value
    assert [link.proto.page for link in at.get("page_link")][-1] == "data"
    assert at.error == [] and at.get("vega_lite_chart") == []


def test_cost_page_without_rates_explains_the_file_and_still_shows_margin(loaded: Path):
    change(loaded, "DELETE FROM cost_rates")
    at = open_page(COST)
    assert "No cost rates loaded, so every cost to serve is 0 and profit equals gross margin" in texts(at, "info")
    assert at.code[0].value.startswith("activity,driver,rate,currency\n")
    assert "data" in [link.proto.page for link in at.get("page_link")]
    shown = metrics(at)
    assert shown["Cost to serve (currency units)"][0] == "0"
    assert shown["Gross margin (currency units)"][0] == shown["Profit (currency units)"][0] != "0"
    assert "Whale curve: where the profit is made and lost" in chart_titles(at)
    assert "No cost rates loaded." in texts(at, "caption")


def test_cost_page_with_rates_and_versions(loaded: Path):
    at = open_page(COST)
    assert at.error == []
    assert at.radio(key="cts_level").value == "customer"
    version = at.selectbox(key="cts_version:customer")
    assert version.value == 2   # no customer version is approved: the newest draft
    assert "draft — not approved" in version.format_func(version.value)
    with Store(loaded) as store:
        expected = cost_to_serve(store, "customer")
    shown = metrics(at)
    assert shown["Customers"][0] == "20"
    assert shown["Cost to serve (EUR)"][0] == f"{expected['cost_to_serve'].sum():,.0f}"
    assert shown["Profit (EUR)"][0] == f"{expected['profit'].sum():,.0f}"
    assert {"Whale curve: where the profit is made and lost", "Cost to serve against gross margin per segment",
            "Cost to serve per segment by activity"} <= set(chart_titles(at))
    per_customer = frame_with(at, "customer_id")
    assert len(per_customer) == 20 and per_customer["profit"].is_monotonic_increasing   # least profitable first
    rates = frame_with(at, "rate")
    assert rates["cost"].sum() == pytest.approx(expected["cost_to_serve"].sum())
    assert "Download the cost to serve per customer (CSV)" in [b.label for b in at.get("download_button")]

    at.radio(key="cts_level").set_value("product").run()
    no_exception(at)
    assert at.selectbox(key="cts_version:product").value == 1   # the approved version is in force
    assert len(frame_with(at, "product_id")) == 60
    at.selectbox(key="cts_version:product").select_index(0).run()   # "none (no segments)"
    no_exception(at)
    assert "Choose a saved product-level version" in texts(at, "info")
    assert "Cost to serve against gross margin per segment" not in chart_titles(at)


def test_rates_in_two_currencies_are_shown_as_the_error_to_fix(loaded: Path):
    change(loaded, "INSERT INTO cost_rates (activity, driver, rate, currency) VALUES ('packing', 'per_order', 1, 'USD')")
    at = open_page(COST)
    assert "cost rates are in several currencies: EUR, USD" in at.error[0].value
    assert at.get("vega_lite_chart") == [] and at.metric == []


def test_a_viewer_sees_volumes_but_no_money_on_the_cost_page(loaded: Path):
    at = open_page(COST, session=as_viewer(loaded))
    assert "Your role (viewer) does not see revenue, margin or cost" in texts(at, "info")
    assert not any("EUR" in label or "margin" in label.lower() for label in metrics(at))
    assert "Orders" in metrics(at)
    assert "Whale curve: where the profit is made and lost" not in chart_titles(at)
    per_customer = frame_with(at, "customer_id")
    for column in ("cost_to_serve", "revenue", "gross_margin", "profit", "cost_picking"):
        assert set(per_customer[column]) == {"masked"}, column
    assert per_customer["order_lines"].sum() > 0
    assert "Rates are costs: not shown to your role." in texts(at, "caption")


# -- Overview ---------------------------------------------------------------------------------------------
def test_overview_on_an_empty_database_says_segment_first(empty_db: Path):
    at = open_page(OVERVIEW)
    assert at.title[0].value == "Overview"
    assert "No saved segmentation yet" in at.info[0].value
    assert [link.proto.page for link in at.get("page_link")][-1] == "segment"


def test_overview_defaults_to_the_version_in_force_and_the_latest_complete_month(loaded: Path):
    at = open_page(OVERVIEW)
    assert at.warning == [w for w in at.warning if "customer" in w.value]   # only the customer level is a draft
    assert "version 1 is in force" in texts(at, "success")
    assert "no approved version; newest is version 2, draft — not approved" in texts(at, "warning")
    assert at.selectbox(key="ov_level").value == "product"
    assert at.selectbox(key="ov_version:product").value == 1
    assert str(at.selectbox(key="ov_period").value) == "2025-04-01"   # May 2025 is still running (last order 4 May)
    segment = at.selectbox(key="ov_segment").value
    assert segment == "AX"
    assert at.header[0].value == "AX · Apr 2025"
    shown = metrics(at)
    assert {"OTIF", "fill rate", "on time", "order cycle time"} <= set(shown)
    assert shown["OTIF"][0].endswith(" %") and shown["OTIF"][1].endswith(" pts")
    assert {"KPI status per segment, Apr 2025", "Cost to serve against gross margin per segment"} <= set(chart_titles(at))
    assert any(t.startswith("OTIF per segment over the last") for t in chart_titles(at))
    assert "Cost to serve (EUR)" in shown
    link = "overview?level=product&version=1&bucket=month&segment=AX&period=2025-04-01"
    assert at.code[-1].value == link
    assert at.query_params == {"level": "product", "version": "1", "bucket": "month", "segment": "AX",
                               "period": "2025-04-01"}


def test_overview_link_selects_version_segment_and_period(loaded: Path):
    with Store(loaded) as store:
        from core.versions import assignments

        segments = sorted(assignments(store, 2)["segment"].astype(str).unique())
    wanted = segments[-1]
    at = open_page(OVERVIEW, {"version": "2", "segment": wanted, "period": "2025-03-17", "bucket": "week"})
    assert at.selectbox(key="ov_level").value == "customer"
    assert at.selectbox(key="ov_version:customer").value == 2
    assert at.selectbox(key="ov_segment").value == wanted
    assert str(at.selectbox(key="ov_period").value) == "2025-03-17"   # a Monday: its own week
    assert at.radio(key="ov_bucket").value == "week"
    assert "Version 2 is a draft — not approved." in texts(at, "warning")
    assert at.header[0].value == f"{wanted} · week of 17 Mar 2025"
    assert not any("could not be followed" in w.value for w in at.warning)
    assert at.query_params["segment"] == wanted and at.query_params["period"] == "2025-03-17"

    # months instead of weeks: the same time, its month
    at.radio(key="ov_bucket").set_value("month").run()
    no_exception(at)
    assert str(at.selectbox(key="ov_period").value) == "2025-03-01"
    assert at.query_params["bucket"] == "month" and at.query_params["period"] == "2025-03-01"

    # a change of the selection rewrites the URL and the link
    at.selectbox(key="ov_segment").set_value(segments[0]).run()
    no_exception(at)
    assert at.query_params["segment"] == segments[0]
    assert f"segment={segments[0]}" in at.code[-1].value


def test_overview_link_with_a_day_inside_the_month_and_a_segment_name(loaded: Path):
    at = open_page(OVERVIEW, {"version": "1", "segment": "BY", "period": "2025-02-14"})
    assert at.selectbox(key="ov_segment").value == "BY"
    assert str(at.selectbox(key="ov_period").value) == "2025-02-01"


def test_invalid_link_parameters_warn_and_fall_back(loaded: Path):
    at = open_page(OVERVIEW, {"version": "99", "segment": "ZZ", "period": "14/02/2025", "bucket": "year"})
    shown = texts(at, "warning")
    assert "version '99' in the link does not exist" in shown
    assert "segment 'ZZ' in the link is not one of" in shown
    assert "period '14/02/2025' in the link is not a date" in shown
    assert "bucket 'year' in the link is not one of: week, month" in shown
    assert at.selectbox(key="ov_version:product").value == 1
    assert at.selectbox(key="ov_segment").value == "AX"
    assert str(at.selectbox(key="ov_period").value) == "2025-04-01"
    assert at.query_params["version"] == "1"   # the URL now says what is shown

    at = open_page(OVERVIEW, {"version": "1", "period": "2019-01-01"})
    assert "(Jan 2019) has no order lines in this version" in texts(at, "warning")


def test_a_viewer_sees_kpis_but_no_money_on_the_overview(loaded: Path):
    at = open_page(OVERVIEW, session=as_viewer(loaded))
    shown = metrics(at)
    assert "OTIF" in shown
    assert not any("EUR" in label for label in shown)
    assert "Your role (viewer) does not see revenue, margin or cost." in texts(at, "info")
    assert "Cost to serve against gross margin per segment" not in chart_titles(at)


def test_overview_of_a_version_without_order_lines_says_so(loaded: Path):
    change(loaded, "DELETE FROM orders")
    at = open_page(OVERVIEW)
    assert "No order lines to measure" in texts(at, "info")


def test_a_business_that_loses_money_overall_has_no_whale_curve_but_a_reason(loaded: Path):
    change(loaded, "UPDATE orders SET cost_amount = NULL, unit_cost = 2 * unit_price")
    at = open_page(COST)
    assert "the whale curve is scaled by it and needs it positive" in at.error[0].value
    assert "Whale curve: where the profit is made and lost" not in chart_titles(at)
    assert frame_with(at, "customer_id")["profit"].lt(0).all()   # the rest of the page is still there


def test_overview_headlines_forecast_accuracy_and_inventory_turns_per_segment(loaded: Path):
    import datetime as dt

    from core.charts_overview import kpi_text
    from core.kpi_report import kpi_report

    with Store(loaded) as store:
        report = kpi_report(store, 1, "month").table
    april = report[report["period"] == dt.date(2025, 4, 1)].set_index("segment")
    march = report[report["period"] == dt.date(2025, 3, 1)].set_index("segment")
    at = open_page(OVERVIEW)
    assert "Forecast accuracy and inventory turns" in [s.value for s in at.subheader]
    shown = {m.label: (m.value, m.delta) for m in at.metric}
    # the default segment AX in Apr 2025 (worked by core.kpi_report), with the change against March
    accuracy, turns = april.at["AX", "forecast_accuracy"], april.at["AX", "inventory_turns_annualised"]
    assert shown["forecast accuracy"][0] == f"{100 * accuracy:.1f} %"
    assert shown["forecast accuracy"][1] == f"{100 * (accuracy - march.at['AX', 'forecast_accuracy']):+.1f} pts"
    assert shown["inventory turns"][0] == f"{turns:.1f} a year"
    assert shown["inventory turns"][1] == f"{turns - march.at['AX', 'inventory_turns_annualised']:+.1f} turns"
    per_segment = frame_with(at, "forecast accuracy").set_index("segment")
    assert len(per_segment) == len(april)
    for segment, row in april.iterrows():
        assert per_segment.at[row["segment_label"], "forecast accuracy"] == kpi_text("forecast_accuracy",
                                                                                     row["forecast_accuracy"])
        assert per_segment.at[row["segment_label"], "inventory turns"] == f"{row['inventory_turns_annualised']:.1f} a year"

    # January is before the scored months: said so, turns still shown
    at.sidebar.selectbox(key="ov_period").set_value(dt.date(2025, 1, 1)).run()
    no_exception(at)
    shown = {m.label: (m.value, m.delta) for m in at.metric}
    assert shown["forecast accuracy"][0] == "–" and shown["inventory turns"][0].endswith(" a year")
    scored = sorted(report.loc[report["forecast_accuracy"].notna(), "period"].unique())
    assert (f"Not scored for Jan 2025: forecast accuracy is scored for the latest {len(scored)} complete months "
            "(Feb 2025 to Apr 2025).") in texts(at, "caption")

    # a customer version has neither: one clear note, no tiles
    at.sidebar.selectbox(key="ov_level").set_value("customer").run()
    no_exception(at)
    assert "Forecast accuracy and inventory turns are not available for version 2." in texts(at, "info")
    assert ("Forecast accuracy is per product forecast; version 2 segments customers. Inventory turns are per "
            "product segment: stock is not held per customer (version 2).") in texts(at, "info")
    assert "forecast accuracy" not in {m.label for m in at.metric}
