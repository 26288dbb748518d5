"""Cost-to-serve: activity-based costing of customers or products, one row per item.

Activity-based costing after Kaplan & Cooper, *Cost & Effect* (1998): each activity's cost is
its rate times the volume of the driver it is charged per, counted in the order lines of the
item; customer profit = gross margin - cost-to-serve, and ranking customers by it gives the
whale curve. Braithwaite & Samakh (1998), "The cost-to-serve method", IJLM 9(1), apply the
same to supply-chain activities (order handling, picking, transport).

Conventions, stated once here:

* **Rates** come from ``cost_rates`` (activity, driver, rate). One column per activity,
  ``cost_<activity>`` with the activity snake-cased (``"Order handling"`` ->
  ``cost_order_handling``), in name order; an activity charged per several drivers (transport
  per shipment and per kg) sums them in its one column. Activities whose names snake-case
  alike share the column. A driver with no rate simply gives no cost; no rates at all give a
  cost-to-serve of 0. All rates must be in one currency (``frame.attrs["currency"]``).
* **Driver volumes** count **demand lines** only (quantity > 0), as `core.features` does:
  ``per_order`` = distinct order_id; ``per_line`` = lines; ``per_unit`` = units (gross
  quantity); ``per_shipment`` = distinct shipment_id, and for lines without one, distinct
  (order_id, ship_date) (one shipment per order when ship_date is missing too); ``per_kg`` =
  sum of weight_kg (a line without weight adds none).
* **Special handling** is charged per demand line shipped with one ship mode:
  ``per_line:ship_mode=<mode>`` (``per_line:ship_mode=Same Day``, ``per_line:ship_mode=Express``)
  counts the demand lines whose ``orders.ship_mode`` equals ``<mode>`` compared
  case-insensitively after trimming (the mode is a bound parameter, never SQL text). Its
  volume column is ``lines_`` + the mode snake-cased (``lines_same_day``). A mode no line has
  costs 0 and adds a note to ``frame.attrs["notes"]`` (data without that mode is no error);
  a malformed driver (``per_line:ship_mode=``, ``per_kg:ship_mode=air``) is a `SegplanError`
  naming the activity and driver, as ingest rejects it.
* **Shared orders and shipments** are allocated to the items in them in proportion to their
  lines: an order of 3 lines, 2 of product A and 1 of B, counts 2/3 order for A and 1/3 for B.
  At customer level an order belongs to one customer and so counts 1 (an order or shipment
  that names several customers is split the same way). Either way the item volumes add up to
  the data's total volume (`driver_volumes`), so the activity costs add up to rate * volume.
* **Returns** (quantity < 0) reduce revenue and cost of goods as in `core.features`, and drive
  one activity: ``per_return_line`` = return lines (``return_lines``), every line with
  quantity < 0 whether or not it has a price, charged to the customer or product that
  returned (return handling). They drive none of the demand drivers above.
* **Revenue, cost of goods, gross margin** follow `core.features`: revenue = net_amount else
  quantity * unit_price; cost = cost_amount else quantity * unit_cost else quantity *
  products.unit_cost; gross_margin over lines with both known (NULL when none is).
  ``profit = gross_margin - cost_to_serve`` (NULL when the margin is unknown).

Sums per segment, the whale curve and subsidies of the frame `cost_to_serve` returns are in
`core.cost_to_serve_analysis`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from core.errors import SegplanError
from core.model import COST_DRIVERS
from core.store import Store, quote_ident

if TYPE_CHECKING:
    import pandas as pd

LEVELS = ("customer", "product")
_KEYS = {"customer": ("customer_id",), "product": ("product_id",)}

#: driver -> the column of the result that holds its volume (units in the name's words)
DRIVER_COLUMNS: dict[str, str] = {
    "per_order": "orders",
    "per_line": "order_lines",
    "per_unit": "units",
    "per_shipment": "shipments",
    "per_kg": "weight_kg",
    "per_return_line": "return_lines",
}
#: The drivers with a fixed name: `core.model.COST_DRIVERS` (demand lines) and per_return_line.
DRIVERS: tuple[str, ...] = (*COST_DRIVERS, "per_return_line")
_MONEY_COLUMNS = ("cost_to_serve", "revenue", "cost_of_goods", "gross_margin", "profit")
_RESERVED = frozenset({*DRIVER_COLUMNS.values(), *_MONEY_COLUMNS, "segment", "segment_label"})

#: The special-handling driver: ``per_line:ship_mode=<mode>``, cost per demand line shipped
#: with that mode. Spaces around ``:`` and ``=`` are allowed; the mode is trimmed and compared
#: case-insensitively. ``SHIP_MODE_DRIVER_PATTERN`` (RE2 and Python alike) matches a lowercased,
#: trimmed driver value of that form; ingest (`core.ingest_rules`) checks cost_rates with it.
SHIP_MODE_DRIVER = "per_line:ship_mode="
SHIP_MODE_DRIVER_PATTERN = r"per_line\s*:\s*ship_mode\s*=\s*(\S.*)"
#: A driver value that tries to be a conditional driver (has ``:``, ``=`` or ``ship_mode``)
#: but does not match the pattern is reported as malformed rather than unknown.
CONDITIONAL_DRIVER_HINT = r"[:=]|ship_mode"
_VOLUME_PREFIX = "lines_"
_NOT_IN_VERSION = "not in version"
_ASSIGNMENTS_VIEW = "cost_to_serve_assignments"


# -- names --------------------------------------------------------------------------------
def activity_column(activity: str) -> str:
    """The result column of an activity: ``cost_`` + its name snake-cased ("Order handling" -> cost_order_handling)."""
    snake = re.sub(r"[^a-z0-9]+", "_", str(activity).lower()).strip("_") or "unnamed"
    column = f"cost_{snake}"
    return f"{column}_activity" if column in _RESERVED else column


def ship_mode_of(driver: str) -> str | None:
    """The ship mode of a ``per_line:ship_mode=<mode>`` driver (lowercased, trimmed), else None."""
    match = re.fullmatch(SHIP_MODE_DRIVER_PATTERN, str(driver).strip().lower())
    return match.group(1).strip() if match else None


def normalize_driver(driver: str) -> str:
    """A driver as cost-to-serve keys it: lowercased and trimmed; a ship-mode driver written
    ``per_line:ship_mode=<mode>`` with its mode trimmed ("Per_Line : Ship_Mode = Same Day " ->
    "per_line:ship_mode=same day"). Unknown values come back lowercased and trimmed."""
    text = str(driver).strip().lower()
    mode = ship_mode_of(text)
    return SHIP_MODE_DRIVER + mode if mode is not None else text


def driver_column(driver: str) -> str:
    """The result column holding a driver's volume: `DRIVER_COLUMNS`, or for a ship-mode driver
    ``lines_`` + the mode snake-cased (``per_line:ship_mode=Same Day`` -> ``lines_same_day``)."""
    key = normalize_driver(driver)
    if key in DRIVER_COLUMNS:
        return DRIVER_COLUMNS[key]
    mode = ship_mode_of(key)
    if mode is None:
        raise SegplanError(f"unknown cost driver {driver!r}", hint=_DRIVER_HINT)
    return _VOLUME_PREFIX + (re.sub(r"[^a-z0-9]+", "_", mode).strip("_") or "unnamed")


_DRIVER_HINT = ("use one of: " + ", ".join(DRIVERS) + ", or " + SHIP_MODE_DRIVER
                + "<mode> (a value of orders.ship_mode, e.g. per_line:ship_mode=Express); load cost_rates again")


def _check_level(level: str) -> None:
    if level not in LEVELS:
        raise SegplanError(f"unknown level {level!r} for cost-to-serve", hint="choose one of: " + ", ".join(LEVELS))


# -- rates ----------------------------------------------------------------------------------
def _check_drivers(rows: Sequence[tuple[object, str]]) -> None:
    """Refuse (activity, driver) rows whose driver is malformed or unknown, naming them."""
    malformed = sorted({(str(a), d) for a, d in rows
                        if d not in DRIVERS and ship_mode_of(d) is None and re.search(CONDITIONAL_DRIVER_HINT, d)})
    if malformed:
        named = "; ".join(f"activity {a!r}, driver {d!r}" for a, d in malformed)
        raise SegplanError(f"cost_rates has malformed ship_mode drivers: {named}",
                           hint=f"write {SHIP_MODE_DRIVER}<mode> with a mode of orders.ship_mode "
                                "(e.g. per_line:ship_mode=Same Day); load cost_rates again")
    unknown = sorted({d for _, d in rows if d not in DRIVERS and ship_mode_of(d) is None})
    if unknown:
        raise SegplanError(f"cost_rates has unknown drivers: {', '.join(map(str, unknown))}", hint=_DRIVER_HINT)


def _mode_drivers(drivers: object) -> list[str]:
    """The ship-mode drivers among ``drivers`` (normalised), in name order; two modes that give the
    same volume column are an error."""
    modes = sorted({d for d in drivers if ship_mode_of(d) is not None})
    seen: dict[str, str] = {}
    for driver in modes:
        column = driver_column(driver)
        if column in seen:
            raise SegplanError(f"cost_rates drivers {seen[column]!r} and {driver!r} both give the volume column {column}",
                               hint="write the ship mode the same way in every rate; load cost_rates again")
        seen[column] = driver
    return modes


def _rates(store: Store) -> tuple[dict[str, dict[str, float]], str | None]:
    """Activity column -> driver -> rate (rates of activities that share a column add up), and the currency."""
    cur = store.cursor()
    raw = cur.execute(
        """SELECT activity, driver, sum(rate) AS rate
           FROM cost_rates GROUP BY activity, driver ORDER BY activity, driver"""
    ).fetchall()
    rows = [(activity, normalize_driver(driver), rate) for activity, driver, rate in raw]
    _check_drivers([(a, d) for a, d, _ in rows])
    currencies = [c for (c,) in cur.execute(
        "SELECT DISTINCT upper(trim(currency)) FROM cost_rates WHERE currency IS NOT NULL ORDER BY 1").fetchall()]
    if len(currencies) > 1:
        raise SegplanError(f"cost rates are in several currencies: {', '.join(currencies)}",
                           hint="convert the rates to one currency and load cost_rates again")
    rates: dict[str, dict[str, float]] = {}
    for activity, driver, rate in rows:
        per_driver = rates.setdefault(activity_column(activity), {})
        per_driver[driver] = per_driver.get(driver, 0.0) + float(rate)
    return dict(sorted(rates.items())), (currencies[0] if currencies else None)


# -- SQL ------------------------------------------------------------------------------------
_LINE_CTES = """
-- one row per product of the master data (grouped, so a duplicate cannot double lines)
product_master AS (
    SELECT product_id, max(unit_cost) AS unit_cost FROM products GROUP BY product_id
),
-- one row per order line: revenue and cost as in core.features, the shipment it left on
priced_lines AS (
    SELECT o.customer_id, o.product_id, o.order_id, o.quantity,
           coalesce(o.weight_kg, 0) AS weight_kg,
           lower(trim(o.ship_mode)) AS ship_mode,
           o.shipment_id AS shipment_key,
           -- no shipment_id: the line's shipment is (order_id, ship_date)
           CASE WHEN o.shipment_id IS NULL THEN o.order_id END AS shipment_order_key,
           CASE WHEN o.shipment_id IS NULL THEN o.ship_date END AS shipment_date_key,
           CASE WHEN o.quantity < 0
                THEN -abs(coalesce(o.net_amount, o.quantity * o.unit_price))
                ELSE coalesce(o.net_amount, o.quantity * o.unit_price) END AS line_revenue,
           CASE WHEN o.quantity < 0
                THEN -abs(coalesce(o.cost_amount, o.quantity * o.unit_cost, o.quantity * p.unit_cost))
                ELSE coalesce(o.cost_amount, o.quantity * o.unit_cost, o.quantity * p.unit_cost) END AS line_cost
    FROM orders AS o
    LEFT JOIN product_master AS p ON p.product_id = o.product_id
),
-- the lines that drive the demand drivers (returns drive per_return_line only)
demand_lines AS (
    SELECT * FROM priced_lines WHERE quantity > 0
)"""


def _volumes_sql(keys: Sequence[str], modes: Sequence[str] = ()) -> str:
    """CTEs from the lines to ``item_drivers``: one row per item with its driver volumes and money.

    ``modes``: ship-mode drivers; mode j is bound as ``$mode_<j>`` and counted in its column."""
    k = ", ".join(quote_ident(c) for c in keys)
    allowed = frozenset(driver_column(d) for d in modes)
    mode_counts = "".join(f",\n           count(*) FILTER (WHERE ship_mode = $mode_{j}) AS {quote_ident(driver_column(d), allowed=allowed)}"
                          for j, d in enumerate(modes))
    mode_cols = "".join(f",\n           CAST(coalesce(lines.{quote_ident(c, allowed=allowed)}, 0) AS DOUBLE) AS {quote_ident(c, allowed=allowed)}"
                        for c in (driver_column(d) for d in modes))
    m_keys = ", ".join(f"m.{quote_ident(c)}" for c in keys)

    def join(alias: str) -> str:
        on = " AND ".join(f"{alias}.{quote_ident(c)} = m.{quote_ident(c)}" for c in keys)
        return f"LEFT JOIN item_{alias} AS {alias} ON {on}"

    return f"""{_LINE_CTES},
-- one row per order and item: the item's share of the order's lines
order_shares AS (
    SELECT {k}, count(*) / sum(count(*)) OVER (PARTITION BY order_id) AS order_share
    FROM demand_lines GROUP BY order_id, {k}
),
item_orders AS (SELECT {k}, sum(order_share) AS orders FROM order_shares GROUP BY {k}),
-- one row per shipment and item: the item's share of the shipment's lines
shipment_shares AS (
    SELECT {k}, count(*) / sum(count(*)) OVER (
               PARTITION BY shipment_key, shipment_order_key, shipment_date_key) AS shipment_share
    FROM demand_lines GROUP BY shipment_key, shipment_order_key, shipment_date_key, {k}
),
item_shipments AS (SELECT {k}, sum(shipment_share) AS shipments FROM shipment_shares GROUP BY {k}),
-- one row per item with demand: lines, units and weight
item_lines AS (
    SELECT {k}, count(*) AS order_lines, sum(quantity) AS units, sum(weight_kg) AS weight_kg{mode_counts}
    FROM demand_lines GROUP BY {k}
),
-- one row per item with any line: money over all lines (returns reduce it), return lines priced or not
item_money AS (
    SELECT {k}, sum(line_revenue) AS revenue, sum(line_cost) AS cost_of_goods,
           sum(line_revenue - line_cost) AS gross_margin,
           count(*) FILTER (WHERE quantity < 0) AS return_lines
    FROM priced_lines GROUP BY {k}
),
item_drivers AS (
    SELECT {m_keys},
           coalesce(orders.orders, 0.0) AS orders,
           CAST(coalesce(lines.order_lines, 0) AS DOUBLE) AS order_lines,
           coalesce(lines.units, 0.0) AS units,
           coalesce(shipments.shipments, 0.0) AS shipments,
           coalesce(lines.weight_kg, 0.0) AS weight_kg,
           m.return_lines{mode_cols},
           m.revenue, m.cost_of_goods, m.gross_margin
    FROM item_money AS m
    {join("orders")}
    {join("shipments")}
    {join("lines")}
)"""


def cost_to_serve_sql(level: str, activities: Sequence[str], with_segments: bool = False,
                      modes: Sequence[str] = ()) -> str:
    """The statement behind `cost_to_serve` for these activity columns; rates are bound as
    ``$rate_<i>_<driver>`` in the order of ``activities`` (a ship-mode driver j as
    ``$rate_<i>_mode_<j>``, its mode as ``$mode_<j>``), with segments also ``$not_in_version``
    (for EXPLAIN and tests)."""
    _check_level(level)
    keys = _KEYS[level]
    mode_columns = [driver_column(d) for d in modes]
    allowed = frozenset(activities) | _RESERVED | frozenset(mode_columns)
    activity_sql = [f"{expr} AS {quote_ident(name, allowed=allowed)}"
                    for name, expr in _activity_exprs(activities, mode_columns)]
    total = " + ".join(quote_ident(name, allowed=allowed) for name in activities) or "0.0"
    d_keys = ", ".join(f"d.{quote_ident(c)}" for c in keys)
    segment_cols, segment_join = "", ""
    if with_segments:
        on = " AND ".join(f"a.{quote_ident(c)} = d.{quote_ident(c)}" for c in keys)
        segment_cols = f"a.segment, coalesce(a.segment_label, $not_in_version) AS segment_label,"
        segment_join = f"LEFT JOIN {_ASSIGNMENTS_VIEW} AS a ON {on}"
    driver_cols = ", ".join(f"d.{quote_ident(c, allowed=allowed)}" for c in (*DRIVER_COLUMNS.values(), *mode_columns))
    activity_cols = "".join(f"d.{quote_ident(n, allowed=allowed)}, " for n in activities)
    return f"""
WITH {_volumes_sql(keys, modes)},
-- one row per item: each activity's cost = sum over its drivers of rate * volume
item_costs AS (
    SELECT *{''.join(', ' + s for s in activity_sql)}
    FROM item_drivers
)
SELECT {d_keys}, {segment_cols}
       {driver_cols},
       {activity_cols}({total}) AS cost_to_serve,
       d.revenue, d.cost_of_goods, d.gross_margin,
       d.gross_margin - ({total}) AS profit
FROM item_costs AS d
{segment_join}
ORDER BY {d_keys}
"""


def _activity_exprs(activities: Sequence[str], mode_columns: Sequence[str] = ()) -> list[tuple[str, str]]:
    """(column, SQL) per activity, each driver's rate a parameter ``$rate_<i>_<driver>``, a
    ship-mode driver's ``$rate_<i>_mode_<j>``."""
    allowed = frozenset(mode_columns)
    exprs = []
    for i, name in enumerate(activities):
        terms = [f"$rate_{i}_{driver} * {DRIVER_COLUMNS[driver]}" for driver in DRIVERS]
        terms += [f"$rate_{i}_mode_{j} * {quote_ident(column, allowed=allowed)}" for j, column in enumerate(mode_columns)]
        exprs.append((name, " + ".join(terms)))
    return exprs


def _rate_params(rates: Mapping[str, Mapping[str, float]], modes: Sequence[str] = ()) -> dict[str, object]:
    params: dict[str, object] = {f"rate_{i}_{driver}": float(per_driver.get(driver, 0.0))
                                 for i, per_driver in enumerate(rates.values()) for driver in DRIVERS}
    params.update({f"rate_{i}_mode_{j}": float(per_driver.get(mode, 0.0))
                   for i, per_driver in enumerate(rates.values()) for j, mode in enumerate(modes)})
    params.update({f"mode_{j}": ship_mode_of(mode) for j, mode in enumerate(modes)})
    return params


def _rate_drivers(store: Store) -> list[str]:
    """The ship-mode drivers of cost_rates (normalised, checked), in name order."""
    rows = store.cursor().execute("SELECT DISTINCT activity, driver FROM cost_rates").fetchall()
    checked = [(a, normalize_driver(d)) for a, d in rows]
    _check_drivers(checked)
    return _mode_drivers(d for _, d in checked)


def driver_volumes(store: Store) -> dict[str, float]:
    """Total volume of each driver in the data, counted directly, not allocated: the demand
    drivers over demand lines, ``per_return_line`` over return lines.

    Keys are the drivers of ``DRIVERS``, then the ship-mode drivers of cost_rates
    (``per_line:ship_mode=<mode>``, normalised); the item volumes of `cost_to_serve` add up to these.
    """
    modes = _rate_drivers(store)
    mode_sql = "".join(f",\n       (SELECT count(*) FROM demand_lines WHERE ship_mode = $mode_{j})"
                       for j in range(len(modes)))
    row = store.cursor().execute(f"""
WITH {_LINE_CTES},
shipments AS (
    SELECT DISTINCT shipment_key, shipment_order_key, shipment_date_key FROM demand_lines
)
SELECT (SELECT count(DISTINCT order_id) FROM demand_lines),
       (SELECT count(*) FROM demand_lines),
       (SELECT coalesce(sum(quantity), 0) FROM demand_lines),
       (SELECT count(*) FROM shipments),
       (SELECT coalesce(sum(weight_kg), 0) FROM demand_lines),
       (SELECT count(*) FROM priced_lines WHERE quantity < 0){mode_sql}
""", {f"mode_{j}": ship_mode_of(m) for j, m in enumerate(modes)}).fetchone()
    return {driver: float(value) for driver, value in zip((*DRIVERS, *modes), row, strict=True)}


# -- the table per item -------------------------------------------------------------------------
def _version_assignments(store: Store, version_id: int, level: str) -> pd.DataFrame:
    """Keys, segment and segment_label of a version's items at ``level``: the effective ones
    (`core.overrides.effective_assignments`, overrides active today applied), so that a moved
    item's cost and profit count in the segment it was moved to."""
    from core.overrides import effective_assignments

    frame = effective_assignments(store, version_id)
    keys = [c for c in ("customer_id", "product_id") if c in frame.columns]
    version_level = "customer_product" if len(keys) == 2 else keys[0].removesuffix("_id")
    if version_level != level:
        raise SegplanError(
            f"version {version_id} segments at level {version_level!r}, not {level!r}",
            hint=(f"compute cost-to-serve with level={version_level!r}" if version_level in LEVELS
                  else "cost-to-serve is per customer or per product; choose a customer or product version"))
    return frame[[*keys, "segment", "segment_label"]]


def cost_to_serve(store: Store, level: str = "customer", version_id: int | None = None) -> pd.DataFrame:
    """One row per customer or product with any order line: activity costs, cost-to-serve, profit.

    Columns: key column; with ``version_id`` ``segment`` and ``segment_label`` (the version
    must be at the same level; the item's effective segment, overrides active today applied;
    items it does not hold get segment NULL, label "not in version"); driver volumes
    ``orders``, ``order_lines``, ``units``, ``shipments``, ``weight_kg`` (allocated by line
    share, see the module docstring); ``return_lines``; one ``cost_<activity>`` per activity
    with a rate; ``cost_to_serve``; ``revenue``,
    ``cost_of_goods``, ``gross_margin``; ``profit`` = gross_margin - cost_to_serve. An empty
    database gives an empty frame. ``attrs["currency"]`` is the rates' currency (or None).
    """
    _check_level(level)
    rates, currency = _rates(store)
    activities = list(rates)
    modes = _mode_drivers(d for per_driver in rates.values() for d in per_driver)
    params = _rate_params(rates, modes)
    cur = store.cursor()
    if version_id is None:
        frame = cur.execute(cost_to_serve_sql(level, activities, modes=modes), params).df()
    else:
        segments = _version_assignments(store, version_id, level)
        cur.register(_ASSIGNMENTS_VIEW, segments)
        try:
            frame = cur.execute(cost_to_serve_sql(level, activities, with_segments=True, modes=modes),
                                {**params, "not_in_version": _NOT_IN_VERSION}).df()
        finally:
            cur.unregister(_ASSIGNMENTS_VIEW)
        frame["segment"] = _segment_dtype(frame["segment"], segments["segment"])
    frame.attrs["currency"] = currency
    frame.attrs["level"] = level
    frame.attrs["notes"] = _mode_notes(frame, rates, modes)
    return frame


def _mode_notes(frame: pd.DataFrame, rates: Mapping[str, Mapping[str, float]], modes: Sequence[str]) -> list[str]:
    """A note per ship-mode driver that no demand line has (its volume column sums to 0): its
    activities cost 0 for it. The items' volumes add up to the data's, so the frame tells."""
    notes = []
    for mode in modes:
        if not frame[driver_column(mode)].sum() > 0:
            charged = sorted(column for column, per_driver in rates.items() if mode in per_driver)
            notes.append(f"no demand line (quantity > 0) has ship mode {ship_mode_of(mode)!r} (driver {mode}): "
                         f"it adds 0 to {', '.join(charged)}")
    return notes


def _segment_dtype(values: pd.Series, saved: pd.Series) -> pd.Series:
    """Segments back in the version's type: int64 for clustering when every item has one."""
    import pandas as pd

    if pd.api.types.is_integer_dtype(saved.dtype):
        return values.astype("int64") if values.notna().all() else values.astype("Int64")
    return values


# -- columns of the table ---------------------------------------------------------------------
#: ``cost_`` columns that are not activities: goods cost, and the share a per-segment frame adds.
_NOT_ACTIVITIES = frozenset({"cost_of_goods", "cost_to_serve_pct_of_revenue"})


def activity_columns(frame: pd.DataFrame) -> list[str]:
    """The ``cost_<activity>`` columns of a `cost_to_serve` or `cost_to_serve_by_segment` frame,
    checked to be names they make."""
    names = [c for c in frame.columns
             if str(c).startswith("cost_") and c not in _RESERVED and c not in _NOT_ACTIVITIES]
    bad = [c for c in names if not re.fullmatch(r"cost_[a-z0-9_]+", str(c))]
    if bad:
        raise SegplanError(f"column names {bad} are not activity costs of cost_to_serve",
                           hint="pass the frame that cost_to_serve returned")
    return names


def volume_columns(frame: pd.DataFrame) -> list[str]:
    """The driver volume columns of a `cost_to_serve` frame: those of `DRIVER_COLUMNS` it has, then
    its ship-mode ``lines_<mode>`` columns (checked to be names they make)."""
    fixed = [c for c in DRIVER_COLUMNS.values() if c in frame.columns]
    modes = [str(c) for c in frame.columns if str(c).startswith(_VOLUME_PREFIX)]
    bad = [c for c in modes if not re.fullmatch(r"lines_[a-z0-9_]+", c)]
    if bad:
        raise SegplanError(f"column names {bad} are not driver volumes of cost_to_serve",
                           hint="pass the frame that cost_to_serve returned")
    return [*fixed, *modes]
