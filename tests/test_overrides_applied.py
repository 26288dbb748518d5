"""A planner's override counts wherever a version's segments are used for planning and monitoring:
the policy plan, the allocation tiers, the delivery KPIs, inventory turns, forecast accuracy and
cost-to-serve (core.overrides.effective_assignments), worked by hand; an expired override no
longer applies; boundary drift keeps the model's segments.

The version: rules at product level, A "Runners" = {P1, P2}, B "Slow movers" = {P3, P4}; the
planner moves P1 from A to B. Weekly demand (weeks of Monday 2024-01-01, -08, -15, -22), one
line each, unit price and cost 1:

    P1: 10, 30, 10, 30   mean 20, population standard deviation 10
    P2:  5,  5,  5,  5
    P3:  2,  -,  -,  2
    P4:  1,  -,  -,  1

Every product: lead time 7 days (one week bucket, no spread), unit cost 1. Policies: A cycle
service level 0.99, tier 1; B 0.90, tier 2; continuous review. So P1's safety stock is
z * 10 * sqrt(1): in B z(0.90) = 1.2815516 gives 12.815516, in A z(0.99) = 2.3263479 gives
23.263479; its reorder point is 20 * 1 + safety stock.
"""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from core.cost_to_serve import cost_to_serve
from core.cost_to_serve_analysis import cost_to_serve_by_segment
from core.kpi import line_kpis, segment_kpis
from core.kpi_inventory import segment_inventory_turns
from core.overrides import add_override, effective_assignments
from core.policy import SegmentPolicy
from core.policy_plan import allocate_version, policy_items, save_policies, version_policies
from governance_support import add_team, save_rules_version

TODAY = dt.date.today()
WEEKS = [dt.date(2024, 1, 1) + dt.timedelta(weeks=w) for w in range(4)]
DEMAND = {"P1": [10, 30, 10, 30], "P2": [5, 5, 5, 5], "P3": [2, 0, 0, 2], "P4": [1, 0, 0, 1]}
ITEMS = {"P1": "A", "P2": "A", "P3": "B", "P4": "B"}
NAMES = {"A": "Runners", "B": "Slow movers"}
POLICIES = [SegmentPolicy("A", 0.99, allocation_tier=1), SegmentPolicy("B", 0.90, allocation_tier=2)]
Z_90, Z_99 = 1.2815515655446004, 2.3263478740408408


@pytest.fixture
def planned(store):
    """The database of the module docstring with the version saved and its policies; no override yet."""
    add_team(store)
    lines = [(f"O{p}{w}", week, "C1", p, quantity)
             for p, quantities in DEMAND.items() for w, (week, quantity) in enumerate(zip(WEEKS, quantities))
             if quantity]
    with store.transaction() as cur:
        cur.executemany(
            """INSERT INTO orders (order_id, order_date, customer_id, product_id, quantity, unit_price, unit_cost)
               VALUES (?, ?, ?, ?, ?, 1.0, 1.0)""", [list(line) for line in lines])
        cur.executemany("INSERT INTO products (product_id, unit_cost, lead_time_days, lead_time_std_days) "
                        "VALUES (?, 1.0, 7.0, 0.0)", [[p] for p in DEMAND])
        cur.execute("INSERT INTO cost_rates (activity, driver, rate, currency) "
                    "VALUES ('Picking', 'per_line', 2.0, 'EUR')")
        # one stock count in week 1: P1 10 units, P3 5 units (at unit cost 1)
        cur.execute("""INSERT INTO inventory (snapshot_date, product_id, on_hand_quantity)
                       VALUES (DATE '2024-01-01', 'P1', 10), (DATE '2024-01-01', 'P3', 5)""")
    version = save_rules_version(store, ITEMS, NAMES)
    save_policies(store, version, POLICIES, user="pat")
    return store, version


@pytest.fixture
def moved(planned):
    """P1 moved from A (Runners) to B (Slow movers), active today."""
    store, version = planned
    add_override(store, version, "P1", "Slow movers", "pat", "supplier cut its deliveries")
    return store, version


@pytest.fixture
def expired(planned):
    """P1 moved to B from 30 days ago until 5 days ago: no longer applies today."""
    store, version = planned
    add_override(store, version, "P1", "B", "pat", "a month's promotion", expires_on=TODAY - dt.timedelta(days=5),
                 today=TODAY - dt.timedelta(days=30))
    return store, version


def p1_plan(store, version) -> pd.Series:
    plan = policy_items(store, version)
    return plan.set_index("product_id").loc["P1"]


def test_the_plan_gives_the_moved_item_its_new_segments_service_level_and_safety_stock(moved):
    store, version = moved
    p1 = p1_plan(store, version)
    assert (p1["segment"], p1["segment_label"]) == ("B", "Slow movers")
    assert p1["service_level"] == pytest.approx(0.90)
    assert (p1["demand_mean"], p1["demand_std"], p1["lead_time"]) == pytest.approx((20, 10, 1))
    assert p1["safety_stock"] == pytest.approx(Z_90 * 10)            # 12.815516
    assert p1["reorder_point"] == pytest.approx(20 + Z_90 * 10)      # 32.815516
    p2 = policy_items(store, version).set_index("product_id").loc["P2"]
    assert (p2["segment"], p2["service_level"]) == ("A", pytest.approx(0.99))  # not moved: A's


def test_without_the_override_the_plan_keeps_the_models_segment(planned):
    store, version = planned
    p1 = p1_plan(store, version)
    assert (p1["segment"], p1["service_level"]) == ("A", pytest.approx(0.99))
    assert p1["safety_stock"] == pytest.approx(Z_99 * 10)            # 23.263479


def test_allocation_tiers_follow_the_planners_segment(store):
    """Customer version: C1 in A (tier 1), C2 in B (tier 2), C3 in C (tier 3); 10 units of P1 for
    two lines of 8. The model serves C1 first (8, then 2 to C2); moved to C, C1 is served last
    (C2 gets 8, C1 the 2 left)."""
    add_team(store)
    version = save_rules_version(store, {"C1": "A", "C2": "B", "C3": "C"}, level="customer")
    save_policies(store, version, [SegmentPolicy("A", 0.99, allocation_tier=1),
                                   SegmentPolicy("B", 0.95, allocation_tier=2),
                                   SegmentPolicy("C", 0.90, allocation_tier=3)], user="pat")
    supply = pd.DataFrame({"product_id": ["P1"], "available_quantity": [10]})
    orders = pd.DataFrame({"order_id": ["O1", "O2"], "customer_id": ["C1", "C2"], "product_id": ["P1", "P1"],
                           "quantity": [8, 8]})
    before = allocate_version(store, version, supply, orders).lines
    assert list(before["segment"]) == ["A", "B"] and list(before["allocation_tier"]) == [1, 2]
    assert list(before["allocated_quantity"]) == [8, 2]
    add_override(store, version, "C1", "C", "pat", "pays late: served after the others")
    after = allocate_version(store, version, supply, orders)
    assert list(after.lines["segment"]) == ["C", "B"] and list(after.lines["allocation_tier"]) == [3, 2]
    assert list(after.lines["allocated_quantity"]) == [2, 8]
    assert list(after.lines["cut_quantity"]) == [6, 0]
    assert list(after.summary["segment"]) == ["B", "C"]                # A has no line left


def test_segment_kpis_count_the_moved_items_lines_in_its_new_segment(moved):
    store, version = moved
    kpis = segment_kpis(store, version)
    lines = kpis.groupby("segment")["lines"].sum().to_dict()
    assert lines == {"A": 4, "B": 8}                       # A: P2's 4; B: P1's 4 + P3's 2 + P4's 2
    week1 = kpis[kpis["period"] == pd.Timestamp(WEEKS[0])].set_index("segment")
    assert week1.loc["B", "lines"] == 3 and week1.loc["B", "segment_label"] == "Slow movers"
    drill = line_kpis(store, version, "B", WEEKS[0])
    assert sorted(drill["product_id"]) == ["P1", "P3", "P4"]
    assert "P1" not in set(line_kpis(store, version, "A", WEEKS[0])["product_id"])


def test_inventory_turns_count_the_moved_items_cost_and_stock_in_its_new_segment(moved):
    """Week 1, B: cost of goods sold P1 10 + P3 2 + P4 1 = 13, stock P1 10 + P3 5 = 15."""
    store, version = moved
    turns = segment_inventory_turns(store, version).set_index(["segment", "period"])
    b = turns.loc[("B", pd.Timestamp(WEEKS[0]))]
    assert (b["cost_of_goods_sold"], b["average_inventory_value"]) == pytest.approx((13, 15))
    assert b["inventory_turns"] == pytest.approx(13 / 15)
    assert turns.loc[("A", pd.Timestamp(WEEKS[0])), "cost_of_goods_sold"] == pytest.approx(5)   # P2 alone


def test_forecast_accuracy_scores_the_moved_item_in_its_new_segment(moved):
    from core.kpi_forecast import segment_forecast_accuracy

    store, version = moved
    # the data stops on week 4's Monday, so week 4 is incomplete and week 3 is the period scored
    scored = segment_forecast_accuracy(store, version, periods=1).set_index("segment")
    assert set(scored["period"]) == {pd.Timestamp(WEEKS[2])}
    assert scored.loc["B", "forecast_items"] == 3 and scored.loc["A", "forecast_items"] == 1
    assert scored.loc["B", "forecast_demand"] == pytest.approx(10 + 0 + 0)   # week 3: P1, P3, P4
    assert scored.loc["A", "forecast_demand"] == pytest.approx(5)           # P2


def test_cost_to_serve_sums_the_moved_items_cost_in_its_new_segment(moved):
    """Picking 2 per line: P1 4 lines = 8, P2 8, P3 4, P4 4."""
    store, version = moved
    frame = cost_to_serve(store, "product", version_id=version)
    assert frame.set_index("product_id").loc["P1", "segment"] == "B"
    by_segment = cost_to_serve_by_segment(frame).set_index("segment")
    assert by_segment.loc["B", "items"] == 3 and by_segment.loc["A", "items"] == 1
    assert by_segment.loc["B", "cost_to_serve"] == pytest.approx(8 + 4 + 4)
    assert by_segment.loc["A", "cost_to_serve"] == pytest.approx(8)
    assert by_segment.loc["B", "revenue"] == pytest.approx(80 + 4 + 2)
    assert by_segment.loc["B", "segment_label"] == "Slow movers"


def test_an_expired_override_no_longer_applies_anywhere(expired):
    store, version = expired
    frame = effective_assignments(store, version)
    assert not frame["overridden"].any() and frame.loc[0, "segment"] == "A"
    assert effective_assignments(store, version, on=TODAY - dt.timedelta(days=6)).loc[0, "segment"] == "B"
    p1 = p1_plan(store, version)
    assert (p1["segment"], p1["service_level"]) == ("A", pytest.approx(0.99))
    assert p1["safety_stock"] == pytest.approx(Z_99 * 10)
    assert segment_kpis(store, version).groupby("segment")["lines"].sum().to_dict() == {"A": 8, "B": 4}
    by_segment = cost_to_serve_by_segment(cost_to_serve(store, "product", version_id=version)).set_index("segment")
    assert by_segment.loc["A", "cost_to_serve"] == pytest.approx(16)
    assert [p.segment for p in version_policies(store, version)] == ["A", "B"]


def test_a_clustering_version_keeps_whole_number_segments_in_every_consumer(tiny):
    """k-means on the tiny sample: an item moved to another cluster is planned and costed there,
    segments stay whole numbers (cost-to-serve) or their text (plan, KPIs), labels the version's."""
    from core.versions import run_segmentation

    saved = run_segmentation(tiny, "product", "kmeans", k=3, user="pat")
    vid = saved.version_id
    model = effective_assignments(tiny, vid)
    item, own = model.loc[0, "product_id"], int(model.loc[0, "segment"])
    target = next(s for s in sorted(model["segment"].unique()) if s != own)
    add_override(tiny, vid, item, str(target), "pat", "moved by hand")
    plan = policy_items(tiny, vid).set_index("product_id")
    assert plan.loc[item, "segment"] == str(target)
    assert plan.loc[item, "segment_label"] == saved.result.label_of(target)
    costs = cost_to_serve(tiny, "product", version_id=vid).set_index("product_id")
    assert costs["segment"].dtype.kind == "i" and costs.loc[item, "segment"] == target
    kpi_lines = segment_kpis(tiny, vid).groupby("segment")["lines"].sum()
    ordered = tiny.cursor().execute("SELECT count(*) FROM orders WHERE quantity > 0 AND product_id = ?",
                                    [item]).fetchone()[0]
    before = model.merge(
        tiny.cursor().execute("SELECT product_id, count(*) AS n FROM orders WHERE quantity > 0 GROUP BY ALL").df(),
        on="product_id").assign(segment=lambda f: f["segment"].astype(str)).groupby("segment")["n"].sum()
    assert kpi_lines[str(target)] == before[str(target)] + ordered
    assert kpi_lines[str(own)] == before[str(own)] - ordered


def test_boundary_drift_keeps_the_models_segments(tiny):
    """Alerts measure the model's geometry: an override does not move the item in boundary_margins."""
    from core.alerts import boundary_margins
    from core.versions import run_segmentation

    saved = run_segmentation(tiny, "product", "kmeans", k=3, user="pat")
    vid = saved.version_id
    first = boundary_margins(tiny, vid)
    item, own = first.loc[0, "product_id"], first.loc[0, "segment"]
    target = next(s for s in sorted(first["segment"].unique()) if s != own)
    add_override(tiny, vid, item, str(target), "pat", "moved by hand")
    again = boundary_margins(tiny, vid)
    assert again.set_index("product_id").loc[item, "segment"] == own
    pd.testing.assert_frame_equal(again, first)
