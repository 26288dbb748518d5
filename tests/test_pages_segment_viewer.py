"""The Segment page's 2-D view (pages/segment.py) per role, through AppTest: a role that may not see money
cannot plot revenue, cost or margin on an axis; a planner can.

Accounts exist, so the app acts as the signed-in user (``user_name`` in the session; ui/auth.py reads the
role from the account). Accounts without passwords: no slow hashing here.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from core.auth import is_money_column
from core.store import Store
from core.users import add_user
from page_data import fill_small_database
from page_support import open_page, use_db

SEGMENT = "pages/segment.py"


@pytest.fixture
def accounts(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "segment_roles.duckdb"
    with Store(path) as store:
        fill_small_database(store)
        add_user(store, "ada", "admin", by="setup")
        add_user(store, "pat", "planner", by="ada")
        add_user(store, "vic", "viewer", by="ada")
    return use_db(path, monkeypatch)


def segment_page(user: str, remembered: dict[str, object] | None = None) -> AppTest:
    return open_page(SEGMENT, session={"user_name": user, **(remembered or {})})


def test_a_viewer_is_offered_no_money_feature_for_the_2d_view(accounts: Path):
    at = segment_page("vic")
    at.radio(key="seg_view").set_value("features").run()
    x_axis, y_axis = at.selectbox(key="seg_x:product"), at.selectbox(key="seg_y:product")
    assert not x_axis.disabled
    for axis in (x_axis, y_axis):
        assert axis.options, "the view still offers features"
        assert not [name for name in axis.options if is_money_column(name)], axis.options
        assert not {"revenue", "cost", "margin", "margin_pct"} & set(axis.options)
    # the planner's default x axis is revenue; the viewer's is the first feature without money
    assert x_axis.value == "quantity" and y_axis.value == "cv"
    layout = json.loads(at.get("plotly_chart")[-1].proto.spec)["layout"]
    assert (layout["xaxis"]["title"]["text"], layout["yaxis"]["title"]["text"]) == ("quantity (units)", "cv (ratio)")


def test_a_remembered_money_axis_falls_back_for_a_viewer(accounts: Path):
    # e.g. a planner's choice left in the session when a viewer signs in on the same browser session
    at = segment_page("vic", {"seg_view": "features", "seg_x:product": "revenue", "seg_y:product": "margin"})
    assert at.selectbox(key="seg_x:product").value == "quantity"
    assert at.selectbox(key="seg_y:product").value == "cv"


def test_a_planner_may_plot_revenue_and_margin(accounts: Path):
    at = segment_page("pat")
    at.radio(key="seg_view").set_value("features").run()
    x_axis = at.selectbox(key="seg_x:product")
    assert {"revenue", "cost", "margin", "margin_pct"} <= set(x_axis.options)
    assert x_axis.value == "revenue"
