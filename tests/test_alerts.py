"""Alerts: control-chart rule breaks worked by hand, complete periods, status against targets, boundary drift
with its dead band and the state remembered (audited) across refreshes."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from core import alerts
from core.audit import audit_trail, verify_chain
from core.errors import SegplanError
from core.kpi import NOT_IN_VERSION, segment_kpis
from core.kpi_targets import segment_targets
from core.versions import run_segmentation

WEEKS = pd.date_range("2024-01-01", periods=9, freq="7D")


def kpi_frame(segment: str, otif_lines: list[int], base: list[int], cycle: list[float] | None = None,
              fill: list[float] | None = None) -> pd.DataFrame:
    """A `segment_kpis`-shaped frame for one segment (only the columns the charts read)."""
    n = len(otif_lines)
    return pd.DataFrame({
        "segment": segment, "segment_label": f"label {segment}", "period": WEEKS[:n],
        "lines": base, "otif_base_lines": base, "otif_lines": otif_lines,
        "otif": [s / b if b else np.nan for s, b in zip(otif_lines, base, strict=True)],
        "on_time_base_lines": base, "on_time_lines": base, "on_time": 1.0,
        "ordered_quantity": [100.0] * n, "filled_quantity": [100.0 * f for f in (fill or [1.0] * n)],
        "fill_rate": fill or [1.0] * n, "delivered_lines": base,
        "order_cycle_time_days": cycle or [4.0] * n,
    })


# -- control charts by hand ---------------------------------------------------------------------
def test_otif_p_chart_by_hand_breaks_rule_4_then_rule_1():
    # 8 weeks at 88 OTIF lines of 100, then a week at 60 of 100.
    # p-bar = (8 * 88 + 60) / 900 = 0.848889; sigma = sqrt(0.848889 * 0.151111 / 100) = 0.035816
    # 0.88 is +0.87 sigma (inside 1 sigma, so no rule 3), but the 8th such point in a row breaks rule 4;
    # 0.60 is -6.95 sigma: rule 1.
    frame = kpi_frame("A", [88] * 8 + [60], [100] * 9)
    points = alerts.chart_points(frame, ["otif"])
    assert list(points.columns) == list(alerts.POINT_COLUMNS)
    assert points["chart"].eq("p").all()
    assert points["centre"].iloc[0] == pytest.approx(764 / 900)
    sigma = np.sqrt(764 / 900 * (136 / 900) / 100)
    assert points["sigma"].iloc[0] == pytest.approx(sigma)
    assert points["ucl"].iloc[0] == pytest.approx(764 / 900 + 3 * sigma)
    assert points["lcl"].iloc[0] == pytest.approx(764 / 900 - 3 * sigma)
    assert list(points["rules"]) == [""] * 7 + ["4", "1"]
    assert list(points["successes"]) == [88] * 8 + [60]
    hits = alerts.flagged(points)
    assert list(hits["rules"]) == ["1", "4"]  # newest first
    assert list(hits["rule_words"]) == ["1 point beyond 3 sigma", "8 in a row on one side"]


def test_p_chart_limits_vary_with_the_lines_of_each_period():
    frame = kpi_frame("A", [45, 9, 90], [50, 10, 100])
    points = alerts.chart_points(frame, ["otif"])
    # p-bar = 144 / 160 = 0.9; the 10-line week has sqrt(10) times the sigma of the 100-line week
    assert points["centre"].iloc[0] == pytest.approx(0.9)
    assert points["sigma"].iloc[1] / points["sigma"].iloc[2] == pytest.approx(np.sqrt(10))
    assert points["ucl"].iloc[1] == pytest.approx(1.0)  # 0.9 + 3 * 0.0949 clipped to 1


def test_cycle_time_and_fill_rate_are_xmr_charts_by_hand():
    frame = kpi_frame("A", [9] * 5, [10] * 5, cycle=[4, 6, 4, 6, 4], fill=[0.9, 1.0, 0.9, 1.0, 0.9])
    points = alerts.chart_points(frame, ["order_cycle_time_days", "fill_rate"]).set_index("kpi")
    cycle = points.loc["order_cycle_time_days"]
    # mean 4.8, mean moving range 2, limits 4.8 -/+ 2.66 * 2
    assert cycle["chart"].eq("xmr").all()
    assert cycle["centre"].iloc[0] == pytest.approx(4.8)
    assert cycle["ucl"].iloc[0] == pytest.approx(4.8 + 5.32)
    assert cycle["lcl"].iloc[0] == pytest.approx(4.8 - 5.32)
    fill = points.loc["fill_rate"]
    assert fill["centre"].iloc[0] == pytest.approx(0.94)
    assert fill["ucl"].iloc[0] == pytest.approx(0.94 + 2.66 * 0.1)
    assert fill["base"].eq(100.0).all()  # ordered units behind the fill rate


def test_too_few_periods_and_lines_outside_the_version_give_no_chart():
    one_week = kpi_frame("B", [5], [10])
    outside = kpi_frame(NOT_IN_VERSION, [1, 2, 3], [10, 10, 10])
    unmeasured = kpi_frame("C", [0, 0, 0], [0, 0, 0])  # no line measured for OTIF: no p-chart
    points = alerts.chart_points(pd.concat([one_week, outside, unmeasured]), ["otif"])
    assert points.empty
    assert list(points.columns) == list(alerts.POINT_COLUMNS)


def test_through_and_last_periods_cut_the_series_before_the_limits():
    frame = kpi_frame("A", [88] * 8 + [60], [100] * 9)
    kept = alerts.chart_points(frame, ["otif"], through=WEEKS[7].date())
    assert len(kept) == 8 and kept["centre"].iloc[0] == pytest.approx(0.88)
    assert kept["rules"].eq("").all()  # no spread around 0.88: sigma stays, nothing beyond it
    last = alerts.chart_points(frame, ["otif"], last_periods=3)
    assert list(last["period"]) == list(WEEKS[6:9])
    with pytest.raises(SegplanError, match="at least 2 periods"):
        alerts.chart_points(frame, ["otif"], last_periods=1)
    with pytest.raises(SegplanError, match="unknown KPI"):
        alerts.chart_points(frame, ["margin"])


def test_rule_words():
    assert alerts.rule_words("2,3") == "2 of 3 beyond 2 sigma; 4 of 5 beyond 1 sigma"
    assert alerts.rule_words("") == ""


# -- periods and status -------------------------------------------------------------------------
def insert_orders(store, days: list[str]) -> None:
    with store.transaction() as cur:
        cur.executemany("INSERT INTO orders (order_id, order_date, customer_id, product_id, quantity) "
                        "VALUES (?, CAST(? AS DATE), 'C1', 'P1', 1)", [(f"O{i}", d) for i, d in enumerate(days)])


def test_last_complete_period(store):
    assert alerts.last_complete_period(store, "week") is None
    insert_orders(store, ["2024-01-01", "2024-01-17"])        # last order on a Wednesday
    assert alerts.last_complete_period(store, "week") == dt.date(2024, 1, 8)
    assert alerts.last_complete_period(store, "month") == dt.date(2023, 12, 1)
    insert_orders(store, ["2024-01-21"])                       # a Sunday ends its week
    assert alerts.last_complete_period(store, "week") == dt.date(2024, 1, 15)
    insert_orders(store, ["2024-01-31"])
    assert alerts.last_complete_period(store, "month") == dt.date(2024, 1, 1)
    with pytest.raises(SegplanError, match="unknown bucket"):
        alerts.last_complete_period(store, "day")


def test_status_table_by_hand():
    kpis = pd.concat([kpi_frame("A", [88] * 8 + [60], [100] * 9), kpi_frame("B", [9, 10], [10, 10])])
    targets = pd.DataFrame({"segment": ["A", "B"], "service_level": [0.95, 0.85], "otif": [0.95, 0.85],
                            "fill_rate": [0.95, 0.85], "on_time": [0.95, 0.85]})
    points = alerts.chart_points(kpis)
    table = alerts.status_table(kpis, targets, points, WEEKS[8].date()).set_index("segment")
    assert table.loc["A", "otif"] == pytest.approx(0.6)
    assert table.loc["A", "otif_status"] == "off_target"
    assert table.loc["A", "on_time_status"] == "on_target"
    assert table.loc["A", "rule_breaks"] == 2            # the OTIF points breaking rules 4 and 1
    assert table.loc["B", "lines"] == 0                  # no lines in the 9th week
    assert table.loc["B", "otif_status"] == "no_target"
    week2 = alerts.status_table(kpis, targets, points, WEEKS[1].date()).set_index("segment")
    assert (week2.loc["A", "otif_status"], week2.loc["B", "otif_status"]) == ("off_target", "on_target")
    week2_at_risk = alerts.status_table(kpis, targets.assign(otif=[0.89, 0.85]), points, WEEKS[1].date())
    assert week2_at_risk.set_index("segment").loc["A", "otif_status"] == "at_risk"  # 0.88 within 2 points


def test_control_alerts_on_the_tiny_sample_are_the_rule_breaks_of_complete_periods(tiny):
    version = run_segmentation(tiny, "product", "abc_xyz").version_id
    points = alerts.control_points(tiny, version, "week")
    through = alerts.last_complete_period(tiny, "week")
    assert set(points["kpi"]) == set(alerts.CONTROL_KPIS)
    assert points["period"].max() == pd.Timestamp(through)
    # the sample ends on a Sunday early in a month: its last week is complete, its last month is not
    monthly = alerts.control_points(tiny, version, "month")
    every_month = alerts.control_points(tiny, version, "month", complete_only=False)
    assert every_month["period"].max() > monthly["period"].max() == pd.Timestamp(alerts.last_complete_period(tiny, "month"))
    hits = alerts.control_alerts(tiny, version, "week")
    assert len(hits) == int((points["rules"] != "").sum()) > 0
    assert {"segment", "segment_label", "kpi", "period", "value", "centre", "lcl", "ucl", "rules", "lines"} <= set(hits)
    table = alerts.status_table(segment_kpis(tiny, version, "week"), segment_targets(tiny, version), points, through)
    assert set(table["otif_status"]) <= {"on_target", "at_risk", "off_target", "no_target"}
    assert table["rule_breaks"].sum() == len(hits)


# -- boundary drift -----------------------------------------------------------------------------
def test_next_alert_state_dead_band_by_hand():
    enter, band = 0.1, 0.1
    # the relative margin oscillates around the enter threshold, inside the dead band: raised once, never cleared
    states, active = [], False
    for margin in (0.3, 0.09, 0.15, 0.08, 0.19, 0.11, 0.2):
        active = alerts.next_alert_state(active, margin, 1.0, enter, band)
        states.append(active)
    assert states == [False, True, True, True, True, True, True]
    assert alerts.next_alert_state(True, 0.21, 1.0, enter, band) is False   # above enter + dead band: clears
    assert alerts.next_alert_state(False, 0.15, 1.0, enter, band) is False  # inside the band: not raised again
    assert alerts.next_alert_state(False, 0.05, 0.04, enter, band) is False  # already that close when saved: no drift
    assert alerts.next_alert_state(False, 0.09, 0.12, enter, band) is False  # moved 0.03, less than the minimum drop 0.05
    assert alerts.next_alert_state(False, 0.06, 0.12, enter, band) is True   # moved 0.06: drift
    assert alerts.next_alert_state(True, float("nan"), 1.0, enter, band) is True


def margins_frame(margin: float) -> pd.DataFrame:
    return pd.DataFrame({"product_id": ["P1", "P2"], "segment": [0, 1], "segment_label": ["a", "b"],
                         "saved_relative_margin": [1.0, 1.0], "relative_margin": [margin, 2.0],
                         "distance_own": [1.0, 1.0], "distance_next": [1.0, 3.0],
                         "nearest_segment": [1, 0], "nearest_segment_label": ["b", "a"]})


def test_alert_state_is_remembered_across_refreshes_and_audited(store):
    # P1's margin: 0.05 (raised), 0.15 and 0.12 (inside the dead band: stays), 0.25 (cleared), 0.15 (stays clear)
    changes = []
    for margin in (0.05, 0.15, 0.12, 0.25, 0.15):
        found = alerts.boundary_alerts(store, 7, margins=margins_frame(margin))
        changes.append((list(found["product_id"]), list(found["change"]), alerts.record_boundary_alerts(store, 7, found, "ann")))
        assert alerts.record_boundary_alerts(store, 7, found, "ann") == 0  # recording the same result again writes nothing
    assert changes == [(["P1"], ["raised"], 1), (["P1"], [""], 0), (["P1"], [""], 0), (["P1"], ["cleared"], 1), ([], [], 0)]
    rows = store.cursor().execute("SELECT product_id, active, relative_margin, user_name FROM segment_alert_state "
                                  "ORDER BY state_id").fetchall()
    assert rows == [("P1", True, 0.05, "ann"), ("P1", False, 0.25, "ann")]
    trail = audit_trail(store, action="record_alerts")
    assert list(trail["entity_id"]) == ["7", "7"] and list(trail["user_name"]) == ["ann", "ann"]
    assert '"P1"' in trail["after"].iloc[0] and '"P1"' in trail["before"].iloc[1]
    assert verify_chain(store).intact
    assert alerts.alert_state(store, 7)["active"].tolist() == [False]


def test_an_item_moved_toward_another_segment_alerts(tiny):
    version = run_segmentation(tiny, "product", "kmeans", k=2, min_share=0)
    saved = version.result.assignments
    unchanged = alerts.boundary_margins(tiny, version.version_id)
    # same data, same settings: the recomputed relative margins are the saved ones
    assert np.allclose(unchanged["relative_margin"], unchanged["saved_relative_margin"])
    assert alerts.boundary_alerts(tiny, version.version_id).empty
    ranked = saved[saved["segment"] == 0].sort_values("boundary_margin")
    moved = ranked["product_id"].iloc[len(ranked) // 2]
    typical_other = saved[saved["segment"] == 1].sort_values("distance_own")["product_id"].iloc[0]
    with tiny.transaction() as cur:  # the item now sells exactly like the most typical item of the other segment
        cur.execute("DELETE FROM orders WHERE product_id = ?", [moved])
        cur.execute("INSERT INTO orders SELECT * REPLACE (? AS product_id, order_id || '-moved' AS order_id) "
                    "FROM orders WHERE product_id = ?", [moved, typical_other])
    found = alerts.boundary_alerts(tiny, version.version_id)
    assert list(found["product_id"]) == [moved]
    row = found.iloc[0]
    assert row["change"] == "raised" and row["nearest_segment"] == 1
    assert row["relative_margin"] < 0 < row["saved_relative_margin"]
    assert row["nearest_segment_label"] == version.result.label_of(1)


def test_new_items_are_counted_apart_not_as_drift(tiny):
    version = run_segmentation(tiny, "product", "kmeans", k=2, min_share=0).version_id
    with tiny.transaction() as cur:
        cur.execute("INSERT INTO orders SELECT * REPLACE ('NEW-1' AS product_id, order_id || '-new' AS order_id) "
                    "FROM orders WHERE product_id = (SELECT min(product_id) FROM orders)")
    margins = alerts.boundary_margins(tiny, version)
    assert margins.attrs["new_items"] == 1 and margins.attrs["gone_items"] == 0
    assert "NEW-1" not in set(margins["product_id"])
    assert len(margins) == 60


def test_rule_based_versions_say_drift_needs_a_clustering_version(tiny):
    version = run_segmentation(tiny, "product", "demand_pattern").version_id  # nine-box versions have drift now
    found = alerts.boundary_alerts(tiny, version)
    assert found.empty
    assert "Drift alerts need a clustering version" in found.attrs["reason"]
    assert alerts.record_boundary_alerts(tiny, version, found, "ann") == 0


# -- boundary drift of nine-box (ABC x XYZ) versions ---------------------------------------------
MONDAYS = ["2024-01-01", "2024-01-08", "2024-01-15", "2024-01-22"]


def weekly_orders(store, quantities: dict[str, list[float]]) -> None:
    with store.transaction() as cur:
        cur.executemany("INSERT INTO orders (order_id, order_date, customer_id, product_id, quantity) "
                        "VALUES (?, CAST(? AS DATE), 'C1', ?, ?)",
                        [(f"{p}-{w}", day, p, q) for p, qs in quantities.items()
                         for w, (day, q) in enumerate(zip(MONDAYS, qs, strict=True)) if q])


def test_nine_box_item_whose_cv_rises_toward_the_x_y_cut_off_alerts_once_and_clears_past_the_dead_band(store):
    # quantity ranks P1 first (A, share above it 0: 5.3 bands from 80 %); every item sells the same each week (X)
    weekly_orders(store, {"P1": [100] * 4, "P2": [30] * 4, "P3": [10] * 4, "P4": [4] * 4})
    version = run_segmentation(store, "product", "abc_xyz", measure="quantity")
    saved = version.result.assignments.set_index("product_id")
    assert list(saved["segment"]) == ["AX", "AX", "BX", "CX"]
    # P3: 520 of 576 units ranked above it, 90.3 %: 4.7 share points below 95 %, in B-band widths of 15 points
    assert saved.loc["P3", "boundary_margin"] == pytest.approx((0.95 - 520 / 576) / 0.15)
    unchanged = alerts.boundary_margins(store, version.version_id)
    assert np.allclose(unchanged["relative_margin"], unchanged["saved_relative_margin"])
    assert alerts.boundary_alerts(store, version.version_id).empty

    def refresh(extra: float):
        # P1 sells 100, 100, 100, 100 + extra: cv = sqrt(3) * extra / (400 + extra) (population sd over 4 weeks)
        with store.transaction() as cur:
            cur.execute("DELETE FROM orders WHERE order_id = 'P1-more'")
            cur.execute("INSERT INTO orders (order_id, order_date, customer_id, product_id, quantity) "
                        "VALUES ('P1-more', DATE '2024-01-22', 'C2', 'P1', ?)", [extra])
        found = alerts.boundary_alerts(store, version.version_id)
        return found, alerts.record_boundary_alerts(store, version.version_id, found, "ann")

    steps = []
    for extra in (149, 140, 149, 40):  # cv 0.470, 0.449 (inside the dead band), 0.470, 0.157
        found, recorded = refresh(extra)
        steps.append((list(found["product_id"]), list(found["change"]), recorded))
        if extra == 149 and not steps[:-1]:
            row = found.iloc[0]
            cv = np.sqrt(3) * 149 / 549
            assert row["relative_margin"] == pytest.approx(np.log(0.5 / cv) / np.log(2))   # 0.089 < 0.10
            # saved: cv 0 (floored at 0.01, 5.6 bands from X/Y), so the nearer boundary was 80 %: 0.80 / 0.15
            assert row["saved_relative_margin"] == pytest.approx(0.80 / 0.15)
            assert (row["segment"], row["nearest_segment"], row["nearest_segment_label"]) == ("AX", "AY", "AY")
    assert steps == [(["P1"], ["raised"], 1), (["P1"], [""], 0), (["P1"], [""], 0), (["P1"], ["cleared"], 1)]
    margins = alerts.boundary_margins(store, version.version_id).set_index("product_id")
    assert margins.loc["P1", "relative_margin"] == pytest.approx(np.log(0.5 / (np.sqrt(3) * 40 / 440)) / np.log(2))
    rows = store.cursor().execute("SELECT product_id, active FROM segment_alert_state ORDER BY state_id").fetchall()
    assert rows == [("P1", True), ("P1", False)]


def test_nine_box_margins_follow_the_version_cut_offs_and_measure(store):
    weekly_orders(store, {"P1": [100] * 4, "P2": [30] * 4, "P3": [10] * 4, "P4": [4] * 4})
    version = run_segmentation(store, "product", "abc_xyz", measure="quantity")
    with store.transaction() as cur:  # a version saved with other cut-offs (B band 85-95 %)
        cur.execute("UPDATE segment_versions SET parameters = json_merge_patch(parameters, "
                    "'{\"abc_cutoffs\": [0.85, 0.95]}') WHERE version_id = ?", [version.version_id])
    margins = alerts.boundary_margins(store, version.version_id).set_index("product_id")
    assert margins.loc["P3", "relative_margin"] == pytest.approx((0.95 - 520 / 576) / 0.10)
    assert margins.loc["P2", "relative_margin"] == pytest.approx((0.85 - 400 / 576) / 0.10)


def test_nine_box_version_on_the_tiny_sample_unchanged_data_raises_nothing(tiny):
    version = run_segmentation(tiny, "product", "abc_xyz")
    saved = version.result.assignments
    assert saved["boundary_margin"].notna().all() and (saved["boundary_margin"] >= 0).all()
    margins = alerts.boundary_margins(tiny, version.version_id)
    assert margins.attrs["reason"] is None and len(margins) == len(saved)
    assert np.allclose(margins["relative_margin"], margins["saved_relative_margin"])
    assert set(margins["nearest_segment"]) <= {a + x for a in "ABC" for x in "XYZ"}
    assert (margins["segment"] != margins["nearest_segment"]).all()
    found = alerts.boundary_alerts(tiny, version.version_id)
    assert found.empty and found.attrs["reason"] is None


def test_a_nine_box_version_saved_before_it_kept_distances_gets_them_from_its_saved_features(tiny):
    version = run_segmentation(tiny, "product", "abc_xyz")
    saved = version.result.assignments.set_index("product_id")["boundary_margin"]
    with tiny.transaction() as cur:  # as saved before: no distances, no cut-offs in the parameters
        cur.execute("UPDATE segment_assignments SET distance_own = NULL, distance_next = NULL, boundary_margin = NULL "
                    "WHERE version_id = ?", [version.version_id])
        cur.execute("UPDATE segment_versions SET parameters = json_merge_patch(parameters, "
                    "'{\"abc_cutoffs\": null, \"xyz_cutoffs\": null}') WHERE version_id = ?", [version.version_id])
    margins = alerts.boundary_margins(tiny, version.version_id).set_index("product_id")
    assert np.allclose(margins["saved_relative_margin"], saved.loc[margins.index])
    assert alerts.boundary_alerts(tiny, version.version_id).empty  # items already near a cut-off have not drifted


def test_the_margin_is_described_per_kind_of_version():
    nine_box = alerts.margin_definition("nine_box")
    assert "ABC band" in nine_box and "XYZ band" in nine_box
    for method in ("kmeans", "hierarchical", "hdbscan", "gmm"):
        assert alerts.margin_definition(method).endswith("the median distance to its own centre")
