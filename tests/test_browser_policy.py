"""A journey in a real browser on pages/policies.py: save a product-level version, open Policies, see the editor."""

from __future__ import annotations

import re

import pytest

from browser_support import app_url, browser, page, settle, shown_exceptions  # noqa: F401  (fixtures)

pytestmark = pytest.mark.browser


def test_policies_page_renders_with_the_policy_editor(page, app_url):
    page.goto(app_url + "/segment")
    settle(page)
    page.get_by_role("button", name="Save as version").click()
    settle(page)
    page.get_by_text(re.compile(r"Saved as version \d+")).wait_for()
    page.goto(app_url + "/policies")
    settle(page)
    page.get_by_role("heading", name="Policies", exact=True).wait_for()
    settle(page)
    assert shown_exceptions(page) == []
    editor = page.locator(".st-key-pol_editor-1-0")
    editor.wait_for()
    assert editor.locator('[data-testid="stDataFrame"], [data-testid="stDataFrameResizable"]').count() >= 1
    assert page.get_by_role("button", name="Save policies").is_disabled()
    assert page.locator('[data-testid="stMetricLabel"]').filter(has_text="Inventory investment").count() == 1
    assert page.locator('[data-testid="stVegaLiteChart"]').count() >= 3
    assert page.locator('[data-testid="stException"]').count() == 0
