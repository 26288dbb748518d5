"""Sample order lines: customers, orders, deliveries and returns for the demand `core.sample` simulates.

Everything is vectorised over lines; loops run only over profiles and categories.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from core.sample import (
    _DC_LATE_FACTOR,
    _DC_SHORT_FACTOR,
    CATEGORIES,
    DATE_COLUMNS,
    LOCATIONS,
    ORDER_COLUMNS,
    PROFILES,
    START_DATE,
    _archetype_index,
    _demand_lines,
    _padded_ids,
)

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

Arrays = dict[str, "np.ndarray"]


def _profile_values(attribute: str) -> np.ndarray:
    import numpy as np

    return np.asarray([getattr(p, attribute) for p in PROFILES])


def _by_archetype(archetype: np.ndarray, values: dict[str, float], default: float) -> np.ndarray:
    """Per line, the value of its product's archetype, else the default."""
    import numpy as np

    return np.select([archetype == _archetype_index(a) for a in values], list(values.values()), default)


def _pick_customers(rng: np.random.Generator, product: np.ndarray, z: np.ndarray, prod: Arrays, cust: Arrays) -> np.ndarray:
    """A customer per line: big lines go mostly to large accounts, by each customer's category affinity."""
    import numpy as np

    large = _profile_values("large_orders")[cust["profile"]]
    p_large = 0.4 + 0.4 / (1.0 + np.exp(-1.7 * z))  # logistic stand-in for the normal CDF
    to_large = rng.random(len(z)) < p_large
    u = rng.random(len(z))
    customer = np.empty(len(z), dtype=int)
    category = prod["category"][product]
    for pool_flag in (True, False):
        members = np.flatnonzero(large == pool_flag)
        for k in range(len(CATEGORIES)):
            rows = np.flatnonzero((to_large == pool_flag) & (category == k))
            if len(rows) == 0:
                continue
            weight = cust["weight"][members] * cust["affinity"][members, k]
            cumulative = np.cumsum(weight) / weight.sum()
            customer[rows] = members[np.minimum(np.searchsorted(cumulative, u[rows], side="right"), len(members) - 1)]
    return customer


def _group_rank(keys: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Per row, the rank of its group (groups sorted by keys, first key most significant) and the row order."""
    import numpy as np

    order = np.lexsort(keys[::-1])
    new_group = np.zeros(len(order), dtype=bool)
    if len(order):
        new_group[0] = True
        for key in keys:
            ordered = key[order]
            new_group[1:] |= ordered[1:] != ordered[:-1]
    rank = np.empty(len(order), dtype=int)
    rank[order] = np.cumsum(new_group) - 1
    return rank, order


def _order_lines(rng: np.random.Generator, prod: Arrays, cust: Arrays) -> Arrays:
    """Demand lines given customers and days, grouped into orders with line numbers."""
    import numpy as np

    product, week, quantity, z = _demand_lines(rng, prod)
    customer = _pick_customers(rng, product, z, prod, cust)
    profile = cust["profile"][customer]
    day = cust["order_days"][customer, np.floor(rng.random(len(customer)) * cust["n_order_days"][customer]).astype(int)]

    # one customer's lines of one day fall into orders of about the profile's size
    day_group, _ = _group_rank([customer, week, day])
    day_group_size = np.bincount(day_group)[day_group]
    target = _profile_values("lines_per_order")[profile]
    slot = np.floor(rng.random(len(customer)) * np.ceil(day_group_size / target)).astype(int)
    # the same item twice in one order is one line
    line_group, _ = _group_rank([week, day, customer, slot, product])
    first = np.full(line_group.max() + 1 if len(line_group) else 0, len(line_group))
    np.minimum.at(first, line_group, np.arange(len(line_group)))
    lines = {"quantity": np.bincount(line_group, weights=quantity)}
    for name, values in (("product", product), ("week", week), ("day", day), ("customer", customer), ("slot", slot)):
        lines[name] = values[first]

    order_rank, order = _group_rank([lines["week"], lines["day"], lines["customer"], lines["slot"]])
    n_lines = len(order_rank)
    sorted_rank = order_rank[order]
    starts = np.r_[0, np.flatnonzero(sorted_rank[1:] != sorted_rank[:-1]) + 1]
    line_number = np.empty(n_lines, dtype=int)
    line_number[order] = np.arange(n_lines) - np.repeat(starts, np.diff(np.r_[starts, n_lines])) + 1
    lines.update(order=order_rank, line_number=line_number, profile=cust["profile"][lines["customer"]],
                 order_day=lines["week"] * 7 + lines["day"])
    return lines


def _per_order(values: np.ndarray, order: np.ndarray, n_orders: int) -> np.ndarray:
    """One value per order from per-line values that are equal within each order."""
    import numpy as np

    out = np.empty(n_orders, dtype=values.dtype)
    out[order] = values
    return out


def _deliveries(rng: np.random.Generator, lines: Arrays, prod: Arrays, cust: Arrays) -> Arrays:
    """Ship mode, DC, requested/promised/ship/delivered days and delivered quantity per line."""
    import numpy as np

    order, product, quantity = lines["order"], lines["product"], lines["quantity"]
    n_lines, n_orders = len(order), (order.max() + 1 if len(order) else 0)
    order_profile = _per_order(lines["profile"], order, n_orders)
    express = rng.random(n_orders) < _profile_values("express_share")[order_profile]
    lead_low = np.where(express, 1, _profile_values("request_lead_days")[order_profile, 0])
    lead_high = np.where(express, 2, _profile_values("request_lead_days")[order_profile, 1])
    request_lead = rng.integers(lead_low, lead_high + 1)
    webshop = (rng.random(n_orders) < 0.2)[order]

    # location: the customer's home DC; slow movers only centrally; a few lines cross-shipped
    location = cust["home_dc"][lines["customer"]]
    location = np.where(prod["centralised"][product], LOCATIONS.index("DC-CENTRAL"), location)
    cross = rng.random(n_lines) < 0.04
    location = np.where(cross, (location + rng.integers(1, len(LOCATIONS), n_lines)) % len(LOCATIONS), location)

    order_day = lines["order_day"]
    requested_day = order_day + request_lead[order]
    archetype = prod["archetype"][product]
    p_constrained = _by_archetype(archetype, {"lumpy": 0.12, "new": 0.10, "intermittent": 0.08}, 0.03)
    promised_day = requested_day + np.where(rng.random(n_lines) < p_constrained, rng.integers(1, 11, n_lines), 0)

    # lateness is mostly per order and DC (the truck is late), plus backorders of single lines
    pick, _ = _group_rank([order, location])
    n_picks = pick.max() + 1 if len(pick) else 0
    pick_order = _per_order(order, pick, n_picks)
    pick_day = _per_order(order_day, pick, n_picks)
    start = np.datetime64(START_DATE.isoformat())
    month = (start + pick_day.astype("timedelta64[D]")).astype("datetime64[M]").astype(int) % 12 + 1
    p_late = (0.05 * _profile_values("late_factor")[order_profile[pick_order]]
              * np.asarray([_DC_LATE_FACTOR[d] for d in LOCATIONS])[_per_order(location, pick, n_picks)]
              * np.where(express[pick_order], 0.7, 1.0) * np.where(np.isin(month, [11, 12]), 1.5, 1.0))
    pick_delay = np.where(rng.random(n_picks) < p_late, 1 + rng.geometric(0.45, n_picks), -rng.integers(0, 2, n_picks))
    p_backorder = _by_archetype(archetype, {"lumpy": 0.06, "intermittent": 0.04, "new": 0.04, "phase_out": 0.03}, 0.005)
    delay = np.where(rng.random(n_lines) < p_backorder, rng.integers(3, 15, n_lines), pick_delay[pick])
    delivered_day = promised_day + delay
    transit = np.where(express[order], 1, rng.integers(1, 4, n_picks)[pick] + (location == LOCATIONS.index("DC-SOUTH")))
    ship_day = np.maximum(order_day, delivered_day - transit)
    delivered_day = np.maximum(delivered_day, ship_day)

    # short deliveries: slow and ending items run out more often
    product_factor = _by_archetype(archetype, {"lumpy": 2.5, "intermittent": 1.8, "new": 1.5, "phase_out": 2.2}, 1.0)
    p_short = (0.035 * product_factor * _profile_values("short_factor")[lines["profile"]]
               * np.asarray([_DC_SHORT_FACTOR[d] for d in LOCATIONS])[location])
    short = (rng.random(n_lines) < p_short) & (quantity >= 2)
    delivered_quantity = np.where(short, np.maximum(1.0, np.floor(quantity * rng.uniform(0.2, 0.9, n_lines))), quantity)
    return {
        "express": express[order], "webshop": webshop, "location": location, "requested_day": requested_day,
        "promised_day": promised_day, "ship_day": ship_day, "delivered_day": delivered_day,
        "delivered_quantity": delivered_quantity,
    }


def build_orders(rng: np.random.Generator, prod: Arrays, cust: Arrays,
                 products: pd.DataFrame, customers: pd.DataFrame) -> pd.DataFrame:
    """The orders table: sales lines then returns, in order-date order, dates as dates."""
    import numpy as np
    import pandas as pd

    weeks = prod["factor"].shape[1]
    lines = _order_lines(rng, prod, cust)
    sent = _deliveries(rng, lines, prod, cust)
    product, customer, week, order = lines["product"], lines["customer"], lines["week"], lines["order"]
    channel = customers["channel"].to_numpy(dtype=object)[customer]
    channel = np.where(sent["webshop"] & np.isin(channel, ["retail", "wholesale"]), "e-commerce", channel)
    shipment, _ = _group_rank([order, sent["location"], sent["ship_day"]])
    promo_price = np.where(prod["promo"][product, week], rng.uniform(0.8, 0.9, len(product)), 1.0)
    unit_price = np.round(prod["list_price"][product] * (1.0 - cust["discount"][customer])
                          * np.where(week >= 52, 1.03, 1.0) * promo_price, 2)  # yearly price increase
    width = max(7, len(str(len(product))))
    frame = pd.DataFrame({
        "order_id": _padded_ids("SO-", order + 1, width),
        "line_number": lines["line_number"].astype(str).astype(object),
        "order_day": lines["order_day"],
        "customer_id": customers["customer_id"].to_numpy(dtype=object)[customer],
        "product_id": products["product_id"].to_numpy(dtype=object)[product],
        "quantity": lines["quantity"],
        "unit_price": np.maximum(unit_price, 0.01),
        "unit_cost": prod["unit_cost"][product],
        "requested_day": sent["requested_day"],
        "promised_day": sent["promised_day"],
        "ship_day": sent["ship_day"],
        "delivered_day": sent["delivered_day"],
        "delivered_quantity": sent["delivered_quantity"],
        "location_id": np.asarray(LOCATIONS, dtype=object)[sent["location"]],
        "channel": channel.astype(object),
        "shipment_id": _padded_ids("SH-", shipment + 1, width),
        "weight_kg": np.round(sent["delivered_quantity"] * prod["unit_weight_kg"][product], 2),
        "ship_mode": np.where(sent["express"], "express", "standard").astype(object),
    })
    frame = pd.concat([frame, _returns(rng, frame, weeks)], ignore_index=True)
    frame = frame.sort_values(["order_day", "order_id", "line_number"], kind="stable", ignore_index=True)
    start = np.datetime64(START_DATE.isoformat())
    for name in DATE_COLUMNS:
        frame[name] = start + frame.pop(name.replace("_date", "_day")).to_numpy().astype("timedelta64[D]")
    return frame[list(ORDER_COLUMNS)]


def _returns(rng: np.random.Generator, lines: pd.DataFrame, weeks: int) -> pd.DataFrame:
    """About 1% of lines come back 3-30 days after delivery, as one-line return orders (within the history)."""
    import numpy as np

    return_day = lines["delivered_day"].to_numpy() + rng.integers(3, 31, len(lines))
    chosen = np.flatnonzero((rng.random(len(lines)) < 0.011) & (return_day < weeks * 7))
    returned = lines.iloc[chosen].copy()
    return_day = return_day[chosen]
    delivered = returned["delivered_quantity"].to_numpy()
    quantity = -np.maximum(1.0, np.round(delivered * rng.uniform(0.1, 1.0, len(chosen))))
    numbers = np.arange(1, len(chosen) + 1)
    returned["order_id"] = _padded_ids("RT-", numbers, 6)
    returned["line_number"] = "1"
    returned["order_day"] = return_day
    returned["requested_day"] = return_day + 7  # pickup window agreed with the customer
    returned["promised_day"] = return_day + 7
    returned["ship_day"] = return_day + rng.integers(1, 6, len(chosen))
    returned["delivered_day"] = returned["ship_day"] + 2
    returned["quantity"] = quantity
    returned["delivered_quantity"] = quantity
    returned["shipment_id"] = _padded_ids("RS-", numbers, 6)
    # the returned units' share of the delivered weight (positive: it is carried back)
    returned["weight_kg"] = np.round(returned["weight_kg"].to_numpy() * -quantity / delivered, 2)
    returned["ship_mode"] = "standard"
    return returned
