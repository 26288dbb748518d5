"""Allocation by priority tier with fair share: published apportionment examples, hand cases, properties."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from core.allocation import allocate
from core.errors import SegplanError
from core.policy import SegmentPolicy


def order_lines(quantities, tiers, products=None, order_ids=None) -> pd.DataFrame:
    n = len(quantities)
    return pd.DataFrame({
        "order_id": order_ids or [f"o{i:03d}" for i in range(n)],
        "line": [1] * n,
        "customer_id": [f"c{i}" for i in range(n)],
        "product_id": products or ["p"] * n,
        "quantity": quantities,
        "allocation_tier": tiers,
    })


def stock_of(**available) -> pd.DataFrame:
    return pd.DataFrame({"product_id": list(available), "available": list(available.values())})


def test_hamilton_hare_quota_published_example():
    """en.wikipedia.org/wiki/Largest_remainder_method, Hare quota example: 10 seats
    for votes 47,000 / 16,000 / 15,800 / 12,000 / 6,100 / 3,100 give 5 / 2 / 1 / 1 / 1 / 0 (quotas
    4.70, 1.60, 1.58, 1.20, 0.61, 0.31; the three spare seats go to .70, .61, .60). Ordered
    quantities play the votes, the 10 units the seats."""
    lines = order_lines([47_000, 16_000, 15_800, 12_000, 6_100, 3_100], [1] * 6)
    result = allocate(stock_of(p=10), lines)
    assert list(result.lines["allocated"]) == [5, 2, 1, 1, 1, 0]


def test_hamilton_small_published_example():
    """infinitelexicon.com 'largestremainder': populations 50, 30, 20 and 7 seats, quotas 3.5, 2.1,
    1.4: floors 3, 2, 1 and the spare seat to the largest remainder (.5) -> 4, 2, 1."""
    result = allocate(stock_of(p=7), order_lines([50, 30, 20], [1, 1, 1]))
    assert list(result.lines["allocated"]) == [4, 2, 1]


def test_hand_case_tiers_fair_share_and_tie_break():
    """Hand case, product p, 10 units: tier 1 orders 4 (filled). Tier 2 shares 6 over 3, 3, 5:
    exact 18/11, 18/11, 30/11 -> floors 1, 1, 2, two spare units to remainders 8/11 (o004) and
    the 7/11 tie, broken by order id (o002 before o003). Tier 3 on p gets nothing; on q it is filled."""
    lines = order_lines([4, 3, 3, 5, 2, 7], [1, 2, 2, 2, 3, 3], products=["p", "p", "p", "p", "p", "q"],
                        order_ids=["o001", "o002", "o003", "o004", "o005", "o006"])
    lines["segment"] = ["AX", "BY", "BY", "BY", "CZ", "CZ"]
    result = allocate(stock_of(p=10, q=100), lines)
    assert list(result.lines["allocated"]) == [4, 2, 1, 3, 0, 7]
    assert list(result.lines["cut"]) == [0, 1, 2, 2, 2, 0]
    summary = result.summary.set_index("segment")
    assert summary.loc["BY", ["lines", "lines_cut", "ordered", "allocated", "cut"]].tolist() == [3, 3, 11, 6, 5]
    assert summary.loc["BY", "fill_rate"] == pytest.approx(6 / 11)
    assert summary.loc["CZ", "fill_rate"] == pytest.approx(7 / 9)
    assert summary.loc["CZ", "line_fill_rate"] == 0.5
    assert summary.loc["AX", "fill_rate"] == 1.0


def test_result_does_not_depend_on_input_order():
    lines = order_lines([2, 2, 2, 2], [1, 1, 1, 1], order_ids=["b", "d", "a", "c"])
    result = allocate(stock_of(p=3), lines)
    assert dict(zip(result.lines["order_id"], result.lines["allocated"])) == {"a": 1, "b": 1, "c": 1, "d": 0}
    shuffled = allocate(stock_of(p=3), lines.iloc[[3, 1, 0, 2]])
    assert dict(zip(shuffled.lines["order_id"], shuffled.lines["allocated"])) == {"a": 1, "b": 1, "c": 1, "d": 0}


def test_tie_break_on_line_within_an_order():
    lines = order_lines([1, 1, 1], [1, 1, 1], order_ids=["o", "o", "o"]).assign(line=[3, 1, 2])
    assert list(allocate(stock_of(p=1), lines).lines["allocated"]) == [0, 1, 0]


def test_tiers_from_segment_policies():
    lines = order_lines([5, 5], [1, 1]).drop(columns="allocation_tier").assign(segment=["CY", "AX"])
    policies = [SegmentPolicy("AX", 0.98, allocation_tier=1), SegmentPolicy("CY", 0.9, allocation_tier=3)]
    result = allocate(stock_of(p=6), lines, policies)
    assert list(result.lines["allocated"]) == [1, 5]
    assert list(result.lines["allocation_tier"]) == [3, 1]


def test_stock_rows_are_summed_negative_is_zero_missing_is_zero():
    stock = pd.DataFrame({"product_id": ["p", "p", "q"], "available": [3, 2, -4]})
    lines = order_lines([10, 10, 10], [1, 1, 1], products=["p", "q", "r"])
    assert list(allocate(stock, lines).lines["allocated"]) == [5, 0, 0]


@pytest.mark.parametrize(("lines", "stock", "match"), [
    (order_lines([1.5], [1]), stock_of(p=3), "whole units"),
    (order_lines([-1], [1]), stock_of(p=3), "negative"),
    (order_lines([1], [0]), stock_of(p=3), "tier"),
    (order_lines([1], [1]).drop(columns="allocation_tier"), stock_of(p=3), "allocation_tier"),
    (order_lines([1], [1]), stock_of(p=2.5), "available"),
    (order_lines([1], [1]).drop(columns="product_id"), stock_of(p=3), "product_id"),
])
def test_user_errors(lines, stock, match):
    with pytest.raises(SegplanError, match=match):
        allocate(stock, lines)


def test_segment_without_policy_is_a_user_error():
    lines = order_lines([1], [1]).drop(columns="allocation_tier").assign(segment=["ZZ"])
    with pytest.raises(SegplanError, match="ZZ"):
        allocate(stock_of(p=1), lines, [SegmentPolicy("AX", 0.9)])


# --- properties over random cases (seeded) ------------------------------------------------------

def random_case(seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    rng = np.random.default_rng(seed)
    n = int(rng.integers(1, 80))
    products = [f"p{i}" for i in range(int(rng.integers(1, 6)))]
    lines = pd.DataFrame({
        "order_id": rng.integers(0, 30, n), "line": rng.integers(1, 4, n), "customer_id": rng.integers(0, 9, n),
        "product_id": rng.choice(products, n), "quantity": rng.integers(0, 40, n),
        "allocation_tier": rng.integers(1, 4, n),
    }).drop_duplicates(["order_id", "line"], ignore_index=True)
    stock = pd.DataFrame({"product_id": products, "available": rng.integers(0, 200, len(products))})
    return stock, lines


@pytest.mark.parametrize("seed", range(60))
def test_allocation_properties(seed):
    """Properties: whole units; 0 <= allocated <= ordered; per product allocated = min(stock, ordered);
    a lower tier gets stock only when every higher tier is filled; within the partly filled tier
    each line is within one unit of its exact proportional share."""
    stock, lines = random_case(seed)
    out = allocate(stock, lines).lines
    assert out["allocated"].dtype.kind == "i"
    assert ((out["allocated"] >= 0) & (out["allocated"] <= out["quantity"])).all()
    assert (out["cut"] == out["quantity"] - out["allocated"]).all()
    available = stock.set_index("product_id")["available"]
    for product, group in out.groupby("product_id"):
        have = int(available.get(product, 0))
        assert group["allocated"].sum() == min(have, group["quantity"].sum())
        tiers = group.groupby("allocation_tier").agg(ordered=("quantity", "sum"), allocated=("allocated", "sum"))
        short = tiers.index[tiers["allocated"] < tiers["ordered"]]
        if len(short):
            first_short = short.min()
            # never a unit to a lower tier while a higher one lacks
            assert (tiers.loc[tiers.index > first_short, "allocated"] == 0).all()
            partial = group[group["allocation_tier"] == first_short]
            tier_stock = tiers.loc[first_short, "allocated"]
            exact = tier_stock * partial["quantity"] / partial["quantity"].sum()
            assert ((partial["allocated"] - exact).abs() < 1).all()


def test_allocation_of_100k_lines_is_grouped_not_looped():
    rng = np.random.default_rng(7)
    n = 100_000
    lines = pd.DataFrame({"order_id": np.arange(n), "line": 1, "customer_id": rng.integers(0, 500, n),
                          "product_id": rng.integers(0, 2000, n), "quantity": rng.integers(1, 50, n),
                          "allocation_tier": rng.integers(1, 4, n)})
    stock = pd.DataFrame({"product_id": np.arange(2000), "available": rng.integers(0, 1500, 2000)})
    out = allocate(stock, lines).lines
    assert len(out) == n and (out["allocated"] <= out["quantity"]).all()
