"""Chart builders and table shapers for the Cost to serve and Overview pages: frames in, Altair out.

Pure functions, no Streamlit, like `core.charts_policy`: every chart has a title and axis
titles with units, money in the rates' currency. The frames come from `core.cost_to_serve`
(`cost_to_serve`, `cost_to_serve_by_segment`, `whale_curve`, `subsidies`, `driver_volumes`);
the costing itself (Kaplan & Cooper, *Cost & Effect*, 1998) is done there, not here.
"""

from __future__ import annotations

from collections.abc import Mapping

import altair as alt
import pandas as pd

from core.charts import MAX_LINE_POINTS, _title
from core.cost_to_serve import activity_columns, driver_column, normalize_driver, ship_mode_of, volume_columns

#: Driver -> what one unit of it is, in the planner's words.
DRIVER_UNITS: dict[str, str] = {
    "per_order": "order",
    "per_line": "order line",
    "per_unit": "unit",
    "per_shipment": "shipment",
    "per_kg": "kg shipped",
    "per_return_line": "return line",
}


def driver_unit(driver: str) -> str:
    """What one unit of a driver is: `DRIVER_UNITS`, or for ``per_line:ship_mode=<mode>`` "order line
    shipped <mode>"."""
    mode = ship_mode_of(driver)
    return f"order line shipped {mode}" if mode is not None else DRIVER_UNITS[normalize_driver(driver)]
_MARGIN, _COST, _PROFIT, _LOSS = "#1f6feb", "#f0a32f", "#2da44e", "#cf222e"
_AMOUNT_NAMES = {"gross_margin": "gross margin", "cost_to_serve": "cost to serve", "profit": "profit"}


def currency_name(currency: str | None) -> str:
    """The unit of money on an axis: the rates' currency, else "currency units"."""
    return currency or "currency units"


def activity_name(column: str) -> str:
    """An activity column as the planner named it, near enough: cost_order_handling -> "order handling"."""
    return column.removeprefix("cost_").replace("_", " ")


# -- whale curve ------------------------------------------------------------------------------
def whale_peak(curve: pd.DataFrame) -> dict[str, float]:
    """The top of a `whale_curve`: ``profit_pct`` (cumulative profit there, % of total),
    ``items_pct`` (share of items up to it), ``items`` (their count), ``loss_items`` (items
    with a loss: they come after the peak) and ``ranked`` (items on the curve). An empty curve
    gives an empty dict."""
    if curve.empty:
        return {}
    # the first row of the maximum: items after it with zero profit add nothing and do not count
    top = curve.loc[curve["cumulative_profit_pct"].idxmax()]
    ranked = int(curve["rank"].max())
    return {"profit_pct": float(top["cumulative_profit_pct"]), "items_pct": float(top["cumulative_items_pct"]),
            "items": int(top["rank"]), "loss_items": int((curve["profit"] < 0).sum()), "ranked": ranked}


def percent_text(value: float) -> str:
    """A whale-curve percentage in words: whole numbers, one decimal where the whole number would hide the
    story (99.75 -> "99.8", not "100"; 100.3 -> "100.3"; 0.3 -> "0.3"), 66.7 -> "67"."""
    whole = round(value)
    if value != whole and whole in (0, 100) and round(value, 1) != whole:
        return f"{value:.1f}"
    return f"{whole:.0f}"


def count_text(count: int, item_label: str) -> str:
    """``"399 customers"``, ``"1 customer"`` (``item_label`` is the plural)."""
    return f"{count:,} {item_label if count != 1 else item_label.removesuffix('s')}"


def whale_words(peak: dict[str, float], item_label: str = "customers") -> str:
    """The whale curve in one sentence, from `whale_peak`: who makes the profit and what the loss-making
    items take back ("the 1 loss-making customer takes 0.3 points of it back")."""
    if not peak:
        return ""
    if not peak["loss_items"]:
        return f"None of the {item_label} loses money: the curve rises to 100 % and stays there."
    losers = int(peak["loss_items"])
    back = peak["profit_pct"] - 100.0
    points = "less than 0.1 points" if back < 0.05 else \
        f"{percent_text(back)} point{'' if percent_text(back) == '1' else 's'}"
    return (f"The most profitable {percent_text(peak['items_pct'])} % of {item_label} "
            f"({int(peak['items']):,}) make {percent_text(peak['profit_pct'])} % of the profit; "
            f"the {count_text(losers, 'loss-making ' + item_label)} {'takes' if losers == 1 else 'take'} {points} of "
            "it back.")


def _thin_curve(curve: pd.DataFrame, keep: int) -> pd.DataFrame:
    """At most MAX_LINE_POINTS points, always with the origin, the peak and the end."""
    if len(curve) <= MAX_LINE_POINTS:
        return curve
    step = len(curve) / MAX_LINE_POINTS
    positions = {round(i * step) for i in range(MAX_LINE_POINTS)} | {0, len(curve) - 1, keep}
    return curve.iloc[sorted(p for p in positions if p < len(curve))]


def whale_curve_chart(curve: pd.DataFrame, item_label: str = "customers", currency: str | None = None) -> alt.LayerChart:
    """The whale curve: cumulative profit (% of total profit) against the share of items ranked
    by profit, most profitable first, with the 100 % line and the peak marked.

    Kaplan & Narayanan (2001), "Measuring and managing customer profitability", Journal of Cost
    Management 15(5): the curve rises above 100 % while profitable items are added and falls
    back to 100 % as the loss-making ones take their share away. ``curve``: `core.cost_to_serve_analysis.whale_curve`.
    """
    key = next(c for c in ("customer_id", "product_id") if c in curve.columns)
    peak = whale_peak(curve)
    top_position = int(curve["cumulative_profit_pct"].to_numpy().argmax()) if len(curve) else 0
    points = _thin_curve(curve, top_position)[["rank", key, "profit", "cumulative_profit_pct",
                                               "cumulative_items_pct"]]
    x = alt.X("cumulative_items_pct:Q", title=f"{item_label} ranked by profit, most profitable first (% of {item_label})",
              scale=alt.Scale(domain=[0, 100]))
    y = alt.Y("cumulative_profit_pct:Q", title="cumulative profit (% of total profit)")
    line = alt.Chart(points).mark_line(color=_MARGIN, strokeWidth=2.5).encode(
        x=x, y=y,
        tooltip=[alt.Tooltip(f"{key}:N", title=item_label.rstrip("s")), alt.Tooltip("rank:Q", title="rank"),
                 alt.Tooltip("profit:Q", title=f"profit ({currency_name(currency)})", format=",.0f"),
                 alt.Tooltip("cumulative_items_pct:Q", title=f"% of {item_label}", format=".1f"),
                 alt.Tooltip("cumulative_profit_pct:Q", title="% of total profit", format=".1f")])
    hundred = pd.DataFrame({"y": [100.0], "label": ["100 % = total profit"]})
    rule = alt.Chart(hundred).mark_rule(strokeDash=[6, 4], color="#57606a").encode(y="y:Q")
    rule_label = alt.Chart(hundred).mark_text(align="right", baseline="top", dx=-4, dy=4, color="#57606a").encode(
        y="y:Q", x=alt.datum(100.0), text="label:N")
    layers = [line, rule, rule_label]
    subtitle = f"{peak.get('ranked', 0):,} {item_label} with a known margin; total profit " \
               f"{curve.attrs.get('total_profit', 0.0):,.0f} {currency_name(currency)}"
    if peak:
        marked = pd.DataFrame({"cumulative_items_pct": [peak["items_pct"]], "cumulative_profit_pct": [peak["profit_pct"]],
                               "label": [f"peak: {percent_text(peak['profit_pct'])} % of profit from the top "
                                         f"{percent_text(peak['items_pct'])} % "
                                         f"({count_text(int(peak['items']), item_label)})"]})
        layers.append(alt.Chart(marked).mark_point(filled=True, size=140, color=_LOSS).encode(x=x, y=y))
        # the label leans into the chart: left of the peak when it is in the right half
        align = "right" if peak["items_pct"] > 50 else "left"
        layers.append(alt.Chart(marked).mark_text(align=align, baseline="bottom", dx=-8 if align == "right" else 8,
                                                  dy=-6, fontSize=13, fontWeight="bold", color=_LOSS)
                      .encode(x=x, y=y, text="label:N"))
        if peak["loss_items"]:
            subtitle += (f"; {peak['loss_items']:,} " + ("loses money and brings" if peak["loss_items"] == 1
                                                         else "lose money and bring") + " it back down")
    return alt.layer(*layers).properties(title=_title("Whale curve: where the profit is made and lost", subtitle),
                                         height=380)


# -- per segment ----------------------------------------------------------------------------------
def _segment_order(by_segment: pd.DataFrame) -> list[str]:
    return [str(s) for s in by_segment["segment_label"]]


def cost_margin_chart(by_segment: pd.DataFrame, currency: str | None = None) -> alt.Chart:
    """Gross margin, cost to serve and profit per segment, side by side (horizontal bars).

    ``by_segment``: `core.cost_to_serve_analysis.cost_to_serve_by_segment`; profit = gross margin - cost to serve.
    """
    long = by_segment.assign(segment_label=by_segment["segment_label"].astype(str)).melt(
        id_vars=["segment_label"], value_vars=list(_AMOUNT_NAMES), var_name="amount", value_name="value")
    long["amount"] = long["amount"].map(_AMOUNT_NAMES)
    unit = currency_name(currency)
    total_cost, total_margin = float(by_segment["cost_to_serve"].sum()), float(by_segment["gross_margin"].sum())
    subtitle = (f"all segments: gross margin {total_margin:,.0f}, cost to serve {total_cost:,.0f}, "
                f"profit {total_margin - total_cost:,.0f} {unit}")
    return (
        alt.Chart(long, title=_title("Cost to serve against gross margin per segment", subtitle))
        .mark_bar()
        .encode(
            y=alt.Y("segment_label:N", title="segment", sort=_segment_order(by_segment)),
            yOffset=alt.YOffset("amount:N", sort=list(_AMOUNT_NAMES.values())),
            x=alt.X("value:Q", title=f"amount ({unit})"),
            color=alt.Color("amount:N", title=None, sort=list(_AMOUNT_NAMES.values()),
                            scale=alt.Scale(domain=list(_AMOUNT_NAMES.values()), range=[_MARGIN, _COST, _PROFIT]),
                            legend=alt.Legend(orient="top")),
            tooltip=[alt.Tooltip("segment_label:N", title="segment"), alt.Tooltip("amount:N"),
                     alt.Tooltip("value:Q", title=unit, format=",.0f")],
        )
        .properties(height=90 + 54 * len(by_segment))
    )


def activity_cost_chart(by_segment: pd.DataFrame, currency: str | None = None) -> alt.Chart:
    """Cost to serve per segment, stacked by activity (order handling, picking, transport ...)."""
    activities = activity_columns(by_segment)
    long = by_segment.assign(segment_label=by_segment["segment_label"].astype(str)).melt(
        id_vars=["segment_label"], value_vars=activities, var_name="activity", value_name="cost")
    long["activity"] = long["activity"].map(activity_name)
    unit = currency_name(currency)
    return (
        alt.Chart(long, title=_title("Cost to serve per segment by activity",
                                     f"rate x driver volume, summed over the segment's items; {len(activities)} "
                                     "activities with a rate"))
        .mark_bar()
        .encode(
            y=alt.Y("segment_label:N", title="segment", sort=_segment_order(by_segment)),
            x=alt.X("cost:Q", title=f"cost to serve ({unit})", stack="zero"),
            color=alt.Color("activity:N", title="activity", legend=alt.Legend(orient="top", columns=4)),
            tooltip=[alt.Tooltip("segment_label:N", title="segment"), alt.Tooltip("activity:N"),
                     alt.Tooltip("cost:Q", title=f"cost ({unit})", format=",.0f")],
        )
        # as tall as the cost-margin chart beside it, so that every segment keeps its label
        .properties(height=90 + 54 * len(by_segment))
    )


def subsidy_chart(flows: pd.DataFrame, currency: str | None = None) -> alt.LayerChart:
    """Which segments subsidise which: a grid of profit-making segments (rows, who pays) against
    loss-making segments (columns, who is carried), coloured and labelled by the transfer.

    ``flows``: `core.cost_to_serve_analysis.subsidies` (not empty: with no loss-making segment there is
    nothing to draw, and the page says so). Each loss is carried by the profits in proportion to them.
    """
    frame = flows.assign(from_segment_label=flows["from_segment_label"].astype(str),
                         to_segment_label=flows["to_segment_label"].astype(str))
    unit = currency_name(currency)
    frame["label"] = [f"{t:,.0f}" for t in frame["transfer"]]
    payers = list(dict.fromkeys(frame.sort_values("from_profit", ascending=False)["from_segment_label"]))
    carried = list(dict.fromkeys(frame.sort_values("to_loss", ascending=False)["to_segment_label"]))
    uncovered = float(flows.attrs.get("uncovered_loss", 0.0))
    subtitle = f"each segment's loss carried by the profitable segments in proportion to their profit ({unit})"
    if uncovered > 0:
        subtitle += f"; {uncovered:,.0f} of loss is not covered by any profit"
    base = alt.Chart(frame).encode(
        x=alt.X("to_segment_label:N", title="loss-making segment (carried)", sort=carried, axis=alt.Axis(labelAngle=0)),
        y=alt.Y("from_segment_label:N", title="profit-making segment (pays)", sort=payers),
    )
    cells = base.mark_rect(stroke="white", strokeWidth=2).encode(
        color=alt.Color("transfer:Q", title=f"transfer ({unit})", scale=alt.Scale(scheme="oranges")),
        tooltip=[alt.Tooltip("from_segment_label:N", title="pays"), alt.Tooltip("to_segment_label:N", title="carries"),
                 alt.Tooltip("transfer:Q", title=f"transfer ({unit})", format=",.0f"),
                 alt.Tooltip("transfer_pct_of_from_profit:Q", title="% of the payer's profit", format=".1f"),
                 alt.Tooltip("to_loss:Q", title=f"loss carried ({unit})", format=",.0f")],
    )
    text = base.mark_text(fontSize=14).encode(text="label:N")
    return alt.layer(cells, text).properties(title=_title("Which segments subsidise which", subtitle),
                                             height=80 + 44 * len(payers))


# -- drivers and rates -------------------------------------------------------------------------------
def driver_table(volumes: Mapping[str, float]) -> pd.DataFrame:
    """`core.cost_to_serve.driver_volumes` as rows: driver, what one unit is, its column in the
    per-item table, and the volume in the data (demand lines; return lines for per_return_line)."""
    return pd.DataFrame([{"driver": driver, "unit": driver_unit(driver), "column": driver_column(driver),
                          "volume": float(volume)} for driver, volume in volumes.items()])


def rates_used(rates: pd.DataFrame, volumes: Mapping[str, float]) -> pd.DataFrame:
    """The cost rates with what each costs over the whole data: activity, driver, rate,
    currency, driver volume and cost = rate x volume (the sum the activity columns add up to).

    ``rates``: rows of the ``cost_rates`` table (activity, driver, rate, currency).
    """
    frame = rates[["activity", "driver", "rate", "currency"]].copy()
    driver = frame["driver"].astype(str).map(normalize_driver)
    frame["volume"] = driver.map(lambda d: float(volumes.get(d, 0.0)))
    frame["cost"] = frame["rate"] * frame["volume"]
    return frame.sort_values(["activity", "driver"], ignore_index=True)
