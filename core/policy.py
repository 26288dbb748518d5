"""Policies per segment and the inventory figures they imply for each item, vectorised.

A `SegmentPolicy` says, for one segment: the target service level and its kind (cycle service
level or fill rate), the inventory strategy (make-to-stock, assemble-to-order, make-to-order),
the review period, the forecast method and the allocation priority tier. `plan_items` turns
the policies into per-item safety stock, reorder point, order quantity, expected fill rate and
inventory value; `service_curve` and `compare_policy_sets` are the what-if views.

Units
    Demand is per bucket (``demand_mean``, ``demand_std``: `core.features`); lead times and
    review periods are in days and are converted to buckets with a week = 7 days and a month
    = 365.25 / 12 = 30.4375 days (the mean Gregorian month). A year has 365.25 / 7 weeks or 12
    months (used for annual demand in the EOQ).

Formulas (normal demand, backorders)
    Cited by chapter and section title (C&M = Chopra & Meindl 6th ed., SPT = Silver, Pyke &
    Thomas 4th ed., see References); only C&M eq. 12.3 (ss = ROP - D x L) was checked by
    number, so no other equation number is guessed.

    * Demand over the protection period P = L + R buckets (R = 0 for continuous review):
      sigma_P = sqrt(P * sigma_d^2 + d^2 * sigma_L^2) (C&M ch. 12, "Impact of supply
      uncertainty on safety inventory"). The review period is fixed, so it adds to the mean
      protection time only (SPT ch. 6, the (R, S) system protects over R + L; C&M ch. 12,
      periodic review).
    * Safety stock = z * sigma_P; reorder point (continuous review) or order-up-to level
      (periodic review) = d * P + safety stock (C&M eq. 12.3 and the periodic-review section).
    * Cycle service level target: z = Phi^-1(CSL) (C&M ch. 12, "Evaluating required safety
      inventory given a desired cycle service level").
    * Fill-rate target beta: z solves sigma_P * G(z) = (1 - beta) * Q with the standard normal
      loss function G(z) = phi(z) - z (1 - Phi(z)) (SPT ch. 6, B2 service in an (s, Q) system,
      and Appendix B; C&M ch. 12: ESC = -ss[1 - F_S(ss/sigma_L)] + sigma_L f_S(ss/sigma_L) =
      sigma_L G(ss / sigma_L)). G is strictly decreasing, so a fixed-count vectorised
      bisection solves all items at once.
    * Expected fill rate = 1 - sigma_P G(z) / Q = 1 - ESC / Q (C&M ch. 12, "Evaluating fill
      rate given a replenishment policy").
    * Order quantity: continuous review, EOQ = sqrt(2 D S / (h c)) with D annual demand, S
      ordering cost per order, h annual holding rate and c unit cost (C&M ch. 11, economic
      order quantity) when S and h are given and c is known; otherwise
      ``fallback_cover_buckets`` buckets of mean demand. Periodic review: d * R, the mean order
      an (R, S) system places (SPT ch. 6). Either is raised to the item's ``moq`` when it has one.
    * Inventory investment: safety stock value = safety stock * c, cycle stock value = Q / 2 * c
      (C&M ch. 11: average cycle inventory Q / 2).

Strategies
    make-to-stock: the formulas above. assemble-to-order: the data model has no bill of
    materials, so the item's demand and lead time stand in for its component kit and are
    planned with the same formulas. make-to-order: nothing is stocked; safety stock, reorder
    point, order quantity and stock values are 0, z and expected fill rate are NaN (orders are
    served to a quoted lead time, not from stock).

References
    Chopra, S., Meindl, P. Supply Chain Management: Strategy, Planning, and Operation, 6th ed.,
    Pearson 2016, chapters 11-12. Silver, E.A., Pyke, D.F., Thomas, D.J. Inventory and
    Production Management in Supply Chains, 4th ed., CRC Press 2017, chapter 6 and Appendix B.
    Syntetos, A.A., Boylan, J.E., Croston, J.D. (2005), JORS 56(5), 495-503 (forecast method
    by demand pattern, as in `core.forecast`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from core.errors import SegplanError
from core.forecast import AUTO_METHODS
from core.forecast import METHODS as FORECAST_METHOD_NAMES
from core.inventory_formulas import (  # re-exported: the formulas are part of this module's API
    _sigma_protection,
    economic_order_quantity,
    expected_fill_rate,
    loss_function,
    loss_function_inverse,
    safety_factor,
    safety_stock,
)

__all__ = [
    "BUCKET_DAYS", "BUCKETS_PER_YEAR", "DEFAULT_CURVE_LEVELS", "FORECAST_METHODS", "INVENTORY_STRATEGIES",
    "SERVICE_LEVEL_TYPES", "SegmentPolicy", "compare_policy_sets", "default_policies", "expected_fill_rate",
    "lead_time_from_order_lines", "loss_function", "loss_function_inverse", "plan_items", "safety_factor",
    "safety_stock", "economic_order_quantity", "segment_summary", "service_curve", "forecast_method_for",
    "NINE_BOX_SERVICE_LEVEL", "PATTERN_FORECAST_METHOD",
]

#: days per demand bucket: a week is 7 days, a month the mean Gregorian month 365.25 / 12
BUCKET_DAYS: dict[str, float] = {"week": 7.0, "month": 365.25 / 12}
#: buckets per year, for annual demand in the EOQ
BUCKETS_PER_YEAR: dict[str, float] = {"week": 365.25 / 7.0, "month": 12.0}
#: service levels of the what-if curve
DEFAULT_CURVE_LEVELS = np.linspace(0.80, 0.995, 40)
#: columns a plan needs from the items frame
_REQUIRED = ("segment", "demand_mean", "demand_std")
_KEY_CANDIDATES = ("customer_id", "product_id")


SERVICE_LEVEL_TYPES = ("cycle_service_level", "fill_rate")
INVENTORY_STRATEGIES = ("make_to_stock", "assemble_to_order", "make_to_order")
#: the forecasting step's methods ("auto" picks by demand pattern), shared with `core.forecast`
FORECAST_METHODS = FORECAST_METHOD_NAMES
#: "auto" by SBC demand pattern, as `core.forecast` resolves it (smooth may become Holt-Winters
#: there when the history is seasonal)
PATTERN_FORECAST_METHOD = AUTO_METHODS

#: Default target cycle service level per ABC x XYZ cell: value (A > B > C) buys service,
#: variability (X > Y > Z) makes each point of service dearer, so it is relaxed.
NINE_BOX_SERVICE_LEVEL = {"AX": 0.98, "AY": 0.97, "AZ": 0.95, "BX": 0.96, "BY": 0.95, "BZ": 0.92,
                          "CX": 0.93, "CY": 0.90, "CZ": 0.85}
#: Cells made to order by default: low value and erratic or lumpy demand, where stock mostly ages.
MAKE_TO_ORDER_CELLS = ("CZ",)
#: Review period (days) per ABC class: the valuable items are looked at more often.
CLASS_REVIEW_PERIOD_DAYS = {"A": 7.0, "B": 14.0, "C": 28.0}
#: Allocation tier per ABC class: 1 is served first.
CLASS_ALLOCATION_TIER = {"A": 1, "B": 2, "C": 3}
#: XYZ stand-in for a demand-pattern segment named without classes.
PATTERN_XYZ = {"smooth": "X", "erratic": "Y", "intermittent": "Y", "lumpy": "Z", "no_demand": "Z"}
#: ABC class assumed for a segment with no class information at all (the middle of the range).
UNCLASSIFIED_ABC = "B"
#: XYZ class assumed when neither xyz nor demand_pattern is known.
UNCLASSIFIED_XYZ = "Y"


@dataclass(frozen=True)
class SegmentPolicy:
    """The planning policy of one segment.

    ``service_level`` (0 < level < 1) is a cycle service level (probability of no stock-out in a
    replenishment cycle) or a fill rate (share of demand met from stock), per
    ``service_level_type``. ``review_period_days`` is 0 for continuous review. ``forecast_method``
    is one of FORECAST_METHODS. ``allocation_tier`` 1 is served first when stock is short.
    """

    segment: str
    service_level: float
    service_level_type: str = "cycle_service_level"
    inventory_strategy: str = "make_to_stock"
    review_period_days: float = 0.0
    forecast_method: str = "auto"
    allocation_tier: int = 2

    def __post_init__(self) -> None:
        where = f"policy of segment {self.segment!r}"
        if not 0.0 < float(self.service_level) < 1.0:
            raise SegplanError(f"{where}: service_level is {self.service_level!r}",
                               "give a share strictly between 0 and 1, e.g. 0.95")
        for name, allowed in (("service_level_type", SERVICE_LEVEL_TYPES),
                              ("inventory_strategy", INVENTORY_STRATEGIES), ("forecast_method", FORECAST_METHODS)):
            if getattr(self, name) not in allowed:
                raise SegplanError(f"{where}: {name} is {getattr(self, name)!r}", f"use one of {', '.join(allowed)}")
        if not float(self.review_period_days) >= 0.0:
            raise SegplanError(f"{where}: review_period_days is {self.review_period_days!r}",
                               "use 0 for continuous review or a positive number of days")
        if not isinstance(self.allocation_tier, (int, np.integer)) or self.allocation_tier < 1:
            raise SegplanError(f"{where}: allocation_tier is {self.allocation_tier!r}", "use 1, 2, 3 ... (1 first)")


def _cell_policy(segment: str, abc: str, xyz: str) -> SegmentPolicy:
    cell = abc + xyz
    return SegmentPolicy(
        segment=segment, service_level=NINE_BOX_SERVICE_LEVEL[cell],
        inventory_strategy="make_to_order" if cell in MAKE_TO_ORDER_CELLS else "make_to_stock",
        review_period_days=CLASS_REVIEW_PERIOD_DAYS[abc], allocation_tier=CLASS_ALLOCATION_TIER[abc])


def _dominant(values: pd.Series, order: Sequence[str]) -> str | None:
    """The most frequent value; a tie goes to the one first in ``order`` (the more demanding)."""
    counts = values.value_counts()
    if counts.empty:
        return None
    best = counts[counts == counts.max()].index
    return min(best, key=lambda v: order.index(v) if v in order else len(order))


def default_policies(segments: pd.DataFrame | Sequence[str]) -> list[SegmentPolicy]:
    """One default policy per segment, by class.

    Defaults (cycle service level targets, all make-to-stock except CZ):
    AX 98 %, AY 97 %, AZ 95 %, BX 96 %, BY 95 %, BZ 92 %, CX 93 %, CY 90 %, CZ 85 % and
    make-to-order (the lumpy low-value long tail: stock there mostly ages, so orders are served
    to a quoted lead time). Review period A 7, B 14, C 28 days; allocation tier A 1, B 2, C 3;
    forecast method "auto" (by demand pattern, `forecast_method_for`).

    ``segments``: a sequence of segment names, or an items frame with ``segment`` and class
    columns (``abc``, ``xyz``, ``demand_pattern``, any of them). A nine-box name (``"AX"``)
    takes its cell. Any other segment (clusters, rules, patterns) takes the cell of its dominant
    ABC class (most items; a tie goes to the higher class) and dominant XYZ class, the XYZ from
    the dominant demand pattern when there is no xyz column (smooth X, erratic and
    intermittent Y, lumpy and no demand Z) and Y when neither is known; a segment with no ABC
    information is treated as class B. A segment named after a demand pattern without classes
    is B with that pattern's XYZ.
    """
    if isinstance(segments, pd.DataFrame):
        if "segment" not in segments.columns:
            raise SegplanError("items: column 'segment' is missing", "segment the items first")
        frame = segments.assign(segment=segments["segment"].astype(str))
        names = sorted(frame["segment"].unique())
        groups = dict(tuple(frame.groupby("segment", sort=True)))
    else:
        names = list(dict.fromkeys(str(s) for s in segments))
        groups = {}
    policies = []
    for name in names:
        if name in NINE_BOX_SERVICE_LEVEL:
            policies.append(_cell_policy(name, name[0], name[1]))
            continue
        group = groups.get(name)
        abc = xyz = None
        if group is not None and "abc" in group.columns:
            abc = _dominant(group["abc"].dropna().astype(str), ("A", "B", "C"))
        if group is not None and "xyz" in group.columns:
            xyz = _dominant(group["xyz"].dropna().astype(str), ("X", "Y", "Z"))
        if xyz is None and group is not None and "demand_pattern" in group.columns:
            pattern = _dominant(group["demand_pattern"].dropna().astype(str), tuple(PATTERN_XYZ))
            xyz = PATTERN_XYZ.get(pattern) if pattern is not None else None
        if xyz is None:
            xyz = PATTERN_XYZ.get(name, UNCLASSIFIED_XYZ)
        policies.append(_cell_policy(name, abc if abc in CLASS_ALLOCATION_TIER else UNCLASSIFIED_ABC, xyz))
    return policies


def forecast_method_for(method: np.ndarray | str, demand_pattern: np.ndarray | None) -> np.ndarray:
    """The policy's forecast method, "auto" resolved by the item's demand pattern as
    `core.forecast` does (PATTERN_FORECAST_METHOD, after Syntetos, Boylan & Croston 2005; a
    seasonal smooth item may still get Holt-Winters there); "auto" without a known pattern stays
    "auto" for the forecasting step to decide."""
    method = np.asarray(method, dtype=object)
    if demand_pattern is None:
        return method
    resolved = pd.Series(demand_pattern, dtype=object).map(PATTERN_FORECAST_METHOD).to_numpy(dtype=object)
    auto = (method == "auto") & pd.notna(resolved)
    return np.where(auto, resolved, method)


# --- lead times from order lines -----------------------------------------------------------


def lead_time_from_order_lines(lines: pd.DataFrame, keys: Sequence[str] = ("product_id",),
                               ordered: str = "order_date", delivered: str = "ship_date") -> pd.DataFrame:
    """Observed order-to-delivery lead time per key: mean and sample standard deviation in days.

    Lines without both dates or with delivery before order are left out; a key with one
    observation gets standard deviation 0. Columns: keys, lead_time_days, lead_time_std_days,
    lead_time_observations.
    """
    missing = [c for c in (*keys, ordered, delivered) if c not in lines.columns]
    if missing:
        raise SegplanError(f"order lines: column {missing[0]!r} is missing",
                           f"lead times from orders need {', '.join((*keys, ordered, delivered))}")
    days = (pd.to_datetime(lines[delivered]) - pd.to_datetime(lines[ordered])).dt.total_seconds() / 86400.0
    frame = lines[list(keys)].assign(_days=days)
    frame = frame[frame["_days"].notna() & (frame["_days"] >= 0)]
    grouped = frame.groupby(list(keys), sort=True)["_days"]
    return pd.DataFrame({"lead_time_days": grouped.mean(), "lead_time_std_days": grouped.std(ddof=1).fillna(0.0),
                         "lead_time_observations": grouped.size()}).reset_index()


# --- plans ---------------------------------------------------------------------------------


@dataclass
class _Inputs:
    """Per-item arrays of a plan, prepared once so the what-if curve can re-solve only z."""

    frame: pd.DataFrame  # keys, segment and policy columns
    demand_mean: np.ndarray
    demand_std: np.ndarray
    lead_time: np.ndarray
    lead_time_std: np.ndarray
    review_period: np.ndarray
    order_quantity: np.ndarray
    unit_cost: np.ndarray
    make_to_order: np.ndarray
    service_level: np.ndarray
    service_level_type: np.ndarray


def _column(items: pd.DataFrame, name: str, default: float) -> np.ndarray:
    if name not in items.columns:
        return np.full(len(items), default)
    return pd.to_numeric(items[name], errors="coerce").to_numpy(dtype=float)


def _check_non_negative(name: str, values: np.ndarray) -> None:
    bad = np.flatnonzero(values < 0)
    if len(bad):
        raise SegplanError(f"items: column {name!r} has negative value {values[bad[0]]!r} (row {int(bad[0])})",
                           "demand, standard deviations, lead times, costs and MOQ cannot be negative")


def _policy_table(policies: Sequence[SegmentPolicy] | Mapping[str, SegmentPolicy]) -> pd.DataFrame:
    listed = list(policies.values()) if isinstance(policies, Mapping) else list(policies)
    table = pd.DataFrame([{"segment": str(p.segment), "service_level": p.service_level,
                           "service_level_type": p.service_level_type, "inventory_strategy": p.inventory_strategy,
                           "review_period_days": p.review_period_days, "forecast_method": p.forecast_method,
                           "allocation_tier": p.allocation_tier} for p in listed])
    if table.empty:
        raise SegplanError("policies: none given", "pass one SegmentPolicy per segment, e.g. default_policies(items)")
    duplicated = table["segment"][table["segment"].duplicated()]
    if len(duplicated):
        raise SegplanError(f"policies: segment {duplicated.iloc[0]!r} has more than one policy", "keep one per segment")
    return table


def _prepare(items: pd.DataFrame, policies, *, bucket: str, ordering_cost: float | None,
             holding_rate: float | None, default_lead_time_days: float | None,
             fallback_cover_buckets: float) -> _Inputs:
    if bucket not in BUCKET_DAYS:
        raise SegplanError(f"parameter 'bucket' is {bucket!r}", f"use one of {', '.join(BUCKET_DAYS)}")
    missing = [c for c in _REQUIRED if c not in items.columns]
    if missing:
        raise SegplanError(f"items: column {missing[0]!r} is missing",
                           "plan on the items frame with segment, demand_mean and demand_std per bucket")
    if (ordering_cost is None) != (holding_rate is None):
        raise SegplanError("parameters 'ordering_cost' and 'holding_rate' go together",
                           "give both for the EOQ, or neither for the cover fallback")
    for name, value in (("ordering_cost", ordering_cost), ("holding_rate", holding_rate),
                        ("fallback_cover_buckets", fallback_cover_buckets)):
        if value is not None and not value > 0:
            raise SegplanError(f"parameter {name!r} is {value!r}", "it must be a positive number")
    table = _policy_table(policies)
    segment = items["segment"].astype(str).to_numpy()
    joined = pd.DataFrame({"segment": segment}).merge(table, on="segment", how="left", validate="many_to_one")
    unknown = joined["service_level"].isna()
    if unknown.any():
        raise SegplanError(f"items: segment {joined['segment'][unknown].iloc[0]!r} has no policy",
                           "add a SegmentPolicy for every segment (default_policies gives one each)")

    days = BUCKET_DAYS[bucket]
    d = _column(items, "demand_mean", np.nan)
    sd = _column(items, "demand_std", np.nan)
    rmse = _column(items, "rmse", np.nan)
    use_rmse = ~np.isnan(rmse)
    sd = np.where(use_rmse, rmse, sd)  # forecast errors, when known, measure what safety stock covers
    lead_days = _column(items, "lead_time_days", np.nan)
    if default_lead_time_days is not None:
        lead_days = np.where(np.isnan(lead_days), default_lead_time_days, lead_days)
    lead_std_days = np.nan_to_num(_column(items, "lead_time_std_days", 0.0), nan=0.0)
    unit_cost = _column(items, "unit_cost", np.nan)
    moq = np.nan_to_num(_column(items, "moq", 0.0), nan=0.0)
    for name, values in (("demand_mean", d), ("demand_std", sd), ("lead_time_days", lead_days),
                         ("lead_time_std_days", lead_std_days), ("unit_cost", unit_cost), ("moq", moq)):
        _check_non_negative(name, values)
    mto = (joined["inventory_strategy"] == "make_to_order").to_numpy()
    for name, values in (("demand_mean", d), ("demand_std", sd), ("lead_time_days", lead_days)):
        gap = np.flatnonzero(np.isnan(values) & ~mto)
        if len(gap):
            raise SegplanError(f"items: {len(gap)} stocked item(s) have no {name} (first at row {int(gap[0])})",
                               "load products.lead_time_days, derive it with lead_time_from_order_lines, or pass "
                               "default_lead_time_days" if name == "lead_time_days" else "compute features first")

    review = joined["review_period_days"].to_numpy(dtype=float) / days
    eoq = (np.full(len(items), np.nan) if ordering_cost is None else
           economic_order_quantity(d * BUCKETS_PER_YEAR[bucket], ordering_cost, holding_rate, unit_cost))
    continuous = np.where(np.isnan(eoq), d * fallback_cover_buckets, eoq)
    q = np.maximum(np.where(review > 0, d * review, continuous), moq)

    keys = [k for k in _KEY_CANDIDATES if k in items.columns]
    frame = pd.DataFrame({k: items[k].to_numpy() for k in keys})
    frame["segment"] = segment
    frame["inventory_strategy"] = joined["inventory_strategy"].to_numpy()
    pattern = items["demand_pattern"].to_numpy() if "demand_pattern" in items.columns else None
    frame["forecast_method"] = forecast_method_for(joined["forecast_method"].to_numpy(), pattern)
    frame["allocation_tier"] = joined["allocation_tier"].to_numpy(dtype=int)
    frame["demand_std_source"] = np.where(use_rmse, "forecast_rmse", "history")
    frame["order_quantity_source"] = np.select(
        [mto, (moq > 0) & (q == moq), review > 0, ~np.isnan(eoq)], ["make_to_order", "moq", "review_period", "eoq"],
        "cover")
    return _Inputs(frame=frame, demand_mean=d, demand_std=sd, lead_time=lead_days / days,
                   lead_time_std=lead_std_days / days, review_period=review, order_quantity=np.where(mto, 0.0, q),
                   unit_cost=unit_cost, make_to_order=mto,
                   service_level=joined["service_level"].to_numpy(dtype=float),
                   service_level_type=joined["service_level_type"].to_numpy(dtype=str))


def _figures(inputs: _Inputs, service_level: np.ndarray, service_level_type: np.ndarray,
             min_safety_factor: float) -> dict[str, np.ndarray]:
    """Every figure of a plan for the given levels (arrays aligned with ``inputs``)."""
    from scipy.special import ndtr

    mto = inputs.make_to_order
    sigma = _sigma_protection(inputs.demand_mean, inputs.demand_std, inputs.lead_time, inputs.lead_time_std,
                              inputs.review_period)
    q = inputs.order_quantity
    # Planners hold no negative safety stock; a low target simply gets none (the expected fill
    # rate then shows the service the plan actually gives).
    z = np.maximum(safety_factor(service_level, service_level_type, sigma, q), min_safety_factor)
    z = np.where(mto, np.nan, z)
    ss = np.where(mto, 0.0, z * sigma)
    protection = inputs.lead_time + inputs.review_period
    rop = np.where(mto, 0.0, inputs.demand_mean * protection + ss)
    fill = np.where(mto, np.nan, expected_fill_rate(z, sigma, q))
    return {"sigma_protection": sigma, "protection_period": protection, "z": z,
            "cycle_service_level": np.where(mto, np.nan, ndtr(z)), "safety_stock": ss, "reorder_point": rop,
            "order_quantity": q, "expected_fill_rate": fill, "safety_stock_value": ss * inputs.unit_cost,
            "cycle_stock_value": q / 2.0 * inputs.unit_cost}


def plan_items(items: pd.DataFrame, policies: Sequence[SegmentPolicy] | Mapping[str, SegmentPolicy], *,
               bucket: str = "week", ordering_cost: float | None = None, holding_rate: float | None = None,
               default_lead_time_days: float | None = None, fallback_cover_buckets: float = 1.0,
               min_safety_factor: float = 0.0) -> pd.DataFrame:
    """Safety stock, reorder point, order quantity, expected fill rate and values per item.

    ``items``: one row per item with ``segment``, ``demand_mean`` and ``demand_std`` (units per
    ``bucket``) and optionally ``rmse`` (forecast error per bucket, used instead of demand_std
    where present), ``lead_time_days``, ``lead_time_std_days`` (0 when absent), ``unit_cost``,
    ``moq``, ``demand_pattern`` and key columns (customer_id / product_id, carried through).
    ``policies``: one `SegmentPolicy` per segment. ``ordering_cost`` (currency per order) and
    ``holding_rate`` (fraction of unit cost per year) switch on the EOQ for continuous review;
    without them an order covers ``fallback_cover_buckets`` buckets (default 1). Items without a
    lead time take ``default_lead_time_days`` when given. ``min_safety_factor`` (default 0) is
    the lowest z used: no negative safety stock.

    Returns one row per item, in input order: keys, segment, policy fields, every input as used
    (lead_time, lead_time_std, review_period and protection_period in buckets) and every figure
    (z, cycle_service_level achieved, safety_stock, reorder_point, order_quantity,
    expected_fill_rate, safety_stock_value, cycle_stock_value, inventory_value) plus ``bucket``.
    Formulas and their sources: module docstring.

    References: Chopra & Meindl 6th ed. chapters 11-12; Silver, Pyke & Thomas 4th ed. chapter 6.
    """
    inputs = _prepare(items, policies, bucket=bucket, ordering_cost=ordering_cost, holding_rate=holding_rate,
                      default_lead_time_days=default_lead_time_days, fallback_cover_buckets=fallback_cover_buckets)
    figures = _figures(inputs, inputs.service_level, inputs.service_level_type, min_safety_factor)
    used = {name: getattr(inputs, name) for name in ("service_level_type", "service_level", "demand_mean",
                                                     "demand_std", "lead_time", "lead_time_std", "review_period",
                                                     "unit_cost")}
    out = inputs.frame.assign(bucket=bucket, **used, **figures)
    return out.assign(inventory_value=out["safety_stock_value"] + out["cycle_stock_value"])


def _segment_sums(codes: np.ndarray, segments: int, demand_mean: np.ndarray, figures: Mapping[str, np.ndarray]
                  ) -> dict[str, np.ndarray]:
    """Per-segment sums by integer segment code (np.bincount: the what-if curve calls this once
    per level over every item). Stock values of items without a unit cost (NaN) count as 0."""
    fill = figures["expected_fill_rate"]
    stocked = ~np.isnan(fill)
    weight = np.where(stocked, demand_mean, 0.0)

    def total(values: np.ndarray) -> np.ndarray:
        return np.bincount(codes, weights=values, minlength=segments)

    ss_value = np.nan_to_num(figures["safety_stock_value"], nan=0.0)
    cycle_value = np.nan_to_num(figures["cycle_stock_value"], nan=0.0)
    weights = total(weight)
    with np.errstate(divide="ignore", invalid="ignore"):
        segment_fill = np.where(weights > 0, total(np.where(stocked, weight * fill, 0.0)) / weights, np.nan)
    return {"items": np.bincount(codes, minlength=segments),
            "items_without_unit_cost": total((stocked & np.isnan(figures["safety_stock_value"])).astype(float)),
            "safety_stock_value": total(ss_value), "cycle_stock_value": total(cycle_value),
            "inventory_value": total(ss_value + cycle_value), "expected_fill_rate": segment_fill}


def segment_summary(plan: pd.DataFrame) -> pd.DataFrame:
    """Per segment: items, safety / cycle / total stock value and the demand-weighted expected fill
    rate of its stocked items (each item's fill rate weighted by its demand: the share of all the
    segment's demand filled from stock). Stocked items without a unit cost add no value and are
    counted in ``items_without_unit_cost``."""
    codes, segments = pd.factorize(plan["segment"].astype(str), sort=True)
    figures = {c: plan[c].to_numpy(dtype=float) for c in ("expected_fill_rate", "safety_stock_value",
                                                           "cycle_stock_value")}
    sums = _segment_sums(codes, len(segments), plan["demand_mean"].to_numpy(dtype=float), figures)
    out = pd.DataFrame({"segment": np.asarray(segments), **sums})
    out["items_without_unit_cost"] = out["items_without_unit_cost"].astype(int)
    return out


def service_curve(items: pd.DataFrame, levels: Sequence[float] | np.ndarray = DEFAULT_CURVE_LEVELS, *,
                  policies: Sequence[SegmentPolicy] | Mapping[str, SegmentPolicy] | None = None,
                  service_level_type: str | None = None, **plan_options) -> pd.DataFrame:
    """What-if: each segment's stock value and expected fill rate at each service level.

    Every item of a segment gets the level; the kind of level is ``service_level_type`` when
    given, else the segment's own policy's. Strategy, review period and order quantity stay as in
    ``policies`` (default: `default_policies(items)`). ``plan_options`` are those of
    `plan_items`. Returns one row per segment and level: segment, service_level,
    safety_stock_value, cycle_stock_value, inventory_value, expected_fill_rate.
    """
    levels = np.asarray(levels, dtype=float)
    if levels.size == 0 or np.any(~((levels > 0) & (levels < 1))):
        raise SegplanError(f"parameter 'levels' must be service levels strictly between 0 and 1, got {levels!r}",
                           "e.g. np.linspace(0.80, 0.995, 40)")
    if service_level_type is not None and service_level_type not in SERVICE_LEVEL_TYPES:
        raise SegplanError(f"parameter 'service_level_type' is {service_level_type!r}",
                           f"use one of {', '.join(SERVICE_LEVEL_TYPES)}")
    if policies is None:
        policies = default_policies(items)
    min_safety_factor = plan_options.pop("min_safety_factor", 0.0)
    inputs = _prepare(items, policies, **{"bucket": "week", "ordering_cost": None, "holding_rate": None,
                                          "default_lead_time_days": None, "fallback_cover_buckets": 1.0,
                                          **plan_options})
    kinds = inputs.service_level_type if service_level_type is None else np.full(len(items), service_level_type)
    codes, segments = pd.factorize(inputs.frame["segment"], sort=True)
    frames = []
    for level in levels:  # one vectorised pass over all items per level
        figures = _figures(inputs, np.full(len(items), level), kinds, min_safety_factor)
        sums = _segment_sums(codes, len(segments), inputs.demand_mean, figures)
        frames.append(pd.DataFrame({"segment": np.asarray(segments), "service_level": level,
                                    **{k: sums[k] for k in ("safety_stock_value", "cycle_stock_value",
                                                            "inventory_value", "expected_fill_rate")}}))
    out = pd.concat(frames, ignore_index=True)
    return out.sort_values(["segment", "service_level"], kind="mergesort", ignore_index=True)


def compare_policy_sets(items: pd.DataFrame, policies_a, policies_b, **plan_options) -> pd.DataFrame:
    """Two policy sets side by side per segment: level, strategy, stock values and expected fill
    rate under each (suffixes ``_a`` and ``_b``) and the change b - a of values and fill rate."""
    sides = []
    for suffix, policies in (("_a", policies_a), ("_b", policies_b)):
        plan = plan_items(items, policies, **plan_options)
        summary = segment_summary(plan)
        settings = plan.groupby("segment", sort=True).agg(
            service_level=("service_level", "first"), service_level_type=("service_level_type", "first"),
            inventory_strategy=("inventory_strategy", "first")).reset_index()
        sides.append(summary.merge(settings, on="segment").set_index("segment").add_suffix(suffix))
    out = sides[0].join(sides[1]).reset_index()
    out = out.drop(columns=["items_b"]).rename(columns={"items_a": "items"})
    for name in ("safety_stock_value", "cycle_stock_value", "inventory_value", "expected_fill_rate"):
        out[f"{name}_change"] = out[f"{name}_b"] - out[f"{name}_a"]
    return out
