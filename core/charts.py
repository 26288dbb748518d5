"""Chart builders for the pages: a data frame in, an Altair or Plotly chart out.

Pure functions, no Streamlit: each chart carries its title, axis titles with units, and the
cut-off lines the planner set, so the same figure reads the same in the app, a test or a
notebook. Large inputs are binned or sampled here so the browser never gets every row.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import altair as alt
import numpy as np
import pandas as pd

if TYPE_CHECKING:
    import plotly.graph_objects as go

#: Colours per class, kept the same on every chart (A/X strong, C/Z pale).
ABC_COLOURS = {"A": "#1f6feb", "B": "#f0a32f", "C": "#9aa4b1"}
PATTERN_COLOURS = {"smooth": "#2da44e", "erratic": "#f0a32f", "intermittent": "#1f6feb", "lumpy": "#cf222e"}

#: Most points a line or scatter sends to the browser; above this the data is thinned.
MAX_LINE_POINTS = 2_000
MAX_SCATTER_POINTS = 20_000
#: Lowest CV² drawn on the log axis; smaller values (and 0) are drawn on this line.
CV2_FLOOR = 0.01


def _title(text: str, subtitle: str | None = None) -> alt.TitleParams:
    return alt.TitleParams(text=text, subtitle=subtitle or "", anchor="start")


# -- feature distribution -----------------------------------------------------------------
def histogram_bins(values: pd.Series, bins: int = 40, log_scale: bool = False) -> pd.DataFrame:
    """Counts per bin: bin_start, bin_end, items. Log bins are spaced evenly in log10.

    With ``log_scale``, values <= 0 have no place on the axis and are left out (the chart
    says how many).
    """
    finite = pd.to_numeric(values, errors="coerce").dropna()
    finite = finite[np.isfinite(finite)]
    if log_scale:
        finite = finite[finite > 0]
    if finite.empty:
        return pd.DataFrame({"bin_start": [], "bin_end": [], "items": []})
    low, high = float(finite.min()), float(finite.max())
    if low == high:  # one value: one bar around it
        pad = abs(low) * 0.05 or 0.5
        edges = np.array([low - pad, high + pad]) if not log_scale else np.array([low / 1.1, high * 1.1])
    elif log_scale:
        edges = np.geomspace(low, high, bins + 1)
    else:
        edges = np.linspace(low, high, bins + 1)
    counts, edges = np.histogram(finite.to_numpy(), bins=edges)
    return pd.DataFrame({"bin_start": edges[:-1], "bin_end": edges[1:], "items": counts})


def feature_histogram(
    frame: pd.DataFrame,
    feature: str,
    unit: str = "",
    *,
    log_scale: bool = False,
    bins: int = 40,
    item_label: str = "items",
) -> alt.Chart:
    """Histogram of one feature over the items of a level (binned here, not in the browser)."""
    counted = histogram_bins(frame[feature], bins=bins, log_scale=log_scale)
    axis_title = f"{feature} ({unit})" if unit else feature
    left_out = int(len(frame) - counted["items"].sum()) if len(counted) else len(frame)
    subtitle = f"{len(frame):,} {item_label}" + (
        f"; {left_out:,} with no value{' or ≤ 0' if log_scale else ''} not shown" if left_out else ""
    )
    domain = [float(counted["bin_start"].min()), float(counted["bin_end"].max())] if len(counted) else alt.Undefined
    scale = alt.Scale(type="log", domain=domain, nice=False) if log_scale else alt.Scale(zero=False, domain=domain, nice=False)
    return (
        alt.Chart(counted, title=_title(f"Distribution of {feature}", subtitle))
        .mark_bar(color=ABC_COLOURS["A"], opacity=0.85)
        .encode(
            x=alt.X("bin_start:Q", title=axis_title + (" — log scale" if log_scale else ""), scale=scale,
                    axis=alt.Axis(labelFlush=True, format=",.4~g")),
            x2="bin_end:Q",
            y=alt.Y("items:Q", title=f"number of {item_label}"),
            y2=alt.datum(0),  # bars stand on the axis (with x2 given, Vega-Lite would draw thin ticks)
            tooltip=[
                alt.Tooltip("bin_start:Q", title="from", format=",.3~g"),
                alt.Tooltip("bin_end:Q", title="to", format=",.3~g"),
                alt.Tooltip("items:Q", title=item_label, format=","),
            ],
        )
        .properties(height=320)
    )


# -- ABC ----------------------------------------------------------------------------------
def pareto_points(classified: pd.DataFrame, measure: str) -> pd.DataFrame:
    """The Pareto curve as points: share_of_items, cumulative_share, abc, thinned to MAX_LINE_POINTS.

    Items are ranked by the measure, largest first; the first and last item of each class are
    always kept so class boundaries stay exact.
    """
    ranked = classified.sort_values(measure, ascending=False, kind="stable").reset_index(drop=True)
    n = len(ranked)
    if n == 0:
        return pd.DataFrame({"share_of_items": [], "cumulative_share": [], "abc": [], "rank": []})
    total = ranked[measure].clip(lower=0).sum()
    cumulative = ranked[measure].clip(lower=0).cumsum() / total if total > 0 else pd.Series(np.zeros(n))
    points = pd.DataFrame({
        "rank": np.arange(1, n + 1),
        "share_of_items": np.arange(1, n + 1) / n,
        "cumulative_share": cumulative.to_numpy(),
        "abc": ranked["abc"].astype(str).to_numpy(),
    })
    if n > MAX_LINE_POINTS:
        keep = set(np.linspace(0, n - 1, MAX_LINE_POINTS).astype(int))
        boundaries = points.groupby("abc")["rank"].agg(["min", "max"]).to_numpy().ravel() - 1
        keep.update(int(i) for i in boundaries)
        points = points.iloc[sorted(keep)]
    # Start the curve at the origin, and repeat each class's first point in the class before
    # it, so the coloured segments join into one unbroken curve.
    origin = pd.DataFrame({"rank": [0], "share_of_items": [0.0], "cumulative_share": [0.0], "abc": [points["abc"].iloc[0]]})
    joins = points[points["abc"] != points["abc"].shift()].iloc[1:].copy()
    joins["abc"] = points["abc"].shift().loc[joins.index]
    return pd.concat([origin, points, joins], ignore_index=True).sort_values(["rank", "abc"], kind="stable")


def pareto_chart(
    classified: pd.DataFrame,
    measure: str,
    abc_cutoffs: tuple[float, float],
    *,
    unit: str = "",
    item_label: str = "items",
) -> alt.LayerChart:
    """Cumulative share of the measure against share of items, coloured by ABC class,
    with the A/B and B/C cut-offs as dashed lines."""
    points = pareto_points(classified, measure)
    colour = alt.Color(
        "abc:N", title="ABC class",
        scale=alt.Scale(domain=list(ABC_COLOURS), range=list(ABC_COLOURS.values())),
    )
    curve = (
        alt.Chart(points)
        .mark_line(point=len(points) <= 60, strokeWidth=2.5, interpolate="step-after" if len(points) <= 60 else "linear")
        .encode(
            x=alt.X("share_of_items:Q", title=f"share of {item_label} (ranked by {measure}, %)", axis=alt.Axis(format="%"), scale=alt.Scale(domain=[0, 1])),
            y=alt.Y("cumulative_share:Q", title=f"cumulative share of {measure} (%)", axis=alt.Axis(format="%"), scale=alt.Scale(domain=[0, 1])),
            color=colour,
            tooltip=[
                alt.Tooltip("rank:Q", title="rank"),
                alt.Tooltip("share_of_items:Q", title=f"share of {item_label}", format=".1%"),
                alt.Tooltip("cumulative_share:Q", title=f"cumulative share of {measure}", format=".1%"),
                alt.Tooltip("abc:N", title="class"),
            ],
        )
    )
    cutoffs = pd.DataFrame({
        "cutoff": list(abc_cutoffs),
        "label": [f"A/B cut-off {abc_cutoffs[0]:.0%}", f"B/C cut-off {abc_cutoffs[1]:.0%}"],
    })
    rules = alt.Chart(cutoffs).mark_rule(strokeDash=[6, 4], color="#57606a").encode(y="cutoff:Q")
    # Labels sit at the left, above their line: the curve is still low there, so they stay clear of it.
    labels = alt.Chart(cutoffs).mark_text(align="left", baseline="bottom", dx=4, dy=-3, color="#57606a").encode(
        y="cutoff:Q", x=alt.datum(0.0), text="label:N"
    )
    total = float(classified[measure].clip(lower=0).sum())
    subtitle = f"{len(classified):,} {item_label}, total {measure} {total:,.0f}{' ' + unit if unit else ''}"
    return alt.layer(curve, rules, labels).properties(
        title=_title(f"ABC Pareto curve on {measure}", subtitle), height=360
    )


def class_matrix(classified: pd.DataFrame, value_column: str) -> pd.DataFrame:
    """ABC x XYZ cells: abc, xyz, items, value, value_share (share of the value column's total).

    All nine cells are present, empty ones with zero items, so the grid never has holes.
    """
    grid = pd.MultiIndex.from_product([["A", "B", "C"], ["X", "Y", "Z"]], names=["abc", "xyz"])
    grouped = classified.assign(abc=classified["abc"].astype(str), xyz=classified["xyz"].astype(str)).groupby(["abc", "xyz"])
    cells = pd.DataFrame({
        "items": grouped.size(),
        "value": grouped[value_column].sum(),
    }).reindex(grid, fill_value=0).reset_index()
    total = cells["value"].sum()
    cells["value_share"] = cells["value"] / total if total else 0.0
    cells["items"] = cells["items"].astype(int)
    return cells


def class_matrix_heatmap(classified: pd.DataFrame, value_column: str, *, item_label: str = "items") -> alt.LayerChart:
    """3x3 ABC x XYZ heat map: colour is the share of the value, text is items and share."""
    cells = class_matrix(classified, value_column)
    # Count and share only: item names like "customer-product pairs" do not fit in a cell.
    cells["label"] = [f"{items:,}\n{share:.1%}" for items, share in zip(cells["items"], cells["value_share"], strict=True)]
    base = alt.Chart(cells).encode(
        x=alt.X("xyz:N", title="XYZ class (demand variability: X steady → Z erratic)", sort=["X", "Y", "Z"], axis=alt.Axis(labelAngle=0)),
        y=alt.Y("abc:N", title=f"ABC class (by {value_column}: A largest)", sort=["A", "B", "C"]),
    )
    rect = base.mark_rect(stroke="white", strokeWidth=2).encode(
        color=alt.Color("value_share:Q", title=f"share of {value_column}", scale=alt.Scale(scheme="blues", domain=[0, max(float(cells["value_share"].max()), 1e-9)]), legend=alt.Legend(format="%")),
        tooltip=[
            alt.Tooltip("abc:N", title="ABC"), alt.Tooltip("xyz:N", title="XYZ"),
            alt.Tooltip("items:Q", title=item_label, format=","),
            alt.Tooltip("value_share:Q", title=f"share of {value_column}", format=".1%"),
        ],
    )
    text = base.mark_text(fontSize=13, lineBreak="\n").encode(
        text="label:N",
        color=alt.condition(alt.datum.value_share > 0.3, alt.value("white"), alt.value("#1f2328")),
    )
    return alt.layer(rect, text).properties(
        title=_title(f"ABC x XYZ: {item_label} and share of {value_column} per cell",
                     f"each cell: number of {item_label}, then % of all {value_column}"),
        height=330,
    )


# -- demand patterns ----------------------------------------------------------------------
def log_ticks(low: float, high: float, *extra: float) -> list[float]:
    """1-2-5 ticks per decade between low and high, plus the given values (the cut-offs)."""
    ticks = {
        mantissa * 10.0 ** exponent
        for exponent in range(int(np.floor(np.log10(low))) - 1, int(np.ceil(np.log10(high))) + 1)
        for mantissa in (1, 2, 5)
    }
    # A tick within 20 % of a cut-off would print on top of it; the cut-off wins.
    ticks = {t for t in ticks if all(abs(np.log10(t / e)) > np.log10(1.2) for e in extra if e > 0)}
    ticks.update(extra)
    return sorted(round(t, 10) for t in ticks if low <= t <= high)


def adi_cv2_scatter(
    classified: pd.DataFrame,
    adi_cutoff: float = 1.32,
    cv2_cutoff: float = 0.49,
    *,
    key_columns: tuple[str, ...] = ("product_id",),
    bucket: str = "week",
    item_label: str = "items",
    max_points: int = MAX_SCATTER_POINTS,
    seed: int = 0,
) -> go.Figure:
    """ADI against CV² on log axes (Syntetos-Boylan-Croston), one WebGL point per item.

    Dashed lines mark the cut-offs and the four quadrants are named. Items without ADI or CV²
    (no demand) are counted in the subtitle; items with CV² below CV2_FLOOR (or 0) are drawn
    on that floor line.
    Above ``max_points`` a fixed-seed random sample is drawn.
    References: Syntetos, Boylan & Croston (2005), J. Oper. Res. Soc. 56(5).
    """
    import plotly.graph_objects as go

    adi = pd.to_numeric(classified["adi"], errors="coerce")
    cv2 = pd.to_numeric(classified["cv2"], errors="coerce")
    plottable = classified[(adi > 0) & (cv2 >= 0) & np.isfinite(adi) & np.isfinite(cv2)].copy()
    left_out = len(classified) - len(plottable)
    # CV² is 0 when every demand had the same size (often: one demand only) and a log axis has
    # no 0; tiny values would stretch the axis over decades nobody reads. Both sit on a floor
    # line, with their true value in the hover.
    cv2_floor = min(CV2_FLOOR, cv2_cutoff / 10)
    below_floor = int((plottable["cv2"] < cv2_floor).sum())
    plottable["cv2_drawn"] = plottable["cv2"].clip(lower=cv2_floor)
    # Legend counts are of all plottable items, not of the sample drawn.
    pattern_counts = plottable["demand_pattern"].astype(str).value_counts()
    sampled = len(plottable) > max_points
    if sampled:
        plottable = plottable.sample(max_points, random_state=seed)

    figure = go.Figure()
    patterns = plottable["demand_pattern"].astype(str) if len(plottable) else pd.Series(dtype=str)
    for pattern, colour in PATTERN_COLOURS.items():
        rows = plottable[patterns == pattern]
        if rows.empty:
            continue
        names = rows[key_columns[0]].astype(str)
        for key in key_columns[1:]:  # vectorised: a row-wise join takes seconds on 20,000 points
            names = names + " / " + rows[key].astype(str)
        figure.add_trace(go.Scattergl(
            x=rows["adi"], y=rows["cv2_drawn"], mode="markers", name=f"{pattern} ({pattern_counts.get(pattern, 0):,})",
            marker={"color": colour, "size": 6, "opacity": 0.7},
            text=names, customdata=rows["cv2"],
            hovertemplate="%{text}<br>ADI %{x:.2f} " + bucket + "s<br>CV² %{customdata:.2f}<extra>" + pattern + "</extra>",
        ))

    x_values = plottable["adi"] if len(plottable) else pd.Series([1.0])
    y_values = plottable["cv2_drawn"] if len(plottable) else pd.Series([0.1])
    x_range = [np.log10(min(float(x_values.min()), adi_cutoff) * 0.8), np.log10(max(float(x_values.max()), adi_cutoff) * 1.25)]
    y_range = [np.log10(min(float(y_values.min()), cv2_cutoff) * 0.8), np.log10(max(float(y_values.max()), cv2_cutoff) * 1.25)]
    line = {"dash": "dash", "color": "#57606a", "width": 1.5}
    figure.add_vline(x=adi_cutoff, line=line)
    figure.add_hline(y=cv2_cutoff, line=line)
    quadrants = (
        ("smooth", 0.02, 0.02, "left", "bottom"),
        ("erratic", 0.02, 0.98, "left", "top"),
        ("intermittent", 0.98, 0.02, "right", "bottom"),
        ("lumpy", 0.98, 0.98, "right", "top"),
    )
    for name, x, y, xanchor, yanchor in quadrants:
        figure.add_annotation(
            text=f"<b>{name}</b>", x=x, y=y, xref="paper", yref="paper", xanchor=xanchor, yanchor=yanchor,
            showarrow=False, font={"size": 14, "color": PATTERN_COLOURS[name]},
        )
    notes = [f"{len(classified):,} {item_label}"]
    if sampled:
        notes.append(f"a random {max_points:,} shown")
    if below_floor:
        notes.append(f"{below_floor:,} with CV² below {cv2_floor:g} drawn at {cv2_floor:g}")
    if left_out:
        notes.append(f"{left_out:,} without ADI or CV² not shown")
    x_ticks = log_ticks(10 ** x_range[0], 10 ** x_range[1], adi_cutoff)
    y_ticks = log_ticks(10 ** y_range[0], 10 ** y_range[1], cv2_cutoff)
    figure.update_layout(
        title={"text": "Demand patterns: ADI vs CV²<br><sup>" + "; ".join(notes) + "</sup>"},
        xaxis={"type": "log", "title": f"ADI: average {bucket}s between demands (log scale)", "range": x_range,
               "tickvals": x_ticks, "ticktext": [f"{t:g}" for t in x_ticks]},
        yaxis={"type": "log", "title": "CV² of demand size (log scale)", "range": y_range,
               "tickvals": y_ticks, "ticktext": [f"{t:g}" for t in y_ticks]},
        legend={"title": {"text": "demand pattern"}, "orientation": "h", "y": -0.22, "x": 0},
        height=500,
        margin={"t": 80, "b": 40},
    )
    return figure


# -- ingest -------------------------------------------------------------------------------
def reject_reasons_chart(reasons: dict[str, int] | pd.Series, rows_rejected: int | None = None) -> alt.Chart:
    """Rejected rows per reason, largest first, as horizontal bars.

    A row can fail several checks, so the bars may add up to more than ``rows_rejected``
    (the subtitle says so).
    """
    counts = pd.Series(reasons, dtype="int64").sort_values(ascending=False)
    frame = pd.DataFrame({"reason": counts.index.astype(str), "rows": counts.to_numpy()})
    total = int(frame["rows"].sum()) if rows_rejected is None else rows_rejected
    subtitle = f"{total:,} row{'s' if total != 1 else ''} rejected"
    if int(frame["rows"].sum()) > total:
        subtitle += "; a row can fail more than one check"
    return (
        alt.Chart(frame, title=_title("Rejected rows by reason", subtitle))
        .mark_bar(color="#cf222e")
        .encode(
            x=alt.X("rows:Q", title="rejected rows", axis=alt.Axis(tickMinStep=1, format=",d")),
            y=alt.Y("reason:N", title=None, sort="-x", axis=alt.Axis(labelLimit=420)),
            tooltip=[alt.Tooltip("reason:N"), alt.Tooltip("rows:Q", format=",")],
        )
        # Streamlit fits title and axes into this height too, so leave room beyond the bars.
        .properties(height=110 + 34 * len(frame))
    )
