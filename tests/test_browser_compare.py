"""A journey in a real browser on pages/compare.py: open Compare versions on a database with two
versions of the products, see the migration matrix, the Sankey and the movers, filter the movers.

This module starts its own server over the tiny sample with a k-means and an ABC x XYZ version
(the shared server of browser_support has no versions).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from browser_support import (  # noqa: F401  (fixtures)
    ROOT,
    _wait_healthy,
    browser,
    free_port,
    page,
    require_chromium,
    settle,
    shown_exceptions,
)
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
    db_path, _ = two_versions
    port = free_port()
    log_path = Path(db_path).with_suffix(".log")
    with log_path.open("w") as log:
        server = subprocess.Popen(
            [sys.executable, "-m", "streamlit", "run", "app.py", "--server.headless=true",
             f"--server.port={port}", "--server.address=127.0.0.1", "--browser.gatherUsageStats=false",
             "--server.fileWatcherType=none"],
            cwd=ROOT, env={**os.environ, "SEGPLAN_DB": db_path}, stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    base_url = f"http://localhost:{port}"
    try:
        _wait_healthy(base_url, server, log_path)
        yield base_url
    finally:
        os.killpg(server.pid, signal.SIGTERM)   # its own session: this server and nothing else
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()


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
