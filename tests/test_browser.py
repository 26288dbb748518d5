"""Journeys in a real browser: the app starts, every page renders, a CSV loads through the Data page."""

from __future__ import annotations

import re

import pytest

from browser_support import ROOT, app_url, browser, expand_navigation, page, settle, shown_exceptions  # noqa: F401  (fixtures)
from page_data import ORDERS_CSV

pytestmark = pytest.mark.browser


def test_a_deep_link_as_first_visit_runs_through_the_entry_file(page, app_url):
    # Must run first on a fresh server: before any session ran st.navigation, Streamlit would
    # run pages/explore.py alone (see ui.state.ensure_entry).
    page.goto(app_url + "/explore")
    settle(page)
    # The page's first run ends in a rerun through app.py; wait for that run's page.
    page.get_by_role("heading", name="Explore", exact=True).wait_for()
    settle(page)
    assert shown_exceptions(page) == []
    # the local admin (no accounts) sees every page of app.py's PAGES registry
    registered = re.findall(r'^\s+\("[^"]+", "pages/\w+\.py"', (ROOT / "app.py").read_text(), re.M)
    assert len(registered) >= 10
    expand_navigation(page)
    assert page.locator('[data-testid="stSidebarNav"] a').count() == len(registered)
    assert page.get_by_text("Explore settings").is_visible()


def test_app_starts_on_home(page, app_url):
    page.goto(app_url)
    settle(page)
    assert page.get_by_role("heading", name="segplan").is_visible()
    assert shown_exceptions(page) == []
    assert "81" in page.locator('[data-testid="stMetricValue"]').first.inner_text()


def test_every_page_in_the_navigation_renders_without_exception(page, app_url):
    page.goto(app_url)
    settle(page)
    expand_navigation(page)
    links = page.eval_on_selector_all('[data-testid="stSidebarNav"] a', "els => els.map(e => e.href)")
    names = {link.rstrip("/").rsplit("/", 1)[-1] for link in links}
    assert {"data", "explore", "monitor", "approvals"} <= names, links
    for link in links:
        page.goto(link)
        settle(page)
        assert shown_exceptions(page) == [], link
        assert page.locator("h1").count() >= 1, link


def test_csv_upload_loads_rows_that_then_show(page, app_url, tmp_path):
    csv_path = tmp_path / "orders_upload.csv"
    csv_path.write_text(ORDERS_CSV)
    page.goto(app_url + "/data")
    settle(page)
    page.locator('[data-testid="stFileUploaderDropzoneInput"]').set_input_files(str(csv_path))
    settle(page)
    page.get_by_text("Column mapping").wait_for()
    assert shown_exceptions(page) == []
    page.get_by_role("button", name="Load into orders").click()
    settle(page)
    assert shown_exceptions(page) == []
    metrics = dict(zip(
        page.locator('[data-testid="stMetricLabel"]').all_inner_texts(),
        page.locator('[data-testid="stMetricValue"]').all_inner_texts(),
        strict=True,
    ))
    assert metrics["Rows read"] == "4"
    assert metrics["Rows loaded"] == "3"
    assert metrics["Rows rejected"] == "1"
    # The rows this run loaded are shown as stored, and the orders tab counts 81 + 3 rows.
    loaded = page.locator(".st-key-loaded_by_run")
    loaded.locator('[role="gridcell"]').first.wait_for(state="attached")  # drawn after the run; hidden a11y cells
    loaded_cells = loaded.locator('[role="gridcell"]').all_inner_texts()
    assert {"A1", "A2", "A3"} <= set(loaded_cells), loaded_cells
    assert "A4" not in loaded_cells  # rejected: bad date
    assert page.get_by_role("tab", name=re.compile(r"orders \(84 rows\)")).count() == 1
