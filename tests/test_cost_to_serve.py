"""Cost-to-serve: driver counts and activity costs by hand, the adding-up invariants, whale curve, subsidies."""

from __future__ import annotations

import math
import re

import numpy as np
import pandas as pd
import pytest

from core.cost_to_serve import (
    DRIVER_COLUMNS,
    activity_column,
    activity_columns,
    cost_to_serve,
    driver_column,
    driver_volumes,
    normalize_driver,
    volume_columns,
)
from core.cost_to_serve_analysis import cost_to_serve_by_segment, subsidies, whale_curve
from core.errors import SegplanError
from core.features import compute_features
from core.store import Store
from core.versions import run_segmentation

# order_id, customer_id, product_id, quantity, unit_price, unit_cost, shipment_id, weight_kg, ship_date
LINES = [
    ("O1", "C1", "P1", 10, 5.0, 3.0, "S1", 20.0, "2024-01-03"),
    ("O1", "C1", "P2", 2, 50.0, 40.0, "S1", 4.0, "2024-01-03"),
    ("O1", "C1", "P2", 1, 50.0, 40.0, "S2", 2.0, "2024-01-04"),
    # no shipment_id: both lines are the shipment (O2, 2024-01-10); one has no weight
    ("O2", "C1", "P1", 5, 5.0, 3.0, None, 10.0, "2024-01-10"),
    ("O2", "C1", "P1", 5, 5.0, 3.0, None, None, "2024-01-10"),
    ("O3", "C2", "P2", 1, 50.0, 40.0, "S3", 2.0, "2024-01-12"),
    # no shipment_id nor ship_date: shipment (O3, -); no unit_cost: products.unit_cost 8
    ("O3", "C2", "P3", 4, 10.0, None, None, 8.0, None),
    # a return: reduces revenue and cost of goods, drives no activity
    ("R1", "C2", "P2", -1, 50.0, 40.0, "RS1", 2.0, "2024-01-20"),
]
RATES = [
    ("Order handling", "per_order", 4.0),
    ("Picking", "per_line", 0.5),
    ("Handling", "per_unit", 0.1),
    ("Transport", "per_shipment", 10.0),
    ("Transport", "per_kg", 0.2),
]


def insert_orders(store: Store, lines=LINES) -> None:
    with store.transaction() as cur:
        cur.executemany(
            """INSERT INTO orders (order_id, order_date, customer_id, product_id, quantity, unit_price, unit_cost,
                                   shipment_id, weight_kg, ship_date)
               VALUES (?, DATE '2024-01-02', ?, ?, ?, ?, ?, ?, ?, CAST(? AS DATE))""",
            [list(line) for line in lines],
        )
        cur.execute("INSERT INTO products (product_id, unit_cost) VALUES ('P3', 8.0)")


def insert_rates(store: Store, rates=RATES, currency: str | None = "EUR") -> None:
    with store.transaction() as cur:
        cur.executemany("INSERT INTO cost_rates (activity, driver, rate, currency) VALUES (?, ?, ?, ?)",
                        [[*rate, currency] for rate in rates])


@pytest.fixture
def hand(store):
    insert_orders(store)
    insert_rates(store)
    return store


def by_key(frame: pd.DataFrame, key: str) -> dict[str, dict[str, float]]:
    return frame.set_index(key).to_dict("index")


# -- hand-computed case ----------------------------------------------------------------------------
def test_driver_totals_count_demand_lines_only(hand):
    # orders O1-O3; 7 demand lines; units 28; shipments S1, S2, (O2, 01-10), S3, (O3, -); kg 46
    assert driver_volumes(hand) == pytest.approx(
        {"per_order": 3, "per_line": 7, "per_unit": 28, "per_shipment": 5, "per_kg": 46, "per_return_line": 1})


def test_customer_drivers_and_activity_costs_by_hand(hand):
    frame = cost_to_serve(hand, "customer")
    assert list(frame.columns) == [
        "customer_id", "orders", "order_lines", "units", "shipments", "weight_kg", "return_lines",
        "cost_handling", "cost_order_handling", "cost_picking", "cost_transport",
        "cost_to_serve", "revenue", "cost_of_goods", "gross_margin", "profit"]
    assert frame.attrs["currency"] == "EUR"
    rows = by_key(frame, "customer_id")
    expected = {
        "C1": {"orders": 2, "order_lines": 5, "units": 23, "shipments": 3, "weight_kg": 36, "return_lines": 0,
               "cost_order_handling": 8.0, "cost_picking": 2.5, "cost_handling": 2.3,
               "cost_transport": 30 + 7.2, "cost_to_serve": 50.0,
               "revenue": 250, "cost_of_goods": 180, "gross_margin": 70, "profit": 20.0},
        "C2": {"orders": 1, "order_lines": 2, "units": 5, "shipments": 2, "weight_kg": 10, "return_lines": 1,
               "cost_order_handling": 4.0, "cost_picking": 1.0, "cost_handling": 0.5,
               "cost_transport": 20 + 2.0, "cost_to_serve": 27.5,
               "revenue": 90 - 50, "cost_of_goods": 72 - 40, "gross_margin": 8, "profit": 8 - 27.5},
    }
    assert set(rows) == set(expected)
    for customer, values in expected.items():
        assert rows[customer] == pytest.approx(values), customer


def test_product_level_allocates_shared_orders_and_shipments_by_line_share(hand):
    rows = by_key(cost_to_serve(hand, "product"), "product_id")
    # O1 has P1 x1 and P2 x2 lines; O2 only P1; O3 P2 and P3 one line each
    # S1 holds P1 and P2 one line each; S2 and S3 P2; the (O2, 01-10) shipment P1; (O3, -) P3
    expected = {
        "P1": {"orders": 1 / 3 + 1, "shipments": 0.5 + 1, "order_lines": 3, "units": 20, "weight_kg": 30},
        "P2": {"orders": 2 / 3 + 1 / 2, "shipments": 0.5 + 1 + 1, "order_lines": 3, "units": 4, "weight_kg": 8},
        "P3": {"orders": 1 / 2, "shipments": 1, "order_lines": 1, "units": 4, "weight_kg": 8},
    }
    for product, values in expected.items():
        row = rows[product]
        assert {k: row[k] for k in values} == pytest.approx(values), product
        assert row["cost_order_handling"] == pytest.approx(4.0 * values["orders"])
        assert row["cost_picking"] == pytest.approx(0.5 * values["order_lines"])
        assert row["cost_handling"] == pytest.approx(0.1 * values["units"])
        assert row["cost_transport"] == pytest.approx(10.0 * values["shipments"] + 0.2 * values["weight_kg"])
    assert rows["P3"]["cost_of_goods"] == pytest.approx(32.0)  # products.unit_cost fallback
    assert rows["P2"]["return_lines"] == 1


@pytest.mark.parametrize("level", ["customer", "product"])
def test_activity_costs_add_up_to_rate_times_total_volume(hand, level):
    frame = cost_to_serve(hand, level)
    volumes = driver_volumes(hand)
    per_activity: dict[str, float] = {}
    for activity, driver, rate in RATES:
        column = activity_column(activity)
        per_activity[column] = per_activity.get(column, 0.0) + rate * volumes[driver]
    for column, total in per_activity.items():
        assert frame[column].sum() == pytest.approx(total), column
    assert frame["cost_to_serve"].sum() == pytest.approx(77.5)
    for driver, column in DRIVER_COLUMNS.items():
        assert frame[column].sum() == pytest.approx(volumes[driver]), column


def test_profit_is_margin_minus_cost_to_serve_and_cts_the_sum_of_activities(hand):
    frame = cost_to_serve(hand, "customer")
    activities = [c for c in frame.columns if c.startswith("cost_") and c not in ("cost_to_serve", "cost_of_goods")]
    assert np.allclose(frame[activities].sum(axis=1), frame["cost_to_serve"])
    assert np.allclose(frame["gross_margin"] - frame["cost_to_serve"], frame["profit"])
    assert np.allclose(frame["revenue"] - frame["cost_of_goods"], frame["gross_margin"])


def test_a_driver_without_rate_gives_no_activity(store):
    insert_orders(store)
    insert_rates(store, [("Picking", "per_line", 0.5)], currency=None)
    frame = cost_to_serve(store, "customer")
    assert [c for c in frame.columns if c.startswith("cost_")] == ["cost_picking", "cost_to_serve", "cost_of_goods"]
    assert frame["cost_to_serve"].tolist() == pytest.approx([2.5, 1.0])
    assert frame.attrs["currency"] is None


def test_no_rates_give_zero_cost_to_serve_and_profit_equal_to_margin(store):
    insert_orders(store)
    frame = cost_to_serve(store, "product")
    assert (frame["cost_to_serve"] == 0).all()
    assert np.allclose(frame["profit"], frame["gross_margin"])


def test_unknown_driver_and_mixed_currencies_are_errors_a_user_can_fix(store):
    insert_orders(store)
    insert_rates(store, [("Pallets", "per_pallet", 1.0)])
    with pytest.raises(SegplanError, match="unknown drivers: per_pallet"):
        cost_to_serve(store)
    with store.transaction() as cur:
        cur.execute("DELETE FROM cost_rates")
    insert_rates(store, [("Picking", "per_line", 0.5)], currency="EUR")
    insert_rates(store, [("Packing", "per_order", 1.0)], currency="USD")
    with pytest.raises(SegplanError, match="several currencies: EUR, USD"):
        cost_to_serve(store)


def test_activity_names_snake_case_stably():
    assert activity_column("Order handling") == "cost_order_handling"
    assert activity_column("  Pick & Pack (DC-1) ") == "cost_pick_pack_dc_1"
    assert activity_column("to serve") == "cost_to_serve_activity"
    assert activity_column("!!!") == "cost_unnamed"


def test_empty_database_gives_an_empty_frame(store):
    frame = cost_to_serve(store, "customer")
    assert frame.empty and "cost_to_serve" in frame.columns and "profit" in frame.columns
    insert_rates(store)
    frame = cost_to_serve(store, "product")
    assert frame.empty and "cost_transport" in frame.columns
    assert whale_curve(frame).empty
    assert driver_volumes(store) == {"per_order": 0, "per_line": 0, "per_unit": 0, "per_shipment": 0, "per_kg": 0,
                                     "per_return_line": 0}


def test_unknown_level_is_named(hand):
    with pytest.raises(SegplanError, match="unknown level 'customer_product'"):
        cost_to_serve(hand, "customer_product")


# -- whale curve -------------------------------------------------------------------------------------
def test_whale_curve_starts_at_zero_ends_at_100_and_peaks_above_with_losses(hand):
    curve = whale_curve(cost_to_serve(hand, "customer"))
    assert curve["rank"].tolist() == [0, 1, 2]
    assert curve["customer_id"].iloc[1:].tolist() == ["C1", "C2"]
    assert curve["cumulative_profit_pct"].iloc[0] == 0 and curve["cumulative_items_pct"].iloc[0] == 0
    assert curve["cumulative_profit_pct"].iloc[-1] == pytest.approx(100)
    assert curve["cumulative_items_pct"].iloc[-1] == pytest.approx(100)
    # total profit 20 - 19.5 = 0.5: C1 alone makes 4000% of it
    assert curve["cumulative_profit_pct"].iloc[1] == pytest.approx(4000)
    assert curve.attrs["peak_profit_pct"] == pytest.approx(4000)
    assert curve.attrs["total_profit"] == pytest.approx(0.5)


def test_whale_curve_needs_a_positive_total_profit(hand):
    frame = cost_to_serve(hand, "customer")
    frame.loc[frame["customer_id"] == "C1", "profit"] = 10.0
    with pytest.raises(SegplanError, match="total profit of -9.50"):
        whale_curve(frame)


# -- segments and subsidies -----------------------------------------------------------------------------
def test_version_segments_sum_per_segment_and_subsidise(hand):
    version = run_segmentation(hand, "customer", "abc_xyz").version_id
    frame = cost_to_serve(hand, "customer", version_id=version)
    assert list(frame.columns[:3]) == ["customer_id", "segment", "segment_label"]
    assert frame["segment"].notna().all()
    by_segment = cost_to_serve_by_segment(frame)
    assert by_segment["items"].sum() == 2
    for column in ("cost_to_serve", "profit", "revenue", "cost_transport", "orders"):
        assert by_segment[column].sum() == pytest.approx(frame[column].sum()), column
    assert by_segment["profit_share_pct"].sum() == pytest.approx(100)
    # the share of revenue a segment frame adds is no activity: both frames name the same activities
    assert "cost_to_serve_pct_of_revenue" in by_segment.columns
    assert activity_columns(by_segment) == activity_columns(frame) != []
    c1, c2 = (frame.set_index("customer_id").loc[c, "segment"] for c in ("C1", "C2"))
    assert c1 != c2  # ABC puts the big and the small customer apart
    flows = subsidies(frame)
    assert len(flows) == 1
    flow = flows.iloc[0]
    assert (flow["from_segment"], flow["to_segment"]) == (c1, c2)
    assert flow["transfer"] == pytest.approx(19.5) and flow["to_loss"] == pytest.approx(19.5)
    assert flows.attrs["uncovered_loss"] == 0


def test_version_of_another_level_is_refused(hand):
    version = run_segmentation(hand, "product", "abc_xyz").version_id
    with pytest.raises(SegplanError, match="level 'product', not 'customer'"):
        cost_to_serve(hand, "customer", version_id=version)


def test_segments_need_a_version():
    frame = pd.DataFrame({"customer_id": ["C1"], "profit": [1.0]})
    with pytest.raises(SegplanError, match="no segments"):
        cost_to_serve_by_segment(frame)


def test_subsidies_spread_each_loss_over_the_profits_and_report_what_is_uncovered():
    frame = pd.DataFrame({
        "customer_id": ["a", "b", "c", "d"],
        "segment": ["A", "B", "C", "D"],
        "segment_label": ["A", "B", "C", "D"],
        "profit": [30.0, 10.0, -20.0, -60.0],
    })
    flows = subsidies(frame)
    transfer = {(r.from_segment, r.to_segment): r.transfer for r in flows.itertuples()}
    # losses 80 exceed profits 40: each profit is spent in full, split 20:60 over C and D
    assert transfer == pytest.approx({("A", "C"): 7.5, ("A", "D"): 22.5, ("B", "C"): 2.5, ("B", "D"): 7.5})
    assert flows.attrs["uncovered_loss"] == pytest.approx(40)
    covered = subsidies(frame.assign(profit=[100.0, 60.0, -20.0, -60.0]))
    into = covered.groupby("to_segment")["transfer"].sum()
    assert into.to_dict() == pytest.approx({"C": 20.0, "D": 60.0})  # every loss carried
    assert covered.groupby("from_segment")["transfer"].sum().to_dict() == pytest.approx({"A": 50.0, "B": 30.0})
    assert covered.attrs["uncovered_loss"] == 0
    assert subsidies(frame.assign(profit=[1.0, 2.0, 3.0, 4.0])).empty


# -- the tiny sample ----------------------------------------------------------------------------------
@pytest.mark.parametrize("level", ["customer", "product"])
def test_tiny_sample_runs_with_finite_numbers_that_add_up(tiny, level):
    frame = cost_to_serve(tiny, level)
    assert len(frame) > 0
    numbers = frame.select_dtypes("number")
    money = ["cost_to_serve", "revenue", "cost_of_goods", "gross_margin", "profit"]
    assert np.isfinite(numbers.drop(columns=money)).all().all()
    assert np.isfinite(frame["cost_to_serve"]).all()
    rates = tiny.cursor().execute("SELECT activity, driver, rate FROM cost_rates").fetchall()
    volumes = driver_volumes(tiny)
    expected: dict[str, float] = {}
    for activity, driver, rate in rates:
        expected[activity_column(activity)] = expected.get(activity_column(activity), 0.0) + rate * volumes[driver]
    for column, total in expected.items():
        assert math.isclose(frame[column].sum(), total, rel_tol=1e-9), column
    # revenue and margin as core.features computes them
    features = compute_features(tiny, level).set_index(f"{level}_id")
    mine = frame.set_index(f"{level}_id")
    assert np.allclose(mine["revenue"], features.loc[mine.index, "revenue"])
    assert np.allclose(mine["gross_margin"], features.loc[mine.index, "margin"], equal_nan=True)
    assert cost_to_serve_by_segment(cost_to_serve(tiny, level, run_segmentation(tiny, level, "abc_xyz").version_id))[
        "items"].sum() == len(frame)


def test_items_outside_the_version_are_named_and_summed_apart(hand):
    version = run_segmentation(hand, "customer", "abc_xyz").version_id
    insert_orders(hand, [("O9", "C9", "P1", 1, 5.0, 3.0, "S9", 1.0, "2024-01-15")])
    frame = cost_to_serve(hand, "customer", version_id=version)
    row = frame.set_index("customer_id").loc["C9"]
    assert pd.isna(row["segment"]) and row["segment_label"] == "not in version"
    by_segment = cost_to_serve_by_segment(frame)
    last = by_segment.iloc[-1]
    assert pd.isna(last["segment"]) and last["segment_label"] == "not in version" and last["items"] == 1


def test_a_line_without_price_or_cost_leaves_the_margin_and_profit_unknown(store):
    insert_orders(store, [("O1", "C1", "P1", 1, 5.0, 3.0, "S1", 1.0, None),
                          ("O2", "C2", "P9", 2, None, None, "S2", 1.0, None)])
    insert_rates(store, [("Picking", "per_line", 0.5)])
    frame = cost_to_serve(store, "customer").set_index("customer_id")
    assert frame.loc["C2", "cost_to_serve"] == pytest.approx(0.5)
    assert pd.isna(frame.loc["C2", "gross_margin"]) and pd.isna(frame.loc["C2", "profit"])
    curve = whale_curve(frame.reset_index())
    assert curve["customer_id"].iloc[1:].tolist() == ["C1"]  # unknown profit left out


def test_clustering_version_keeps_integer_segments(tiny):
    version = run_segmentation(tiny, "customer", "kmeans", k=3).version_id
    frame = cost_to_serve(tiny, "customer", version_id=version)
    assert frame["segment"].dtype == np.int64
    assert set(cost_to_serve_by_segment(frame)["segment"]) == set(frame["segment"])


# -- return handling and special handling (ship mode) ------------------------------------------------
def set_ship_modes(store: Store, modes: dict[tuple[str, str], str]) -> None:
    """ship_mode per (order_id, product_id)."""
    with store.transaction() as cur:
        for (order, product), mode in modes.items():
            cur.execute("UPDATE orders SET ship_mode = ? WHERE order_id = ? AND product_id = ?", [mode, order, product])


RETURN_LINES = [
    # a return without price nor cost still costs its handling
    ("R2", "C1", "P1", -2, None, None, None, None, None),
    # a customer and product with nothing but a return
    ("R3", "C3", "P4", -1, 10.0, 6.0, "RS3", 1.0, "2024-01-21"),
]


def test_return_handling_is_charged_to_the_item_that_returned(store):
    insert_orders(store, [*LINES, *RETURN_LINES])
    insert_rates(store, [*RATES, ("Returns", "per_return_line", 2.5)])
    assert driver_volumes(store)["per_return_line"] == 3
    customers = by_key(cost_to_serve(store, "customer"), "customer_id")
    assert {c: (r["return_lines"], r["cost_returns"]) for c, r in customers.items()} == {
        "C1": (1, 2.5), "C2": (1, 2.5), "C3": (1, 2.5)}
    # C3 only returned: margin -4 (refund 10, goods back 6), return handling 2.5
    assert customers["C3"]["gross_margin"] == pytest.approx(-4.0) and customers["C3"]["profit"] == pytest.approx(-6.5)
    assert customers["C3"]["cost_to_serve"] == pytest.approx(2.5)
    assert customers["C1"]["cost_to_serve"] == pytest.approx(50.0 + 2.5)  # demand drivers unchanged by returns
    products = by_key(cost_to_serve(store, "product"), "product_id")
    assert {p: r["cost_returns"] for p, r in products.items()} == pytest.approx(
        {"P1": 2.5, "P2": 2.5, "P3": 0.0, "P4": 2.5})


EXPRESS = ("Express handling", "per_line:ship_mode=Same Day", 3.0)


def test_an_express_rate_is_charged_only_on_lines_of_that_mode(hand):
    # O1: the two P2 lines Same Day (spaces and case differ), P1 Standard; O3: P3 SAME DAY; the return Same Day
    set_ship_modes(hand, {("O1", "P1"): "Standard", ("O1", "P2"): " same day ", ("O3", "P3"): "SAME DAY",
                          ("R1", "P2"): "Same Day"})
    insert_rates(hand, [EXPRESS])
    assert driver_volumes(hand)["per_line:ship_mode=same day"] == 3  # the return line is not shipped out
    customers = cost_to_serve(hand, "customer")
    assert list(customers.columns[1:9]) == ["orders", "order_lines", "units", "shipments", "weight_kg",
                                            "return_lines", "lines_same_day", "cost_express_handling"]
    rows = by_key(customers, "customer_id")
    assert {c: (r["lines_same_day"], r["cost_express_handling"]) for c, r in rows.items()} == {
        "C1": (2, 6.0), "C2": (1, 3.0)}
    assert rows["C1"]["cost_to_serve"] == pytest.approx(50.0 + 6.0)
    assert rows["C2"]["profit"] == pytest.approx(8 - 27.5 - 3.0)
    assert customers.attrs["notes"] == []
    products = by_key(cost_to_serve(hand, "product"), "product_id")
    assert {p: (r["lines_same_day"], r["cost_express_handling"]) for p, r in products.items()} == {
        "P1": (0, 0.0), "P2": (2, 6.0), "P3": (1, 3.0)}


def test_a_mode_no_line_has_costs_nothing_and_says_so(hand):
    set_ship_modes(hand, {("O1", "P1"): "Standard"})
    insert_rates(hand, [("Drone", "per_line:ship_mode=Drone", 7.0),
                        # the mode is a bound value: quotes in it are data, not SQL
                        ("Odd", "per_line:ship_mode=x' OR 1=1 --", 1.0)])
    frame = cost_to_serve(hand, "customer")
    assert (frame["cost_drone"] == 0).all() and (frame["lines_drone"] == 0).all()
    assert (frame["cost_odd"] == 0).all() and "lines_x_or_1_1" in frame.columns
    assert frame["cost_to_serve"].sum() == pytest.approx(77.5)
    notes = frame.attrs["notes"]
    assert len(notes) == 2 and "no demand line (quantity > 0) has ship mode 'drone' (driver per_line:ship_mode=drone): " \
        "it adds 0 to cost_drone" in notes


@pytest.mark.parametrize("driver, words", [
    ("per_line:ship_mode=", "malformed ship_mode drivers: activity 'Express', driver 'per_line:ship_mode='"),
    ("per_kg:ship_mode=Air", "malformed ship_mode drivers: activity 'Express', driver 'per_kg:ship_mode=air'"),
    ("per_line:mode=Air", "malformed ship_mode drivers"),
])
def test_a_malformed_ship_mode_driver_is_refused_in_core(hand, driver, words):
    insert_rates(hand, [("Express", driver, 1.0)])
    with pytest.raises(SegplanError, match=re.escape(words)) as err:
        cost_to_serve(hand, "customer")
    assert "per_line:ship_mode=" in err.value.hint
    with pytest.raises(SegplanError, match="malformed"):
        driver_volumes(hand)


def test_two_spellings_of_a_mode_that_share_a_column_are_refused(hand):
    insert_rates(hand, [("Express", "per_line:ship_mode=Same Day", 1.0), ("Courier", "per_line:ship_mode=same-day", 1.0)])
    with pytest.raises(SegplanError, match="both give the volume column lines_same_day"):
        cost_to_serve(hand, "customer")


def test_ship_mode_drivers_normalise_and_name_their_column():
    assert normalize_driver(" Per_Line : Ship_Mode = Same Day ") == "per_line:ship_mode=same day"
    assert normalize_driver("PER_RETURN_LINE") == "per_return_line"
    assert driver_column("per_line:ship_mode=Same Day") == "lines_same_day"
    assert driver_column("per_return_line") == "return_lines"
    with pytest.raises(SegplanError, match="unknown cost driver 'per_pallet'"):
        driver_column("per_pallet")


@pytest.mark.parametrize("level", ["customer", "product"])
def test_all_drivers_together_add_up_to_rate_times_total_volume(store, level):
    insert_orders(store, [*LINES, *RETURN_LINES])
    set_ship_modes(store, {("O1", "P2"): "Same Day", ("O3", "P3"): "Express", ("O2", "P1"): "express"})
    rates = [*RATES, ("Returns", "per_return_line", 2.5), EXPRESS, ("Express handling", "per_line:ship_mode=Express", 1.5),
             ("Transport", "per_line:ship_mode=Express", 4.0)]
    insert_rates(store, rates)
    frame = cost_to_serve(store, level)
    volumes = driver_volumes(store)
    assert volumes["per_line:ship_mode=express"] == 3 and volumes["per_line:ship_mode=same day"] == 2
    expected: dict[str, float] = {}
    for activity, driver, rate in rates:
        column = activity_column(activity)
        expected[column] = expected.get(column, 0.0) + rate * volumes[normalize_driver(driver)]
    for column, total in expected.items():
        assert frame[column].sum() == pytest.approx(total), column
    for driver, volume in volumes.items():
        assert frame[driver_column(driver)].sum() == pytest.approx(volume), driver
    activities = activity_columns(frame)
    assert sorted(activities) == sorted(expected)
    assert np.allclose(frame[activities].sum(axis=1), frame["cost_to_serve"])
    assert frame["cost_to_serve"].sum() == pytest.approx(sum(expected.values()))
    known = frame["gross_margin"].notna()
    assert np.allclose((frame["gross_margin"] - frame["cost_to_serve"])[known], frame["profit"][known])
    assert volume_columns(frame)[-2:] == ["lines_express", "lines_same_day"]


def test_segments_sum_the_new_drivers(hand):
    set_ship_modes(hand, {("O1", "P2"): "Same Day", ("O3", "P3"): "Same Day"})
    insert_rates(hand, [EXPRESS, ("Returns", "per_return_line", 2.5)])
    version = run_segmentation(hand, "customer", "abc_xyz").version_id
    frame = cost_to_serve(hand, "customer", version_id=version)
    by_segment = cost_to_serve_by_segment(frame)
    for column in ("lines_same_day", "return_lines", "cost_express_handling", "cost_returns", "cost_to_serve", "profit"):
        assert by_segment[column].sum() == pytest.approx(frame[column].sum()), column
    assert by_segment["cost_express_handling"].sum() == pytest.approx(9.0)
    assert by_segment["cost_returns"].sum() == pytest.approx(2.5)


def test_ingest_refuses_a_malformed_driver_naming_file_row_and_column(store, tmp_path):
    from core.ingest import ingest_file
    from tests.ingest_support import reject_rows, write

    text = ("activity,driver,rate\npicking,per_line,0.4\nexpress,per_line:ship_mode= Same Day ,3\n"
            "bad,per_line:ship_mode=,1\nbad air,per_unit:ship_mode=Air,2\npallets,per_pallet,1\n"
            "returns,PER_RETURN_LINE,1.5\n")
    result = ingest_file(store, "cost_rates", write(tmp_path / "rates.csv", text))
    assert reject_rows(store, result.run_id) == [
        (4, "driver", "per_line:ship_mode=", "malformed ship_mode driver"),
        (5, "driver", "per_unit:ship_mode=air", "malformed ship_mode driver"),
        (6, "driver", "per_pallet", "unknown cost driver"),
    ]
    source = store.cursor().execute("SELECT source_name FROM ingest_runs WHERE run_id = ?", [result.run_id]).fetchone()[0]
    assert source.endswith("rates.csv")
    assert store.cursor().execute("SELECT activity, driver FROM cost_rates ORDER BY 1").fetchall() == [
        ("express", "per_line:ship_mode= same day"), ("picking", "per_line"), ("returns", "per_return_line")]
    # what ingest keeps, core reads
    insert_orders(store)
    set_ship_modes(store, {("O1", "P2"): "Same Day"})
    frame = cost_to_serve(store, "customer")
    assert frame["cost_express"].sum() == pytest.approx(6.0) and frame["cost_returns"].sum() == pytest.approx(1.5)


def test_the_page_tables_show_the_new_drivers(hand):
    from core import charts_cost

    set_ship_modes(hand, {("O1", "P2"): "Same Day"})
    insert_rates(hand, [EXPRESS, ("Returns", "per_return_line", 2.5)])
    table = charts_cost.driver_table(driver_volumes(hand)).set_index("driver")
    assert table.loc["per_return_line", ["unit", "column", "volume"]].tolist() == ["return line", "return_lines", 1.0]
    assert table.loc["per_line:ship_mode=same day", ["unit", "column", "volume"]].tolist() == [
        "order line shipped same day", "lines_same_day", 2.0]
    rates = pd.DataFrame({"activity": ["Express handling", "Returns"], "driver": [" Per_Line:Ship_Mode = Same Day", "per_return_line"],
                          "rate": [3.0, 2.5], "currency": ["EUR"] * 2})
    assert charts_cost.rates_used(rates, driver_volumes(hand))["cost"].tolist() == pytest.approx([6.0, 2.5])


def test_the_cost_page_shows_the_new_drivers_and_the_note(tiny_sample_file, tmp_path, monkeypatch):
    from page_support import frame_with, open_page, texts, use_copy

    path = use_copy(tiny_sample_file, tmp_path, monkeypatch)
    with Store(path) as store:   # the tiny sample ships 'express' and 'standard' lines and some returns
        insert_rates(store, [("Express handling", "per_line:ship_mode=Express", 3.0),
                             ("Express handling", "per_line:ship_mode=Drone", 9.0),
                             ("Return handling", "per_return_line", 6.0)])
        expected = cost_to_serve(store, "customer")
    at = open_page("pages/cost_to_serve.py")
    assert at.error == [] and not at.exception
    assert "Note: no demand line (quantity > 0) has ship mode 'drone' (driver per_line:ship_mode=drone): it adds 0 " \
           "to cost_express_handling." in texts(at, "caption")
    per_customer = frame_with(at, "customer_id")
    assert {"cost_express_handling", "cost_return_handling", "lines_express", "lines_drone", "return_lines"} <= set(
        per_customer.columns)
    drivers = frame_with(at, "unit").set_index("driver")
    assert drivers.loc["per_line:ship_mode=express", "column"] == "lines_express"
    assert drivers.loc["per_line:ship_mode=express", "volume"] == expected["lines_express"].sum() > 0
    assert frame_with(at, "rate")["cost"].sum() == pytest.approx(expected["cost_to_serve"].sum())
