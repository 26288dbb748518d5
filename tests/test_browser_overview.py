"""The committee's journey in a real browser: a pasted Overview link opens on its version, segment and
period; Cost to serve shows the whale curve.

The server's database is the tiny sample (it has cost rates and delivery dates) with a
product-level ABC x XYZ version 1, approved (this module's own server, `app_url_over`).
"""

from __future__ import annotations

import re

import pytest

from browser_support import app_url_over, browser, page, settle, shown_exceptions  # noqa: F401  (fixtures)
from core.sample import build_tiny_database
from core.store import Store
from core.versions import run_segmentation

pytestmark = pytest.mark.browser


def fill_tiny_with_version(store: Store) -> None:
    build_tiny_database(store)
    run_segmentation(store, "product", "abc_xyz")
    with store.transaction() as cur:   # test set-up: approval has its own page
        cur.execute("UPDATE segment_versions SET status = 'approved' WHERE version_id = 1")


app_url = app_url_over(fill_tiny_with_version, "browser_overview")


def selected(page, label: str) -> str:
    """The shown value of the sidebar select box with this label (a combobox named by its label)."""
    return page.locator('[data-testid="stSidebar"]').get_by_role("combobox", name=label, exact=True).input_value()


def test_a_pasted_overview_link_opens_on_its_version_segment_and_period(page, app_url):
    # the first visit of a fresh server, as when the chair pastes the link
    page.goto(app_url + "/overview?version=1&segment=BY&period=2025-02-14")
    settle(page)
    page.get_by_role("heading", name="BY · Feb 2025").wait_for()
    settle(page)
    assert shown_exceptions(page) == []
    assert selected(page, "Segment") == "BY"
    assert selected(page, "Period shown") == "Feb 2025"
    assert selected(page, "Segmentation version").startswith("Version 1")
    assert page.locator('[data-testid="stMetricLabel"]').filter(has_text="OTIF").count() == 1
    # the URL says what is shown: the period snapped to its month, level and bucket added
    assert re.search(r"[?&]period=2025-02-01(&|$)", page.url) and "segment=BY" in page.url
    assert "overview?level=product&version=1&bucket=month&segment=BY&period=2025-02-01" in \
        page.locator('[data-testid="stCode"]').last.inner_text()
    assert page.get_by_text("could not be followed").count() == 0


def test_an_invalid_link_warns_and_shows_the_default(page, app_url):
    page.goto(app_url + "/overview?version=42&period=not-a-date")
    settle(page)
    page.get_by_text("version '42' in the link does not exist").wait_for()
    assert page.get_by_text("period 'not-a-date' in the link is not a date").count() == 1
    assert shown_exceptions(page) == []
    assert selected(page, "Period shown") == "Apr 2025"
    assert "version=1" in page.url


def test_cost_to_serve_shows_the_whale_curve(page, app_url):
    page.goto(app_url + "/cost_to_serve")
    settle(page)
    page.get_by_role("heading", name="Whale curve").wait_for()
    settle(page)
    assert shown_exceptions(page) == []
    # the customer level has no saved version here, so the whale curve is the page's one chart (SVG)
    whale = page.locator('[data-testid="stVegaLiteChart"]').first
    whale.scroll_into_view_if_needed()
    whale.locator("svg text").filter(has_text="Whale curve: where the profit is made and lost").wait_for()
    assert whale.locator("svg text").filter(has_text="100 % = total profit").count() == 1
    assert whale.locator("svg text").filter(has_text=re.compile(r"^peak: \d+ % of profit from the top")).count() == 1
    assert whale.locator("svg text").filter(has_text="cumulative profit (% of total profit)").count() == 1
    assert page.locator('[data-testid="stMetricLabel"]').filter(has_text="Cost to serve (EUR)").count() == 1
