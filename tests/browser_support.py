"""Real-browser test support: the app under `streamlit run` on a free port, and Chromium to drive it.

The server gets its own temporary database (SEGPLAN_DB): `app_url` serves the small test data,
`app_url_over(fill)` a database of a module's own, `serving(path)` any file. Only the server opens
it, since DuckDB lets one process write a file at a time.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from core.store import Store
from page_data import fill_small_database

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run",
]
START_TIMEOUT_S = 60
#: a page has finished when its script is not running any more
SETTLED = '[data-testid="stApp"][data-test-script-state="notRunning"]'


def require_chromium() -> None:
    """Skip without Debian's Chromium, except on CI where a missing browser is a failure."""
    if CHROMIUM.exists():
        return
    reason = f"{CHROMIUM} is missing: apt-get install chromium to run the browser tests"
    if os.environ.get("CI"):
        pytest.fail(reason)
    pytest.skip(reason)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_healthy(base_url: str, server: subprocess.Popen, log_path: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"streamlit exited with {server.returncode}:\n{log_path.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(base_url + "/_stcore/health", timeout=2) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.3)
    raise RuntimeError(f"streamlit did not answer in {START_TIMEOUT_S} s:\n{log_path.read_text()[-3000:]}")


@contextmanager
def serving(db_path: Path | str) -> Iterator[str]:
    """`streamlit run app.py` over the database ``db_path`` (SEGPLAN_DB) on a free localhost port, answering
    /_stcore/health: its base URL, until the block ends and the server is stopped. Only the server opens
    the file meanwhile; its output goes to a .log file beside the database."""
    port = free_port()
    log_path = Path(db_path).with_suffix(".log")
    with log_path.open("w") as log:
        server = subprocess.Popen(
            [sys.executable, "-m", "streamlit", "run", "app.py", "--server.headless=true",
             f"--server.port={port}", "--server.address=127.0.0.1", "--browser.gatherUsageStats=false",
             "--server.fileWatcherType=none"],
            cwd=ROOT, env={**os.environ, "SEGPLAN_DB": str(db_path)}, stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    base_url = f"http://localhost:{port}"
    try:
        _wait_healthy(base_url, server, log_path)
        yield base_url
    finally:
        # The server runs in its own session: end it and nothing else.
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()


def app_url_over(fill: Callable[[Store], object], name: str = "browser"):
    """A module-scoped `app_url` fixture: a new database filled by ``fill(store)``, served (`serving`).

    A module with its own data binds it as ``app_url = app_url_over(fill_mine, "mine")``.
    """

    @pytest.fixture(scope="module")
    def app_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
        require_chromium()
        db_path = tmp_path_factory.mktemp(name) / f"{name}.duckdb"
        with Store(db_path) as store:
            fill(store)
        with serving(db_path) as url:
            yield url

    return app_url


#: the shared server: the small loaded database of page_data
app_url = app_url_over(fill_small_database)


@pytest.fixture(scope="module")
def browser(app_url: str):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1500, "height": 1000})
    page = context.new_page()
    page.set_default_timeout(30_000)
    yield page
    context.close()


def settle(page) -> None:
    """Wait until the app is connected and its script run has finished."""
    page.wait_for_selector('[data-testid="stApp"][data-test-connection-state="CONNECTED"]')
    page.wait_for_timeout(300)  # let a rerun triggered by the last action start
    page.wait_for_selector(SETTLED, timeout=90_000)


def shown_exceptions(page) -> list[str]:
    return page.locator('[data-testid="stException"]').all_inner_texts()


def expand_navigation(page) -> None:
    """Unfold a long sidebar navigation (Streamlit folds it behind "View N more") so every link shows."""
    page.locator('[data-testid="stSidebarNav"] a').first.wait_for()   # drawn just after the run settles
    more = page.locator('[data-testid="stSidebarNavViewButton"]')
    if more.count() and "more" in more.inner_text():
        more.click()
