"""Explanations of a saved segmentation version: rebuild its items, fit the surrogate, explain.

The items are rebuilt from the database as the version built them (level, bucket, ABC measure
in ``parameters["items"]``); when the data has changed since the version was saved, the
explanation is of the current items against the saved assignments, and `VersionExplanation`
says so (``data_is_current``).

The surrogate is fitted on the model's own assignments (`core.versions.load_version`), not the
effective ones with the planner's overrides (`core.overrides.effective_assignments`): it
explains why the model put each item where it did, and an override is a planner's decision
with its own written reason, not something the features can explain.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from core.errors import SegplanError
from core.store import Store

if TYPE_CHECKING:
    import pandas as pd

    from core.explain import Surrogate
    from core.versions import SavedVersion


@dataclass
class VersionExplanation:
    """The surrogate of one saved version and the items it was fitted on."""

    version: SavedVersion
    items: pd.DataFrame
    features: list[str]
    surrogate: Surrogate
    data_is_current: bool


def explanation_features(version: SavedVersion, items: pd.DataFrame) -> list[str]:
    """The features a version's segments are explained by: those it clustered on, else (rule
    methods, which segment on classes) every numeric feature of its level."""
    from core.features import feature_catalog

    used = version.result.parameters.get("features")
    if used:
        return [str(name) for name in used]
    return [spec.name for spec in feature_catalog(version.level) if spec.name in items.columns]


def explain_version(store: Store, version_id: int, *, seed: int = 0) -> VersionExplanation:
    """Fit the surrogate of a saved version on its items (see `core.explain.fit_surrogate`)."""
    from core.explain import fit_surrogate
    from core.segment_items import segmentation_items
    from core.versions import is_current, load_version

    version = load_version(store, version_id)
    built = version.result.parameters.get("items") or {}
    measure = str(built.get("abc_measure", "revenue"))
    items = segmentation_items(store, version.level, version.bucket, measure)
    if items.empty:
        raise SegplanError(f"version {version_id}: no {version.level} items in the database now",
                           hint="load the orders the version was computed on")
    features = explanation_features(version, items)
    surrogate = fit_surrogate(items, version.result.assignments, features, seed=seed)
    return VersionExplanation(version, items, features, surrogate, is_current(store, version_id))

