"""Journeys in a real browser on pages/segment.py and pages/explain.py: tune a weight, save, explain."""

from __future__ import annotations

import re

import pytest

from browser_support import app_url, browser, page, settle, shown_exceptions  # noqa: F401  (fixtures)

pytestmark = pytest.mark.browser


def metric_values(page) -> dict[str, str]:
    return dict(zip(page.locator('[data-testid="stMetricLabel"]').all_inner_texts(),
                    page.locator('[data-testid="stMetricValue"]').all_inner_texts(), strict=True))


def test_segment_page_renders_and_a_weight_change_updates_the_result(page, app_url):
    page.goto(app_url + "/segment")
    settle(page)
    page.get_by_role("heading", name="Segment", exact=True).wait_for()
    settle(page)
    assert shown_exceptions(page) == []
    assert metric_values(page)["Products"] == "6"
    assert page.locator('[data-testid="stVegaLiteChart"]').count() >= 3
    assert page.locator(".js-plotly-plot").count() >= 1
    # Move the revenue weight slider with the keyboard: 1 -> 5 (step 0.5).
    slider = page.locator(".st-key-seg_weight-product-revenue input[type=range]")
    slider.focus()
    for _ in range(8):
        page.keyboard.press("ArrowRight")
    settle(page)
    assert slider.input_value() == "5"
    assert shown_exceptions(page) == []
    assert "Segments" in metric_values(page)


def test_save_a_version_and_explain_it(page, app_url):
    page.goto(app_url + "/segment")
    settle(page)
    page.get_by_role("button", name="Save as version").click()
    settle(page)
    success = page.get_by_text(re.compile(r"Saved as version \d+"))
    success.wait_for()
    version = re.search(r"version (\d+)", success.inner_text()).group(1)
    page.get_by_role("link", name="Explain the segments").click()
    settle(page)
    page.get_by_role("heading", name="Explain", exact=True).wait_for()
    settle(page)
    assert shown_exceptions(page) == []
    assert page.get_by_text(f"Explaining version {version}:").count() == 1
    assert metric_values(page)["Fidelity (held-out accuracy)"].endswith("%")
    assert page.get_by_text(re.compile(r"^In «")).count() == 1
    assert page.locator(".js-plotly-plot").count() >= 2  # beeswarm and waterfall
