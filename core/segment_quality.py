"""How good and how stable a segmentation is: internal metrics, the k scan, bootstrap and
time-window stability.

Metrics are computed from labels and segment centres (means) in the weighted scaled space,
so they are defined the same way for every clustering method. Silhouette is quadratic in
items and is computed on a seeded sample.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from core.errors import SegplanError
from core.segment_methods import (
    NOISE,
    ClusterOptions,
    WardTree,
    centres_of,
    cluster_labels,
    seeded_sample,
    squared_distances,
)

#: Segments counted when choosing k automatically.
K_RANGE = range(2, 11)
#: Hennig (2007): mean clusterwise Jaccard below 0.6 is unstable, 0.75 and above stable.
JACCARD_UNSTABLE = 0.6
JACCARD_STABLE = 0.75


def cluster_metrics(matrix: np.ndarray, labels: np.ndarray, seed: int, silhouette_sample: int = 2_000) -> dict[str, float]:
    """Silhouette, Davies-Bouldin, Calinski-Harabasz and inertia of a labelling.

    Items labelled ``NOISE`` are left out. Values are ``nan`` where undefined (one segment).
    Silhouette uses a seeded sample of ``silhouette_sample`` items.

    References:
        Rousseeuw, P. J. (1987). Silhouettes: a graphical aid to the interpretation and
        validation of cluster analysis. *J. Comput. Appl. Math.* 20, 53-65.
        Davies, D. L., Bouldin, D. W. (1979). A cluster separation measure. *IEEE TPAMI*
        1(2), 224-227.
        Calinski, T., Harabasz, J. (1974). A dendrite method for cluster analysis.
        *Communications in Statistics* 3(1), 1-27.
        Inertia: the within-segment sum of squares minimised by k-means (Lloyd 1982).
    """
    keep = labels != NOISE
    x, lab = matrix[keep], labels[keep]
    segments = np.unique(lab)
    k, n = len(segments), len(lab)
    nan = float("nan")
    if k == 0:
        return {"silhouette": nan, "davies_bouldin": nan, "calinski_harabasz": nan, "inertia": nan}
    centres = centres_of(x, lab, segments)
    index = np.searchsorted(segments, lab)
    own = squared_distances(x, centres)[np.arange(n), index]
    inertia = float(own.sum())
    if k < 2 or n <= k:
        return {"silhouette": nan, "davies_bouldin": nan, "calinski_harabasz": nan, "inertia": inertia}
    counts = np.bincount(index, minlength=k)
    between = float((counts * ((centres - x.mean(axis=0)) ** 2).sum(axis=1)).sum())
    calinski = between / (k - 1) / (inertia / (n - k)) if inertia > 0 else float("inf")
    scatter = np.bincount(index, weights=np.sqrt(own), minlength=k) / counts
    separation = np.sqrt(squared_distances(centres, centres))
    np.fill_diagonal(separation, np.inf)
    ratio = (scatter[:, None] + scatter[None, :]) / separation
    davies = float(np.max(ratio, axis=1).mean())
    return {
        "silhouette": silhouette_on_sample(x, lab, seed, silhouette_sample),
        "davies_bouldin": davies,
        "calinski_harabasz": float(calinski),
        "inertia": inertia,
    }


def silhouette_on_sample(matrix: np.ndarray, labels: np.ndarray, seed: int, sample_size: int) -> float:
    """Mean silhouette width on a seeded sample (Rousseeuw 1987); ``nan`` if undefined."""
    from sklearn.metrics import silhouette_score

    rows = seeded_sample(len(labels), sample_size, seed)
    found = len(np.unique(labels[rows]))
    if not 2 <= found <= len(rows) - 1:
        return float("nan")
    return float(silhouette_score(matrix[rows], labels[rows]))


def scan_k(matrix: np.ndarray, method: str, seed: int, options: ClusterOptions | None = None,
           k_range: range = K_RANGE, scan_sample: int = 20_000, silhouette_sample: int = 2_000) -> pd.DataFrame:
    """Metrics for each candidate k (one row per k), fitted on a seeded sample of items.

    Returns columns ``k, silhouette, davies_bouldin, calinski_harabasz, inertia`` for a chart;
    `pick_k` chooses from it. Inertia is for the sample (it grows with items).

    References:
        Rousseeuw (1987), Davies & Bouldin (1979), Calinski & Harabasz (1974): see
        `cluster_metrics`; the elbow of inertia: Thorndike, R. L. (1953). Who belongs in the
        family? *Psychometrika* 18(4), 267-276.
    """
    if method == "hdbscan":
        raise SegplanError("k: HDBSCAN finds the number of segments itself", "leave k empty for HDBSCAN")
    rows = seeded_sample(matrix.shape[0], scan_sample, seed)
    sample = matrix[rows]
    # One Ward tree serves every k.
    tree = WardTree(sample, seed, options or ClusterOptions()) if method == "hierarchical" else None
    records = []
    for k in k_range:
        if k >= len(rows):
            break
        labels = tree.labels(k) if tree is not None else cluster_labels(sample, method, k, seed, options)
        records.append({"k": k, **cluster_metrics(sample, labels, seed, silhouette_sample)})
    if not records:
        raise SegplanError(f"k: too few items ({len(rows)}) to compare segment counts", "segment more items or fix k")
    return pd.DataFrame.from_records(records)


def pick_k(scan: pd.DataFrame) -> int:
    """The k with the highest silhouette; the smaller k on a tie (fewer segments are easier to run)."""
    best = scan["silhouette"].fillna(-np.inf).to_numpy()
    return int(scan["k"].to_numpy()[int(np.argmax(best))])


def jaccard_reading(value: float) -> str:
    """Hennig's (2007) reading of a mean clusterwise Jaccard: unstable, doubtful or stable."""
    if np.isnan(value):
        return "not measured"
    if value < JACCARD_UNSTABLE:
        return "unstable"
    if value < JACCARD_STABLE:
        return "doubtful"
    return "stable"


def bootstrap_stability(matrix: np.ndarray, labels: np.ndarray, method: str, k: int | None, seed: int,
                        n_resamples: int = 20, options: ClusterOptions | None = None,
                        max_items: int = 20_000) -> pd.DataFrame:
    """Clusterwise Jaccard stability per segment from bootstrap resamples.

    Each resample draws items with replacement, clusters them again with the same method and
    k, and for every original segment takes the best Jaccard similarity with any new cluster
    (on the distinct resampled items). The mean over resamples is the segment's stability;
    ``dissolved_share`` is the share of resamples where it fell below 0.5. Above
    ``max_items`` the analysis runs on a seeded subsample of items.

    References:
        Hennig, C. (2007). Cluster-wise assessment of cluster stability. *Computational
        Statistics & Data Analysis* 52(1), 258-271.
    """
    if n_resamples < 1:
        raise SegplanError(f"n_resamples: {n_resamples!r}", "use at least 1 resample (20 or more is usual)")
    rows = seeded_sample(matrix.shape[0], max_items, seed)
    x, original = matrix[rows], np.asarray(labels)[rows]
    segments = np.array(sorted(s for s in np.unique(original) if s != NOISE))
    rng = np.random.default_rng(seed)
    scores = np.full((n_resamples, len(segments)), np.nan)
    for b in range(n_resamples):
        draw = rng.integers(0, len(x), size=len(x))
        new = cluster_labels(x[draw], method, k, int(rng.integers(0, 2**31 - 1)), options)
        distinct, first = np.unique(draw, return_index=True)
        new_of_distinct = new[first]
        old_of_distinct = original[distinct]
        new_clusters = [c for c in np.unique(new_of_distinct) if c != NOISE]
        for i, seg in enumerate(segments):
            in_old = old_of_distinct == seg
            if not in_old.any():
                continue
            best = 0.0
            for c in new_clusters:
                in_new = new_of_distinct == c
                union = np.count_nonzero(in_old | in_new)
                best = max(best, np.count_nonzero(in_old & in_new) / union)
            scores[b, i] = best
    with np.errstate(invalid="ignore"):
        means = np.nanmean(scores, axis=0) if len(segments) else np.array([])
        dissolved = np.nanmean(scores < 0.5, axis=0) if len(segments) else np.array([])
    return pd.DataFrame({
        "segment": segments,
        "jaccard_mean": means,
        "dissolved_share": dissolved,
        "reading": [jaccard_reading(v) for v in means],
    })


@dataclass
class WindowComparison:
    """Two segmentations of the same items on different time windows.

    ``ari`` is the adjusted Rand index on the items present in both windows (1 = same
    grouping, about 0 = chance); ``migration`` counts items by first-window segment (rows)
    and second-window segment (columns).
    """

    ari: float
    common_items: int
    first_only: int
    second_only: int
    migration: pd.DataFrame


def compare_assignments(first: pd.DataFrame, second: pd.DataFrame, keys: list[str],
                        column: str = "segment_label") -> WindowComparison:
    """Adjusted Rand index and migration matrix between two per-item assignment frames.

    References:
        Hubert, L., Arabie, P. (1985). Comparing partitions. *Journal of Classification*
        2(1), 193-218.
    """
    from sklearn.metrics import adjusted_rand_score

    for name, frame in (("first", first), ("second", second)):
        missing = [c for c in [*keys, column] if c not in frame.columns]
        if missing:
            raise SegplanError(f"{name} window: column {missing[0]!r} is missing", "pass per-item assignments of both windows")
    joined = first[[*keys, column]].merge(second[[*keys, column]], on=keys, suffixes=("_first", "_second"))
    if joined.empty:
        raise SegplanError("windows: no item is in both windows", "choose windows that share items")
    a, b = joined[f"{column}_first"], joined[f"{column}_second"]
    migration = pd.crosstab(a.rename("first window"), b.rename("second window"))
    return WindowComparison(
        ari=float(adjusted_rand_score(a.astype(str), b.astype(str))),
        common_items=len(joined),
        first_only=len(first) - len(joined),
        second_only=len(second) - len(joined),
        migration=migration,
    )
