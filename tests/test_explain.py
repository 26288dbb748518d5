"""Explanations: surrogate fidelity, exact SHAP additivity, own-segment export, global views,
one item's waterfall and sentence, edge cases and lazy imports.

Planted data: the segment is decided by ``demand_mean`` alone (thresholds on it); ``cv`` and
``adi`` are noise, and ``cv`` has missing values.
"""

from __future__ import annotations

import subprocess
import sys
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from core.errors import SegplanError
from core.explain import (
    beeswarm_data,
    explain_item,
    explain_items,
    fidelity_by_segment,
    fit_surrogate,
    model_output,
    segment_importance,
    sentence,
)
from core.explain_words import compare_to_median

FEATURES = ["demand_mean", "cv", "adi"]
LABELS = {0: "Fast movers", 1: "Steady", 2: "Slow movers"}


def planted(n: int = 1_500, segments: int = 3, seed: int = 1) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Items whose segment is set by demand_mean thresholds only (0 = highest demand)."""
    rng = np.random.default_rng(seed)
    items = pd.DataFrame({
        "product_id": [f"P{i:05d}" for i in range(n)],
        "demand_mean": rng.lognormal(3.0, 1.0, n),
        "cv": rng.uniform(0.1, 2.0, n),
        "adi": rng.uniform(1.0, 5.0, n),
    })
    items.loc[rng.choice(n, n // 20, replace=False), "cv"] = np.nan
    cuts = np.quantile(items["demand_mean"], np.linspace(0, 1, segments + 1)[1:-1])
    segment = segments - 1 - np.searchsorted(cuts, items["demand_mean"].to_numpy())
    assignments = pd.DataFrame({"product_id": items["product_id"], "segment": segment})
    assignments["segment_label"] = assignments["segment"].map(LABELS).fillna("Other")
    return items, assignments


@pytest.fixture(scope="module")
def fitted():
    items, assignments = planted()
    return items, assignments, fit_surrogate(items, assignments, FEATURES, seed=0)


def test_surrogate_is_faithful_on_held_out_items(fitted):
    items, _, surrogate = fitted
    assert surrogate.classes == [0, 1, 2]
    assert surrogate.labels == LABELS
    assert surrogate.fidelity > 0.9
    assert min(surrogate.recall_by_segment.values()) > 0.85
    assert surrogate.test_items == pytest.approx(0.25 * len(items), abs=3)
    assert surrogate.train_items + surrogate.test_items == len(items)
    assert surrogate.medians["demand_mean"] == pytest.approx(items["demand_mean"].median())
    assert surrogate.medians["cv"] == pytest.approx(items["cv"].median())  # NaN skipped
    table = fidelity_by_segment(surrogate)
    assert table["held_out_items"].sum() == surrogate.test_items
    assert table["segment_label"].tolist() == ["Fast movers", "Steady", "Slow movers"]
    weighted = (table["recall"] * table["held_out_items"]).sum() / surrogate.test_items
    assert weighted == pytest.approx(surrogate.fidelity)


def test_top_feature_of_every_segment_is_the_planted_one(fitted):
    items, _, surrogate = fitted
    importance = segment_importance(surrogate, items, sample=600, seed=0)
    assert list(importance.columns) == ["segment", "segment_label", "feature", "mean_abs_shap",
                                        "mean_shap_members", "items_sampled", "rank"]
    top = importance[importance["rank"] == 1].set_index("segment")["feature"]
    assert top.to_dict() == {0: "demand_mean", 1: "demand_mean", 2: "demand_mean"}
    for segment, group in importance.groupby("segment"):
        demand = group.set_index("feature")["mean_abs_shap"]
        assert demand["demand_mean"] > 5 * max(demand["cv"], demand["adi"]), segment
    # Fast movers' own items are pulled in by their demand.
    fast = importance[(importance["segment"] == 0) & (importance["feature"] == "demand_mean")]
    assert fast["mean_shap_members"].iloc[0] > 0


def test_shap_values_add_up_to_the_model_output_for_every_item_and_segment(fitted):
    items, _, surrogate = fitted
    raw = surrogate.model.decision_function(items[FEATURES].to_numpy())  # softmax margins
    every = explain_items(surrogate, items, own_segment_only=False, chunk_items=400)
    assert len(every) == 3 * len(items)
    shap_cols = [f"shap_{f}" for f in FEATURES]
    total = every["base_value"] + every[shap_cols].sum(axis=1)
    column = every["explained_segment"].map({s: i for i, s in enumerate(surrogate.classes)}).to_numpy()
    row = np.repeat(np.arange(len(items)), 3)
    np.testing.assert_allclose(total, raw[row, column], rtol=0, atol=1e-6)
    np.testing.assert_allclose(every["model_output"], raw[row, column], rtol=0, atol=1e-9)
    # Missing cv values were explained too, and exactly.
    assert items["cv"].isna().sum() > 0 and np.isfinite(every[shap_cols].to_numpy()).all()
    # Base values are the same for every item of a segment.
    assert (every.groupby("explained_segment")["base_value"].nunique() == 1).all()


def test_explain_items_gives_each_item_its_own_segment(fitted):
    items, assignments, fitted_surrogate = fitted
    # Put the clearest fast mover in "Slow movers" after fitting (a refit could memorise it):
    # the export must follow the assignment, not the model.
    moved = assignments.copy()
    fastest = items["demand_mean"].idxmax()
    moved.loc[fastest, "segment"] = 2
    surrogate = replace(fitted_surrogate, assignments=moved[["product_id", "segment"]])
    own = explain_items(surrogate, items)
    assert list(own.columns) == ["product_id", "segment", "segment_label", "surrogate_segment", "base_value",
                                 "shap_demand_mean", "shap_cv", "shap_adi", "model_output"]
    assert own["product_id"].tolist() == items["product_id"].tolist()
    assert own["segment"].tolist() == moved["segment"].tolist()
    assert own.loc[fastest, "segment"] == 2 and own.loc[fastest, "surrogate_segment"] == 0
    # Its demand pushes it away from Slow movers.
    assert own.loc[fastest, "shap_demand_mean"] < 0
    every = explain_items(surrogate, items, own_segment_only=False)
    mine = every[every["explained_segment"] == every["segment"]].reset_index(drop=True)
    pd.testing.assert_frame_equal(mine.drop(columns="explained_segment"), own)
    # Chunking does not change values; an unassigned item gets the surrogate's segment.
    pd.testing.assert_frame_equal(explain_items(surrogate, items, chunk_items=7), own)
    extra = items.head(3).assign(product_id=["X1", "X2", "X3"])
    unassigned = explain_items(surrogate, extra)
    assert (unassigned["segment"] == unassigned["surrogate_segment"]).all()


def test_same_seed_same_explanations(fitted):
    items, assignments, surrogate = fitted
    again = fit_surrogate(items, assignments, FEATURES, seed=0)
    assert again.fidelity == surrogate.fidelity
    pd.testing.assert_frame_equal(explain_items(again, items), explain_items(surrogate, items))
    pd.testing.assert_frame_equal(segment_importance(again, items, sample=300, seed=4),
                                  segment_importance(surrogate, items, sample=300, seed=4))
    first = beeswarm_data(surrogate, items, sample=300, seed=4)
    pd.testing.assert_frame_equal(beeswarm_data(again, items, sample=300, seed=4), first)
    other = beeswarm_data(surrogate, items, sample=300, seed=5)
    assert set(other["product_id"]) != set(first["product_id"])


def test_beeswarm_data_is_a_stratified_sample_scaled_for_colour(fitted):
    items, _, surrogate = fitted
    swarm = beeswarm_data(surrogate, items, sample=300, seed=0)
    assert list(swarm.columns) == ["product_id", "segment", "segment_label", "member", "feature", "shap_value",
                                   "feature_value", "feature_value_scaled"]
    assert len(swarm) == 300 * 3 * 3  # items x features x segments
    members = swarm[swarm["member"]].drop_duplicates("product_id").groupby("segment").size()
    assert members.to_dict() == {0: 100, 1: 100, 2: 100}
    scaled = swarm["feature_value_scaled"].dropna()
    assert scaled.between(0, 1).all() and scaled.min() == 0 and scaled.max() == 1
    assert swarm.loc[swarm["feature_value"].isna(), "feature_value_scaled"].isna().all()
    # High demand pushes towards Fast movers: SHAP rises with the scaled demand.
    fast = swarm[(swarm["segment"] == 0) & (swarm["feature"] == "demand_mean")]
    assert np.corrcoef(fast["feature_value_scaled"], fast["shap_value"])[0, 1] > 0.5


def test_one_item_waterfall_and_sentence(fitted):
    items, _, surrogate = fitted
    fastest = items.loc[items["demand_mean"].idxmax()]
    explanation = explain_item(surrogate, items, fastest["product_id"])
    assert explanation.segment == 0 and explanation.segment_label == "Fast movers"
    assert explanation.predicted_segment == 0
    assert sum(explanation.probabilities.values()) == pytest.approx(1.0)
    steps = explanation.waterfall
    assert steps["feature"].iloc[0] == "demand_mean"
    assert list(steps["shap_value"].abs()) == sorted(steps["shap_value"].abs(), reverse=True)
    assert steps["start"].iloc[0] == pytest.approx(explanation.base_value)
    assert steps["end"].iloc[-1] == pytest.approx(explanation.model_output, abs=1e-6)
    raw = model_output(surrogate, fastest[FEATURES].to_numpy(dtype=float)[None, :])
    assert explanation.model_output == pytest.approx(raw[0, 0])
    ratio = fastest["demand_mean"] / surrogate.medians["demand_mean"]
    text = sentence(explanation, surrogate.medians, "Fast movers")
    assert text.startswith("In «Fast movers» mainly because weekly volume (demand_mean ")
    assert f"units/week) is {ratio:.1f}x the median" in text
    assert text.endswith(".") and text.count(".") <= 3
    assert "monthly volume" in sentence(explanation, surrogate.medians, bucket="month")
    # A feature whose words are its name is not named twice.
    explanation.contributions = explanation.contributions.assign(feature="revenue")
    assert "revenue (revenue" not in sentence(explanation, {"revenue": 1.0})


def test_sentence_comparisons_and_fallbacks(fitted):
    items, _, surrogate = fitted
    assert compare_to_median(120.0, 20.0) == "is 6.0x the median"
    assert compare_to_median(3.0, 0.0) == "is above the median (0)"
    assert compare_to_median(-5.0, 2.0) == "is below the median (2)"
    explanation = explain_item(surrogate, items, {"product_id": "P00000"})
    nothing = explanation.contributions.assign(shap_value=-explanation.contributions["shap_value"].abs())
    explanation.contributions = nothing
    assert sentence(explanation, surrogate.medians).endswith("though no feature clearly pushes it there.")


def test_two_segments_give_values_for_both(fitted):
    items, _, _ = fitted
    _, assignments = planted(segments=2)
    surrogate = fit_surrogate(items, assignments, FEATURES, seed=0)
    assert surrogate.classes == [0, 1] and surrogate.fidelity > 0.9
    every = explain_items(surrogate, items, own_segment_only=False)
    first = every[every["explained_segment"] == 0].reset_index(drop=True)
    second = every[every["explained_segment"] == 1].reset_index(drop=True)
    shap_cols = ["base_value"] + [f"shap_{f}" for f in FEATURES]
    np.testing.assert_allclose(first[shap_cols], -second[shap_cols], atol=1e-12)
    log_odds = surrogate.model.decision_function(items[FEATURES].to_numpy())  # of segment 1
    np.testing.assert_allclose(second[shap_cols].sum(axis=1), log_odds, atol=1e-6)
    importance = segment_importance(surrogate, items, sample=400)
    assert (importance.loc[importance["rank"] == 1, "feature"] == "demand_mean").all()
    assert explain_item(surrogate, items, "P00001").segment == assignments.loc[1, "segment"]


def test_text_segments_two_keys_and_a_one_item_segment(fitted):
    items, assignments, _ = fitted
    pairs = items.assign(customer_id=[f"C{i % 7}" for i in range(len(items))])
    text = assignments.assign(customer_id=pairs["customer_id"],
                              segment=assignments["segment"].map({0: "A", 1: "B", 2: "C"}))
    text.loc[5, "segment"] = "D"  # a segment of one item: trained on, never held out
    surrogate = fit_surrogate(pairs, text, FEATURES, seed=0)
    assert surrogate.classes == ["A", "B", "C", "D"] and surrogate.key_columns == ["customer_id", "product_id"]
    assert np.isnan(surrogate.recall_by_segment["D"]) and surrogate.recall_by_segment["A"] > 0.85
    own = explain_items(surrogate, pairs)
    assert list(own.columns[:2]) == ["customer_id", "product_id"]
    assert own.loc[5, "segment"] == "D"
    key = {"customer_id": pairs.loc[5, "customer_id"], "product_id": pairs.loc[5, "product_id"]}
    assert explain_item(surrogate, pairs, key).segment == "D"
    with pytest.raises(SegplanError, match="needs a value for each"):
        explain_item(surrogate, pairs, "P00005")


def test_one_segment_is_a_clear_error(fitted):
    items, assignments, _ = fitted
    with pytest.raises(SegplanError, match="one segment"):
        fit_surrogate(items, assignments.assign(segment=0), FEATURES)


def test_user_errors(fitted):
    items, assignments, surrogate = fitted
    with pytest.raises(SegplanError, match="not in the items"):
        fit_surrogate(items, assignments, ["demand_mean", "nope"])
    with pytest.raises(SegplanError, match="not numeric"):
        fit_surrogate(items.assign(cv="x"), assignments, FEATURES)
    with pytest.raises(SegplanError, match="no item with product_id='Z'"):
        explain_item(surrogate, items, "Z")
    with pytest.raises(SegplanError, match="test_share"):
        fit_surrogate(items, assignments, FEATURES, test_share=1.0)
    with pytest.raises(SegplanError, match="no item of the assignments"):
        fit_surrogate(items, assignments.assign(product_id="X" + assignments["product_id"]), FEATURES)


def test_training_sample_is_capped_and_stratified(fitted):
    items, assignments, _ = fitted
    small = fit_surrogate(items, assignments, FEATURES, max_train_items=300, max_test_items=150)
    assert small.train_items <= 300 and small.test_items <= 150
    assert small.fidelity > 0.85


def test_explains_an_engine_segmentation():
    from core.segment import segment
    from tests.test_segment import planted as blobs

    items, _ = blobs(n_per_group=150)
    result = segment(items, method="kmeans", k=4, features=["quantity", "cv", "adi", "margin_pct", "orders"],
                     log="none", min_share=0.0)
    surrogate = fit_surrogate(items, result.assignments, result.parameters["features"], seed=0)
    assert surrogate.fidelity > 0.9
    assert set(surrogate.labels.values()) == set(result.assignments["segment_label"])
    text = sentence(explain_item(surrogate, items, "P00003"), surrogate.medians)
    assert text.startswith(f"In «{result.assignments.loc[3, 'segment_label']}»")


def test_import_loads_neither_shap_nor_sklearn():
    code = ("import sys, core.explain; "
            "print(sorted(m for m in ('shap', 'sklearn') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
