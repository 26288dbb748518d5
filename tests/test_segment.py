"""Clustering engine on planted-group data: recovery, auto k, constraints, determinism,
weights, distances, names and renames."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import adjusted_rand_score

from core.errors import SegplanError
from core.segment import UNCLASSIFIED, SegmentationResult, Segmenter, data_fingerprint, segment

FEATURES = ["quantity", "cv", "adi", "margin_pct", "orders"]


def planted(n_per_group: int = 200, groups: int = 4, seed: int = 7, spread: float = 5.0) -> tuple[pd.DataFrame, np.ndarray]:
    """``groups`` well-separated Gaussian blobs in 5 features, with a revenue column."""
    rng = np.random.default_rng(seed)
    # Centres at distinct corners of a cube of side 2 * spread: every pair is at least that far apart.
    corners = np.array([[(c >> j) & 1 for j in range(len(FEATURES))] for c in range(2 ** len(FEATURES))])
    # Every feature must separate some groups (a feature equal for all groups is pure noise).
    while True:
        chosen = corners[rng.choice(len(corners), size=groups, replace=False)]
        if (chosen.min(axis=0) == 0).all() and (chosen.max(axis=0) == 1).all():
            break
    centres = spread * (2 * chosen - 1)
    values = np.vstack([c + rng.normal(size=(n_per_group, len(FEATURES))) for c in centres])
    truth = np.repeat(np.arange(groups), n_per_group)
    items = pd.DataFrame(values, columns=FEATURES)
    items.insert(0, "product_id", [f"P{i:05d}" for i in range(len(items))])
    items["revenue"] = rng.uniform(50, 150, len(items))
    return items, truth


SETTINGS = {"features": FEATURES, "log": "none", "min_share": 0.0}


@pytest.mark.parametrize("method", ["kmeans", "gmm", "hierarchical"])
def test_methods_recover_planted_groups(method):
    items, truth = planted()
    result = segment(items, method=method, k=4, **SETTINGS)
    assert result.k == 4
    assert adjusted_rand_score(truth, result.assignments["segment"]) > 0.95
    assert set(result.metrics) >= {"silhouette", "davies_bouldin", "calinski_harabasz", "inertia"}
    assert result.metrics["silhouette"] > 0.6


def test_hierarchical_on_sample_assigns_the_rest():
    items, truth = planted(n_per_group=500)
    result = segment(items, method="hierarchical", k=4, options={"hierarchical_sample": 300}, **SETTINGS)
    assert adjusted_rand_score(truth, result.assignments["segment"]) > 0.95


def test_minibatch_path_recovers_planted_groups():
    items, truth = planted(n_per_group=500)
    result = segment(items, method="kmeans", k=4, options={"minibatch_threshold": 1000}, **SETTINGS)
    assert adjusted_rand_score(truth, result.assignments["segment"]) > 0.95
    again = segment(items, method="kmeans", k=4, options={"minibatch_threshold": 1000}, **SETTINGS)
    assert again.assignments.equals(result.assignments)


def test_hdbscan_finds_groups_and_labels_noise_unclassified():
    items, truth = planted(n_per_group=200)
    rng = np.random.default_rng(3)
    # 20 points scattered thinly around the blobs, none close to a blob centre.
    points = rng.uniform(-12, 12, size=(200, len(FEATURES)))
    means = items[FEATURES].groupby(truth).mean().to_numpy()
    far = np.sqrt(((points[:, None, :] - means[None, :, :]) ** 2).sum(axis=2)).min(axis=1) > 9.0
    noise = pd.DataFrame(points[far][:20], columns=FEATURES)
    noise.insert(0, "product_id", [f"N{i}" for i in range(20)])
    noise["revenue"] = 100.0
    data = pd.concat([items, noise], ignore_index=True)
    # No capping: capping would pile the far points onto the caps and make them a dense group.
    result = segment(data, method="hdbscan", cap_percentile=None, **SETTINGS)
    a = result.assignments
    clustered = a["segment"].to_numpy()[: len(truth)]
    assert result.k == 4
    assert adjusted_rand_score(truth, clustered) > 0.95
    noise_rows = a.iloc[len(truth):]
    assert len(noise_rows) == 20
    # HDBSCAN may keep a few outlying points that joined a group early; most must be noise.
    assert (noise_rows["segment"] == -1).sum() >= 16
    assert set(noise_rows.loc[noise_rows["segment"] == -1, "segment_label"]) == {UNCLASSIFIED}
    assert result.metrics["unclassified_items"] == int((a["segment"] == -1).sum())
    assert UNCLASSIFIED in set(result.profile["segment_label"])


def test_hdbscan_rejects_fixed_k():
    items, _ = planted(n_per_group=20)
    with pytest.raises(SegplanError, match="HDBSCAN"):
        segment(items, method="hdbscan", k=4, **SETTINGS)


@pytest.mark.parametrize("groups", [3, 5])
def test_auto_finds_planted_k(groups):
    items, _ = planted(n_per_group=150, groups=groups, seed=11)
    result = segment(items, method="kmeans", k="auto", **SETTINGS)
    assert result.k == groups
    scan = result.k_scan
    assert list(scan["k"]) == list(range(2, 11))
    assert list(scan.columns) == ["k", "silhouette", "davies_bouldin", "calinski_harabasz", "inertia"]
    assert result.parameters["k"] == "auto" and result.parameters["k_chosen"] == groups


def test_min_share_merges_low_volume_group():
    items, truth = planted(n_per_group=200)
    items.loc[truth == 3, "revenue"] = 1.0  # group 3 holds 0.3% of revenue
    result = segment(items, method="kmeans", k=4, features=FEATURES, log="none", min_share=0.05)
    assert result.k == 3
    assert (result.profile["measure_share"] >= 0.05).all()
    assert len(result.merges) == 1
    from_, into, reason = result.merges[0]
    assert from_ == 3  # pre-merge clusters are numbered by falling share: the smallest is last
    assert into in set(result.profile["segment"])
    assert reason == "revenue share 0.3% below the minimum 5.0%"
    seg = result.assignments["segment"].to_numpy()
    assert len(set(seg[truth == 3])) == 1  # the group went whole into one segment
    assert list(result.profile["measure_share"]) == sorted(result.profile["measure_share"], reverse=True)


def test_min_items_merges_small_group():
    items, truth = planted(n_per_group=200)
    small = np.flatnonzero(truth == 2)[30:]
    items = items.drop(index=small).reset_index(drop=True)
    truth = np.delete(truth, small)
    result = segment(items, method="kmeans", k=4, features=FEATURES, log="none", min_share=0.0, min_items=50)
    assert result.k == 3
    assert (result.profile["items"] >= 50).all()
    assert [m[2] for m in result.merges] == ["30 items below the minimum 50"]


def test_constraints_hold_after_several_merges():
    items, truth = planted(n_per_group=200, groups=5, seed=3)
    items.loc[truth == 4, "revenue"] = 1.0
    items.loc[truth == 3, "revenue"] = 2.0
    result = segment(items, method="kmeans", k=8, features=FEATURES, log="none", min_share=0.10, min_items=150)
    prof = result.profile
    assert (prof["measure_share"] >= 0.10).all() and (prof["items"] >= 150).all()
    assert len(result.merges) == 8 - result.k >= 3
    merged_from = [m[0] for m in result.merges]
    assert len(set(merged_from)) == len(merged_from)
    assert all(m[1] in set(prof["segment"]) for m in result.merges)


def test_merge_goes_to_nearest_centre():
    # Three groups on a line at 0, 10 and 100; the small one at 10 must join 0, not 100.
    rng = np.random.default_rng(0)
    values = np.concatenate([rng.normal(0, 1, 300), rng.normal(10, 1, 20), rng.normal(100, 1, 300)])
    items = pd.DataFrame({"product_id": [f"P{i}" for i in range(len(values))], "quantity": values})
    result = segment(items, method="kmeans", k=3, features=["quantity"], log="none", cap_percentile=None,
                     measure=None, min_share=0.05)
    seg = result.assignments["segment"].to_numpy()
    assert result.k == 2
    assert seg[300] == seg[0] != seg[-1]
    assert result.merges[0][1] == seg[0]
    assert "item count share" in result.merges[0][2]


def test_same_seed_same_labels_and_fingerprint():
    items, _ = planted()
    for method in ["kmeans", "gmm", "hierarchical", "hdbscan"]:
        k = "auto" if method == "hdbscan" else 4
        a = segment(items, method=method, k=k, seed=5, **SETTINGS)
        b = segment(items, method=method, k=k, seed=5, **SETTINGS)
        assert a.assignments.equals(b.assignments)
        assert a.fingerprint == b.fingerprint
        assert a.fingerprint == data_fingerprint(items, a.parameters)
    assert segment(items, k=4, seed=6, **SETTINGS).fingerprint != a.fingerprint


def test_weight_zero_drops_a_feature():
    # Two features: groups differ only in "quantity"; "cv" is pure noise with a wide spread.
    rng = np.random.default_rng(1)
    quantity = np.concatenate([rng.normal(0, 1, 200), rng.normal(20, 1, 200)])
    cv = rng.uniform(-100, 100, 400)
    items = pd.DataFrame({"product_id": [f"P{i}" for i in range(400)], "quantity": quantity, "cv": cv})
    truth = np.repeat([0, 1], 200)
    base = {"features": ["quantity", "cv"], "log": "none", "min_share": 0.0, "k": 2}
    dropped = segment(items, weights={"cv": 0}, **base)
    assert adjusted_rand_score(truth, dropped.assignments["segment"]) == 1.0
    assert dropped.parameters["weights"] == {"quantity": 1.0, "cv": 0.0}
    # Names only use features that were clustered on.
    assert all("stable" not in n and "variable" not in n for n in dropped.auto_names.values())
    heavy_cv = segment(items, weights={"quantity": 0.2, "cv": 5}, **base)
    assert adjusted_rand_score(truth, heavy_cv.assignments["segment"]) < 0.5


def test_reweight_reuses_prepared_features():
    items, truth = planted()
    first = Segmenter(k=4, **SETTINGS).fit(items)
    second = Segmenter(k=4, weights={"cv": 2}, **SETTINGS).fit(items, prepared=first.prepared_)
    assert second.prepared_ is first.prepared_
    assert adjusted_rand_score(truth, second.result_.assignments["segment"]) > 0.95
    other = Segmenter(k=4, features=FEATURES, log="none", scaling="robust", min_share=0.0).fit(items, prepared=first.prepared_)
    assert other.prepared_ is not first.prepared_  # different scaling: prepared again
    assert second.result_.fingerprint == data_fingerprint(items, second.result_.parameters)
    changed = items.assign(revenue=items["revenue"] * 2)  # not a feature, but the data changed
    third = Segmenter(k=4, **SETTINGS).fit(changed, prepared=first.prepared_)
    assert third.prepared_ is not first.prepared_  # other data: prepared again
    assert third.result_.fingerprint != first.result_.fingerprint


def test_boundary_distances_are_consistent():
    items, _ = planted()
    result = segment(items, method="kmeans", k=4, **SETTINGS)
    a = result.assignments
    assert list(a.columns) == ["product_id", "segment", "segment_label", "distance_own", "distance_next", "boundary_margin"]
    assert (a["distance_own"] <= a["distance_next"] + 1e-12).all()
    np.testing.assert_allclose(a["boundary_margin"], a["distance_next"] - a["distance_own"])
    # Own distance matches the distance to the segment mean in the scaled space.
    seg0 = a["segment"] == 0
    assert a.loc[seg0, "distance_own"].min() >= 0


def test_profile_medians_in_original_units():
    items, truth = planted()
    result = segment(items, method="kmeans", k=4, **SETTINGS)
    a = result.assignments
    for _, row in result.profile.iterrows():
        members = items[a["segment"] == row["segment"]]
        assert row["items"] == len(members)
        assert row["median_quantity"] == pytest.approx(members["quantity"].median())
    assert result.profile["measure_share"].sum() == pytest.approx(1.0)


def test_names_readable_unique_and_renamable():
    items, _ = planted()
    result = segment(items, method="kmeans", k=4, **SETTINGS)
    names = list(result.auto_names.values())
    assert len(set(names)) == len(names)
    for name in names:
        assert name[0].isupper() and "_" not in name
    renamed = result.with_labels({0: "Runners"})
    assert renamed.label_of(0) == "Runners"
    assert set(renamed.assignments.loc[renamed.assignments["segment"] == 0, "segment_label"]) == {"Runners"}
    assert renamed.profile.loc[renamed.profile["segment"] == 0, "segment_label"].item() == "Runners"
    assert result.label_of(0) != "Runners"  # the original is unchanged
    with pytest.raises(SegplanError, match="no segment 9"):
        result.with_labels({9: "X"})
    with pytest.raises(SegplanError, match="two segments"):
        result.with_labels({0: "Same", 1: "Same"})


def test_names_describe_the_planted_profile():
    # One group of high-volume, steady items; one of low-volume, erratic ones.
    rng = np.random.default_rng(2)
    n = 200
    items = pd.DataFrame({
        "product_id": [f"P{i}" for i in range(2 * n)],
        "quantity": np.concatenate([rng.normal(1000, 50, n), rng.normal(10, 2, n)]),
        "cv": np.concatenate([rng.normal(0.2, 0.02, n), rng.normal(2.0, 0.2, n)]),
    })
    result = segment(items, k=2, features=["quantity", "cv"], log="none", min_share=0.0, measure=None)
    names = {result.assignments["segment"][0]: None, result.assignments["segment"][n]: None}
    steady = result.label_of(int(result.assignments["segment"][0]))
    erratic = result.label_of(int(result.assignments["segment"][n]))
    assert steady in {"High volume, stable", "Stable, high volume"}
    assert erratic in {"Low volume, variable", "Variable, low volume"}
    assert len(names) == 2


def test_result_record_is_json():
    items, _ = planted()
    result = segment(items, method="kmeans", k="auto", **SETTINGS)
    result.metrics["silhouette"] = float("nan")  # undefined metrics must still save as JSON
    text = json.dumps(result.to_record(), allow_nan=False)
    back = json.loads(text)
    assert back["parameters"]["features"] == FEATURES
    assert back["fingerprint"] == result.fingerprint
    renamed = result.with_labels({1: "Runners"})
    again = SegmentationResult.from_record(json.loads(json.dumps(renamed.to_record())), renamed.assignments,
                                           renamed.profile, renamed.k_scan)
    assert again.label_of(1) == "Runners" and again.auto_names == result.auto_names
    assert again.merges == result.merges and again.k == result.k


def test_imputation_is_reported():
    items, _ = planted()
    items.loc[[0, 5, 9], "cv"] = np.nan
    result = segment(items, k=4, **SETTINGS)
    assert result.imputed["cv"] == 3
    assert result.assignments["segment"].notna().all()


def test_user_errors_name_the_parameter():
    items, _ = planted(n_per_group=10)
    with pytest.raises(SegplanError, match="method"):
        segment(items, method="kmedoids")
    with pytest.raises(SegplanError, match="k: 1 segments"):
        segment(items, k=1, **SETTINGS)
    with pytest.raises(SegplanError, match="min_share"):
        segment(items, k=2, features=FEATURES, min_share=1.5)
    with pytest.raises(SegplanError, match="measure: column 'margin'"):
        segment(items, k=2, features=FEATURES, measure="margin")
    with pytest.raises(SegplanError, match="appears twice"):
        segment(pd.concat([items, items.head(1)]), k=2, **SETTINGS)


def test_large_data_paths_fit_on_a_sample_and_assign_the_rest():
    items, truth = planted(n_per_group=400)
    small = {"hdbscan_sample": 500, "gmm_sample": 300}
    for method, k in [("hdbscan", "auto"), ("gmm", 4)]:
        result = segment(items, method=method, k=k, options=small, cap_percentile=None, **SETTINGS)
        assert adjusted_rand_score(truth, result.assignments["segment"]) > 0.95, method


def test_unclassified_is_exempt_from_minimums():
    items, truth = planted(n_per_group=200)
    rng = np.random.default_rng(3)
    points = rng.uniform(-12, 12, size=(400, len(FEATURES)))
    means = items[FEATURES].groupby(truth).mean().to_numpy()
    far = np.sqrt(((points[:, None, :] - means[None, :, :]) ** 2).sum(axis=2)).min(axis=1) > 9.0
    noise = pd.DataFrame(points[far][:10], columns=FEATURES)
    noise.insert(0, "product_id", [f"N{i}" for i in range(len(noise))])
    noise["revenue"] = 1.0
    data = pd.concat([items, noise], ignore_index=True)
    result = segment(data, method="hdbscan", cap_percentile=None, features=FEATURES, log="none",
                     min_share=0.05, min_items=20)
    prof = result.profile.set_index("segment")
    assert -1 in prof.index and prof.loc[-1, "items"] < 20  # kept, although below the minimums
    assert result.merges == []
    clustered = result.assignments[result.assignments["segment"] >= 0]
    assert (clustered["distance_own"] <= clustered["distance_next"] + 1e-12).all()
    unclassified = result.assignments[result.assignments["segment"] == -1]
    assert unclassified["distance_own"].isna().all() and unclassified["distance_next"].notna().all()


def test_hdbscan_without_any_group_says_so():
    rng = np.random.default_rng(0)
    items = pd.DataFrame({"product_id": [f"P{i}" for i in range(300)], "quantity": rng.uniform(size=300),
                          "cv": rng.uniform(size=300)})
    with pytest.raises(SegplanError, match="HDBSCAN found no group"):
        segment(items, method="hdbscan", log="none", options={"min_cluster_size": 250})


def test_customer_product_level_keeps_both_keys():
    items, truth = planted(n_per_group=100)
    items.insert(0, "customer_id", [f"C{i % 7}" for i in range(len(items))])
    result = segment(items, k=4, **SETTINGS)
    assert list(result.assignments.columns[:3]) == ["customer_id", "product_id", "segment"]
    assert adjusted_rand_score(truth, result.assignments["segment"]) > 0.95
    with pytest.raises(SegplanError, match="appears twice"):
        segment(items.assign(product_id="P1"), k=4, **SETTINGS)


def test_bad_options_name_the_option():
    items, _ = planted(n_per_group=10)
    with pytest.raises(SegplanError, match="options: hierarchical_sample is 0"):
        segment(items, method="hierarchical", k=2, options={"hierarchical_sample": 0}, **SETTINGS)
    with pytest.raises(SegplanError, match="options: .*sample_size"):
        segment(items, k=2, options={"sample_size": 10}, **SETTINGS)
