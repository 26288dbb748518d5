"""A journey in a real browser on pages/monitor.py: open Monitor, see the control charts, choose a flagged
point, see its order lines.

The shared server of browser_support has order lines without delivery dates; this module starts
its own over the tiny sample (with deliveries) and a saved k-means version.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from browser_support import browser, page, require_chromium, serving, settle, shown_exceptions  # noqa: F401  (fixtures)
from core.alerts import control_alerts
from core.sample import build_tiny_database
from core.store import Store
from core.versions import run_segmentation

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def flagged(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, object]:
    """The tiny sample with version 1 (product, k-means) and its OTIF rule breaks, newest first."""
    path = tmp_path_factory.mktemp("browser_monitor") / "monitor.duckdb"
    with Store(path) as store:
        build_tiny_database(store)
        version = run_segmentation(store, "product", "kmeans", k=2, min_share=0).version_id
        breaks = control_alerts(store, version, "week", ["otif"])
    return str(path), breaks


@pytest.fixture(scope="module")
def app_url(flagged) -> Iterator[str]:
    """`streamlit run app.py` over the tiny sample (only the server opens the file from here on)."""
    require_chromium()
    with serving(flagged[0]) as url:
        yield url


def test_monitor_charts_a_flagged_point_and_its_order_lines(page, app_url, flagged):
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    _, breaks = flagged
    assert len(breaks) >= 2
    page.goto(app_url + "/monitor")
    settle(page)
    page.get_by_role("heading", name="Monitor", exact=True).wait_for()
    assert shown_exceptions(page) == []
    page.locator('[data-testid="stVegaLiteChart"]').first.wait_for()
    assert page.locator('[data-testid="stVegaLiteChart"]').count() == 2  # one OTIF chart per segment
    assert page.get_by_text("Control charts: OTIF").count() == 1
    lines = page.locator('[data-testid="stMetric"]').filter(
        has=page.locator('[data-testid="stMetricLabel"]').get_by_text("Lines", exact=True))
    first = breaks.iloc[0]
    assert lines.locator('[data-testid="stMetricValue"]').inner_text() == f"{int(first['lines']):,}"

    # choose the oldest flagged point in the list: its lines follow
    last = breaks.iloc[-1]
    option = page.get_by_role("option").filter(has_text=f"{last['segment_label']} · week of {last['period']:%Y-%m-%d}")
    for _ in range(3):  # a rerun from the charts' selection state can close the list as it opens
        settle(page)
        page.locator(".st-key-mon_point-1-week-otif").get_by_role("combobox").click()
        try:
            option.wait_for(timeout=5_000)
            break
        except PlaywrightTimeout:
            page.keyboard.press("Escape")
    option.click()
    settle(page)
    assert shown_exceptions(page) == []
    assert lines.locator('[data-testid="stMetricValue"]').inner_text() == f"{int(last['lines']):,}"
    # status, rule breaks and the order lines of the point (the Alerts tab is hidden)
    assert page.locator('[data-testid="stDataFrame"]:visible').count() == 3


def red_point_centres(png: bytes) -> list[tuple[int, int]]:
    """Centres (x, y in CSS pixels) of the red rule-break marks in a chart screenshot, left to right."""
    import io

    import numpy as np
    from PIL import Image
    from scipy import ndimage

    pixels = np.asarray(Image.open(io.BytesIO(png)).convert("RGB")).astype(int)
    red = (np.abs(pixels[..., 0] - 0xCF) < 25) & (np.abs(pixels[..., 1] - 0x22) < 30) & (np.abs(pixels[..., 2] - 0x2E) < 30)
    labels, count = ndimage.label(red)
    centres = [ndimage.center_of_mass(red, labels, i) for i in range(1, count + 1)]
    sizes = ndimage.sum(red, labels, range(1, count + 1))
    return sorted((int(x), int(y)) for (y, x), size in zip(centres, sizes, strict=True) if size >= 20)


def test_clicking_a_red_point_drills_into_its_lines(page, app_url, flagged):
    _, breaks = flagged
    page.goto(app_url + "/monitor")
    settle(page)
    chart = page.locator('[data-testid="stVegaLiteChart"]').first
    chart.wait_for()
    page.wait_for_timeout(500)  # let Vega draw
    settle(page)
    first_segment = breaks[breaks["segment"] == breaks["segment"].min()].sort_values("period")
    points = red_point_centres(chart.screenshot())
    assert len(points) == len(first_segment)
    box = chart.bounding_box()
    x, y = points[-1]  # the newest break of the first segment
    page.mouse.click(box["x"] + x, box["y"] + y)
    settle(page)
    newest = first_segment.iloc[-1]
    chosen = page.locator(".st-key-mon_point-1-week-otif").get_by_role("combobox")
    assert f"week of {newest['period']:%Y-%m-%d}" in chosen.input_value()
    lines = page.locator('[data-testid="stMetric"]').filter(
        has=page.locator('[data-testid="stMetricLabel"]').get_by_text("Lines", exact=True))
    assert lines.locator('[data-testid="stMetricValue"]').inner_text() == f"{int(newest['lines']):,}"
    assert shown_exceptions(page) == []
