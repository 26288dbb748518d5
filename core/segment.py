"""The segmentation engine: items in, segments out.

Call `segment(items, method=..., ...)` or use `Segmenter` (scikit-learn style: parameters in
``__init__``, ``fit(items)`` learns ``result_`` and ``prepared_``). ``items`` is a frame of
key columns (``product_id`` and/or ``customer_id``), numeric feature columns and, for rules,
class columns (``abc``, ``xyz``, ``demand_pattern``) or any columns the rules name.

Methods:

* ``kmeans``, ``hierarchical`` (Ward), ``hdbscan``, ``gmm``: clustering on prepared features
  (`core.segment_prep`: impute, log, cap, scale (standard by default, or robust), then weight).
* ``nine_box`` (ABC x XYZ), ``demand_pattern`` and ``rules`` (planner rule list):
  `core.segment_rules`.

After clustering, segments below ``min_share`` of the measure or ``min_items`` items are merged
into the nearest segment (centre distance in the weighted scaled space) until all hold; the
result lists each merge. Segments are numbered 0, 1, ... by falling measure share; HDBSCAN's
noise is segment -1, labelled "unclassified", and is exempt from the minimums (merging noise
would hide it). Re-segmenting after a weight change: pass ``prepared=`` from the previous fit
(see `Segmenter.fit`), so that imputation, logs, caps and scaling are not recomputed.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from core.errors import SegplanError
from core.segment_methods import (
    CLUSTER_METHODS,
    NOISE,
    ClusterOptions,
    centres_of,
    cluster_labels,
    squared_distances,
    thread_limit,
)
from core.segment_names import segment_names
from core.segment_prep import (
    PreparedFeatures,
    _fingerprint_from_hash,
    check_unique_keys,
    data_fingerprint,
    frame_hash,
    key_columns_of,
    numeric_feature_columns,
    prepare_features,
)
from core.segment_quality import (
    WindowComparison,
    bootstrap_stability,
    cluster_metrics,
    compare_assignments,
    pick_k,
    scan_k,
)
from core.segment_rules import (
    ABC_CUTOFFS,
    NINE_BOX_ORDER,
    XYZ_CUTOFFS,
    apply_rules,
    demand_pattern_segments,
    nine_box,
    nine_box_item_distances,
    parse_rules,
)

RULE_METHODS = ("nine_box", "demand_pattern", "rules")
METHODS = (*CLUSTER_METHODS, *RULE_METHODS)
UNCLASSIFIED = "unclassified"
DEFAULT_MEASURE = "revenue"

__all__ = [
    "METHODS", "UNCLASSIFIED", "Segmenter", "SegmentationResult", "segment", "compare_windows",
    "data_fingerprint", "prepare_features", "PreparedFeatures", "ClusterOptions", "WindowComparison",
]


@dataclass
class SegmentationResult:
    """One segmentation, in a form that can be saved as a version.

    ``parameters`` (JSON-able) and the input data give ``fingerprint``. ``assignments`` has one
    row per item: key columns, ``segment`` (int for clustering, text for rules),
    ``segment_label``, ``distance_own`` (to its segment's centre), ``distance_next`` (to the
    nearest other centre) and ``boundary_margin`` (= next - own; small or negative means the
    item sits near or past a boundary). Nine-box versions measure the same three against the
    ABC and XYZ class boundaries (`core.segment_rules.nine_box_distances`); demand-pattern and
    rule versions leave them NaN. ``profile`` has one row per segment: items, measure
    share, medians of the features in original units. ``merges`` lists ``(from, into,
    reason)``: ``from`` is the pre-merge cluster number (clusters numbered by falling share),
    ``into`` the final segment. ``labels`` holds a planner's renames over ``auto_names``.
    """

    method: str
    parameters: dict[str, object]
    k: int
    assignments: pd.DataFrame
    profile: pd.DataFrame
    metrics: dict[str, float]
    merges: list[tuple[object, object, str]]
    fingerprint: str
    auto_names: dict[object, str]
    labels: dict[object, str] = field(default_factory=dict)
    imputed: dict[str, int] = field(default_factory=dict)
    log_features: list[str] = field(default_factory=list)
    k_scan: pd.DataFrame | None = None
    rule_hits: pd.DataFrame | None = None

    def label_of(self, segment: object) -> str:
        """The planner's name for a segment when renamed, else its automatic name."""
        return self.labels.get(segment, self.auto_names[segment])

    def with_labels(self, labels: Mapping[object, str]) -> SegmentationResult:
        """A copy with planner names for some segments (``{0: "Runners"}``); names stay unique."""
        merged = {**self.labels}
        for seg, name in labels.items():
            if seg not in self.auto_names:
                raise SegplanError(f"labels: there is no segment {seg!r}",
                                   f"rename one of: {', '.join(map(str, self.auto_names))}")
            if not isinstance(name, str) or not name.strip():
                raise SegplanError(f"labels: name {name!r} for segment {seg!r}", "give a non-empty text name")
            merged[seg] = name.strip()
        final = {seg: merged.get(seg, auto) for seg, auto in self.auto_names.items()}
        if len(set(final.values())) != len(final):
            dup = next(n for n in final.values() if list(final.values()).count(n) > 1)
            raise SegplanError(f"labels: two segments would be called {dup!r}", "give each segment its own name")
        out = copy.copy(self)
        out.labels = merged
        out.assignments = self.assignments.assign(segment_label=self.assignments["segment"].map(final))
        out.profile = self.profile.assign(segment_label=self.profile["segment"].map(final))
        return out

    def to_record(self) -> dict[str, object]:
        """The JSON-able part of the result (everything but the frames), for saving a version."""
        # Strict JSON has no NaN or infinity: undefined metrics are saved as null.
        metrics = {name: (float(v) if np.isfinite(v) else None) for name, v in self.metrics.items()}
        return {
            "method": self.method, "parameters": self.parameters, "k": self.k, "metrics": metrics,
            "merges": [list(m) for m in self.merges], "fingerprint": self.fingerprint,
            "auto_names": {str(s): n for s, n in self.auto_names.items()},
            "labels": {str(s): n for s, n in self.labels.items()},
            "imputed": self.imputed, "log_features": self.log_features,
        }

    @classmethod
    def from_record(cls, record: Mapping[str, object], assignments: pd.DataFrame, profile: pd.DataFrame,
                    k_scan: pd.DataFrame | None = None, rule_hits: pd.DataFrame | None = None) -> SegmentationResult:
        """Rebuild a saved result from `to_record` and its frames (segment keys back to int for clustering)."""
        numeric = record["method"] in CLUSTER_METHODS

        def key(s: str) -> object:
            return int(s) if numeric else s

        metrics = {n: (float("nan") if v is None else float(v)) for n, v in dict(record["metrics"]).items()}
        return cls(
            method=str(record["method"]), parameters=dict(record["parameters"]), k=int(record["k"]),
            assignments=assignments, profile=profile, metrics=metrics,
            merges=[tuple(m) for m in record["merges"]], fingerprint=str(record["fingerprint"]),
            auto_names={key(s): n for s, n in dict(record["auto_names"]).items()},
            labels={key(s): n for s, n in dict(record["labels"]).items()},
            imputed=dict(record["imputed"]), log_features=list(record["log_features"]),
            k_scan=k_scan, rule_hits=rule_hits,
        )


class Segmenter:
    """Segment items with one method and one set of controls (see module docstring).

    ``k``: an int, ``"auto"`` (scan k = 2..10 and take the best silhouette) or ``None`` for
    HDBSCAN. ``weights``: feature -> 0..5 (0 drops the feature). ``log``: ``"auto"``,
    ``"none"`` or a list of features. ``cap_percentile``: e.g. 99, or ``None`` to keep
    outliers. ``measure``: the column whose share the minimum applies to (default revenue
    when present, else item count). ``min_share`` / ``min_items``: the smallest allowed
    segment. ``options``: `ClusterOptions` or a dict of its fields (size thresholds).
    """

    def __init__(
        self,
        method: str = "kmeans",
        k: int | str | None = "auto",
        features: Sequence[str] | None = None,
        weights: Mapping[str, float] | None = None,
        log: str | Sequence[str] = "auto",
        cap_percentile: float | None = 99.0,
        scaling: str = "standard",
        measure: str | None = DEFAULT_MEASURE,
        min_share: float = 0.05,
        min_items: int = 1,
        seed: int = 0,
        rules: Sequence[Mapping[str, object]] | None = None,
        options: ClusterOptions | Mapping[str, object] | None = None,
        silhouette_sample: int = 2_000,
        scan_sample: int = 20_000,
    ) -> None:
        self.method = method
        self.k = k
        self.features = features
        self.weights = weights
        self.log = log
        self.cap_percentile = cap_percentile
        self.scaling = scaling
        self.measure = measure
        self.min_share = min_share
        self.min_items = min_items
        self.seed = seed
        self.rules = rules
        self.options = options
        self.silhouette_sample = silhouette_sample
        self.scan_sample = scan_sample

    # -- validation -------------------------------------------------------------------------
    def _options(self) -> ClusterOptions:
        if isinstance(self.options, ClusterOptions):
            return self.options
        try:
            return ClusterOptions(**dict(self.options or {}))
        except TypeError as err:
            raise SegplanError(f"options: {err}", f"use fields of ClusterOptions: {', '.join(ClusterOptions().as_dict())}") from err

    def _validate(self, items: pd.DataFrame) -> str | None:
        if self.method not in METHODS:
            raise SegplanError(f"method: unknown method {self.method!r}", f"use one of: {', '.join(METHODS)}")
        if not isinstance(items, pd.DataFrame) or items.empty:
            raise SegplanError("items: no items to segment", "compute features first; the frame is empty")
        if not key_columns_of(items):
            raise SegplanError("items: no key column (product_id or customer_id)", "pass the feature frame with its keys")
        if not isinstance(self.seed, int | np.integer):
            raise SegplanError(f"seed: {self.seed!r} is not a whole number", "give an integer seed, e.g. 0")
        if not 0.0 <= float(self.min_share) < 1.0:
            raise SegplanError(f"min_share: {self.min_share!r}", "give a share from 0 to below 1, e.g. 0.05 for 5%")
        if not isinstance(self.min_items, int | np.integer) or self.min_items < 1:
            raise SegplanError(f"min_items: {self.min_items!r}", "give a whole number of items, 1 or more")
        if self.method in CLUSTER_METHODS:
            if self.method == "hdbscan":
                if self.k not in (None, "auto"):
                    raise SegplanError(f"k: {self.k!r} with HDBSCAN", "HDBSCAN finds the count itself; leave k as 'auto'")
            elif not (self.k == "auto" or (isinstance(self.k, int | np.integer) and not isinstance(self.k, bool)
                                          and 2 <= self.k <= len(items))):
                raise SegplanError(f"k: {self.k!r} segments for {len(items)} items",
                                   "give 'auto' or a whole number from 2 to the number of items")
        if self.method == "rules" and not self.rules:
            raise SegplanError("rules: method 'rules' needs a rule list", 'pass rules=[{"name": ..., "when": [...]}, {"name": "Other"}]')
        measure = self.measure
        if measure is not None and measure not in items.columns:
            if measure == DEFAULT_MEASURE:
                return None  # no revenue column: shares by item count
            raise SegplanError(f"measure: column {measure!r} is not in the items",
                               f"use one of: {', '.join(numeric_feature_columns(items))}, or None for item count")
        if measure is not None and not pd.api.types.is_numeric_dtype(items[measure]):
            raise SegplanError(f"measure: column {measure!r} is not numeric", "choose a numeric measure such as revenue")
        return measure

    def parameters(self, prepared: PreparedFeatures | None = None, measure: str | None = None) -> dict[str, object]:
        """The settings as a JSON-able dict (resolved features and weights once fitted)."""
        params: dict[str, object] = {"method": self.method, "seed": int(self.seed), "measure": measure,
                                     "min_share": float(self.min_share), "min_items": int(self.min_items)}
        if self.method == "rules":
            params["rules"] = [r.as_dict() for r in parse_rules(self.rules or [])]
        if self.method == "nine_box":  # what the boundary distances are measured against
            params.update({"abc_cutoffs": list(ABC_CUTOFFS), "xyz_cutoffs": list(XYZ_CUTOFFS)})
        if self.method in CLUSTER_METHODS:
            params.update({
                "k": self.k if isinstance(self.k, str | None) else int(self.k),
                "features": list(prepared.features) if prepared else (list(self.features) if self.features else None),
                "weights": prepared.resolve_weights(self.weights) if prepared else dict(self.weights or {}),
                "log": self.log if isinstance(self.log, str) else list(self.log),
                "cap_percentile": None if self.cap_percentile is None else float(self.cap_percentile),
                "scaling": self.scaling, "options": self._options().as_dict(),
                "silhouette_sample": int(self.silhouette_sample), "scan_sample": int(self.scan_sample),
            })
        return params

    # -- fitting ----------------------------------------------------------------------------
    def fit(self, items: pd.DataFrame, prepared: PreparedFeatures | None = None) -> Segmenter:
        """Segment ``items``; sets ``result_`` (`SegmentationResult`) and ``prepared_``.

        ``prepared``: the ``prepared_`` of an earlier fit; reused when it was prepared from
        these items with the same features, log, cap and scaling settings (checked), so a
        weight change only reweights. Otherwise the features are prepared again.
        """
        measure = self._validate(items)
        items = items.reset_index(drop=True)
        if self.method in RULE_METHODS:
            self.prepared_ = None
            self.result_ = self._fit_rules(items, measure)
            return self
        wanted = {"features": list(self.features) if self.features is not None else numeric_feature_columns(items),
                  "log": self.log if isinstance(self.log, str) else list(self.log),
                  "cap_percentile": None if self.cap_percentile is None else float(self.cap_percentile),
                  "scaling": self.scaling}
        if prepared is None or prepared.settings() != wanted or not prepared.matches(items):
            prepared = prepare_features(items, wanted["features"], self.log, self.cap_percentile, self.scaling)
        self.prepared_ = prepared
        with thread_limit(self._options().threads):
            self.result_ = self._fit_clusters(items, prepared, measure)
        return self

    def _measure_values(self, items: pd.DataFrame, measure: str | None) -> np.ndarray:
        if measure is None:
            return np.ones(len(items))
        # Negative totals (returns) count as zero volume; missing as zero.
        values = items[measure].to_numpy(dtype=np.float64, na_value=np.nan)
        values = np.clip(np.nan_to_num(values, nan=0.0), 0.0, None)
        if values.sum() <= 0:
            raise SegplanError(f"measure: {measure!r} sums to zero or less", "choose a measure with positive volume")
        return values

    def _fit_clusters(self, items: pd.DataFrame, prepared: PreparedFeatures, measure: str | None) -> SegmentationResult:
        options = self._options()
        seed = int(self.seed)
        matrix, used = prepared.reweight(self.weights)
        k_scan = None
        k = self.k
        if self.method != "hdbscan" and k == "auto":
            k_scan = scan_k(matrix, self.method, seed, options, scan_sample=self.scan_sample,
                            silhouette_sample=self.silhouette_sample)
            k = pick_k(k_scan)
        raw = cluster_labels(matrix, self.method, None if self.method == "hdbscan" else int(k), seed, options)
        if (raw == NOISE).all():
            raise SegplanError(
                f"method: HDBSCAN found no group in {len(raw)} items (min_cluster_size "
                f"{options.min_cluster_size or 'default'}); every item would be unclassified",
                "lower options min_cluster_size, drop noisy features, or use k-means or a Gaussian mixture")
        volume = self._measure_values(items, measure)
        labels, merges = _order_and_merge(matrix, raw, volume, float(self.min_share), int(self.min_items),
                                          measure or "item count")
        segments = np.array(sorted(s for s in np.unique(labels) if s != NOISE))
        assignments = _distance_frame(prepared.keys, matrix, labels, segments)
        metrics = cluster_metrics(matrix, labels, seed, self.silhouette_sample)
        metrics["unclassified_items"] = int((labels == NOISE).sum())
        profile, medians = _profile(labels, volume, prepared.original, prepared.features, measure)
        used_idx = [prepared.features.index(f) for f in used]
        overall = prepared.transform(np.median(prepared.original, axis=0))
        spreads = prepared.scaled[:, used_idx].std(axis=0)
        names = segment_names(prepared.transform(medians[segments])[:, used_idx], overall[used_idx],
                              spreads, used) if len(segments) else []
        auto_names = dict(zip((int(s) for s in segments), names, strict=True))
        if (labels == NOISE).any():
            auto_names[NOISE] = UNCLASSIFIED
        params = self.parameters(prepared, measure)
        params["k_chosen"] = len(segments)
        return _finish(SegmentationResult(
            method=self.method, parameters=params, k=len(segments), assignments=assignments, profile=profile,
            metrics=metrics, merges=merges, fingerprint=_fingerprint_from_hash(prepared.data_hash, params),
            auto_names=auto_names, imputed=prepared.imputed, log_features=prepared.log_features, k_scan=k_scan,
        ))

    def _fit_rules(self, items: pd.DataFrame, measure: str | None) -> SegmentationResult:
        check_unique_keys(items)
        hits = None
        if self.method == "nine_box":
            seg = nine_box(items)
            order = list(NINE_BOX_ORDER)
        elif self.method == "demand_pattern":
            seg = demand_pattern_segments(items)
            order = ["smooth", "erratic", "intermittent", "lumpy"]
        else:
            seg, hits = apply_rules(items, self.rules or [])
            order = list(dict.fromkeys(hits["name"]))
        present = [s for s in order if (seg == s).any()]
        codes = pd.Categorical(seg, categories=present).codes.astype(np.int64)
        volume = self._measure_values(items, measure)
        features = numeric_feature_columns(items)
        values = items[features].to_numpy(dtype=np.float64, na_value=np.nan) if features else np.zeros((len(items), 0))
        profile, _ = _profile(codes, volume, values, features, measure)
        profile["segment"] = [present[i] for i in profile["segment"]]
        nan = np.full(len(items), np.nan)
        assignments = prepared_keys(items).assign(segment=seg.to_numpy(dtype=object), distance_own=nan,
                                                  distance_next=nan, boundary_margin=nan)
        if self.method == "nine_box":  # distance to the nearest ABC or XYZ boundary (core.segment_rules)
            near = nine_box_item_distances(items, measure, key_columns_of(items))
            for column in ("distance_own", "distance_next", "boundary_margin"):
                assignments[column] = near[column].to_numpy(dtype=float)
        share = profile.set_index("segment")["measure_share"]
        small = [s for s in present if share[s] < self.min_share]
        metrics: dict[str, float] = {"segments_below_min_share": float(len(small))}
        params = self.parameters(None, measure)
        return _finish(SegmentationResult(
            method=self.method, parameters=params, k=len(present), assignments=assignments, profile=profile,
            metrics=metrics, merges=[], fingerprint=_fingerprint_from_hash(frame_hash(items), params),
            auto_names={s: s for s in present}, rule_hits=hits,
        ))

    # -- stability --------------------------------------------------------------------------
    def bootstrap(self, n_resamples: int = 20, seed: int | None = None, max_items: int = 20_000) -> pd.DataFrame:
        """Clusterwise Jaccard per segment of the fitted result (Hennig 2007), with a reading.

        Reclusters bootstrap resamples with the same method and final k; see
        `core.segment_quality.bootstrap_stability`.
        """
        if not hasattr(self, "result_") or self.prepared_ is None:
            raise SegplanError("bootstrap: fit a clustering first", "call fit(items) with a clustering method")
        matrix, _ = self.prepared_.reweight(self.weights)
        labels = self.result_.assignments["segment"].to_numpy(dtype=np.int64)
        k = None if self.method == "hdbscan" else self.result_.k
        with thread_limit(self._options().threads):
            table = bootstrap_stability(matrix, labels, self.method, k, self.seed if seed is None else seed,
                                        n_resamples, self._options(), max_items)
        table.insert(1, "segment_label", [self.result_.label_of(int(s)) for s in table["segment"]])
        return table


def prepared_keys(items: pd.DataFrame) -> pd.DataFrame:
    return items[key_columns_of(items)].reset_index(drop=True)


def _finish(result: SegmentationResult) -> SegmentationResult:
    names = {seg: result.label_of(seg) for seg in result.auto_names}
    a = result.assignments
    a.insert(len(key_columns_of(a)) + 1, "segment_label", a["segment"].map(names))
    result.profile.insert(1, "segment_label", result.profile["segment"].map(names))
    return result


def _order_and_merge(matrix: np.ndarray, raw: np.ndarray, volume: np.ndarray, min_share: float,
                     min_items: int, measure_name: str) -> tuple[np.ndarray, list[tuple[object, object, str]]]:
    """Number clusters by falling share, merge small ones into the nearest, renumber.

    Each step takes the smallest segment that breaks a minimum and merges it into the segment
    with the nearest centre (weighted scaled space); centres and shares are updated from sums,
    so the loop costs O(k^2) after one pass over items.

    References:
        Centroid linkage: Sokal, R. R., Michener, C. D. (1958). A statistical method for
        evaluating systematic relationships. *Univ. Kansas Sci. Bull.* 38, 1409-1438.
    """
    clusters = np.array(sorted(s for s in np.unique(raw) if s != NOISE))
    total = volume.sum()
    if len(clusters) == 0:
        return raw.copy(), []
    index = np.searchsorted(clusters, np.where(raw == NOISE, clusters[0], raw))
    keep = raw != NOISE
    members, member_volume = (index, volume) if keep.all() else (index[keep], volume[keep])
    count = np.bincount(members, minlength=len(clusters)).astype(float)
    share = np.bincount(members, weights=member_volume, minlength=len(clusters)) / total
    sums = centres_of(matrix, raw, clusters) * count[:, None]
    order = np.lexsort((-count, -share))  # by share, then items, descending
    count, share, sums = count[order], share[order], sums[order]
    rank = np.empty(len(clusters), dtype=np.int64)
    rank[order] = np.arange(len(clusters))
    labels = np.where(raw == NOISE, NOISE, rank[index])  # pre-merge numbers: 0 = largest share

    alive = list(range(len(clusters)))
    target = np.arange(len(clusters))
    steps: list[tuple[int, int, str]] = []
    while len(alive) > 1:
        bad = [s for s in alive if share[s] < min_share or count[s] < min_items]
        if not bad:
            break
        worst = min(bad, key=lambda s: (share[s], count[s], -s))
        reason = (f"{measure_name} share {share[worst]:.1%} below the minimum {min_share:.1%}"
                  if share[worst] < min_share else f"{int(count[worst])} items below the minimum {min_items}")
        others = [s for s in alive if s != worst]
        centre = sums[worst] / count[worst]
        dists = [float(np.sum((sums[s] / count[s] - centre) ** 2)) for s in others]
        into = others[int(np.argmin(dists))]
        sums[into] += sums[worst]
        count[into] += count[worst]
        share[into] += share[worst]
        target[target == worst] = into
        alive.remove(worst)
        steps.append((worst, into, reason))
    # Final numbers by falling share among survivors.
    survivors = sorted(alive, key=lambda s: (-share[s], -count[s], s))
    final = {s: i for i, s in enumerate(survivors)}
    mapping = np.array([final[target[s]] for s in range(len(clusters))])
    out = np.where(labels == NOISE, NOISE, mapping[np.maximum(labels, 0)])
    merges = [(int(f), int(final[target[i]]), reason) for f, i, reason in steps]
    return out.astype(np.int64), merges


def _distance_frame(keys: pd.DataFrame, matrix: np.ndarray, labels: np.ndarray, segments: np.ndarray) -> pd.DataFrame:
    """Key columns, segment and each item's distance to its own and the next nearest centre."""
    n = len(labels)
    own = np.full(n, np.nan)
    nxt = np.full(n, np.nan)
    if len(segments):
        centres = centres_of(matrix, labels, segments)
        dist = np.sqrt(squared_distances(matrix, centres))
        member = labels != NOISE
        idx = np.searchsorted(segments, labels[member])
        own[member] = dist[member, idx]
        if len(segments) > 1:
            masked = dist.copy()
            masked[np.flatnonzero(member), idx] = np.inf
            nxt = masked.min(axis=1)
    frame = keys.copy()
    frame["segment"] = labels
    frame["distance_own"] = own
    frame["distance_next"] = nxt
    frame["boundary_margin"] = nxt - own
    return frame


def _profile(labels: np.ndarray, volume: np.ndarray, original: np.ndarray, features: list[str],
             measure: str | None) -> tuple[pd.DataFrame, np.ndarray]:
    """Per segment: items, item share, measure and its share, feature medians (original units).

    Also returns the medians as an array indexed by segment number (rows for 0..max).
    """
    codes, inverse = np.unique(labels, return_inverse=True)
    counts = np.bincount(inverse, minlength=len(codes))
    vol = np.bincount(inverse, weights=volume, minlength=len(codes))
    frame = pd.DataFrame(original, columns=features)
    frame["_segment"] = inverse
    medians = frame.groupby("_segment", sort=True)[features].median().reindex(range(len(codes)))
    profile = pd.DataFrame({
        "segment": codes,
        "items": counts,
        "item_share": counts / counts.sum(),
        "measure": measure or "item count",
        "measure_total": vol,
        "measure_share": vol / vol.sum() if vol.sum() > 0 else np.nan,
    })
    for feature in features:
        profile[f"median_{feature}"] = medians[feature].to_numpy()
    by_number = np.full((int(max(codes.max(), 0)) + 1, len(features)), np.nan)
    numbered = codes >= 0
    by_number[codes[numbered]] = medians.to_numpy()[numbered]
    return profile, by_number


def segment(items: pd.DataFrame, prepared: PreparedFeatures | None = None, **parameters: object) -> SegmentationResult:
    """Segment ``items`` with `Segmenter` parameters; returns the `SegmentationResult`."""
    return Segmenter(**parameters).fit(items, prepared=prepared).result_


def compare_windows(first_items: pd.DataFrame, second_items: pd.DataFrame, **parameters: object) -> WindowComparison:
    """Fit the same settings on two time windows' features; ARI on common items and migration.

    ``first_items`` and ``second_items`` are feature frames of the first and second half of
    history. Segments are compared by label, so use a fixed k for readable migration tables.
    """
    first = segment(first_items, **parameters)
    second = segment(second_items, **parameters)
    return compare_assignments(first.assignments, second.assignments, key_columns_of(first.assignments))
