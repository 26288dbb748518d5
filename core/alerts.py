"""Alerts for a segmentation version in use: KPI control-chart rule breaks and items drifting to a boundary.

**Control alerts.** Each segment's delivery KPIs per period (`core.kpi.segment_kpis`) are put
on a Shewhart control chart (`core.control_charts`) and the Western Electric rules 1-4 are
checked on every point (Western Electric, *Statistical Quality Control Handbook*, 1956;
Montgomery, *Introduction to Statistical Quality Control*, §5.3.6):

* ``otif`` and ``on_time``: a **p-chart** on the counts behind the share (OTIF lines out of
  the lines measured for OTIF, on-time lines out of the lines measured for on time). Each
  line is one yes/no trial, so the binomial limits p̄ ± 3 sqrt(p̄(1 - p̄) / n_i) hold and widen
  in a period with few lines (Montgomery ch. 7).
* ``fill_rate``: an **XmR chart** on the period fill rate. Units are not independent trials
  (one short line misses many units at once), so binomial limits on n = units would be far
  too narrow and flag nearly every period; the individuals chart takes its limits from the
  period-to-period variation actually seen (Wheeler & Chambers, *Understanding Statistical
  Process Control*; Montgomery ch. 6).
* ``order_cycle_time_days``: an **XmR chart** on the period's mean cycle time in days.

A segment with fewer than two periods with a value has no chart and so no alert. Periods not
yet complete (the data's last order date falls before the period's last day) are left out by
default: a half-filled week has few lines and would look unusual for no reason.

**Boundary drift.** A clustering version saved each item's distance to its own segment's
centre and to the nearest other centre (`core.segment._distance_frame`). `boundary_margins`
prepares today's items with the version's own settings (features, log-transformed features,
caps, scaling, weights from its ``parameters``), places each segment's centre at the mean of
the items the version put in it, and measures the same two distances again. Scaling is refitted
on today's items, so raw distances are not comparable with the saved ones; both are put on a
common scale by dividing the margin (next - own) by the median own distance of the same run:
the **relative margin**. 0 is on the boundary, below 0 the item is now nearer another segment.

An item alerts (`next_alert_state`) when its relative margin falls below ``enter`` and at least
``min_drop`` below its saved relative margin (it moved toward a boundary; an item that sat
there from the start has not drifted). A **dead band** stops it flapping: an
alerted item clears only when its relative margin rises above ``enter + dead_band``. The state
is remembered in ``segment_alert_state`` (one row per change; `record_boundary_alerts` writes
it with an audit event). Items not in the version are new, counted apart, never drift.

**Nine-box (ABC x XYZ) versions** have class boundaries instead of centres. Each item saved its
distance to its own cell and to the nearest other cell in a plane of ABC position (share of the
measure ranked above the item) and ln(cv), each axis in widths of its middle band
(`core.segment_rules.nine_box_distances`); `boundary_margins` ranks today's items on the
version's ABC measure, takes today's cv, and measures the same distances against the version's
saved cut-offs. That scale is fixed by the cut-offs, not refitted, so the relative margin of a
nine-box item is its boundary margin as it stands (saved and today); the nearest other segment is
the cell across the nearest boundary (AX -> BX or AY). The same thresholds, dead band and memory
apply. Demand-pattern and rule versions have neither centres nor a measured boundary:
`boundary_margins` returns no rows and says so in ``attrs["reason"]``.

**Which segments.** Control alerts chart the KPIs of the segments as planned: `core.kpi`
applies the planner's overrides (`core.overrides.effective_assignments`). Boundary drift reads
the model's own assignments on purpose (`core.versions.load_version`): it measures the model's
geometry (centres of the items the model put in each segment, the distance to the model's own
segment), which an override does not move; a moved item still drifts, or not, in the model.
"""

from __future__ import annotations

import datetime as dt
import math
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from core.errors import SegplanError
from core.features import BUCKETS, key_columns
from core.kpi import NOT_IN_VERSION, segment_kpis
from core.store import Store

if TYPE_CHECKING:
    from collections.abc import Sequence

#: KPIs with a control chart, in display order.
CONTROL_KPIS: tuple[str, ...] = ("otif", "on_time", "fill_rate", "order_cycle_time_days")
#: Planner names of the KPIs and the unit of their axis.
KPI_NAMES: dict[str, str] = {"otif": "OTIF", "on_time": "on time", "fill_rate": "fill rate",
                             "order_cycle_time_days": "order cycle time"}
KPI_UNITS: dict[str, str] = {"otif": "% of lines", "on_time": "% of lines", "fill_rate": "% of units",
                             "order_cycle_time_days": "days"}
#: KPI -> (chart, successes column, base column) in `core.kpi.segment_kpis`.
CHART_OF: dict[str, tuple[str, str | None, str]] = {
    "otif": ("p", "otif_lines", "otif_base_lines"),
    "on_time": ("p", "on_time_lines", "on_time_base_lines"),
    "fill_rate": ("xmr", None, "ordered_quantity"),
    "order_cycle_time_days": ("xmr", None, "delivered_lines"),
}
#: The Western Electric rules in a planner's words.
RULE_WORDS: dict[int, str] = {1: "1 point beyond 3 sigma", 2: "2 of 3 beyond 2 sigma",
                              3: "4 of 5 beyond 1 sigma", 4: "8 in a row on one side"}
#: Columns of `control_points` (and `control_alerts`).
POINT_COLUMNS = ("segment", "segment_label", "kpi", "chart", "period", "value", "centre", "lcl", "ucl", "sigma",
                 "rules", "lines", "base", "successes")

#: Boundary drift: alert below this relative margin; clear only above enter + dead band.
ENTER_MARGIN = 0.10
DEAD_BAND = 0.10
#: ... and only when the margin fell at least this much since the version was saved: an item that
#: sat near a boundary from the start has not drifted, and last-bit noise in the features is no drift.
MIN_DROP = 0.05
DRIFT_ALERT = "boundary_drift"


def _check_kpis(kpis: Sequence[str]) -> list[str]:
    chosen = list(kpis)
    for kpi in chosen:
        if kpi not in CHART_OF:
            raise SegplanError(f"unknown KPI {kpi!r} for a control chart", hint="choose from: " + ", ".join(CONTROL_KPIS))
    return chosen


def rule_words(rules: str) -> str:
    """``"1,4"`` -> ``"1 point beyond 3 sigma; 8 in a row on one side"`` (empty for no rule)."""
    return "; ".join(RULE_WORDS[int(r)] for r in str(rules).split(",") if r.strip())


# -- periods --------------------------------------------------------------------------------
def period_end(period: dt.date, bucket: str) -> dt.date:
    """The last day of the week (Monday start) or month that starts on ``period``."""
    if bucket == "week":
        return period + dt.timedelta(days=6)
    following = (period.replace(day=28) + dt.timedelta(days=4)).replace(day=1)
    return following - dt.timedelta(days=1)


def last_complete_period(store: Store, bucket: str) -> dt.date | None:
    """Start of the latest period whose last day is on or before the data's last order date."""
    if bucket not in BUCKETS:
        raise SegplanError(f"unknown bucket {bucket!r} for parameter 'bucket'", hint="choose one of: " + ", ".join(BUCKETS))
    last, start = store.cursor().execute(
        "SELECT max(order_date), CAST(date_trunc($bucket, max(order_date)) AS DATE) FROM orders WHERE quantity > 0",
        {"bucket": bucket},
    ).fetchone()
    if last is None:
        return None
    if period_end(start, bucket) <= last:
        return start
    previous = start - dt.timedelta(days=1)
    return previous - dt.timedelta(days=6) if bucket == "week" else previous.replace(day=1)


# -- control charts ---------------------------------------------------------------------------
def _one_chart(rows: pd.DataFrame, kpi: str) -> pd.DataFrame | None:
    """Chart points of one segment and KPI, or None when fewer than two periods have a value."""
    from core.control_charts import p_chart, xmr_chart

    chart, successes, base = CHART_OF[kpi]
    rows = rows[rows[base] > 0] if chart == "p" else rows[rows[kpi].notna()]
    if len(rows) < 2:
        return None
    if chart == "p":
        points = p_chart(rows[successes].to_numpy(dtype=float), rows[base].to_numpy(dtype=float))
        counted = points["successes"].to_numpy()
    else:
        points = xmr_chart(rows[kpi].to_numpy(dtype=float))
        counted = np.full(len(rows), np.nan)
    return pd.DataFrame({
        "segment": rows["segment"].to_numpy(), "segment_label": rows["segment_label"].to_numpy(),
        "kpi": kpi, "chart": chart, "period": rows["period"].to_numpy(),
        "value": points["value"].to_numpy(), "centre": points["centre"].to_numpy(),
        "lcl": points["lcl"].to_numpy(), "ucl": points["ucl"].to_numpy(), "sigma": points["sigma"].to_numpy(),
        "rules": points["rules"].to_numpy(), "lines": rows["lines"].to_numpy(dtype=np.int64),
        "base": rows[base].to_numpy(dtype=float), "successes": counted,
    })


def chart_points(kpis: pd.DataFrame, kpi_names: Sequence[str] = CONTROL_KPIS, *,
                 last_periods: int | None = None, through: dt.date | None = None) -> pd.DataFrame:
    """Control-chart points of every segment and KPI from a `segment_kpis` frame (see module doc).

    ``through``: leave out periods after this one (the last complete period). ``last_periods``:
    keep the last N periods (of all segments) before the limits are computed. Lines outside the
    version (``"(not in version)"``) have no segment policy and are not charted. One row per
    segment, KPI and period: `POINT_COLUMNS`; ``base`` is what the value is measured on (lines
    for the p-charts and cycle time, ordered units for fill rate), ``successes`` the counted
    lines of a p-chart.
    """
    chosen = _check_kpis(kpi_names)
    if last_periods is not None and (isinstance(last_periods, bool) or int(last_periods) < 2):
        raise SegplanError(f"last_periods {last_periods!r}: a control chart needs at least 2 periods",
                           hint="give 2 or more, or none for every period")
    frame = kpis[kpis["segment"] != NOT_IN_VERSION]
    if through is not None:
        frame = frame[pd.to_datetime(frame["period"]) <= pd.Timestamp(through)]
    if last_periods is not None:
        periods = sorted(pd.to_datetime(frame["period"]).unique())[-int(last_periods):]
        frame = frame[pd.to_datetime(frame["period"]).isin(periods)]
    parts = [chart
             for _, rows in frame.sort_values(["segment", "period"]).groupby("segment", sort=True)
             for kpi in chosen
             if (chart := _one_chart(rows, kpi)) is not None]
    if not parts:
        return pd.DataFrame({c: [] for c in POINT_COLUMNS})
    points = pd.concat(parts, ignore_index=True)
    points["period"] = pd.to_datetime(points["period"])
    return points


def control_points(store: Store, version_id: int, bucket: str = "week", kpis: Sequence[str] = CONTROL_KPIS,
                   last_periods: int | None = None, *, complete_only: bool = True) -> pd.DataFrame:
    """`chart_points` on the version's KPIs (`core.kpi.segment_kpis`), complete periods only by default."""
    frame = segment_kpis(store, version_id, bucket)
    through = last_complete_period(store, bucket) if complete_only else None
    return chart_points(frame, kpis, last_periods=last_periods, through=through)


def control_alerts(store: Store, version_id: int, bucket: str = "week", kpis: Sequence[str] = CONTROL_KPIS,
                   last_periods: int | None = None, *, complete_only: bool = True) -> pd.DataFrame:
    """The points that break a Western Electric rule: segment, segment_label, kpi, period, value,
    centre, lcl, ucl, rules (``"1,4"``), lines, plus chart, sigma, base, successes and
    ``rule_words`` ("1 point beyond 3 sigma; ..."). Newest period first."""
    points = control_points(store, version_id, bucket, kpis, last_periods, complete_only=complete_only)
    return flagged(points)


def flagged(points: pd.DataFrame) -> pd.DataFrame:
    """The rows of `chart_points` with a rule break, with ``rule_words``; newest period first."""
    hits = points[points["rules"].astype(str) != ""].copy()
    hits["rule_words"] = [rule_words(r) for r in hits["rules"]]
    return hits.sort_values(["period", "segment", "kpi"], ascending=[False, True, True], kind="stable") \
        .reset_index(drop=True)


def status_table(kpis: pd.DataFrame, targets: pd.DataFrame, points: pd.DataFrame,
                 period: dt.date | None) -> pd.DataFrame:
    """Per segment, the KPIs of ``period`` against the segment's targets, and its rule breaks.

    ``kpis`` from `segment_kpis`, ``targets`` from `core.kpi_targets.segment_targets`,
    ``points`` from `chart_points`. Columns: segment, segment_label, period, lines, then per
    KPI its value and for the service KPIs ``<kpi>_target`` and ``<kpi>_status``
    (`core.kpi_targets.kpi_status`), and ``rule_breaks`` (points of the charts shown that
    break a rule). A segment with no lines in the period has no value there: status no_target.
    """
    from core.kpi_targets import SERVICE_KPIS, kpi_status

    segments = kpis.loc[kpis["segment"] != NOT_IN_VERSION, ["segment", "segment_label"]].drop_duplicates("segment")
    segments = segments.astype({"segment": str})
    in_period = kpis.iloc[0:0] if period is None else \
        kpis[pd.to_datetime(kpis["period"]) == pd.Timestamp(period)].astype({"segment": str})
    table = segments.merge(in_period.drop(columns=["segment_label"]), on="segment", how="left")
    table["period"] = pd.Timestamp(period) if period is not None else pd.NaT
    table["lines"] = table["lines"].fillna(0).astype(np.int64)
    wanted = targets.astype({"segment": str}).set_index("segment") if len(targets) else pd.DataFrame()
    out = table[["segment", "segment_label", "period", "lines"]].copy()
    for kpi in CONTROL_KPIS:
        out[kpi] = table[kpi].astype(float)
        if kpi in SERVICE_KPIS:
            target = table["segment"].map(wanted[kpi]) if kpi in wanted else pd.Series(np.nan, index=table.index)
            out[f"{kpi}_target"] = target.astype(float)
            out[f"{kpi}_status"] = [kpi_status(None if pd.isna(v) else float(v), None if pd.isna(t) else float(t))
                                    for v, t in zip(out[kpi], out[f"{kpi}_target"], strict=True)]
    breaks = points[points["rules"].astype(str) != ""].astype({"segment": str}).groupby("segment").size()
    out["rule_breaks"] = out["segment"].map(breaks).fillna(0).astype(np.int64)
    return out.reset_index(drop=True)


# -- boundary drift ---------------------------------------------------------------------------
def next_alert_state(was_active: bool, relative_margin: float, saved_relative_margin: float,
                     enter: float = ENTER_MARGIN, dead_band: float = DEAD_BAND, min_drop: float = MIN_DROP) -> bool:
    """Whether an item's drift alert is on after this refresh (hysteresis with a dead band).

    Off -> on when the relative margin is below ``enter`` and at least ``min_drop`` below the
    saved one (the item moved toward a boundary); on -> off only when it rises above
    ``enter + dead_band``. A margin that cannot be measured (NaN) clears nothing and raises nothing.
    """
    if relative_margin is None or math.isnan(relative_margin):
        return bool(was_active)
    if was_active:
        return relative_margin <= enter + dead_band
    saved = math.inf if saved_relative_margin is None or math.isnan(saved_relative_margin) else saved_relative_margin
    return relative_margin < enter and relative_margin <= saved - min_drop


def _relative(margin: np.ndarray, own: np.ndarray) -> np.ndarray:
    """Margins divided by the median own distance (the run's typical distance to a centre)."""
    typical = float(np.nanmedian(own)) if np.isfinite(own).any() else math.nan
    if not typical > 0:
        return np.full(len(margin), np.nan)
    return margin / typical


def _empty_margins(keys: list[str]) -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype=object) for c in keys} | {
        "segment": pd.Series(dtype=object), "segment_label": pd.Series(dtype=object),
        "saved_relative_margin": pd.Series(dtype=float), "relative_margin": pd.Series(dtype=float),
        "distance_own": pd.Series(dtype=float), "distance_next": pd.Series(dtype=float),
        "nearest_segment": pd.Series(dtype=object), "nearest_segment_label": pd.Series(dtype=object)})


def margin_definition(method: str) -> str:
    """What the relative margin of `boundary_margins` measures for a version of ``method``, in words."""
    if method == "nine_box":
        return ("distance to the nearest neighbouring class minus distance to its own, in widths of the middle "
                "ABC band (share) and XYZ band (log CV)")
    return "(distance to the nearest other centre - distance to its own) / the median distance to its own centre"


def boundary_margins(store: Store, version_id: int) -> pd.DataFrame:
    """Saved and current relative margin of every item of a clustering or nine-box version still in the data.

    One row per such item (HDBSCAN's unclassified items have no centre and are left out): key
    columns, segment, segment_label, ``saved_relative_margin``, ``relative_margin`` (today),
    ``distance_own`` and ``distance_next`` today (weighted scaled space), ``nearest_segment``
    and its label. ``attrs``: ``new_items`` (items in the data, not in the version),
    ``gone_items`` (in the version, no longer in the data), ``reason`` (why there are no rows,
    else None). See the module docstring for the method (nine-box versions: `_nine_box_margins`;
    their items that cannot cross a boundary have NaN margins and never alert). Segments are the model's (not
    overrides applied): the geometry being measured is the model's ("Which segments").
    """
    from core.segment_items import segmentation_items
    from core.segment_methods import CLUSTER_METHODS, NOISE, centres_of, squared_distances
    from core.segment_prep import prepare_features
    from core.versions import load_version

    version = load_version(store, version_id)
    result = version.result
    keys = list(key_columns(version.level))
    saved = result.assignments
    if result.method not in CLUSTER_METHODS and result.method != "nine_box":
        frame = _empty_margins(keys)
        frame.attrs.update(new_items=0, gone_items=0, reason=(
            f"version {version_id} is a {result.method} version: its segments come from rules or demand-pattern "
            "cut-offs, not from centres or ABC / XYZ classes, so items have no distance to a boundary. Drift alerts "
            "need a clustering version (k-means, hierarchical, HDBSCAN or Gaussian mixture) or an ABC x XYZ "
            "(nine-box) version."))
        return frame
    params = result.parameters
    built = dict(params.get("items") or {})
    items = segmentation_items(store, version.level, str(built.get("bucket", version.bucket)),
                               str(built.get("abc_measure", "revenue")))
    flags = items[keys].merge(saved[keys].assign(_in_version=True), on=keys, how="left")["_in_version"]
    in_version = flags.astype("boolean").fillna(False).to_numpy(dtype=bool)
    present = saved[keys].merge(items[keys].assign(_present=True), on=keys, how="left")["_present"]
    new_items, gone_items = int((~in_version).sum()), int(present.isna().sum())
    if items.empty or not in_version.any():
        frame = _empty_margins(keys)
        frame.attrs.update(new_items=new_items, gone_items=gone_items,
                           reason=f"no item of version {version_id} has order lines in the data today")
        return frame
    if result.method == "nine_box":
        return _nine_box_margins(store, version_id, items, saved, keys, in_version, params,
                                 new_items=new_items, gone_items=gone_items)
    # The version's own preparation: same features, the same features logged, same caps and
    # scaling (refitted on today's items), same weights.
    prepared = prepare_features(items, list(params["features"]), log=list(result.log_features),
                                cap_percentile=params.get("cap_percentile"),
                                scaling=str(params.get("scaling", "standard")))
    matrix, _ = prepared.reweight(dict(params.get("weights") or {}))
    members = items.loc[in_version, keys].reset_index(drop=True).merge(
        saved[[*keys, "segment", "segment_label", "distance_own", "boundary_margin"]], on=keys, how="left")
    member_matrix = matrix[in_version]
    labels = members["segment"].to_numpy(dtype=np.int64)
    classified = labels != NOISE
    segments = np.array(sorted(set(labels[classified].tolist())), dtype=np.int64)
    centres = centres_of(member_matrix, labels, segments)
    distances = np.sqrt(squared_distances(member_matrix, centres))
    own = np.full(len(labels), np.nan)
    nearest = np.full(len(labels), NOISE, dtype=np.int64)
    nxt = np.full(len(labels), np.nan)
    index = np.searchsorted(segments, labels[classified])
    rows = np.flatnonzero(classified)
    own[rows] = distances[rows, index]
    if len(segments) > 1:
        others = distances.copy()
        others[rows, index] = np.inf
        best = others.argmin(axis=1)
        nxt = others[np.arange(len(labels)), best]
        nearest = segments[best]
    saved_own = saved.loc[saved["segment"] != NOISE, "distance_own"].to_numpy(dtype=float)
    saved_typical = float(np.nanmedian(saved_own)) if np.isfinite(saved_own).any() else math.nan
    label_of = dict(zip(saved["segment"], saved["segment_label"], strict=False))
    frame = members[keys].copy()
    frame["segment"] = labels
    frame["segment_label"] = members["segment_label"].to_numpy()
    frame["saved_relative_margin"] = (members["boundary_margin"].to_numpy(dtype=float) / saved_typical
                                      if saved_typical > 0 else np.nan)
    frame["relative_margin"] = _relative(nxt - own, own[classified]) if classified.any() else np.nan
    frame["distance_own"] = own
    frame["distance_next"] = nxt
    frame["nearest_segment"] = nearest
    frame["nearest_segment_label"] = [label_of.get(int(s)) for s in nearest]
    frame = frame[classified].reset_index(drop=True)
    frame.attrs.update(new_items=new_items, gone_items=gone_items,
                       reason=None if len(segments) > 1 else f"version {version_id} has one segment: no boundary")
    return frame


def _saved_nine_box_margins(store: Store, version_id: int, saved: pd.DataFrame, keys: list[str],
                            measure: str | None, abc_cutoffs: tuple[float, ...],
                            xyz_cutoffs: tuple[float, ...]) -> np.ndarray:
    """The saved boundary margins of a nine-box version; for a version saved before nine-box
    versions kept them (all NaN), measured again from the measure and cv saved with its items
    (`core.version_features`), which is what the version saw."""
    from core.segment_rules import abc_positions, nine_box_distances

    margins = saved["boundary_margin"].to_numpy(dtype=float)
    if np.isfinite(margins).any() or measure is None:
        return margins
    kept = store.cursor().execute(
        "SELECT item_position, feature, value FROM segment_item_features WHERE version_id = ? AND feature IN (?, 'cv')",
        [int(version_id), measure]).df()
    if kept.empty:
        return margins
    wide = kept.pivot_table(index="item_position", columns="feature", values="value", aggfunc="first")
    wide = wide.reindex(index=range(len(saved)), columns=[measure, "cv"])
    then = saved[keys].reset_index(drop=True).assign(**{measure: wide[measure].to_numpy(), "cv": wide["cv"].to_numpy()})
    cells = saved["segment"].astype(str)
    return nine_box_distances(cells.str[0].to_numpy(dtype=object), cells.str[1:].to_numpy(dtype=object),
                              abc_positions(then, measure, keys), then["cv"].to_numpy(dtype=float),
                              abc_cutoffs, xyz_cutoffs)["boundary_margin"].to_numpy(dtype=float)


def _nine_box_margins(store: Store, version_id: int, items: pd.DataFrame, saved: pd.DataFrame, keys: list[str],
                      in_version: np.ndarray, params: dict[str, object], *, new_items: int,
                      gone_items: int) -> pd.DataFrame:
    """`boundary_margins` of a nine-box version: today's ABC position and cv against its saved cut-offs.

    Each item keeps the cell the version gave it; its distance to that cell and to the nearest
    other one is measured again (`core.segment_rules.nine_box_distances`) on today's ranking of the
    version's ABC measure (all of today's items, new ones included, rank) and today's cv, with the
    version's cut-offs (``parameters``; versions saved before they were recorded used the defaults,
    and their saved margins are measured from the features saved with them: `_saved_nine_box_margins`).
    The distances are in band widths, a scale fixed by the cut-offs, so the margin needs no
    rescaling: the relative margin is the boundary margin, today's and the saved one.
    """
    from core.classify import MEASURE_COLUMNS
    from core.segment_rules import ABC_CUTOFFS, XYZ_CUTOFFS, abc_positions, nine_box_distances

    built = dict(params.get("items") or {})
    measure = MEASURE_COLUMNS.get(str(built.get("abc_measure", "revenue")))
    abc_cutoffs = tuple(float(c) for c in (params.get("abc_cutoffs") or ABC_CUTOFFS))
    xyz_cutoffs = tuple(float(c) for c in (params.get("xyz_cutoffs") or XYZ_CUTOFFS))
    position = abc_positions(items, measure, keys)[in_version]
    cv = pd.to_numeric(items["cv"], errors="coerce").astype("float64").to_numpy()[in_version]
    saved = saved.assign(boundary_margin=_saved_nine_box_margins(store, version_id, saved, keys, measure,
                                                                 abc_cutoffs, xyz_cutoffs))
    members = items.loc[in_version, keys].reset_index(drop=True).merge(
        saved[[*keys, "segment", "segment_label", "boundary_margin"]], on=keys, how="left")
    cells = members["segment"].astype(str)
    today = nine_box_distances(cells.str[0].to_numpy(dtype=object), cells.str[1:].to_numpy(dtype=object),
                               position, cv, abc_cutoffs, xyz_cutoffs)
    label_of = dict(zip(saved["segment"].astype(str), saved["segment_label"], strict=False))
    frame = members[keys].copy()
    frame["segment"] = cells.to_numpy(dtype=object)
    frame["segment_label"] = members["segment_label"].to_numpy()
    frame["saved_relative_margin"] = members["boundary_margin"].to_numpy(dtype=float)
    frame["relative_margin"] = today["boundary_margin"].to_numpy(dtype=float)
    frame["distance_own"] = today["distance_own"].to_numpy(dtype=float)
    frame["distance_next"] = today["distance_next"].to_numpy(dtype=float)
    frame["nearest_segment"] = today["nearest_segment"].to_numpy(dtype=object)
    frame["nearest_segment_label"] = [None if pd.isna(s) else label_of.get(str(s), str(s))
                                      for s in frame["nearest_segment"]]
    frame.attrs.update(new_items=new_items, gone_items=gone_items, reason=None)
    return frame


def alert_state(store: Store, version_id: int, alert: str = DRIFT_ALERT) -> pd.DataFrame:
    """The recorded state of each item that ever alerted: keys, active, relative_margin, changed_at
    (its latest row in ``segment_alert_state``)."""
    return store.cursor().execute(
        """SELECT customer_id, product_id, active, relative_margin, changed_at
           FROM segment_alert_state
           WHERE version_id = $version AND alert = $alert
           QUALIFY row_number() OVER (PARTITION BY customer_id, product_id ORDER BY state_id DESC) = 1
           ORDER BY customer_id, product_id""",
        {"version": int(version_id), "alert": alert},
    ).df()


def boundary_alerts(store: Store, version_id: int, *, enter: float = ENTER_MARGIN, dead_band: float = DEAD_BAND,
                    min_drop: float = MIN_DROP, margins: pd.DataFrame | None = None) -> pd.DataFrame:
    """Items of a clustering or nine-box version drifting toward a segment boundary, after the dead band.

    One row per item whose alert is on now or changes now: key columns, segment, segment_label,
    ``saved_relative_margin``, ``relative_margin``, ``nearest_segment`` and its label,
    ``was_active`` (recorded state), ``active`` (after `next_alert_state`) and ``change``
    (``raised``, ``cleared`` or ``""``). Most drifted first. Nothing is written: pass the result
    to `record_boundary_alerts` to remember it. ``attrs`` as `boundary_margins`, plus
    ``enter`` and ``dead_band``. ``margins``: `boundary_margins` of the version computed before
    (a page caches them per data version; the recorded state is always read fresh).
    """
    if dead_band < 0:
        raise SegplanError(f"dead band {dead_band!r} must be 0 or more", hint="e.g. 0.1")
    if margins is None:
        margins = boundary_margins(store, version_id)
    keys = [c for c in ("customer_id", "product_id") if c in margins.columns]
    state = alert_state(store, version_id)
    recorded = {tuple(row[k] for k in keys): bool(row["active"]) for _, row in state.iterrows()}
    was = np.array([recorded.get(tuple(r), False) for r in margins[keys].itertuples(index=False, name=None)],
                   dtype=bool)
    now = np.array([next_alert_state(w, m, s, enter, dead_band, min_drop) for w, m, s in
                    zip(was, margins["relative_margin"], margins["saved_relative_margin"], strict=True)], dtype=bool)
    frame = margins.assign(was_active=was, active=now,
                           change=np.where(now & ~was, "raised", np.where(was & ~now, "cleared", "")))
    frame = frame[frame["active"] | frame["was_active"]].sort_values("relative_margin", kind="stable")
    frame = frame.reset_index(drop=True)
    frame.attrs.update(margins.attrs, enter=float(enter), dead_band=float(dead_band), min_drop=float(min_drop))
    return frame


def record_boundary_alerts(store: Store, version_id: int, alerts: pd.DataFrame, user: str | None) -> int:
    """Remember the raised and cleared alerts of `boundary_alerts`; returns the changes written.

    Only items whose recorded state differs are written (so recording the same result twice
    writes nothing), in one transaction with one audit event (action ``record_alerts``, entity
    ``segment_alert_state``, the version id): ``before`` lists under ``active`` the items whose
    alert was on and is cleared now, ``after`` those raised now.
    """
    from core import audit

    keys = [c for c in ("customer_id", "product_id") if c in alerts.columns]
    if alerts.empty:
        return 0
    now = dt.datetime.now()
    with store.transaction() as cur:
        latest = cur.execute(
            """SELECT customer_id, product_id, active FROM segment_alert_state
               WHERE version_id = ? AND alert = ?
               QUALIFY row_number() OVER (PARTITION BY customer_id, product_id ORDER BY state_id DESC) = 1""",
            [int(version_id), DRIFT_ALERT]).fetchall()
        recorded = {(c, p): bool(a) for c, p, a in latest}
        rows = []
        for row in alerts.itertuples(index=False):
            customer = getattr(row, "customer_id", None) if "customer_id" in keys else None
            product = getattr(row, "product_id", None) if "product_id" in keys else None
            if recorded.get((customer, product), False) == bool(row.active):
                continue
            rows.append((int(version_id), DRIFT_ALERT, customer, product, bool(row.active),
                         _finite(row.relative_margin), _finite(row.saved_relative_margin), now, user))
        if not rows:
            return 0
        cur.executemany(
            """INSERT INTO segment_alert_state (version_id, alert, customer_id, product_id, active, relative_margin,
                                                saved_relative_margin, changed_at, user_name)
               VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)""", rows)
        named = [{"customer_id": r[2], "product_id": r[3]} if "customer_id" in keys and "product_id" in keys
                 else r[2] if "customer_id" in keys else r[3] for r in rows]
        audit.record(
            cur, user=user, action="record_alerts", entity="segment_alert_state", entity_id=int(version_id),
            before={"active": [n for n, r in zip(named, rows, strict=True) if not r[4]]},
            after={"active": [n for n, r in zip(named, rows, strict=True) if r[4]]},
            reason=f"boundary drift: relative margin below {alerts.attrs.get('enter', ENTER_MARGIN):g} raises, "
                   f"above {alerts.attrs.get('enter', ENTER_MARGIN) + alerts.attrs.get('dead_band', DEAD_BAND):g} "
                   "clears")
    return len(rows)


def _finite(value: object) -> float | None:
    number = float(value) if value is not None else math.nan
    return number if math.isfinite(number) else None
