"""Why is an item in its segment? A surrogate tree model and exact SHAP values.

A gradient-boosted tree model (the *surrogate*, scikit-learn's
``HistGradientBoostingClassifier``) learns the segment assignments from the item features in
their original units; its accuracy on held-out items (*fidelity*) says how far its
explanations can be trusted. TreeExplainer then gives exact, additive SHAP values for it:
for every item and segment, ``base_value + sum(shap values) == model output``.

* **Output space**: the model's raw margin, in log-odds (softmax logits for 3+ segments).
  For 2 segments the model has one output, the log-odds of the second segment; the first
  segment gets its negation, so every segment has its own values and additivity holds for
  each. A positive SHAP value pushes the item towards the segment.
* **Missing values** (NaN; infinities count as missing, as in the engine) are kept: the trees
  learn which side missing values go to and TreeExplainer follows the same path, so no
  imputation is needed and additivity stays exact.
* **One segment**: `fit_surrogate` raises `SegplanError`: with nothing to tell apart there is
  nothing to explain.
* **Large data**: the surrogate trains on at most ``max_train_items`` (stratified, seeded);
  global views (`segment_importance`, `beeswarm_data`) use a seeded stratified sample;
  `explain_items` and `explain_item` are exact for every item asked, in chunks.

shap and scikit-learn are imported inside the functions (shap takes ~1.6 s to import).

References:
    Lundberg, S. M., Lee, S.-I. (2017). A Unified Approach to Interpreting Model
    Predictions. *NeurIPS 30* (SHAP values, additivity).
    Lundberg, S. M. et al. (2020). From local explanations to global understanding with
    explainable AI for trees. *Nature Machine Intelligence* 2, 56-67 (TreeExplainer: exact
    SHAP values for tree ensembles in polynomial time).
    Ke, G. et al. (2017). LightGBM: A Highly Efficient Gradient Boosting Decision Tree.
    *NeurIPS 30* (histogram boosting, the algorithm of HistGradientBoostingClassifier).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from core.errors import SegplanError
from core.explain_words import sentence
from core.segment_prep import key_columns_of, numeric_feature_columns

__all__ = [
    "OUTPUT_SPACE", "Surrogate", "ItemExplanation", "fit_surrogate", "explain_items", "explain_item",
    "segment_importance", "beeswarm_data", "sentence", "model_output", "fidelity_by_segment",
]

OUTPUT_SPACE = "log-odds"
#: Items per SHAP call in `explain_items`: bounds memory at ~items x features x 8 bytes.
CHUNK_ITEMS = 10_000
# Surrogate settings: 50 rounds of 15-leaf trees per segment keep exact TreeSHAP fast (its cost
# grows with leaves x depth^2 per tree); l2 regularisation bounds the leaf values of small
# segments, whose raw margins otherwise run to thousands of log-odds.
_BOOSTING = {"max_iter": 50, "learning_rate": 0.2, "max_leaf_nodes": 15, "l2_regularization": 1.0,
             "early_stopping": False}


@dataclass
class Surrogate:
    """A tree model that mimics one segmentation, with its fidelity.

    ``classes`` lists the segment ids in model order (output ``i`` is ``classes[i]``);
    ``fidelity`` is the accuracy on held-out items and ``recall_by_segment`` the share of each
    segment's held-out items it puts back in that segment (NaN when a segment had none held
    out; ``held_out_by_segment`` counts them). ``medians`` are the feature medians over all
    assigned items, for sentences.
    ``assignments`` (keys, ``segment``) gives each known item its own segment.
    """

    model: Any
    features: list[str]
    classes: list[object]
    labels: dict[object, str]
    key_columns: list[str]
    assignments: pd.DataFrame
    fidelity: float
    recall_by_segment: dict[object, float]
    train_items: int
    test_items: int
    medians: dict[str, float]
    seed: int
    held_out_by_segment: dict[object, int] = field(default_factory=dict)
    output_space: str = OUTPUT_SPACE
    _explainers: list[tuple[Any, float]] | None = field(default=None, repr=False, compare=False)

    def label_of(self, segment: object) -> str:
        return self.labels.get(segment, str(segment))


@dataclass
class ItemExplanation:
    """Exact explanation of one item for its own segment.

    ``contributions``: one row per feature, sorted by falling ``|shap_value|``, with
    ``feature_value`` (original units) and the waterfall steps ``start`` -> ``end`` that run from
    ``base_value`` to ``model_output``. ``probabilities``: the surrogate's per-segment
    probabilities; ``predicted_segment`` its most likely segment.
    """

    key: dict[str, object]
    segment: object
    segment_label: str
    base_value: float
    model_output: float
    contributions: pd.DataFrame
    predicted_segment: object
    predicted_label: str
    probabilities: dict[object, float]
    output_space: str = OUTPUT_SPACE

    @property
    def waterfall(self) -> pd.DataFrame:
        """The rows of a waterfall chart: feature, feature_value, shap_value, start, end."""
        return self.contributions


# -- fitting ---------------------------------------------------------------------------------
def _feature_matrix(items: pd.DataFrame, features: Sequence[str]) -> np.ndarray:
    """Features as float64 with infinities as NaN (the engine treats them as missing)."""
    missing = [f for f in features if f not in items.columns]
    if missing:
        raise SegplanError(f"explain: feature column(s) {', '.join(missing)} not in the items",
                           "pass the item frame the segmentation was made from")
    for name in features:
        column = items[name]
        if not pd.api.types.is_numeric_dtype(column) or pd.api.types.is_bool_dtype(column):
            raise SegplanError(f"explain: feature {name!r} is not numeric ({column.dtype})",
                               "explain with numeric features only, e.g. the clustering features")
    matrix = items[list(features)].to_numpy(dtype=np.float64, na_value=np.nan, copy=True)
    matrix[~np.isfinite(matrix)] = np.nan
    return matrix


def _stratified_split(codes: np.ndarray, n_classes: int, test_share: float, max_train: int, max_test: int,
                      rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Train and test row indices: per segment, ``test_share`` held out (every segment keeps at
    least one training item), then each side thinned proportionally to its cap."""
    train_parts, test_parts = [], []
    for c in range(n_classes):
        members = rng.permutation(np.flatnonzero(codes == c))
        n_test = min(int(round(test_share * len(members))), len(members) - 1)
        test_parts.append(members[:n_test])
        train_parts.append(members[n_test:])

    def thin(parts: list[np.ndarray], cap: int, keep_one: bool) -> np.ndarray:
        total = sum(len(p) for p in parts)
        if total > cap:
            share = cap / total
            parts = [p[: max(int(keep_one and len(p) > 0), int(len(p) * share))] for p in parts]
        return np.sort(np.concatenate(parts)).astype(np.int64)

    return thin(train_parts, max_train, True), thin(test_parts, max_test, False)


def fit_surrogate(items: pd.DataFrame, assignments: pd.DataFrame, features: Sequence[str] | None = None, *,
                  seed: int = 0, test_share: float = 0.25, max_train_items: int = 50_000,
                  max_test_items: int = 50_000) -> Surrogate:
    """Train the surrogate on ``items`` (keys + features) joined to ``assignments`` (keys,
    ``segment``, optional ``segment_label``) and measure its fidelity on held-out items.

    ``features``: default all numeric non-key columns. The split, the training sample and the
    model take ``seed``; the same inputs give the same surrogate.
    """
    from sklearn.ensemble import HistGradientBoostingClassifier

    if not 0.0 < test_share < 1.0:
        raise SegplanError(f"explain: test_share {test_share} is not between 0 and 1",
                           "hold out a share such as 0.25 of the items")
    if max_train_items < 2:
        raise SegplanError(f"explain: max_train_items {max_train_items} is too small", "use e.g. 50000")
    keys = key_columns_of(assignments)
    if not keys or "segment" not in assignments.columns:
        raise SegplanError("explain: the assignments need key columns and a segment column",
                           "pass SegmentationResult.assignments")
    missing_keys = [k for k in keys if k not in items.columns]
    if missing_keys:
        raise SegplanError(f"explain: the items lack key column(s) {', '.join(missing_keys)}",
                           "pass the item frame the segmentation was made from")
    features = list(features) if features is not None else numeric_feature_columns(items)
    if not features:
        raise SegplanError("explain: no numeric features to explain with", "pass the features the segments used")
    _feature_matrix(items.head(0), features)  # names and types, before the join
    assigned = assignments[keys + ["segment"] + (["segment_label"] if "segment_label" in assignments else [])]
    if assigned.duplicated(keys).any():
        raise SegplanError("explain: an item appears twice in the assignments", "pass one row per item")
    joined = items[keys + features].merge(assigned, on=keys, how="inner", validate="one_to_one")
    if joined.empty:
        raise SegplanError("explain: no item of the assignments is in the items",
                           "pass the items and the assignments of the same segmentation")
    classes = sorted(pd.unique(joined["segment"]).tolist())
    if len(classes) < 2:
        raise SegplanError(f"explain: all items are in one segment ({classes[0]!r}): nothing sets it apart",
                           "explain a segmentation with 2 or more segments")
    labels = ({s: str(lbl) for s, lbl in zip(joined["segment"], joined["segment_label"], strict=True)}
              if "segment_label" in joined else {})
    labels = {s: labels.get(s, str(s)) for s in classes}
    codes = joined["segment"].map({s: i for i, s in enumerate(classes)}).to_numpy(dtype=np.int64)
    matrix = _feature_matrix(joined, features)

    rng = np.random.default_rng(seed)
    train, test = _stratified_split(codes, len(classes), test_share, max_train_items, max_test_items, rng)
    model = HistGradientBoostingClassifier(**_BOOSTING, random_state=seed)
    model.fit(matrix[train], codes[train])
    recall: dict[object, float] = {}
    fidelity = float("nan")
    if len(test):
        predicted = model.predict(matrix[test])
        fidelity = float(np.mean(predicted == codes[test]))
        for i, s in enumerate(classes):
            held = codes[test] == i
            recall[s] = float(np.mean(predicted[held] == i)) if held.any() else float("nan")
    else:
        recall = {s: float("nan") for s in classes}
    medians = {f: float(np.nanmedian(matrix[:, j])) if np.isfinite(matrix[:, j]).any() else float("nan")
               for j, f in enumerate(features)}
    return Surrogate(
        model=model, features=features, classes=classes, labels=labels, key_columns=keys,
        assignments=joined[keys + ["segment"]].reset_index(drop=True), fidelity=fidelity,
        recall_by_segment=recall, train_items=len(train), test_items=len(test), medians=medians, seed=seed,
        held_out_by_segment={s: int(np.sum(codes[test] == i)) for i, s in enumerate(classes)},
    )


def fidelity_by_segment(surrogate: Surrogate) -> pd.DataFrame:
    """Per segment: ``held_out_items`` and ``recall`` (share the surrogate puts back), for the
    fidelity shown next to the explanations (overall accuracy: ``Surrogate.fidelity``)."""
    return pd.DataFrame({
        "segment": surrogate.classes,
        "segment_label": [surrogate.label_of(s) for s in surrogate.classes],
        "held_out_items": [surrogate.held_out_by_segment.get(s, 0) for s in surrogate.classes],
        "recall": [surrogate.recall_by_segment[s] for s in surrogate.classes],
    })


# -- SHAP ------------------------------------------------------------------------------------
def _tree_dict(tree: Any) -> dict[str, np.ndarray]:
    return {name: getattr(tree, name) for name in (
        "children_left", "children_right", "children_default", "features", "thresholds", "values",
        "node_sample_weight")}


def _explainers(surrogate: Surrogate) -> list[tuple[Any, float]]:
    """One (TreeExplainer, sign) per segment, built once per surrogate.

    For 3+ segments the boosted model holds one tree per segment and round; an explainer over
    only that segment's trees computes its SHAP values alone, which is what explaining each item
    for its own segment needs (K times less work than all segments). The trees are the ones
    shap itself converted from the model, so thresholds and missing-value paths are shap's.
    """
    if surrogate._explainers is not None:
        return surrogate._explainers
    import shap

    full = shap.TreeExplainer(surrogate.model, model_output="raw")
    if len(surrogate.classes) == 2:
        # One output, the log-odds of classes[1]; classes[0] gets its negation.
        explainers = [(full, -1.0), (full, 1.0)]
    else:
        n_classes = len(surrogate.classes)
        base = np.ravel(full.model.base_offset)
        trees = full.model.trees
        explainers = []
        for c in range(n_classes):
            own = {"trees": [_tree_dict(t) for t in trees[c::n_classes]], "base_offset": float(base[c]),
                   "tree_output": "log_odds", "input_dtype": np.float64}
            explainers.append((shap.TreeExplainer(own, model_output="raw"), 1.0))
    surrogate._explainers = explainers
    return explainers


def _shap_for_segment(surrogate: Surrogate, matrix: np.ndarray, code: int) -> tuple[np.ndarray, float]:
    """Exact SHAP values (items x features) and base value of segment ``classes[code]``."""
    explainer, sign = _explainers(surrogate)[code]
    values = np.asarray(explainer.shap_values(matrix, check_additivity=False), dtype=np.float64)
    base = float(np.ravel(explainer.expected_value)[0])
    return sign * values.reshape(len(matrix), len(surrogate.features)), sign * base


def _shap_all(surrogate: Surrogate, matrix: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """SHAP values (items x features x segments) and base values (segments)."""
    parts = [_shap_for_segment(surrogate, matrix, c) for c in range(len(surrogate.classes))]
    return np.stack([p[0] for p in parts], axis=2), np.array([p[1] for p in parts])


def model_output(surrogate: Surrogate, matrix: np.ndarray) -> np.ndarray:
    """The surrogate's raw output per item and segment (items x segments), in log-odds: what
    base value + SHAP values add up to."""
    raw = surrogate.model.decision_function(matrix)
    if raw.ndim == 1:
        return np.column_stack([-raw, raw])
    return raw


def _own_codes(surrogate: Surrogate, items: pd.DataFrame, matrix: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each item's own segment (its assignment; the surrogate's prediction when unassigned) and
    the surrogate's prediction, as model codes."""
    keys = surrogate.key_columns
    missing = [k for k in keys if k not in items.columns]
    if missing:
        raise SegplanError(f"explain: the items lack key column(s) {', '.join(missing)}",
                           "pass the item frame the segmentation was made from")
    predicted = np.asarray(surrogate.model.predict(matrix), dtype=np.int64) if len(matrix) else np.zeros(0, np.int64)
    code_of = {s: i for i, s in enumerate(surrogate.classes)}
    own = items[keys].merge(surrogate.assignments, on=keys, how="left", validate="many_to_one")["segment"]
    own_codes = own.map(code_of).to_numpy(dtype=np.float64, na_value=np.nan)
    return np.where(np.isnan(own_codes), predicted, own_codes).astype(np.int64), predicted


def explain_items(surrogate: Surrogate, items: pd.DataFrame, *, own_segment_only: bool = True,
                  chunk_items: int = CHUNK_ITEMS) -> pd.DataFrame:
    """Exact SHAP values per item, in chunks of ``chunk_items`` (the CLI's export).

    One row per item, in the order of ``items``: key columns, ``segment`` (its own),
    ``segment_label``, ``surrogate_segment`` (the model's pick), ``base_value``, one
    ``shap_<feature>`` per feature and ``model_output`` (= base_value + the shap columns, in
    log-odds). ``own_segment_only=False``: one row per item and segment, with
    ``explained_segment`` naming the segment the values are for.
    """
    matrix = _feature_matrix(items, surrogate.features)
    own, predicted = _own_codes(surrogate, items, matrix)
    n_items, n_features = matrix.shape
    targets = [None] if own_segment_only else list(range(len(surrogate.classes)))
    frames = []
    for target in targets:
        values = np.empty((n_items, n_features))
        base = np.empty(n_items)
        output = np.empty(n_items)
        explained = own if target is None else np.full(n_items, target)
        for start in range(0, n_items, max(1, chunk_items)):
            rows = slice(start, min(start + chunk_items, n_items))
            chunk, codes = matrix[rows], explained[rows]
            output[rows] = model_output(surrogate, chunk)[np.arange(len(chunk)), codes]
            for code in np.unique(codes):
                pick = np.flatnonzero(codes == code)
                part, part_base = _shap_for_segment(surrogate, chunk[pick], int(code))
                values[start + pick] = part
                base[start + pick] = part_base
        frame = items[surrogate.key_columns].reset_index(drop=True).copy()
        frame["segment"] = [surrogate.classes[c] for c in own]
        frame["segment_label"] = [surrogate.label_of(surrogate.classes[c]) for c in own]
        frame["surrogate_segment"] = [surrogate.classes[c] for c in predicted]
        if target is not None:
            frame["explained_segment"] = surrogate.classes[target]
        frame["base_value"] = base
        for j, name in enumerate(surrogate.features):
            frame[f"shap_{name}"] = values[:, j]
        frame["model_output"] = output
        frames.append(frame)
    if len(frames) == 1:
        return frames[0]
    order = np.argsort(np.tile(np.arange(n_items), len(frames)), kind="stable")
    return pd.concat(frames, ignore_index=True).iloc[order].reset_index(drop=True)


def _find_item(surrogate: Surrogate, items: pd.DataFrame, key: object) -> pd.DataFrame:
    keys = surrogate.key_columns
    if not isinstance(key, Mapping):
        if len(keys) != 1:
            raise SegplanError(f"explain: item {key!r} needs a value for each of {', '.join(keys)}",
                               "pass a dict such as {'customer_id': ..., 'product_id': ...}")
        key = {keys[0]: key}
    absent = [k for k in keys if k not in key]
    if absent:
        raise SegplanError(f"explain: the item key lacks {', '.join(absent)}", f"give {', '.join(keys)}")
    mask = np.ones(len(items), dtype=bool)
    for k in keys:
        mask &= (items[k] == key[k]).to_numpy(dtype=bool, na_value=False)
    if not mask.any():
        shown = ", ".join(f"{k}={key[k]!r}" for k in keys)
        raise SegplanError(f"explain: no item with {shown}", "check the key; items are matched exactly")
    return items.loc[mask].head(1)


def explain_item(surrogate: Surrogate, items: pd.DataFrame, key: object) -> ItemExplanation:
    """Exact explanation of one item (``key``: a dict of key columns, or the value of the
    only key column) for its own segment."""
    row = _find_item(surrogate, items, key)
    matrix = _feature_matrix(row, surrogate.features)
    own, predicted = _own_codes(surrogate, row, matrix)
    code = int(own[0])
    values, base = _shap_for_segment(surrogate, matrix, code)
    output = float(model_output(surrogate, matrix)[0, code])
    contributions = pd.DataFrame({"feature": surrogate.features, "feature_value": matrix[0],
                                  "shap_value": values[0]})
    contributions = contributions.iloc[np.argsort(-np.abs(values[0]), kind="stable")].reset_index(drop=True)
    contributions["end"] = base + contributions["shap_value"].cumsum()
    contributions["start"] = contributions["end"] - contributions["shap_value"]
    probabilities = surrogate.model.predict_proba(matrix)[0]
    segment, predicted_segment = surrogate.classes[code], surrogate.classes[int(predicted[0])]
    return ItemExplanation(
        key={k: row[k].iloc[0] for k in surrogate.key_columns}, segment=segment,
        segment_label=surrogate.label_of(segment), base_value=base, model_output=output,
        contributions=contributions, predicted_segment=predicted_segment,
        predicted_label=surrogate.label_of(predicted_segment),
        probabilities={s: float(p) for s, p in zip(surrogate.classes, probabilities, strict=True)},
    )


# -- global views ----------------------------------------------------------------------------
def _global_sample(surrogate: Surrogate, items: pd.DataFrame, sample: int, seed: int
                   ) -> tuple[pd.DataFrame, np.ndarray, np.ndarray, np.ndarray]:
    """A seeded sample stratified by own segment (each segment gets up to an equal share, so
    small segments are seen), its features, own codes and all-segment SHAP values."""
    if sample < 1:
        raise SegplanError(f"explain: sample {sample} is too small", "sample e.g. 2000 items")
    matrix = _feature_matrix(items, surrogate.features)
    own, _ = _own_codes(surrogate, items, matrix)
    rng = np.random.default_rng(seed)
    quota = math.ceil(sample / len(surrogate.classes))
    picked = [rng.permutation(np.flatnonzero(own == c))[:quota] for c in range(len(surrogate.classes))]
    rows = np.sort(np.concatenate(picked)).astype(np.int64)
    values, _ = _shap_all(surrogate, matrix[rows])
    return items.iloc[rows].reset_index(drop=True), matrix[rows], own[rows], values


def segment_importance(surrogate: Surrogate, items: pd.DataFrame, *, sample: int = 2_000, seed: int = 0) -> pd.DataFrame:
    """Which features drive membership of each segment, for a bar chart.

    Per segment and feature: ``mean_abs_shap`` over the sampled items (all segments'
    items: what sets the segment apart from the rest), ``mean_shap_members`` (signed mean over
    its own sampled items; > 0 pulls them in), ``rank`` (1 = strongest) and ``items_sampled``.
    """
    _, _, own, values = _global_sample(surrogate, items, sample, seed)
    rows = []
    for c, segment in enumerate(surrogate.classes):
        members = own == c
        for j, name in enumerate(surrogate.features):
            rows.append({
                "segment": segment, "segment_label": surrogate.label_of(segment), "feature": name,
                "mean_abs_shap": float(np.mean(np.abs(values[:, j, c]))),
                "mean_shap_members": float(np.mean(values[members, j, c])) if members.any() else float("nan"),
                "items_sampled": int(len(own)),
            })
    frame = pd.DataFrame(rows)
    frame["order"] = frame["segment"].map({s: i for i, s in enumerate(surrogate.classes)})
    frame = frame.sort_values(["order", "mean_abs_shap"], ascending=[True, False], kind="stable")
    frame["rank"] = frame.groupby("order").cumcount() + 1
    return frame.drop(columns="order").reset_index(drop=True)


def _scale_0_1(values: np.ndarray) -> np.ndarray:
    """Min-max between the 5th and 95th percentiles, clipped (as shap's beeswarm colours, so
    one outlier does not wash out the rest); NaN stays NaN; a constant feature is 0.5."""
    finite = values[np.isfinite(values)]
    if not len(finite):
        return np.full(len(values), np.nan)
    low, high = np.percentile(finite, [5, 95])
    if high <= low:
        low, high = finite.min(), finite.max()
    if high <= low:
        return np.where(np.isfinite(values), 0.5, np.nan)
    return np.clip((values - low) / (high - low), 0.0, 1.0)


def beeswarm_data(surrogate: Surrogate, items: pd.DataFrame, *, sample: int = 2_000, seed: int = 0) -> pd.DataFrame:
    """Long frame for a beeswarm per segment: every sampled item x feature x segment.

    Columns: key columns, ``segment`` (the segment explained), ``segment_label``, ``member``
    (the item is in that segment), ``feature``, ``shap_value``, ``feature_value`` (original
    units) and ``feature_value_scaled`` (0-1 per feature over the sample, for colour).
    """
    sampled, matrix, own, values = _global_sample(surrogate, items, sample, seed)
    n_items, n_features, n_classes = values.shape
    scaled = np.column_stack([_scale_0_1(matrix[:, j]) for j in range(n_features)]) if n_items else matrix
    frames = []
    keys = sampled[surrogate.key_columns]
    for c, segment in enumerate(surrogate.classes):
        for j, name in enumerate(surrogate.features):
            part = keys.copy()
            part["segment"] = segment
            part["segment_label"] = surrogate.label_of(segment)
            part["member"] = own == c
            part["feature"] = name
            part["shap_value"] = values[:, j, c]
            part["feature_value"] = matrix[:, j]
            part["feature_value_scaled"] = scaled[:, j]
            frames.append(part)
    return pd.concat(frames, ignore_index=True)
