"""Classic classes: ABC on a measure, XYZ on demand variability, SBC demand patterns.

Features are computed once (`core.features.compute_features`, or passed in); the classes are
vectorised pandas over that frame, one row per item.

ABC rule (exact)
    Items are ranked by the measure, descending; ties are broken by key ascending. Shares are
    of the **total positive measure**. An item is **A** when the cumulative share of the items
    ranked *above* it is below the A cut-off, else **B** when that share is below the B
    cut-off, else **C**. So the item that crosses a line stays in the higher class (with
    cut-offs 0.80/0.95 the A class holds at least 80 % of the measure). Items whose measure is
    zero, negative or unknown (NULL, e.g. margin without costs) are **C**, do not count in the
    total, and have no cumulative share. ``cumulative_share`` reported is the share of the
    items up to and *including* the item.

    Operations texts such as Heizer & Render, *Operations Management*, Example 1 of the
    inventory chapter ("ABC analysis for a chip manufacturer"), draw the lines by judgement
    (their A class holds 72 %); our rule is mechanical and reproduces their classes with
    cut-offs (0.70, 0.90).

XYZ rule
    On ``cv`` of bucket demand over the item's horizon (zeros included, population standard
    deviation, see `core.features`): **X** when cv <= x cut-off (default 0.5), **Y** when
    cv <= y cut-off (default 1.0), else **Z**. Items with no demand in the data (only
    returns: cv is NULL) are **Z**: there is no stable demand to plan on.

Demand pattern (Syntetos, Boylan & Croston 2005)
    On ``adi`` (average inter-demand interval, buckets) and ``cv2`` (squared coefficient of
    variation of the non-zero demands): **smooth** (ADI < 1.32 and CV² < 0.49), **erratic**
    (ADI < 1.32, CV² >= 0.49), **intermittent** (ADI >= 1.32, CV² < 0.49), **lumpy**
    (ADI >= 1.32, CV² >= 0.49); items without demand get ``no_demand``. The paper derives the
    cut-off values p = 1.32 and CV² = 0.49 from comparing the mean square errors of Croston's
    method and SBA and draws them as lines between four quadrants; a value exactly on a line
    has no region of its own, and implementations differ: PTC Servigistics' "Demand Category"
    glossary puts it on the less regular side (smooth is ADI < 1.32 and CoV² < 0.49, erratic
    is ADI < 1.32 and CoV² >= 0.49; https://trne-prod.ptcmanaged.com/servigistics_help/en/
    PTC_Servigistics_Help_Center/glossary/demand_category.html), while R tsintermittent's
    ``idclass(type="SBC")`` (N. Kourentzes, R/idclass.R) uses ``p > 1.32 | CV² > 0.49`` for the
    SBA side, keeping it smooth. We follow the first (the inequalities above). tsintermittent
    also differs in its inputs: p is the mean interval counted from the start of the series to
    the last demand, and CV² uses the sample standard deviation (n - 1); ours are ADI = horizon
    buckets / demand buckets and the population standard deviation (see `core.features`).

References
    Syntetos, A.A., Boylan, J.E., Croston, J.D. (2005). On the categorization of demand
    patterns. Journal of the Operational Research Society 56(5), 495-503,
    doi:10.1057/palgrave.jors.2601841. Heizer, J., Render, B., Munson, C. Operations
    Management, chapter "Inventory Management", Example 1 (ABC analysis).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from core.errors import SegplanError
from core.features import compute_features, key_columns
from core.store import Store

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

MEASURES = ("revenue", "quantity", "margin", "lines")
#: measure -> the feature column it reads
MEASURE_COLUMNS = {"revenue": "revenue", "quantity": "quantity", "margin": "margin", "lines": "order_lines"}
DEMAND_PATTERNS = ("smooth", "erratic", "intermittent", "lumpy", "no_demand")
#: Shares, cv, adi and cv2 are compared with cut-offs after rounding to this many decimals, so
#: a value equal to a cut-off in exact arithmetic (0.7² = 0.49) is not moved across it by
#: floating-point error (0.7 ** 2 == 0.48999999999999994).
_DECIMALS = 12


def _check_pair(name: str, cutoffs: tuple[float, float], upper_limit: float | None) -> tuple[float, float]:
    """Two increasing positive cut-offs; ``upper_limit`` bounds the second when given."""
    try:
        low, high = (float(c) for c in cutoffs)
    except (TypeError, ValueError):
        raise SegplanError(
            f"parameter '{name}' must be two numbers, got {cutoffs!r}", hint="e.g. (0.80, 0.95)"
        ) from None
    limit = upper_limit if upper_limit is not None else math.inf
    if not (math.isfinite(low) and math.isfinite(high) and 0 < low < high <= limit):
        bound = f" <= {upper_limit}" if upper_limit is not None else ""
        raise SegplanError(
            f"parameter '{name}' = {cutoffs!r} is invalid",
            hint=f"need 0 < first < second{bound}",
        )
    return low, high


def _check_positive(name: str, value: float) -> float:
    if not (isinstance(value, (int, float)) and math.isfinite(value) and value > 0):
        raise SegplanError(f"parameter '{name}' = {value!r} is invalid", hint="need a positive number")
    return float(value)


def abc_classes(
    frame: pd.DataFrame, measure_column: str, key_cols: tuple[str, ...], cutoffs: tuple[float, float]
) -> tuple[pd.Series, pd.Series]:
    """ABC class and cumulative share (including the item) per row of ``frame``.

    The exact rule is in this module's docstring. Returned series are aligned on ``frame``'s index.
    """
    import numpy as np
    import pandas as pd

    a_cut, b_cut = cutoffs
    value = pd.to_numeric(frame[measure_column], errors="coerce").astype("float64")
    positive = value > 0  # NaN compares False: unknown measure is not positive
    ranked = frame.loc[positive, list(key_cols)].assign(_value=value[positive])
    ranked = ranked.sort_values(["_value", *key_cols], ascending=[False, *([True] * len(key_cols))], kind="mergesort")
    total = ranked["_value"].sum()
    cumulative = ranked["_value"].cumsum()
    share_above = np.round(((cumulative - ranked["_value"]) / total).to_numpy(), _DECIMALS)
    classes_ranked = np.where(share_above < a_cut, "A", np.where(share_above < b_cut, "B", "C"))

    abc = pd.Series("C", index=frame.index)
    abc.loc[ranked.index] = classes_ranked
    cumulative_share = pd.Series(np.nan, index=frame.index, dtype="float64")
    cumulative_share.loc[ranked.index] = (cumulative / total).to_numpy()
    return abc, cumulative_share


def _rounded(values: pd.Series) -> np.ndarray:
    """Values as floats rounded to `_DECIMALS`, NaN for NULL, for comparing with cut-offs."""
    import numpy as np
    import pandas as pd

    return np.round(pd.to_numeric(values, errors="coerce").astype("float64").to_numpy(), _DECIMALS)


def xyz_classes(cv: pd.Series, cutoffs: tuple[float, float]) -> pd.Series:
    """X when cv <= first cut-off, Y when <= second, else Z; NULL cv (no demand) is Z."""
    import numpy as np
    import pandas as pd

    x_cut, y_cut = cutoffs
    values = _rounded(cv)
    with np.errstate(invalid="ignore"):
        labels = np.where(values <= x_cut, "X", np.where(values <= y_cut, "Y", "Z"))
    return pd.Series(labels, index=cv.index)


def demand_patterns(adi: pd.Series, cv2: pd.Series, adi_cutoff: float, cv2_cutoff: float) -> pd.Series:
    """SBC quadrant per item; a value on a cut-off goes to the higher (less regular) side."""
    import numpy as np
    import pandas as pd

    adi_values = _rounded(adi)
    cv2_values = _rounded(cv2)
    frequent = adi_values < adi_cutoff
    steady = cv2_values < cv2_cutoff
    labels = np.select(
        [frequent & steady, frequent & ~steady, ~frequent & steady],
        ["smooth", "erratic", "intermittent"],
        default="lumpy",
    )
    no_demand = np.isnan(adi_values) | np.isnan(cv2_values)
    labels = np.where(no_demand, "no_demand", labels)
    return pd.Series(labels, index=adi.index)


def classify(
    store: Store,
    level: str = "product",
    measure: str = "revenue",
    bucket: str = "week",
    abc_cutoffs: tuple[float, float] = (0.80, 0.95),
    xyz_cutoffs: tuple[float, float] = (0.5, 1.0),
    adi_cutoff: float = 1.32,
    cv2_cutoff: float = 0.49,
    *,
    features: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Key columns, abc, xyz, demand_pattern and the values used (measure, cumulative share, cv, adi, cv2).

    ``measure`` is one of revenue, quantity, margin, lines (order lines); the output column
    holding its value is named after it. ``features`` lets a caller that already has
    `compute_features(store, level, bucket)` pass it instead of computing it again.
    Defaults: ABC (0.80, 0.95); XYZ (0.5, 1.0); SBC ADI 1.32 and CV² 0.49 (Syntetos,
    Boylan & Croston 2005). Rules and references: this module's docstring.
    """
    keys = key_columns(level)
    if measure not in MEASURES:
        raise SegplanError(f"unknown measure {measure!r} for parameter 'measure'", hint="choose one of: " + ", ".join(MEASURES))
    abc_cut = _check_pair("abc_cutoffs", abc_cutoffs, upper_limit=1.0)
    xyz_cut = _check_pair("xyz_cutoffs", xyz_cutoffs, upper_limit=None)
    adi_cut = _check_positive("adi_cutoff", adi_cutoff)
    cv2_cut = _check_positive("cv2_cutoff", cv2_cutoff)

    frame = compute_features(store, level, bucket) if features is None else features
    measure_column = MEASURE_COLUMNS[measure]
    missing = [c for c in (*keys, measure_column, "cv", "adi", "cv2") if c not in frame.columns]
    if missing:
        raise SegplanError(
            f"features frame lacks column(s) {', '.join(missing)} for level {level!r}",
            hint="pass the frame returned by compute_features for the same level",
        )
    if measure == "margin" and len(frame) and frame[measure_column].isna().all():
        raise SegplanError(
            "measure 'margin' needs costs, but no order line has cost_amount, unit_cost or a products.unit_cost",
            hint="load costs or choose measure revenue, quantity or lines",
        )

    abc, cumulative_share = abc_classes(frame, measure_column, keys, abc_cut)
    result = frame[list(keys)].copy()
    result["abc"] = abc
    result["xyz"] = xyz_classes(frame["cv"], xyz_cut)
    result["demand_pattern"] = demand_patterns(frame["adi"], frame["cv2"], adi_cut, cv2_cut)
    result[measure] = frame[measure_column]
    result["cumulative_share"] = cumulative_share
    result["cv"] = frame["cv"]
    result["adi"] = frame["adi"]
    result["cv2"] = frame["cv2"]
    return result.sort_values(list(keys), kind="mergesort").reset_index(drop=True)
