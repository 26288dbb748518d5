"""Quality metrics, bootstrap stability, time-window comparison and segment names."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import calinski_harabasz_score, davies_bouldin_score, silhouette_score

from core.errors import SegplanError
from core.segment import Segmenter, compare_windows
from core.segment_names import name_from_differences, segment_names, unique_names
from core.segment_quality import (
    bootstrap_stability,
    cluster_metrics,
    compare_assignments,
    jaccard_reading,
    pick_k,
)


def blobs(n_per_group: int = 150, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    centres = np.array([[0, 0, 0], [8, 0, 0], [0, 8, 0], [0, 0, 8]], dtype=float)
    x = np.vstack([c + rng.normal(size=(n_per_group, 3)) for c in centres])
    return x, np.repeat(np.arange(4), n_per_group)


def test_metrics_match_scikit_learn_definitions():
    x, labels = blobs()
    m = cluster_metrics(x, labels, seed=0, silhouette_sample=10_000)
    assert m["silhouette"] == pytest.approx(silhouette_score(x, labels))
    assert m["davies_bouldin"] == pytest.approx(davies_bouldin_score(x, labels))
    assert m["calinski_harabasz"] == pytest.approx(calinski_harabasz_score(x, labels))
    centres = np.array([x[labels == g].mean(axis=0) for g in range(4)])
    assert m["inertia"] == pytest.approx(sum(((x[labels == g] - centres[g]) ** 2).sum() for g in range(4)))


def test_metrics_hand_case_and_noise_left_out():
    # Two pairs on a line: {0, 2} and {10, 12}; one noise point far away.
    x = np.array([[0.0], [2.0], [10.0], [12.0], [100.0]])
    labels = np.array([0, 0, 1, 1, -1])
    m = cluster_metrics(x, labels, seed=0)
    assert m["inertia"] == pytest.approx(4.0)  # each point 1 from its centre
    # DB = (1 + 1) / 10; CH = (B / 1) / (W / 2) with B = 4 * 5^2 = 100, W = 4
    assert m["davies_bouldin"] == pytest.approx(0.2)
    assert m["calinski_harabasz"] == pytest.approx(50.0)
    # Silhouette: point 0 has a = 2, b = mean(10, 12) = 11 -> 9/11; point 2: a = 2, b = 9 -> 7/9;
    # the other pair mirrors them.
    assert m["silhouette"] == pytest.approx((9 / 11 + 7 / 9) / 2)


def test_silhouette_on_sample_is_seeded():
    x, labels = blobs(n_per_group=500)
    a = cluster_metrics(x, labels, seed=1, silhouette_sample=300)["silhouette"]
    b = cluster_metrics(x, labels, seed=1, silhouette_sample=300)["silhouette"]
    assert a == b
    assert a == pytest.approx(silhouette_score(x, labels), abs=0.05)


def test_pick_k_takes_best_silhouette_smaller_on_tie():
    scan = pd.DataFrame({"k": [2, 3, 4, 5], "silhouette": [0.4, 0.7, 0.7, np.nan]})
    assert pick_k(scan) == 3


def test_bootstrap_jaccard_near_one_for_planted_groups():
    x, labels = blobs()
    table = bootstrap_stability(x, labels, "kmeans", 4, seed=0, n_resamples=10)
    assert list(table["segment"]) == [0, 1, 2, 3]
    assert (table["jaccard_mean"] > 0.95).all()
    assert set(table["reading"]) == {"stable"}
    again = bootstrap_stability(x, labels, "kmeans", 4, seed=0, n_resamples=10)
    pd.testing.assert_frame_equal(table, again)


def test_bootstrap_jaccard_low_for_uniform_noise():
    # A uniform disc has no groups: k-means cuts it into arbitrary slices that move between
    # resamples.
    rng = np.random.default_rng(0)
    radius, angle = np.sqrt(rng.uniform(size=600)), rng.uniform(0, 2 * np.pi, 600)
    x = np.column_stack([radius * np.cos(angle), radius * np.sin(angle)])
    seg = Segmenter(k=6, log="none", cap_percentile=None, min_share=0.0, measure=None)
    items = pd.DataFrame({"product_id": [f"P{i}" for i in range(600)], "quantity": x[:, 0], "cv": x[:, 1]})
    table = seg.fit(items).bootstrap(n_resamples=10, seed=0)
    assert table["jaccard_mean"].mean() < 0.75
    assert "unstable" in set(table["reading"])
    assert list(table.columns) == ["segment", "segment_label", "jaccard_mean", "dissolved_share", "reading"]


def test_jaccard_reading_thresholds():
    assert jaccard_reading(0.59) == "unstable"
    assert jaccard_reading(0.6) == "doubtful"
    assert jaccard_reading(0.75) == "stable"


def test_compare_assignments_hand_case():
    first = pd.DataFrame({"product_id": ["A", "B", "C", "D", "E"], "segment_label": ["x", "x", "y", "y", "y"]})
    second = pd.DataFrame({"product_id": ["A", "B", "C", "D", "F"], "segment_label": ["p", "p", "q", "q", "q"]})
    same = compare_assignments(first, second, ["product_id"])
    assert same.ari == pytest.approx(1.0)
    assert (same.common_items, same.first_only, same.second_only) == (4, 1, 1)
    moved = second.assign(segment_label=["p", "q", "q", "q", "q"])
    cmp = compare_assignments(first, moved, ["product_id"])
    # Common items A..D: first {A,B}{C,D}, second {A}{B,C,D}. Pairs agree: 6 pairs, a = 1
    # (C-D together in both), b = 1 (A-C, A-D apart in both: 2) -> hand ARI below.
    # Contingency [[1, 1], [0, 2]]: sum C(n_ij,2) = 1, rows C(2,2)*2 = 2, cols C(1,2)+C(3,2) = 3;
    # expected = 2*3/6 = 1; max = (2+3)/2 = 2.5; ARI = (1 - 1) / (2.5 - 1) = 0.
    assert cmp.ari == pytest.approx(0.0)
    assert cmp.migration.loc["x", "p"] == 1 and cmp.migration.loc["x", "q"] == 1
    assert cmp.migration.loc["y", "q"] == 2 and cmp.migration.loc["y", "p"] == 0
    with pytest.raises(SegplanError, match="no item is in both windows"):
        compare_assignments(first, second.assign(product_id=list("VWXYZ")), ["product_id"])


def test_compare_windows_on_stable_groups():
    x, labels = blobs(n_per_group=100, seed=1)
    rng = np.random.default_rng(2)
    keys = [f"P{i}" for i in range(len(x))]
    first = pd.DataFrame({"product_id": keys, "quantity": x[:, 0], "cv": x[:, 1], "adi": x[:, 2]})
    second = first.assign(quantity=x[:, 0] + rng.normal(0, 0.3, len(x)))
    result = compare_windows(first, second, k=4, log="none", min_share=0.0, measure=None)
    assert result.ari > 0.95
    assert result.common_items == len(x)
    # Almost every item stays in the segment it had: one dominant cell per row.
    assert result.migration.max(axis=1).sum() > 0.95 * len(x)
    assert result.migration.to_numpy().sum() == len(x)


def test_names_from_differences():
    assert name_from_differences({"quantity": 1.4, "cv": -0.9, "margin_pct": -0.6}) == "High volume, stable, low margin"
    assert name_from_differences({"quantity": 0.1, "cv": -0.2}) == "Typical"
    # At most three words; unknown features get generic words; margin and margin_pct once.
    assert name_from_differences({"lead_days": 2.0, "margin": 1.0, "margin_pct": 0.9, "adi": 0.8, "cv": 0.7}) == \
        "High lead days, high margin, intermittent"


def test_unique_names_add_suffix():
    assert unique_names(["Typical", "High volume", "Typical", "Typical"]) == \
        ["Typical", "High volume", "Typical (2)", "Typical (3)"]
    assert unique_names(["A", "A (2)", "A"]) == ["A", "A (2)", "A (3)"]


def test_segment_names_use_standardised_difference():
    medians = np.array([[10.0, 0.0], [0.0, 0.0], [0.0, 0.0]])
    names = segment_names(medians, np.array([0.0, 0.0]), np.array([20.0, 1.0]), ["quantity", "cv"])
    # 10 / 20 = 0.5 standard deviations is just enough to be named.
    assert names == ["High volume", "Typical", "Typical (2)"]


def test_ward_tree_matches_scikit_learn_ward_and_gives_k_groups_on_ties():
    from sklearn.cluster import AgglomerativeClustering
    from sklearn.metrics import adjusted_rand_score

    from core.segment_methods import ClusterOptions, WardTree

    x, _ = blobs(n_per_group=40, seed=3)
    tree = WardTree(x, seed=0, options=ClusterOptions())
    for k in (2, 4, 6):
        expected = AgglomerativeClustering(n_clusters=k, linkage="ward").fit_predict(x)
        assert adjusted_rand_score(expected, tree.labels(k)) == 1.0
    # Equally spaced points: many merges at the same height; still exactly k groups.
    line = np.arange(16, dtype=float)[:, None]
    for k in range(2, 9):
        assert len(np.unique(WardTree(line, seed=0, options=ClusterOptions()).labels(k))) == k
