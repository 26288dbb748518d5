"""AppTest support for the page tests: a database for the app (SEGPLAN_DB), a page opened through app.py
as a user reaches it, and what the page shows (texts, metrics, chart titles, tables, widgets by label).

The fixtures are imported by the test modules that use them (``# noqa: F401``), as with browser_support.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from conftest import copy_of
from core.store import Store
from page_data import fill_small_database

APP = Path(__file__).resolve().parents[1] / "app.py"
HOME = "pages/home.py"
#: what `texts` reads by default
TEXT_KINDS = ("markdown", "info", "caption", "success", "error", "warning")


def use_db(path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Point the app at ``path`` (SEGPLAN_DB) for this test."""
    monkeypatch.setenv("SEGPLAN_DB", str(path))
    return path


def use_copy(database: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Point the app at a private copy of ``database`` (tests write into it)."""
    return use_db(copy_of(database, tmp_path), monkeypatch)


@pytest.fixture
def empty_db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The app on a database file not created yet (the app creates it)."""
    return use_db(tmp_path / "empty.duckdb", monkeypatch)


@pytest.fixture
def loaded_db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The app on the small database of page_data (no versions, no accounts)."""
    path = tmp_path / "loaded.duckdb"
    with Store(path) as store:
        fill_small_database(store)
    return use_db(path, monkeypatch)


def no_exception(at: AppTest) -> None:
    assert not at.exception, [e.value for e in at.exception]


def open_page(page: str = HOME, params: dict[str, str] | None = None, session: dict[str, object] | None = None,
              timeout: float = 120) -> AppTest:
    """The app as a user lands on it (``session`` set first, e.g. a signed-in ``user_name``), then switched
    to ``page`` with the query ``params``; no exception on the way."""
    at = AppTest.from_file(str(APP), default_timeout=timeout)
    for key, value in (session or {}).items():
        at.session_state[key] = value
    at.run()
    no_exception(at)
    if page != HOME or params:
        at.switch_page(page)
        at.query_params.update(params or {})
        at.run()
        no_exception(at)
    return at


def texts(at: AppTest, *kinds: str) -> str:
    """The text of the page's elements of these kinds (default: TEXT_KINDS), one per line."""
    return "\n".join(str(element.value) for kind in kinds or TEXT_KINDS for element in getattr(at, kind))


def metrics(at: AppTest) -> dict[str, tuple[str, str]]:
    """Each metric's label -> (value, delta)."""
    return {m.label: (m.value, m.delta) for m in at.metric}


def metric_values(at: AppTest) -> dict[str, str]:
    """Each metric's label -> value."""
    return {m.label: m.value for m in at.metric}


def chart_titles(at: AppTest, plotly: bool = False) -> list[str]:
    """The titles of the Vega-Lite charts (a layered chart's first titled layer), then with ``plotly`` those
    of the Plotly charts."""
    titles = []
    for chart in at.get("vega_lite_chart"):
        spec = json.loads(chart.proto.spec)
        title = spec.get("title") or next((part.get("title") for part in spec.get("layer", []) if part.get("title")), None)
        titles.append(title["text"] if isinstance(title, dict) else str(title))
    if plotly:
        titles += [json.loads(chart.proto.spec)["layout"]["title"]["text"] for chart in at.get("plotly_chart")]
    return titles


def frame_with(at: AppTest, column: str):
    """The first table shown that has ``column``."""
    return next(d.value for d in at.dataframe if column in d.value.columns)


def by_label(widgets: Iterable, label: str):
    """The first widget of ``widgets`` (e.g. ``at.button``, ``at.sidebar.selectbox``) labelled ``label``."""
    return next(w for w in widgets if w.label == label)


def click(at: AppTest, label: str) -> AppTest:
    """Click the button labelled ``label`` and run; no exception."""
    by_label(at.button, label).click().run()
    no_exception(at)
    return at
