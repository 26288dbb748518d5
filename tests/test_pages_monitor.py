"""The Monitor page (pages/monitor.py) through AppTest.

Empty database, orders without a version, orders without delivery dates, and the tiny sample
with a saved k-means version: status per segment against targets, one control chart per
segment, the rule breaks, the drill-down to order lines, and the alerts (boundary drift
recorded with an audit event; an ABC x XYZ version measured against its class boundaries).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from core.alerts import control_alerts
from core.sample import build_tiny_database
from core.store import Store
from core.versions import assignments, run_segmentation
from page_data import fill_small_database
import page_support
from page_support import APP, chart_titles, empty_db, no_exception, use_copy  # noqa: F401  (empty_db: fixture)
from page_support import frame_with as table_with

MONITOR = "pages/monitor.py"


@pytest.fixture(scope="module")
def tiny_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("tiny_monitor") / "tiny.duckdb"
    with Store(path) as store:
        build_tiny_database(store)
        run_segmentation(store, "product", "kmeans", k=2, min_share=0)
    return path


@pytest.fixture
def tiny_db(tiny_template: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A copy of the tiny sample with version 1 (product, k-means, 2 segments)."""
    return use_copy(tiny_template, tmp_path, monkeypatch)


@pytest.fixture
def db(empty_db: Path) -> Path:
    return empty_db


def open_page() -> AppTest:
    return page_support.open_page(MONITOR)


def move_an_item(store: Store) -> str:
    """Make a middle item of segment 0 sell exactly like the most typical item of segment 1; its id."""
    saved = assignments(store, 1)
    ranked = saved[saved["segment"] == 0].sort_values("boundary_margin")
    moved = ranked["product_id"].iloc[len(ranked) // 2]
    typical_other = saved[saved["segment"] == 1].sort_values("distance_own")["product_id"].iloc[0]
    with store.transaction() as cur:
        cur.execute("DELETE FROM orders WHERE product_id = ?", [moved])
        cur.execute("INSERT INTO orders SELECT * REPLACE (? AS product_id, order_id || '-moved' AS order_id) "
                    "FROM orders WHERE product_id = ?", [moved, typical_other])
    return moved


def test_empty_database_links_to_the_data_page(db: Path):
    at = open_page()
    assert at.title[0].value == "Monitor"
    assert "No orders loaded yet" in at.info[0].value
    assert [link.proto.page for link in at.get("page_link")][-1] == "data"
    assert at.error == []


def test_orders_without_a_version_link_to_the_segment_page(db: Path):
    with Store(db) as store:
        fill_small_database(store)
    at = open_page()
    assert "No saved segmentation yet" in at.info[0].value
    assert [link.proto.page for link in at.get("page_link")][-1] == "segment"


def test_orders_without_delivery_dates_name_the_columns_needed(db: Path):
    with Store(db) as store:
        fill_small_database(store)
        run_segmentation(store, "product", "kmeans", k=2, min_share=0)
    at = open_page()
    assert at.error == []
    warning = next(w.value for w in at.warning if "no delivery data" in w.value)
    for column in ("promised_date", "delivered_date", "delivered_quantity"):
        assert column in warning
    assert at.get("vega_lite_chart") == []
    # the drift alerts need no delivery dates
    assert "Items drifting toward a segment boundary" in [s.value for s in at.subheader]
    assert any("No item is drifting" in s.value for s in at.success)


def test_status_charts_rule_breaks_and_drill_down_on_a_loaded_database(tiny_db: Path):
    at = open_page()
    assert at.error == []
    assert "Version 1 is a draft — not approved." in at.warning[0].value
    assert "draft — not approved" in at.selectbox(key="mon_version:product").format_func(1)
    status = table_with(at, "OTIF status")
    assert len(status) == 2
    assert set(status["OTIF status"]) <= {"on target", "at risk", "off target", "no target"}
    assert {"OTIF target", "fill rate target", "rule breaks"} <= set(status.columns)
    titles = chart_titles(at)
    assert len(titles) == 2 and all(t.startswith("OTIF of «") for t in titles)
    with Store(tiny_db) as store:
        expected = control_alerts(store, 1, "week", ["otif"])
    breaks = table_with(at, "rule")
    assert len(breaks) == len(expected) > 0
    assert set(breaks["rule"]) <= {"1 point beyond 3 sigma", "2 of 3 beyond 2 sigma", "4 of 5 beyond 1 sigma",
                                   "8 in a row on one side"} | {w for w in breaks["rule"] if ";" in w}
    # drill-down: the first flagged point's order lines
    point = at.selectbox(key="mon_point:1:week:otif")
    segment, period = point.value.split("|")
    first = expected.iloc[0]
    assert (segment, period) == (str(first["segment"]), f"{first['period']:%Y-%m-%d}")
    lines = table_with(at, "days_late")
    assert len(lines) == int(first["lines"])
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Lines"] == f"{int(first['lines']):,}"
    # choose another flagged point: its lines follow
    last = expected.iloc[-1]
    assert len(point.options) == len(expected)
    assert point.options[-1].startswith(f"{last['segment_label']} · week of {last['period']:%Y-%m-%d} · ")
    point.set_value(f"{last['segment']}|{last['period']:%Y-%m-%d}").run()
    no_exception(at)
    assert len(table_with(at, "days_late")) == int(last["lines"])
    # chart one segment only
    at.multiselect(key="mon_segments:1:week:otif").set_value([str(last["segment"])]).run()
    no_exception(at)
    assert chart_titles(at) == [f"OTIF of «{last['segment_label']}»"]


def test_kpi_and_bucket_switch_and_the_approved_version_is_the_default(tiny_db: Path):
    with Store(tiny_db) as store:
        run_segmentation(store, "product", "abc_xyz")  # version 2, newer
        with store.transaction() as cur:
            cur.execute("UPDATE segment_versions SET status = 'approved' WHERE version_id = 1")
    at = open_page()
    assert at.selectbox(key="mon_version:product").value == 1
    assert not [w for w in at.warning if "not approved" in w.value]
    at.selectbox(key="mon_kpi").set_value("order_cycle_time_days").run()
    no_exception(at)
    assert all(t.startswith("order cycle time of «") for t in chart_titles(at))
    at.radio(key="mon_bucket").set_value("month").run()
    no_exception(at)
    assert any(s.value.startswith("Latest complete month:") for s in at.subheader)
    # the newer draft, ABC x XYZ: drift is measured against the class boundaries; unchanged data, none
    at.selectbox(key="mon_version:product").set_value(2).run()
    no_exception(at)
    assert any("not approved" in w.value for w in at.warning)
    assert not any("Drift alerts need" in i.value for i in at.info)
    assert any("No item is drifting" in s.value for s in at.success)


def test_a_nine_box_item_drifting_toward_its_neighbouring_class_is_listed(tiny_db: Path):
    from core.alerts import boundary_alerts

    with Store(tiny_db) as store:
        version = run_segmentation(store, "product", "abc_xyz")  # version 2
        saved = version.result.assignments
        steady = saved[saved["segment"].str.endswith("X")].sort_values("boundary_margin")["product_id"].iloc[-1]
        with store.transaction() as cur:  # one week with 20 times its latest line: its demand is no longer steady
            cur.execute("INSERT INTO orders SELECT * REPLACE (order_id || '-spike' AS order_id, quantity * 20 AS quantity) "
                        "FROM orders WHERE product_id = ? AND quantity > 0 ORDER BY order_date DESC LIMIT 1", [steady])
        expected = boundary_alerts(store, 2)  # nothing recorded yet: what the page should list
    row = expected.set_index("product_id").loc[steady]
    assert row["relative_margin"] < 0 and row["nearest_segment"][1] in "YZ"
    at = open_page()
    at.selectbox(key="mon_version:product").set_value(2).run()
    no_exception(at)
    drift = table_with(at, "current relative margin")
    assert set(drift["product_id"]) == set(expected["product_id"]) and steady in set(drift["product_id"])
    listed = drift.set_index("product_id").loc[steady]
    assert listed["nearest other segment"] == row["nearest_segment_label"]


def test_a_drifting_item_is_listed_and_its_alert_recorded(tiny_db: Path):
    with Store(tiny_db) as store:
        moved = move_an_item(store)
    at = open_page()
    drift = table_with(at, "current relative margin")
    assert list(drift["product_id"]) == [moved]
    assert drift["current relative margin"].iloc[0] < 0
    assert any("Recorded 1 alert change(s)" in c.value for c in at.caption)
    assert any(c.value.startswith("Relative margin = (distance to the nearest other centre") for c in at.caption)
    again = open_page()  # a refresh records nothing new; the item is still listed, alerted earlier
    assert list(table_with(again, "since")["since"]) == ["earlier"]
    assert not any("Recorded" in c.value for c in again.caption)
    with Store(tiny_db) as store:
        rows = store.cursor().execute("SELECT product_id, active FROM segment_alert_state").fetchall()
        events = store.cursor().execute("SELECT count(*) FROM audit_log WHERE action = 'record_alerts'").fetchone()[0]
    assert rows == [(moved, True)] and events == 1


def test_a_viewer_sees_the_drift_but_records_nothing(tiny_db: Path):
    from core.users import add_user

    with Store(tiny_db) as store:
        add_user(store, "root", "admin", "root-password-1", by=None)
        add_user(store, "vera", "viewer", "vera-password-1", by="root")
        moved = move_an_item(store)
    at = AppTest.from_file(str(APP), default_timeout=120).run()
    inputs = {t.label: t for t in at.text_input}
    inputs["User name"].input("vera")
    inputs["Password"].input("vera-password-1")
    at.button[0].click().run()
    assert at.session_state["role"] == "viewer"
    at.switch_page(MONITOR).run()
    no_exception(at)
    assert list(table_with(at, "current relative margin")["product_id"]) == [moved]
    assert not any("Recorded" in c.value for c in at.caption)
    with Store(tiny_db) as store:
        assert store.cursor().execute("SELECT count(*) FROM segment_alert_state").fetchone()[0] == 0


def chart_frame(chart):
    """The rows a vega-lite chart of the page was drawn from (Streamlit ships them as Arrow)."""
    import pyarrow as pa

    return pa.ipc.open_stream(chart.proto.datasets[0].data.data).read_pandas()


def test_forecast_accuracy_and_inventory_turns_in_the_status_table_and_on_xmr_charts(tiny_db: Path):
    import json

    import pandas as pd

    from core.alerts import last_complete_period
    from core.kpi_report import kpi_report

    with Store(tiny_db) as store:
        report = kpi_report(store, 1, "week").table
        through = last_complete_period(store, "week")
    labels = dict(zip(report["segment"], report["segment_label"], strict=False))
    at = open_page()
    status = table_with(at, "forecast accuracy").set_index("segment")
    latest = report[pd.to_datetime(report["period"]) == pd.Timestamp(through)].set_index("segment")
    for segment, label in labels.items():
        assert status.at[label, "forecast accuracy"] == pytest.approx(latest.at[segment, "forecast_accuracy"])
        assert status.at[label, "inventory turns"] == pytest.approx(latest.at[segment, "inventory_turns_annualised"])
    assert status[["forecast accuracy", "inventory turns"]].notna().all().all()   # the tiny sample has both

    at.selectbox(key="mon_kpi").set_value("forecast_accuracy").run()
    no_exception(at)
    assert chart_titles(at) == [f"forecast accuracy of «{labels[s]}»" for s in sorted(labels)]
    first = at.get("vega_lite_chart")[0]
    assert "individuals (XmR) chart" in json.loads(first.proto.spec)["title"]["subtitle"][0]
    drawn = chart_frame(first)
    scored = report[(report["segment"] == sorted(labels)[0]) & report["forecast_accuracy"].notna()
                    & (pd.to_datetime(report["period"]) <= pd.Timestamp(through))]
    assert drawn["value"].tolist() == pytest.approx(scored["forecast_accuracy"].tolist())
    assert drawn["centre"].iloc[0] == pytest.approx(scored["forecast_accuracy"].mean())

    at.selectbox(key="mon_kpi").set_value("inventory_turns_annualised").run()
    no_exception(at)
    assert chart_titles(at) == [f"inventory turns of «{labels[s]}»" for s in sorted(labels)]
    spec = json.loads(at.get("vega_lite_chart")[0].proto.spec)
    assert "inventory turns (turns a year)" in json.dumps(spec)


def test_a_customer_version_says_forecast_accuracy_and_turns_are_not_available(tiny_db: Path):
    with Store(tiny_db) as store:
        customer_version = run_segmentation(store, "customer", "abc_xyz").version_id
    at = open_page()
    at.sidebar.selectbox(key="mon_level").set_value("customer").run()
    no_exception(at)
    status = table_with(at, "forecast accuracy")
    assert status["forecast accuracy"].isna().all() and status["inventory turns"].isna().all()
    captions = [c.value for c in at.caption]
    assert (f"**Forecast accuracy not available (–):** forecast accuracy is per product forecast; version "
            f"{customer_version} segments customers.") in captions
    assert any(c.startswith("**Inventory turns not available (–):** inventory turns are per product segment")
               for c in captions)
    at.selectbox(key="mon_kpi").set_value("forecast_accuracy").run()
    no_exception(at)
    assert chart_titles(at) == []
    assert any(f"Forecast accuracy is not available for version {customer_version}" in i.value for i in at.info)


def test_an_override_moves_the_lines_on_the_next_run_without_waiting_for_the_cache(tiny_db: Path):
    """The page's cached KPIs are keyed on the version's stamp, so an override shows at once."""
    from core.overrides import add_override

    at = open_page()
    no_exception(at)
    before = table_with(at, "OTIF status").set_index("segment")["lines"]
    with Store(tiny_db) as store:
        saved = assignments(store, 1)
        busiest = store.cursor().execute(   # a busy product has lines in the latest week
            "SELECT product_id, count(*) AS n FROM orders WHERE quantity > 0 GROUP BY product_id "
            "ORDER BY n DESC, product_id LIMIT 50").df()
        in_zero = busiest[busiest["product_id"].isin(saved.loc[saved["segment"] == 0, "product_id"])]
        moved = in_zero["product_id"].iloc[0]
        add_override(store, 1, moved, 1, "local admin", "test: moved by hand")
    at.run()
    no_exception(at)
    after = table_with(at, "OTIF status").set_index("segment")["lines"]
    assert after.sum() == before.sum()                      # the same lines, counted in other segments
    assert not after.equals(before)
