"""A journey in a real browser on pages/compare.py: open Compare versions on a database with two
versions of the products, see the migration matrix, the Sankey and the movers, filter the movers.

This module starts its own server over the tiny sample with a k-means and an ABC x XYZ version
(the shared server of browser_support has no versions).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from browser_support import browser, page, require_chromium, serving, settle, shown_exceptions  # noqa: F401  (fixtures)
from core.diff import compare_versions
from core.sample import build_tiny_database
from core.store import Store
from core.versions import run_segmentation

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def two_versions(tmp_path_factory: pytest.TempPathFactory):
    """The tiny sample with versions 1 (k-means, k = 3) and 2 (ABC x XYZ) of the products, and their diff."""
    path = tmp_path_factory.mktemp("browser_compare") / "compare.duckdb"
    with Store(path) as store:
        build_tiny_database(store)
        run_segmentation(store, "product", "kmeans", k=3)
        run_segmentation(store, "product", "abc_xyz")
        diff = compare_versions(store, 1, 2)
    return str(path), diff


@pytest.fixture(scope="module")
def app_url(two_versions) -> Iterator[str]:
    """`streamlit run app.py` over that database (only the server opens the file from here on)."""
    require_chromium()
    with serving(two_versions[0]) as url:
        yield url


def test_compare_page_shows_the_sankey_and_the_movers(page, app_url, two_versions, tmp_path):
    _, diff = two_versions
    page.goto(app_url + "/compare")
    settle(page)
    page.get_by_role("heading", name="Compare versions", exact=True).wait_for()
    assert shown_exceptions(page) == []

    # the Sankey: one node per segment of A and of B, labelled as such
    sankey = page.locator('[data-testid="stPlotlyChart"] .sankey')
    sankey.first.wait_for()
    nodes = page.locator('[data-testid="stPlotlyChart"] .sankey-node')
    assert nodes.count() == len(diff.matrix.index) + len(diff.matrix.columns)
    labels = page.locator('[data-testid="stPlotlyChart"] .sankey-node text.node-label').evaluate_all(
        "texts => texts.map(t => t.textContent)")
    assert f"A: {diff.matrix.index[0]}" in labels and f"B: {diff.matrix.columns[0]}" in labels
    page.get_by_text("Migration matrix: version 1 → version 2").first.wait_for()

    # the movers: a table and its count
    page.get_by_text(f"{diff.items_moved:,} of {diff.items_moved:,} movers.").wait_for()
    tables = page.locator('[data-testid="stDataFrame"], [data-testid="stDataFrameResizable"]')
    assert tables.count() >= 2                                        # movers and policy impact

    # filter by the first segment of A: the count follows
    first = str(diff.matrix.index[0])
    chooser = page.locator('.st-key-cmp_from [data-testid="stMultiSelect"]')
    chooser.wait_for()   # drawn a moment after the run ends (a skeleton until then)
    chooser.locator("input").click()
    chooser.locator("input").fill(first[:12])   # typing opens the list reliably; a click alone may only focus
    page.get_by_role("option", name=first, exact=True).click()
    settle(page)
    narrowed = int(diff.matrix.loc[first].sum())
    page.get_by_text(f"{narrowed:,} of {diff.items_moved:,} movers.").wait_for()
    assert shown_exceptions(page) == []
    page.screenshot(path=str(tmp_path / "compare.png"), full_page=True)   # to look at when it fails
