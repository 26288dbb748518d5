"""Chart builders and table shapers for the Policies page: frames in, Altair charts or frames out.

Pure functions, no Streamlit, like `core.charts_segment`: every chart has a title and axis
titles with units. The policy editor's rows are turned into `SegmentPolicy` objects (and back)
here, and two policy sets are compared setting by setting, so the page stays thin and these
conversions are tested.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence

import altair as alt
import numpy as np
import pandas as pd

from core.errors import SegplanError
from core.policy import SegmentPolicy

#: Columns of the policy editor, in order (segment_label shown, segment kept hidden).
POLICY_COLUMNS = ("segment", "segment_label", "service_level", "service_level_type", "inventory_strategy",
                  "review_period_days", "forecast_method", "allocation_tier")
#: Planner words for the policy fields.
SETTING_NAMES = {"service_level": "service level", "service_level_type": "service level type",
                 "inventory_strategy": "inventory strategy", "review_period_days": "review period (days)",
                 "forecast_method": "forecast method", "allocation_tier": "allocation tier"}
SERVICE_LEVEL_RANGE = (0.50, 0.999)
CURVE_AXES = {"expected_fill_rate": "expected fill rate (% of demand met from stock)",
              "service_level": "target service level (%)"}
_SAVED, _WHAT_IF, _CHANGE_UP, _CHANGE_DOWN = "#9aa4b1", "#1f6feb", "#cf222e", "#1a7f37"


def _title(text: str, subtitle: str | None = None) -> alt.TitleParams:
    return alt.TitleParams(text=text, subtitle=subtitle or "", anchor="start")


def change_text(change: float, kind: str = "value") -> str | None:
    """A metric's change against the saved policies: "+1,234 vs saved" for a value, "+0.52 pts vs
    saved" for a rate (a share, shown in percentage points); None when there is no change (so no
    arrow is drawn) or it is unknown."""
    if change is None or pd.isna(change):
        return None
    if kind == "rate":
        points = float(change) * 100
        return None if abs(points) < 0.005 else f"{points:+.2f} pts vs saved"
    return None if abs(float(change)) < 0.5 else f"{float(change):+,.0f} vs saved"


def money(value: float) -> str:
    """A stock value as a planner reads it: 1,234,567 (no decimals), "–" when unknown."""
    return "–" if value is None or pd.isna(value) else f"{value:,.0f}"


# -- the policy editor ----------------------------------------------------------------------
def policy_rows(policies: Sequence[SegmentPolicy], labels: Mapping[str, str] | None = None) -> pd.DataFrame:
    """One editor row per policy, with the segment's name beside its code (``labels``)."""
    labels = labels or {}
    rows = [{"segment": str(p.segment), "segment_label": str(labels.get(str(p.segment), p.segment)),
             **{f: getattr(p, f) for f in POLICY_COLUMNS[2:]}} for p in policies]
    frame = pd.DataFrame(rows, columns=list(POLICY_COLUMNS))
    return frame.astype({"service_level": float, "review_period_days": float, "allocation_tier": "int64"})


def policies_from_rows(rows: pd.DataFrame) -> list[SegmentPolicy]:
    """The editor's rows back to policies; an empty or invalid cell raises a `SegplanError`
    naming the segment and the setting."""
    policies = []
    for row in rows.to_dict("records"):
        name = row.get("segment_label") or row["segment"]
        for field in POLICY_COLUMNS[2:]:
            value = row.get(field)
            if value is None or (isinstance(value, float) and np.isnan(value)):
                raise SegplanError(f"segment {name!r}: {SETTING_NAMES[field]} is empty", "fill in every cell of the table")
        tier = float(row["allocation_tier"])
        if tier != round(tier):
            raise SegplanError(f"segment {name!r}: allocation tier {tier!r} is not a whole number", "use 1, 2, 3 ...")
        low, high = SERVICE_LEVEL_RANGE
        if not low <= float(row["service_level"]) <= high:
            raise SegplanError(f"segment {name!r}: service level {row['service_level']!r} is outside {low}-{high}",
                               "give a share such as 0.95 for 95 %")
        policies.append(SegmentPolicy(
            segment=str(row["segment"]), service_level=float(row["service_level"]),
            service_level_type=str(row["service_level_type"]), inventory_strategy=str(row["inventory_strategy"]),
            review_period_days=float(row["review_period_days"]), forecast_method=str(row["forecast_method"]),
            allocation_tier=int(round(tier))))
    return policies


def policy_changes(before: Sequence[SegmentPolicy], after: Sequence[SegmentPolicy],
                   labels: Mapping[str, str] | None = None) -> pd.DataFrame:
    """Every setting that differs between two policy sets: segment, setting, before, after (text)."""
    labels = labels or {}
    old = {str(p.segment): p for p in before}
    rows = []
    for policy in after:
        previous = old.get(str(policy.segment))
        for field in POLICY_COLUMNS[2:]:
            new_value = getattr(policy, field)
            old_value = None if previous is None else getattr(previous, field)
            if old_value != new_value:
                rows.append({"segment": labels.get(str(policy.segment), str(policy.segment)),
                             "setting": SETTING_NAMES[field],
                             "before": "–" if old_value is None else str(old_value), "after": str(new_value)})
    return pd.DataFrame(rows, columns=["segment", "setting", "before", "after"])


def with_service_level(policies: Sequence[SegmentPolicy], segment: str, level: float) -> list[SegmentPolicy]:
    """The same policies with one segment's service level changed (the what-if)."""
    return [dataclasses.replace(p, service_level=float(level)) if str(p.segment) == str(segment) else p
            for p in policies]


#: Columns of a plan that `core.policy.plan_items` needs to plan the same items again.
PLAN_INPUTS = ("customer_id", "product_id", "segment", "demand_mean", "demand_std", "lead_time_days",
               "lead_time_std_days", "unit_cost", "moq")


def plan_inputs(plan: pd.DataFrame) -> pd.DataFrame:
    """The inputs of a plan (`core.policy_plan.policy_items` rows) as items for `plan_items` and
    `service_curve`, so a what-if re-plans in memory. ``demand_std`` is the one the plan used (the
    forecast RMSE when it planned on forecast errors)."""
    return plan[[c for c in PLAN_INPUTS if c in plan.columns]].reset_index(drop=True)


def compare_plans(plan_a: pd.DataFrame, plan_b: pd.DataFrame, labels: Mapping[str, str] | None = None) -> pd.DataFrame:
    """Two plans of the same items per segment, as `core.policy.compare_policy_sets` gives them
    (suffixes ``_a`` and ``_b``, changes b - a), with the segment's name beside its code."""
    from core.policy import segment_summary

    sides = []
    for suffix, plan in (("_a", plan_a), ("_b", plan_b)):
        summary = segment_summary(plan)
        settings = plan.assign(segment=plan["segment"].astype(str)).groupby("segment", sort=True).agg(
            service_level=("service_level", "first"), service_level_type=("service_level_type", "first"),
            inventory_strategy=("inventory_strategy", "first")).reset_index()
        sides.append(summary.merge(settings, on="segment").set_index("segment").add_suffix(suffix))
    out = sides[0].join(sides[1]).reset_index().drop(columns=["items_b"]).rename(columns={"items_a": "items"})
    for name in ("safety_stock_value", "cycle_stock_value", "inventory_value", "expected_fill_rate"):
        out[f"{name}_change"] = out[f"{name}_b"] - out[f"{name}_a"]
    return comparison_table(out, labels or {})


def plan_totals(plan: pd.DataFrame) -> dict[str, float]:
    """Inventory value and demand-weighted expected fill rate of a whole plan (stocked items)."""
    fill = plan["expected_fill_rate"].to_numpy(dtype=float)
    weight = np.where(np.isnan(fill), 0.0, plan["demand_mean"].to_numpy(dtype=float))
    return {"inventory_value": float(np.nansum(plan["inventory_value"].to_numpy(dtype=float))),
            "safety_stock_value": float(np.nansum(plan["safety_stock_value"].to_numpy(dtype=float))),
            "expected_fill_rate": float(np.nansum(weight * np.nan_to_num(fill)) / weight.sum())
            if weight.sum() > 0 else float("nan")}


# -- per-segment results --------------------------------------------------------------------
def segment_results(summary: pd.DataFrame, policies: Sequence[SegmentPolicy], labels: Mapping[str, str],
                    backtest: pd.DataFrame | None = None) -> pd.DataFrame:
    """One row per segment: name, policy (level, type, strategy, forecast method), items, stock
    values and expected fill rate (from `core.policy.segment_summary`), and the forecast
    backtest's WAPE, bias and method mix beside them when ``backtest`` (per segment) is given."""
    table = pd.DataFrame([{"segment": str(p.segment), "service_level": p.service_level,
                           "service_level_type": p.service_level_type, "inventory_strategy": p.inventory_strategy,
                           "forecast_method": p.forecast_method} for p in policies])
    out = table.merge(summary.assign(segment=summary["segment"].astype(str)), on="segment", how="left")
    out.insert(1, "segment_label", out["segment"].map(lambda s: labels.get(s, s)))
    if backtest is not None and len(backtest):
        cols = backtest.assign(segment=backtest["segment"].astype(str))[["segment", "wape", "bias", "methods"]]
        out = out.merge(cols.rename(columns={"methods": "backtest_methods"}), on="segment", how="left")
    else:
        out = out.assign(wape=np.nan, bias=np.nan, backtest_methods="")
    return out


def stock_value_chart(results: pd.DataFrame, currency: str = "currency units") -> alt.Chart:
    """Stacked horizontal bars: safety and cycle stock value per segment."""
    long = results.melt(id_vars=["segment_label"], value_vars=["safety_stock_value", "cycle_stock_value"],
                        var_name="stock", value_name="value")
    long["stock"] = long["stock"].map({"safety_stock_value": "safety stock", "cycle_stock_value": "cycle stock"})
    total = float(results[["safety_stock_value", "cycle_stock_value"]].sum().sum())
    return (
        alt.Chart(long, title=_title("Inventory investment per segment",
                                     f"safety stock + cycle stock (half an order) at unit cost; total {money(total)}"))
        .mark_bar()
        .encode(
            y=alt.Y("segment_label:N", title="segment", sort=list(results["segment_label"])),
            x=alt.X("value:Q", title=f"stock value ({currency})", stack="zero"),
            color=alt.Color("stock:N", title="stock", scale=alt.Scale(domain=["safety stock", "cycle stock"],
                                                                       range=["#1f6feb", "#9aa4b1"])),
            tooltip=[alt.Tooltip("segment_label:N", title="segment"), alt.Tooltip("stock:N"),
                     alt.Tooltip("value:Q", title="value", format=",.0f")],
        )
        .properties(height=110 + 32 * len(results))
    )


# -- what-if --------------------------------------------------------------------------------
def service_curve_chart(curve: pd.DataFrame, segment_label: str, current: Mapping[str, float],
                        saved: Mapping[str, float] | None = None, x: str = "expected_fill_rate",
                        currency: str = "currency units") -> alt.LayerChart:
    """Service against inventory for one segment: safety stock value (y) against the expected
    fill rate or the target service level (x) over the curve's levels; the what-if point marked
    in blue and the saved policy's point in grey. ``curve``: `core.policy.service_curve` rows of
    the segment; ``current`` / ``saved``: service_level, expected_fill_rate, safety_stock_value."""
    if x not in CURVE_AXES:
        raise SegplanError(f"curve axis {x!r} is unknown", f"use one of {', '.join(CURVE_AXES)}")
    frame = curve[["service_level", "expected_fill_rate", "safety_stock_value"]].dropna(subset=[x])
    points = [{"point": "what-if", **{k: float(current[k]) for k in frame.columns}}]
    if saved is not None:
        points.insert(0, {"point": "saved policy", **{k: float(saved[k]) for k in frame.columns}})
    marks = pd.DataFrame(points).dropna(subset=[x])
    tooltip = [alt.Tooltip("service_level:Q", title="target service level", format=".1%"),
               alt.Tooltip("expected_fill_rate:Q", title="expected fill rate", format=".2%"),
               alt.Tooltip("safety_stock_value:Q", title="safety stock value", format=",.0f")]
    x_enc = alt.X(f"{x}:Q", title=CURVE_AXES[x], axis=alt.Axis(format="%"), scale=alt.Scale(zero=False))
    y_enc = alt.Y("safety_stock_value:Q", title=f"safety stock value ({currency})")
    line = alt.Chart(frame).mark_line(color="#6e7781").encode(x=x_enc, y=y_enc, tooltip=tooltip)
    dots = alt.Chart(marks).mark_point(filled=True, size=160).encode(
        x=x_enc, y=y_enc, tooltip=[alt.Tooltip("point:N"), *tooltip],
        color=alt.Color("point:N", title="point", scale=alt.Scale(domain=["saved policy", "what-if"],
                                                                  range=[_SAVED, _WHAT_IF])))
    subtitle = "every product of the segment at each target level; steeper = dearer service"
    return alt.layer(line, dots).properties(
        title=_title(f"Service against inventory: «{segment_label}»", subtitle), height=340)


def curve_levels(*marked: float, points: int = 40) -> np.ndarray:
    """Service levels for the what-if curve: 80 % to 99.5 % (`core.policy.DEFAULT_CURVE_LEVELS`),
    widened to take in the marked levels (a slider at 60 % or 99.9 % stays on the curve), plus
    the marked levels themselves."""
    known = [float(m) for m in marked if m is not None and not pd.isna(m)]
    low, high = min([0.80, *known]), max([0.995, *known])
    return np.unique(np.concatenate([np.linspace(low, high, points), known]))


def comparison_table(comparison: pd.DataFrame, labels: Mapping[str, str]) -> pd.DataFrame:
    """`core.policy.compare_policy_sets` rows with the segment's name first."""
    out = comparison.assign(segment=comparison["segment"].astype(str))
    out.insert(1, "segment_label", out["segment"].map(lambda s: labels.get(s, s)))
    return out


def policy_difference_chart(comparison: pd.DataFrame, currency: str = "currency units") -> alt.Chart:
    """Bars per segment: inventory value under the what-if minus under the saved policies (red
    where it grows, green where it shrinks). ``comparison``: `comparison_table` rows."""
    frame = comparison[["segment_label", "inventory_value_change", "expected_fill_rate_change"]].assign(
        direction=np.where(comparison["inventory_value_change"] > 0, "more stock", "less or same stock"))
    total = float(frame["inventory_value_change"].sum())
    return (
        alt.Chart(frame, title=_title("What-if against the saved policies",
                                      f"change in inventory value per segment; total {total:+,.0f}"))
        .mark_bar()
        .encode(
            y=alt.Y("segment_label:N", title="segment", sort=list(frame["segment_label"])),
            x=alt.X("inventory_value_change:Q", title=f"change in inventory value ({currency})"),
            color=alt.Color("direction:N", title="what-if holds",
                            scale=alt.Scale(domain=["more stock", "less or same stock"],
                                            range=[_CHANGE_UP, _CHANGE_DOWN])),
            tooltip=[alt.Tooltip("segment_label:N", title="segment"),
                     alt.Tooltip("inventory_value_change:Q", title="inventory value change", format="+,.0f"),
                     alt.Tooltip("expected_fill_rate_change:Q", title="fill rate change", format="+.2%")],
        )
        .properties(height=110 + 32 * len(frame))
    )


# -- allocation -----------------------------------------------------------------------------
def allocation_fill_chart(summary: pd.DataFrame) -> alt.Chart:
    """Fill rate per segment after allocation (allocated / ordered), coloured by tier, in tier
    order. ``summary``: `core.policy_plan.allocate_version(...).summary`."""
    frame = summary.assign(tier=summary["allocation_tier"].map(lambda t: f"tier {int(t)}"))
    ordered, allocated = int(frame["ordered"].sum()), int(frame["allocated"].sum())
    return (
        alt.Chart(frame, title=_title("Fill rate per segment after allocation",
                                      f"allocated / ordered units; {allocated:,} of {ordered:,} units overall; "
                                      "tier 1 is served first"))
        .mark_bar()
        .encode(
            y=alt.Y("segment:N", title="segment", sort=list(frame["segment"])),
            x=alt.X("fill_rate:Q", title="fill rate (% of ordered units)", axis=alt.Axis(format="%"),
                    scale=alt.Scale(domain=[0, 1])),
            color=alt.Color("tier:N", title="allocation tier"),
            tooltip=[alt.Tooltip("segment:N"), alt.Tooltip("tier:N"),
                     alt.Tooltip("fill_rate:Q", title="fill rate", format=".1%"),
                     alt.Tooltip("ordered:Q", format=","), alt.Tooltip("allocated:Q", format=","),
                     alt.Tooltip("lines_cut:Q", title="lines cut", format=",")],
        )
        .properties(height=110 + 32 * len(frame))
    )
