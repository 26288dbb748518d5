"""The per-item features kept with each saved version (table ``segment_item_features``).

A version's assignments say where each item went; its features say what the item looked like
when it went there. Both are needed to compare two versions after the orders were appended to
or replaced: recomputing the features from today's data would show the same values on both
sides. `save_version` writes them in its own transaction (`write_features`); `core.diff` reads
them back (`feature_names`, and SQL on the table).

Which features: those the segmentation used (its clustering features; the measure and ``cv``
behind a nine-box; ``adi`` and ``cv2`` behind a demand pattern; the numeric columns a rule
names), plus the level's default clustering features and the demand figures (``demand_mean``,
``demand_std``, ``cv``, ``adi``, ``cv2``) that every version keeps, so that any two versions of
a level have features in common whatever their methods. About ten features: at 100,000 items a
million rows, written by one ``INSERT ... SELECT`` over a DuckDB ``UNPIVOT`` (bench/README.md
has the cost).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from core.features import feature_catalog

if TYPE_CHECKING:
    import duckdb
    import pandas as pd

    from core.segment import SegmentationResult
    from core.store import Store

#: Features every version keeps (when its items have them): size and shape of demand.
ALWAYS_KEPT = ("demand_mean", "demand_std", "cv", "adi", "cv2")
#: What each rule method's segments are made from, besides the ABC measure.
_RULE_INPUTS = {"nine_box": ("cv",), "demand_pattern": ("adi", "cv2")}


def features_to_keep(result: SegmentationResult, level: str, items: pd.DataFrame) -> list[str]:
    """Names of the numeric features of ``items`` to save with ``result``, in catalogue order."""
    import pandas as pd

    from core.segment_items import DEFAULT_FEATURES

    params = result.parameters
    wanted: set[str] = {*ALWAYS_KEPT, *DEFAULT_FEATURES[level], *(params.get("features") or ())}
    wanted.update(_RULE_INPUTS.get(result.method, ()))
    if params.get("measure"):
        wanted.add(str(params["measure"]))
    for rule in params.get("rules") or ():
        wanted.update(str(condition[0]) for condition in rule.get("when", ()))
    catalogue = [spec.name for spec in feature_catalog(level)]
    return [name for name in catalogue
            if name in wanted and name in items.columns
            and pd.api.types.is_numeric_dtype(items[name]) and not pd.api.types.is_bool_dtype(items[name])]


def stage_features(assigned: pd.DataFrame, items: pd.DataFrame, keys: Sequence[str], names: Sequence[str]
                   ) -> pd.DataFrame:
    """item_position (row order of ``assigned``) and one float column per feature, matched on keys."""
    import numpy as np

    keys = list(keys)
    values = assigned[keys].merge(items[[*keys, *names]], on=keys, how="left", validate="one_to_one")
    staged = values[list(names)].astype("float64")
    staged.insert(0, "item_position", np.arange(len(values), dtype=np.int64))
    return staged


def write_features(cur: duckdb.DuckDBPyConnection, version_id: int, staged: pd.DataFrame) -> None:
    """Insert the staged features of a version inside the caller's transaction.

    UNPIVOT turns the wide frame into (item_position, feature, value) rows in DuckDB and leaves
    out NULLs (pandas NaN arrives as NULL): an undefined feature simply has no row.
    """
    if staged.shape[1] <= 1:
        return
    cur.register("staged_item_features", staged)
    cur.execute(
        """INSERT INTO segment_item_features
           SELECT ?, item_position, feature, value
           FROM (UNPIVOT staged_item_features ON COLUMNS(* EXCLUDE (item_position)) INTO NAME feature VALUE value)
           WHERE isfinite(value)""",
        [version_id],
    )


def feature_names(store: Store, version_id: int) -> list[str]:
    """The features saved with a version (empty for versions saved before features were kept)."""
    rows = store.cursor().execute(
        "SELECT DISTINCT feature FROM segment_item_features WHERE version_id = ? ORDER BY feature", [version_id]
    ).fetchall()
    return [r[0] for r in rows]
