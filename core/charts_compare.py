"""Charts and tables for the Compare versions page: a `core.diff.VersionDiff` in, Altair / Plotly out.

Pure functions, no Streamlit, like `core.charts_segment`: every chart has a title and axis
titles with units. The movers table is shaped here (filters, chosen features, planner column
names) so the page stays thin and the shaping is tested.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import altair as alt
import pandas as pd

from core.charts_segment import SEGMENT_COLOURS, _title
from core.diff import NOT_IN_A, NOT_IN_B, POLICY_FIELDS

if TYPE_CHECKING:
    import plotly.graph_objects as go

    from core.diff import VersionDiff

#: Colour of the "(not in A)" / "(not in B)" nodes and flows.
ABSENT_COLOUR = "#bab0ac"


def migration_heatmap(diff: VersionDiff) -> alt.LayerChart:
    """Items per (segment in A, segment in B) as a heat map with the counts written in; the
    diagonal of equal names is where items stayed."""
    matrix = diff.matrix
    cells = matrix.stack().rename("items").reset_index()
    cells.columns = ["segment_a", "segment_b", "items"]
    total = max(int(cells["items"].sum()), 1)
    cells["share"] = cells["items"] / total
    cells["stayed"] = cells["segment_a"] == cells["segment_b"]
    rows, columns = [str(r) for r in matrix.index], [str(c) for c in matrix.columns]
    base = alt.Chart(cells).encode(
        x=alt.X("segment_b:N", title=f"segment in version {diff.b} (B)", sort=columns,
                axis=alt.Axis(labelAngle=-30, labelLimit=220, orient="top")),
        y=alt.Y("segment_a:N", title=f"segment in version {diff.a} (A)", sort=rows, axis=alt.Axis(labelLimit=260)),
    )
    rect = base.mark_rect(stroke="white", strokeWidth=2).encode(
        color=alt.Color("items:Q", title="items", scale=alt.Scale(scheme="blues")),
        tooltip=[alt.Tooltip("segment_a:N", title="from (A)"), alt.Tooltip("segment_b:N", title="to (B)"),
                 alt.Tooltip("items:Q", title="items", format=","),
                 alt.Tooltip("share:Q", title="share of all items", format=".1%")],
    )
    high = float(cells["items"].max() or 0) / 2
    text = base.mark_text(fontSize=12).encode(
        text=alt.Text("items:Q", format=","),
        color=alt.condition(f"datum.items > {high}", alt.value("white"), alt.value("black")),
    )
    return alt.layer(rect, text).properties(
        title=_title(f"Migration matrix: version {diff.a} → version {diff.b}",
                     "number of items in each segment of A (rows) and B (columns); equal names = stayed"),
        height=170 + 44 * len(rows))  # the app theme fits title and axes inside the height


def _node_colours(names: Sequence[str], absent: str) -> list[str]:
    colours, position = [], 0
    for name in names:
        if name == absent:
            colours.append(ABSENT_COLOUR)
        else:
            colours.append(SEGMENT_COLOURS[position % len(SEGMENT_COLOURS)])
            position += 1
    return colours


def sankey_figure(diff: VersionDiff) -> go.Figure:
    """Items flowing from A's segments (left) to B's (right); a link's width is its item count."""
    import plotly.graph_objects as go

    left = [str(n) for n in diff.matrix.index]
    right = [str(n) for n in diff.matrix.columns]
    index_left = {name: i for i, name in enumerate(left)}
    index_right = {name: len(left) + i for i, name in enumerate(right)}
    flows = diff.flows
    colours = _node_colours(left, NOT_IN_A) + _node_colours(right, NOT_IN_B)
    sources = [index_left[s] for s in flows["source"]]
    link_colours = [_with_alpha(colours[i], 0.35) for i in sources]
    figure = go.Figure(go.Sankey(
        arrangement="snap",
        node={"label": [f"A: {n}" for n in left] + [f"B: {n}" for n in right], "color": colours,
              "pad": 14, "thickness": 16, "hovertemplate": "%{label}<br>%{value:,} items<extra></extra>"},
        link={"source": sources, "target": [index_right[t] for t in flows["target"]],
              "value": [int(v) for v in flows["items"]], "color": link_colours,
              "hovertemplate": "%{source.label} → %{target.label}<br>%{value:,} items<extra></extra>"},
    ))
    figure.update_layout(
        title={"text": f"Items moving between segments: version {diff.a} (left) → version {diff.b} (right)<br>"
                       "<sup>width of a band = number of items</sup>"},
        height=max(360, 40 * max(len(left), len(right)) + 120), margin={"l": 10, "r": 10, "t": 70, "b": 10},
        font={"size": 12})
    return figure


def _with_alpha(colour: str, alpha: float) -> str:
    red, green, blue = (int(colour[i:i + 2], 16) for i in (1, 3, 5))
    return f"rgba({red},{green},{blue},{alpha})"


def movers_table(diff: VersionDiff, features: Sequence[str] | None = None,
                 from_segments: Sequence[str] | None = None, to_segments: Sequence[str] | None = None) -> pd.DataFrame:
    """The movers to show: filtered by segment in A and in B (empty or None: all), with the
    chosen features (default: every compared feature) as value in A, in B and change."""
    movers = diff.movers
    if from_segments:
        movers = movers[movers["segment_a"].isin(list(from_segments))]
    if to_segments:
        movers = movers[movers["segment_b"].isin(list(to_segments))]
    chosen = list(diff.features if features is None else [f for f in features if f in diff.features])
    columns = [*diff.keys, "segment_a", "segment_b", "overridden_a", "overridden_b", "move_size"]
    columns += [f"{f}_{side}" for f in chosen for side in ("a", "b", "change")]
    columns += [f"{field}_{side}" for field in POLICY_FIELDS for side in ("a", "b")]
    if diff.stock_computed:
        columns += [f"{figure}_{side}" for figure in ("safety_stock", "reorder_point") for side in ("a", "b", "change")]
    return movers[columns].reset_index(drop=True)


def column_title(column: str, a: int, b: int, units: dict[str, str] | None = None) -> str:
    """A movers / impact column as the planner reads it: "revenue (currency) in v3", "cv change"."""
    units = units or {}
    for side, suffix in (("_a", f" in v{a}"), ("_b", f" in v{b}"), ("_change", " change")):
        if column.endswith(side):
            name = column[: -len(side)]
            unit = units.get(name)
            return f"{name.replace('_', ' ')}{f' ({unit})' if unit else ''}{suffix}"
    return column.replace("_", " ")
