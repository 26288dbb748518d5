"""Chart builders for the Segment and Explain pages: frames in, Altair or Plotly charts out.

Pure functions, no Streamlit, like `core.charts`: every chart has a title and axis titles with
units. Point clouds (the 2-D view, the beeswarm) are drawn with WebGL (Plotly ``scattergl``)
and thinned to `MAX_SCATTER_POINTS` so the browser never gets every item. The small helpers
that shape data for a chart (shares per segment, ratios to the overall median, 2-D
coordinates) are here too, so the pages stay thin and the numbers are tested.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

import altair as alt
import numpy as np
import pandas as pd

from core.segment_rules import NINE_BOX_ORDER

if TYPE_CHECKING:
    import plotly.graph_objects as go

#: Most points a scatter sends to the browser; above this the items are sampled (seeded).
MAX_SCATTER_POINTS = 20_000
#: Features shown in a beeswarm or a waterfall; the rest are summed into one step.
TOP_FEATURES = 10
#: Segment colours (Tableau 10), in segment order; "unclassified" is always grey.
SEGMENT_COLOURS = ("#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f",
                   "#edc948", "#b07aa1", "#ff9da7", "#9c755f", "#bab0ac")
UNCLASSIFIED_COLOUR = "#c9c9c9"
SHARE_NAMES = {"items": "items", "volume": "volume (quantity)", "revenue": "revenue"}


def readable_number(value: float) -> str:
    """A value as a planner reads it: 202,900 rather than 2.029e+05; 0.403 for small ones."""
    if value is None or pd.isna(value):
        return "missing"
    if abs(value) >= 1_000:
        return f"{value:,.0f}"
    return f"{value:.3g}"


def _title(text: str, subtitle: str | None = None) -> alt.TitleParams:
    return alt.TitleParams(text=text, subtitle=subtitle or "", anchor="start")


def segment_colours(labels: Sequence[str]) -> dict[str, str]:
    """A colour per segment label, in the given order (colours repeat after ten)."""
    colours: dict[str, str] = {}
    position = 0
    for label in dict.fromkeys(labels):
        if label == "unclassified":
            colours[label] = UNCLASSIFIED_COLOUR
        else:
            colours[label] = SEGMENT_COLOURS[position % len(SEGMENT_COLOURS)]
            position += 1
    return colours


def _colour_scale(labels: Sequence[str]) -> alt.Scale:
    colours = segment_colours(labels)
    return alt.Scale(domain=list(colours), range=list(colours.values()))


# -- segment sizes --------------------------------------------------------------------------
def segment_shares(assignments: pd.DataFrame, items: pd.DataFrame, keys: Sequence[str],
                   volume: str = "quantity", revenue: str = "revenue") -> pd.DataFrame:
    """Per segment: items, volume, revenue and their shares of the total (returns count zero).

    Columns: segment, segment_label, items, volume, revenue, items_share, volume_share,
    revenue_share; in the order segments first appear in ``assignments`` sorted by segment.
    """
    keys = list(keys)
    wanted = [c for c in (volume, revenue) if c in items.columns]
    joined = assignments[[*keys, "segment", "segment_label"]].merge(items[[*keys, *wanted]], on=keys, how="left")
    for column in (volume, revenue):
        joined[column] = joined[column].clip(lower=0).fillna(0.0) if column in joined else 0.0
    grouped = joined.groupby(["segment", "segment_label"], sort=False).agg(
        items=(keys[0], "size"), volume=(volume, "sum"), revenue=(revenue, "sum")).reset_index()
    grouped["_order"] = grouped["segment"].map(lambda s: (isinstance(s, str), s if not isinstance(s, str) else 0, str(s)))
    grouped = grouped.sort_values("_order", kind="stable").drop(columns="_order").reset_index(drop=True)
    for column in ("items", "volume", "revenue"):
        total = grouped[column].sum()
        grouped[f"{column}_share"] = grouped[column] / total if total > 0 else 0.0
    return grouped


def segment_sizes_chart(shares: pd.DataFrame, item_label: str = "items") -> go.Figure:
    """Grouped horizontal bars: each segment's share of the items, the volume and the revenue."""
    import plotly.graph_objects as go

    kinds = (("items_share", item_label, "#9aa4b1"), ("volume_share", SHARE_NAMES["volume"], "#f0a32f"),
             ("revenue_share", SHARE_NAMES["revenue"], "#1f6feb"))
    labels = shares["segment_label"].astype(str).tolist()
    figure = go.Figure()
    for column, name, colour in kinds:
        figure.add_trace(go.Bar(
            y=labels, x=shares[column], name=name, orientation="h", marker_color=colour,
            text=[f"{v:.0%}" for v in shares[column]], textposition="outside", cliponaxis=False,
            hovertemplate=f"%{{y}}<br>{name}: %{{x:.1%}}<extra></extra>",
        ))
    figure.update_layout(
        title={"text": f"Segment sizes<br><sup>share of the {item_label}, the volume and the revenue in each segment</sup>"},
        barmode="group", height=max(300, 75 * len(labels) + 150), legend_title_text="share of",
        margin={"l": 10, "r": 30, "t": 70, "b": 10},
    )
    largest = float(np.nanmax(shares[[k for k, _, _ in kinds]].to_numpy())) if len(shares) else 1.0
    # Room right of the longest bar for its label.
    figure.update_xaxes(title_text="share of total (%)", tickformat=".0%", range=[0, max(largest, 0.01) * 1.15])
    figure.update_yaxes(title_text="segment", autorange="reversed", automargin=True)
    return figure


# -- k scan ---------------------------------------------------------------------------------
K_METRICS = {
    "silhouette": "silhouette (higher is better)",
    "davies_bouldin": "Davies-Bouldin (lower is better)",
    "calinski_harabasz": "Calinski-Harabasz (higher is better)",
    "inertia": "inertia (look for the elbow)",
}


def k_scan_chart(k_scan: pd.DataFrame, chosen_k: int | None) -> alt.HConcatChart:
    """The four k-scan metrics against k (one small panel each), the chosen k marked by a rule."""
    panels = []
    for metric, title in K_METRICS.items():
        if metric not in k_scan.columns:
            continue
        frame = k_scan[["k", metric]].rename(columns={metric: "value"})
        base = alt.Chart(frame, title=_title(title)).encode(
            x=alt.X("k:O", title="number of segments k", axis=alt.Axis(labelAngle=0)),
            y=alt.Y("value:Q", title=metric.replace("_", " ") + " (score)", scale=alt.Scale(zero=False)),
            tooltip=[alt.Tooltip("k:O"), alt.Tooltip("value:Q", title=metric, format=",.3f")],
        )
        layers = [base.mark_line(color="#1f6feb"), base.mark_point(color="#1f6feb", filled=True)]
        if chosen_k is not None:
            layers.append(alt.Chart(pd.DataFrame({"k": [chosen_k]})).mark_rule(color="#cf222e", strokeDash=[4, 3])
                          .encode(x="k:O"))
        panels.append(alt.layer(*layers).properties(width=190, height=200))
    subtitle = f"k = {chosen_k} chosen (best silhouette), marked in red" if chosen_k is not None else ""
    return alt.hconcat(*panels, title=_title("Scan of the number of segments", subtitle))


# -- 2-D view -------------------------------------------------------------------------------
def pca_coordinates(matrix: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The first two principal components of a (scaled, weighted) matrix and their explained shares."""
    centred = np.nan_to_num(np.asarray(matrix, dtype=np.float64))
    centred = centred - centred.mean(axis=0) if len(centred) else centred
    if centred.shape[0] < 2 or centred.shape[1] == 0:
        return np.zeros((len(centred), 2)), np.zeros(2)
    _, singular, components = np.linalg.svd(centred, full_matrices=False)
    coordinates = centred @ components[:2].T
    if coordinates.shape[1] < 2:
        coordinates = np.column_stack([coordinates, np.zeros(len(coordinates))])
    variance = singular**2
    explained = variance[:2] / variance.sum() if variance.sum() > 0 else np.zeros(2)
    return coordinates, np.pad(explained, (0, 2 - len(explained)))


def _thin(frame: pd.DataFrame, limit: int, seed: int = 0) -> pd.DataFrame:
    return frame.sample(limit, random_state=seed).sort_index() if len(frame) > limit else frame


def segment_scatter(frame: pd.DataFrame, x: str, y: str, *, x_title: str, y_title: str, log_x: bool = False,
                    log_y: bool = False, hover: Sequence[str] = (), title: str = "Items by segment",
                    order: Sequence[str] | None = None) -> go.Figure:
    """WebGL scatter of items, coloured by ``segment_label``; log axes leave values <= 0 out (said in the subtitle)."""
    import plotly.graph_objects as go

    shown = frame
    for column, log in ((x, log_x), (y, log_y)):
        if log:
            shown = shown[pd.to_numeric(shown[column], errors="coerce") > 0]
    left_out = len(frame) - len(shown)
    thinned = _thin(shown, MAX_SCATTER_POINTS)
    labels = list(order) if order is not None else list(dict.fromkeys(frame["segment_label"].astype(str)))
    colours = segment_colours(labels)
    figure = go.Figure()
    for label in labels:
        part = thinned[thinned["segment_label"].astype(str) == label]
        if part.empty:
            continue
        text = part[list(hover)].astype(str).agg(" · ".join, axis=1) if hover else None
        figure.add_trace(go.Scattergl(
            x=part[x], y=part[y], mode="markers", name=label, text=text,
            marker={"color": colours[label], "size": 6, "opacity": 0.75},
            hovertemplate=f"%{{text}}<br>{x_title}: %{{x:,.4~g}}<br>{y_title}: %{{y:,.4~g}}<extra>{label}</extra>",
        ))
    notes = [f"{len(frame):,} items"]
    if len(thinned) < len(shown):
        notes.append(f"{len(thinned):,} drawn (sample)")
    if left_out:
        notes.append(f"{left_out:,} with a value ≤ 0 not shown on the log axis")
    figure.update_layout(
        title={"text": f"{title}<br><sup>{'; '.join(notes)}</sup>"}, height=460, legend_title_text="segment",
        margin={"l": 10, "r": 10, "t": 70, "b": 10},
    )
    figure.update_xaxes(title_text=x_title, type="log" if log_x else "linear")
    figure.update_yaxes(title_text=y_title, type="log" if log_y else "linear")
    return figure


# -- profiles -------------------------------------------------------------------------------
def profile_ratios(profile: pd.DataFrame, overall_medians: Mapping[str, float], features: Sequence[str]) -> pd.DataFrame:
    """Long frame: segment_label, feature, median, overall_median, ratio (segment median / overall).

    The ratio is undefined (NaN) when the overall median is 0 or either median is missing.
    """
    rows = []
    for record in profile.to_dict("records"):
        for feature in features:
            median = record.get(f"median_{feature}", np.nan)
            overall = overall_medians.get(feature, np.nan)
            ratio = median / overall if pd.notna(median) and pd.notna(overall) and overall != 0 else np.nan
            rows.append({"segment_label": str(record["segment_label"]), "feature": feature,
                         "median": median, "overall_median": overall, "ratio": ratio})
    return pd.DataFrame(rows, columns=["segment_label", "feature", "median", "overall_median", "ratio"])


def profile_heatmap(ratios: pd.DataFrame, units: Mapping[str, str] | None = None) -> alt.LayerChart:
    """Heat map of segment median / overall median per feature (log2 colour: blue below, red above)."""
    units = units or {}
    frame = ratios.copy()
    frame["log2_ratio"] = np.log2(frame["ratio"].where(frame["ratio"] > 0)).clip(-3, 3)
    frame["ratio_text"] = frame["ratio"].map(lambda r: "" if pd.isna(r) else (f"×{r:.2g}" if r < 10 else f"×{r:,.0f}"))
    frame["unit"] = frame["feature"].map(lambda f: units.get(f, ""))
    order = list(dict.fromkeys(frame["segment_label"]))
    features = list(dict.fromkeys(frame["feature"]))
    title = _title("Segment profiles against the overall median",
                   "segment median ÷ median of all items; ×1 = typical, red = higher, blue = lower")
    base = alt.Chart(frame).encode(
        x=alt.X("feature:N", title="feature", sort=features, axis=alt.Axis(labelAngle=-40, labelOverlap=False)),
        y=alt.Y("segment_label:N", title="segment", sort=order, axis=alt.Axis(labelLimit=260)),
    )
    cells = base.mark_rect().encode(
        color=alt.Color("log2_ratio:Q", title="ratio to overall median",
                        scale=alt.Scale(scheme="redblue", reverse=True, domain=[-3, 3]),
                        legend=alt.Legend(values=[-3, -1, 0, 1, 3], labelExpr="'×' + format(pow(2, datum.value), '.3~g')")),
        tooltip=[alt.Tooltip("segment_label:N", title="segment"), alt.Tooltip("feature:N"),
                 alt.Tooltip("unit:N"), alt.Tooltip("median:Q", title="segment median", format=",.4~g"),
                 alt.Tooltip("overall_median:Q", title="overall median", format=",.4~g"),
                 alt.Tooltip("ratio:Q", format=",.3~g")],
    )
    text = base.mark_text(fontSize=11).encode(text="ratio_text:N")
    # The height holds title, rotated feature names and axis titles too (Streamlit fits charts with padding).
    return alt.layer(cells, text).properties(title=title, height=220 + 48 * len(order))


# -- ABC x XYZ ------------------------------------------------------------------------------
def nine_box_crosstab(assignments: pd.DataFrame, classes: pd.DataFrame, keys: Sequence[str]) -> pd.DataFrame:
    """Items per segment and ABC x XYZ cell (long: segment_label, cell, items, share_of_segment)."""
    keys = list(keys)
    joined = assignments[[*keys, "segment_label"]].merge(classes[[*keys, "abc", "xyz"]], on=keys, how="left")
    joined["cell"] = joined["abc"].astype(str) + joined["xyz"].astype(str)
    counts = joined.groupby(["segment_label", "cell"], sort=False).size().rename("items").reset_index()
    counts["segment_label"] = counts["segment_label"].astype(str)
    counts["share_of_segment"] = counts["items"] / counts.groupby("segment_label")["items"].transform("sum")
    return counts


def nine_box_heatmap(crosstab: pd.DataFrame, order: Sequence[str], item_label: str = "items") -> alt.LayerChart:
    """Heat map of segments (rows) against the nine ABC x XYZ cells (columns): items in each."""
    cells = list(NINE_BOX_ORDER) + sorted(set(crosstab["cell"]) - set(NINE_BOX_ORDER))
    title = _title("Segments against ABC x XYZ",
                   f"number of {item_label} in each segment and class cell; colour = share of the segment")
    base = alt.Chart(crosstab).encode(
        x=alt.X("cell:N", title="ABC x XYZ class (A = largest share, X = steadiest demand)", sort=cells,
                axis=alt.Axis(labelAngle=0)),
        y=alt.Y("segment_label:N", title="segment", sort=list(order), axis=alt.Axis(labelLimit=260)),
    )
    rect = base.mark_rect().encode(
        color=alt.Color("share_of_segment:Q", title="share of segment", scale=alt.Scale(scheme="blues"),
                        legend=alt.Legend(format="%")),
        tooltip=[alt.Tooltip("segment_label:N", title="segment"), alt.Tooltip("cell:N", title="class"),
                 alt.Tooltip("items:Q", title=item_label, format=","),
                 alt.Tooltip("share_of_segment:Q", title="share of segment", format=".1%")],
    )
    text = base.mark_text(fontSize=11).encode(
        text=alt.Text("items:Q", format=","),
        color=alt.condition("datum.share_of_segment > 0.5", alt.value("white"), alt.value("black")),
    )
    return alt.layer(rect, text).properties(title=title, height=220 + 48 * len(order))


# -- explanations ---------------------------------------------------------------------------
def shap_bar(importance: pd.DataFrame, segment_label: str, top: int = TOP_FEATURES) -> alt.Chart:
    """Mean |SHAP| per feature for one segment: what sets it apart (strongest on top)."""
    frame = importance[importance["segment_label"].astype(str) == str(segment_label)]
    frame = frame.sort_values("mean_abs_shap", ascending=False).head(top)
    sampled = int(frame["items_sampled"].iloc[0]) if len(frame) and "items_sampled" in frame else 0
    direction = np.where(frame["mean_shap_members"].fillna(0) >= 0, "pulls members in", "pushes members out")
    frame = frame.assign(direction=direction)
    return (
        alt.Chart(frame, title=_title(f"What sets «{segment_label}» apart",
                                      f"mean |SHAP| over {sampled:,} sampled items; top {len(frame)} features"))
        .mark_bar()
        .encode(
            y=alt.Y("feature:N", title="feature", sort="-x"),
            x=alt.X("mean_abs_shap:Q", title="mean |SHAP value| (log-odds)"),
            color=alt.Color("direction:N", title="for its own items",
                            scale=alt.Scale(domain=["pulls members in", "pushes members out"], range=["#1f6feb", "#9aa4b1"])),
            tooltip=[alt.Tooltip("feature:N"), alt.Tooltip("mean_abs_shap:Q", title="mean |SHAP|", format=".3f"),
                     alt.Tooltip("mean_shap_members:Q", title="mean SHAP of members", format="+.3f")],
        )
        .properties(height=130 + 30 * len(frame))  # the height holds the title and axes too
    )


def beeswarm(data: pd.DataFrame, segment_label: str, features: Sequence[str] | None = None,
             top: int = TOP_FEATURES, seed: int = 0) -> go.Figure:
    """SHAP values of sampled items for one segment: a row per feature (jittered), coloured by the
    feature's value scaled 0-1 (blue low, red high). WebGL."""
    import plotly.graph_objects as go

    frame = data[data["segment_label"].astype(str) == str(segment_label)]
    if features is None:
        strength = frame.assign(a=frame["shap_value"].abs()).groupby("feature")["a"].mean()
        features = strength.sort_values(ascending=False).index[:top].tolist()
    features = list(features)[:top]
    frame = frame[frame["feature"].isin(features)]
    sampled = int((frame["feature"] == features[0]).sum()) if features else 0
    frame = _thin(frame, MAX_SCATTER_POINTS, seed)
    row = {f: len(features) - 1 - i for i, f in enumerate(features)}  # strongest on top
    rng = np.random.default_rng(seed)
    y = frame["feature"].map(row).to_numpy(dtype=float) + rng.uniform(-0.3, 0.3, len(frame))
    figure = go.Figure(go.Scattergl(
        x=frame["shap_value"], y=y, mode="markers",
        text=frame["feature"] + " = " + frame["feature_value"].map(readable_number),
        marker={"color": frame["feature_value_scaled"], "colorscale": "RdBu", "reversescale": True, "cmin": 0, "cmax": 1,
                "size": 5, "opacity": 0.7,
                "colorbar": {"title": {"text": "feature value"}, "tickvals": [0, 1], "ticktext": ["low", "high"]}},
        hovertemplate="%{text}<br>SHAP %{x:+.3f} log-odds<extra></extra>",
    ))
    figure.add_vline(x=0, line_color="#6e7781", line_width=1)
    figure.update_layout(
        title={"text": f"How each feature pushes items towards «{segment_label}»"
                       f"<br><sup>{sampled:,} sampled items; right of 0 = towards the segment</sup>"},
        height=max(320, 40 * len(features) + 120), margin={"l": 10, "r": 10, "t": 70, "b": 10}, showlegend=False,
    )
    figure.update_xaxes(title_text="SHAP value (log-odds)", zeroline=False)
    figure.update_yaxes(title_text="feature", tickvals=list(row.values()), ticktext=list(row), range=[-0.6, len(features) - 0.4])
    return figure


def waterfall(contributions: pd.DataFrame, base_value: float, model_output: float, segment_label: str,
              top: int = TOP_FEATURES, units: Mapping[str, str] | None = None) -> go.Figure:
    """One item's SHAP waterfall from the base value to the model output (log-odds); the
    features past ``top`` are summed into one step."""
    import plotly.graph_objects as go

    units = units or {}
    ordered = contributions.reindex(contributions["shap_value"].abs().sort_values(ascending=False).index)
    head, rest = ordered.head(top), ordered.iloc[top:]

    def name(row: pd.Series) -> str:
        value = row["feature_value"]
        shown = readable_number(value)
        unit = units.get(str(row["feature"]), "")
        return f"{row['feature']} = {shown}" + (f" {unit}" if unit and not pd.isna(value) else "")

    labels = ["base value", *[name(r) for _, r in head.iterrows()]]
    values = [float(base_value), *head["shap_value"].astype(float)]
    measures = ["absolute", *["relative"] * len(head)]
    if len(rest):
        labels.append(f"{len(rest)} other features")
        values.append(float(rest["shap_value"].sum()))
        measures.append("relative")
    labels.append("model output")
    values.append(float(model_output))
    measures.append("total")
    figure = go.Figure(go.Waterfall(
        orientation="h", y=labels, x=values, measure=measures,
        increasing={"marker": {"color": "#cf222e"}}, decreasing={"marker": {"color": "#1f6feb"}},
        totals={"marker": {"color": "#6e7781"}}, connector={"line": {"color": "#d0d7de"}},
        hovertemplate="%{y}<br>%{x:+.3f} log-odds<extra></extra>",
    ))
    figure.update_layout(
        title={"text": f"Why this item is in «{segment_label}»"
                       "<br><sup>red pushes towards the segment, blue away; base value = average item</sup>"},
        height=max(320, 30 * len(labels) + 120), margin={"l": 10, "r": 10, "t": 70, "b": 10},
    )
    figure.update_yaxes(title_text="feature = this item's value", autorange="reversed")
    figure.update_xaxes(title_text="surrogate output for the segment (log-odds)")
    return figure
