"""Feature preparation for segmentation: impute, log, cap and scale once; reweight cheaply.

The expensive, data-dependent steps (median imputation, signed log, percentile capping,
scaling) run once in `prepare_features`; a planner moving a weight slider only calls
`PreparedFeatures.reweight`, which is one column-wise multiply.

Order of steps, and why:

1. **Impute** missing values with the column median (original units), counting them per
   feature so the result can say how many were filled.
2. **Log** skewed measures with a signed ``log1p`` (``sign(x) * log1p(|x|)``) so that
   negative margins keep their sign. Features are flagged as skewed when ``|skewness| > 1``
   (a common rule of thumb for "highly skewed", Bulmer 1979) unless an explicit list is given.
3. **Cap** each feature at the ``cap_percentile`` and ``100 - cap_percentile`` percentiles
   (winsorising, Tukey 1962) *before* scaling, so a few extreme items neither set the
   scale nor dominate the distances.
4. **Scale**: ``standard`` (default) centres on the mean and divides by the standard
   deviation; ``robust`` centres on the median and divides by the interquartile range. The
   default is ``standard`` because capping has already removed what makes the standard
   deviation fragile, while the IQR misjudges features whose items gather in groups (when
   three quarters of items share one level the IQR is tiny and the feature swamps the
   others; when the quartiles fall in two groups the gap itself becomes the unit). A column
   with zero spread is only centred (it then carries no information).

References:
    Bulmer, M. G. (1979). *Principles of Statistics*. Dover, p. 63 (skewness rule of thumb).
    Tukey, J. W. (1962). The future of data analysis. *Ann. Math. Statist.* 33(1), 1-67
    (winsorising).
    Milligan, G. W., Cooper, M. C. (1988). A study of standardization of variables in
    cluster analysis. *Journal of Classification* 5(2), 181-204.
    Hastie, T., Tibshirani, R., Friedman, J. (2009). *The Elements of Statistical Learning*,
    2nd ed., §14.3.3 (variable weights in cluster dissimilarities).
"""

from __future__ import annotations

import hashlib
import json
import numbers
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from core.errors import SegplanError

#: Columns that identify an item; never used as features.
KEY_COLUMNS = ("customer_id", "product_id")
#: Class columns produced by `core.classify`; used by rules, never as clustering features.
CLASS_COLUMNS = ("abc", "xyz", "demand_pattern")
SCALINGS = ("robust", "standard")
#: Skewness above which a feature is log-transformed when ``log="auto"``.
SKEW_THRESHOLD = 1.0
#: Items used to measure skewness for ``log="auto"``.
SKEW_SAMPLE = 100_000
MAX_WEIGHT = 5.0


def key_columns_of(items: pd.DataFrame) -> list[str]:
    """The key columns present in ``items``, in the house order (customer, then product)."""
    return [c for c in KEY_COLUMNS if c in items.columns]


def numeric_feature_columns(items: pd.DataFrame) -> list[str]:
    """Numeric, non-key, non-boolean columns of ``items``: the default clustering features."""
    keys = set(key_columns_of(items))
    return [
        c for c in items.columns
        if c not in keys and c not in CLASS_COLUMNS
        and pd.api.types.is_numeric_dtype(items[c]) and not pd.api.types.is_bool_dtype(items[c])
    ]


def signed_log1p(values: np.ndarray) -> np.ndarray:
    """``sign(x) * log1p(|x|)``: a log that is defined for zero and keeps the sign of negatives."""
    return np.sign(values) * np.log1p(np.abs(values))


def skewness(values: np.ndarray) -> np.ndarray | float:
    """Sample skewness (Fisher-Pearson ``g1``) of a vector, or of each column of a matrix; 0
    for a constant column.

    References:
        Joanes, D. N., Gill, C. A. (1998). Comparing measures of sample skewness and kurtosis.
        *J. Royal Stat. Soc. D* 47(1), 183-189 (the ``g1`` estimator).
    """
    centred = values - values.mean(axis=0)
    m2 = np.mean(centred**2, axis=0)
    m3 = np.mean(centred**3, axis=0)
    out = np.where(m2 > 0, m3 / np.where(m2 > 0, m2, 1.0) ** 1.5, 0.0)
    return float(out) if np.ndim(values) == 1 else out


def check_unique_keys(items: pd.DataFrame) -> None:
    """Raise when an item (key combination) appears on two rows."""
    keys = key_columns_of(items)
    if not keys:
        raise SegplanError("items: no key column (product_id or customer_id)", "pass the feature frame with its keys")
    duplicated = items.duplicated(keys)
    if duplicated.any():
        first = items.loc[duplicated, keys].iloc[0].tolist()
        raise SegplanError(f"items: item {first} appears twice", "pass one row per item")


def frame_hash(items: pd.DataFrame) -> str:
    """A stable hash of a frame's column names, dtypes and values (not its index)."""
    digest = hashlib.sha256()
    digest.update(json.dumps([[str(c), str(t)] for c, t in items.dtypes.items()]).encode())
    digest.update(pd.util.hash_pandas_object(items, index=False).to_numpy().tobytes())
    return digest.hexdigest()


def data_fingerprint(items: pd.DataFrame, parameters: Mapping[str, object]) -> str:
    """A stable hash of the input frame and the parameters: same data + settings -> same value.

    Saved with a segmentation version so that a page can tell whether a stored result still
    matches the current data and settings.
    """
    return _fingerprint_from_hash(frame_hash(items), parameters)


def _fingerprint_from_hash(data_hash: str, parameters: Mapping[str, object]) -> str:
    digest = hashlib.sha256(data_hash.encode())
    digest.update(json.dumps(parameters, sort_keys=True, default=str).encode())
    return digest.hexdigest()[:32]


@dataclass
class PreparedFeatures:
    """Features imputed, logged, capped and scaled once, ready to reweight and cluster.

    ``original`` holds the imputed values in original units (for profiles); ``scaled`` the
    transformed, capped and scaled values (unweighted).
    """

    keys: pd.DataFrame
    features: list[str]
    original: np.ndarray
    scaled: np.ndarray
    log_features: list[str]
    caps: dict[str, tuple[float, float]]
    imputed: dict[str, int]
    scaling: str
    cap_percentile: float | None
    log: str | list[str]
    data_hash: str
    #: The frame prepared from (a reference; pandas copy-on-write keeps it unchanged).
    source: pd.DataFrame = field(repr=False, default_factory=pd.DataFrame)
    centre: np.ndarray = field(repr=False, default_factory=lambda: np.zeros(0))
    spread: np.ndarray = field(repr=False, default_factory=lambda: np.zeros(0))

    @property
    def n_items(self) -> int:
        return int(self.scaled.shape[0])

    def settings(self) -> dict[str, object]:
        """The preparation settings, to compare with a new request (reuse if equal)."""
        return {"features": list(self.features), "log": self.log,
                "cap_percentile": self.cap_percentile, "scaling": self.scaling}

    def matches(self, items: pd.DataFrame) -> bool:
        """Whether ``items`` equal the frame this was prepared from (all columns, all values).

        A comparison, not a hash (tens of milliseconds at a million items), so a weight change
        can reuse the preparation and keep ``data_hash`` true to the data.
        """
        if items is self.source:
            return True
        return len(items) == self.n_items and items.reset_index(drop=True).equals(self.source)

    def transform(self, values: np.ndarray) -> np.ndarray:
        """Values in original units (columns = features) mapped into the scaled space.

        Log, cap and scale are monotone per feature, so the transform of a median is the median
        of the transformed values (used to name segments without a second pass over items).
        """
        out = np.array(values, dtype=np.float64, copy=True)
        for j, name in enumerate(self.features):
            if name in self.log_features:
                out[..., j] = signed_log1p(out[..., j])
            if name in self.caps:
                out[..., j] = np.clip(out[..., j], *self.caps[name])
        return (out - self.centre) / self.spread

    def resolve_weights(self, weights: Mapping[str, float] | None) -> dict[str, float]:
        """Weights per feature (default 1), validated to lie in [0, 5] and not all zero."""
        resolved = {name: 1.0 for name in self.features}
        for name, weight in (weights or {}).items():
            if name not in resolved:
                raise SegplanError(
                    f"weights: unknown feature {name!r}",
                    f"use one of the chosen features: {', '.join(self.features)}",
                )
            if not isinstance(weight, numbers.Real) or isinstance(weight, bool) or not 0.0 <= float(weight) <= MAX_WEIGHT:
                raise SegplanError(
                    f"weights: weight of {name!r} is {weight!r}",
                    f"give a number from 0 (drop the feature) to {MAX_WEIGHT:g}",
                )
            resolved[name] = float(weight)
        if not any(w > 0 for w in resolved.values()):
            raise SegplanError("weights: every feature has weight 0", "give at least one feature a weight above 0")
        return resolved

    def reweight(self, weights: Mapping[str, float] | None = None) -> tuple[np.ndarray, list[str]]:
        """The weighted matrix and its feature names; weight 0 drops a feature.

        The weight multiplies the scaled column, so a weight of 2 counts a feature's
        differences twice as much in Euclidean distance (Hastie et al. 2009, §14.3.3).
        """
        resolved = self.resolve_weights(weights)
        used = [i for i, name in enumerate(self.features) if resolved[name] > 0]
        factors = np.array([resolved[self.features[i]] for i in used])
        matrix = self.scaled[:, used] * factors
        return matrix, [self.features[i] for i in used]


def prepare_features(
    items: pd.DataFrame,
    features: Sequence[str] | None = None,
    log: str | Sequence[str] = "auto",
    cap_percentile: float | None = 99.0,
    scaling: str = "standard",
) -> PreparedFeatures:
    """Impute, log-transform, cap and scale the chosen features of ``items`` (see module doc).

    ``log`` is ``"auto"`` (skewed features), ``"none"`` or an explicit list of feature names.
    ``cap_percentile`` is e.g. 99 (cap at the 1st and 99th percentiles) or ``None`` to keep
    outliers as they are.

    References:
        Bulmer (1979), Tukey (1962): see the module docstring.
    """
    if not isinstance(items, pd.DataFrame) or len(items) == 0:
        raise SegplanError("items: no items to segment", "compute features first; the frame is empty")
    check_unique_keys(items)
    chosen = list(features) if features is not None else numeric_feature_columns(items)
    if not chosen:
        raise SegplanError("features: no numeric feature columns to segment on",
                           "choose at least one numeric feature column")
    for name in chosen:
        if name not in items.columns:
            raise SegplanError(f"features: column {name!r} is not in the items",
                               f"choose from: {', '.join(numeric_feature_columns(items))}")
        if not pd.api.types.is_numeric_dtype(items[name]):
            raise SegplanError(f"features: column {name!r} is not numeric", "choose numeric feature columns only")
    if len(set(chosen)) != len(chosen):
        raise SegplanError("features: a feature is listed twice", "list each feature once")
    if scaling not in SCALINGS:
        raise SegplanError(f"scaling: unknown scaling {scaling!r}", "use 'robust' or 'standard'")
    if cap_percentile is not None and not 50.0 < float(cap_percentile) <= 100.0:
        raise SegplanError(f"cap_percentile: {cap_percentile!r} is out of range",
                           "give a percentile above 50 and at most 100 (e.g. 99), or None to keep outliers")

    original = items[chosen].to_numpy(dtype=np.float64, na_value=np.nan, copy=True)
    original[~np.isfinite(original)] = np.nan
    imputed: dict[str, int] = {}
    for j, name in enumerate(chosen):
        missing = np.isnan(original[:, j])
        count = int(missing.sum())
        if count:
            if count == len(original):
                raise SegplanError(f"features: column {name!r} has no values", "drop this feature or compute it first")
            original[missing, j] = np.nanmedian(original[:, j])
        imputed[name] = count

    log_features = _log_features(original, chosen, log)
    transformed = original.copy()
    for j, name in enumerate(chosen):
        if name in log_features:
            transformed[:, j] = signed_log1p(transformed[:, j])

    caps: dict[str, tuple[float, float]] = {}
    if cap_percentile is not None and float(cap_percentile) < 100.0:
        lows, highs = np.percentile(transformed, [100.0 - float(cap_percentile), float(cap_percentile)], axis=0)
        np.clip(transformed, lows, highs, out=transformed)
        caps = {name: (float(lo), float(hi)) for name, lo, hi in zip(chosen, lows, highs, strict=True)}

    if scaling == "robust":
        q25, centre, q75 = np.percentile(transformed, [25.0, 50.0, 75.0], axis=0)
        spread = q75 - q25
        # A feature that is mostly one value (e.g. zero returns) has IQR 0; fall back to its std.
        spread = np.where(spread > 0, spread, transformed.std(axis=0))
    else:
        centre = transformed.mean(axis=0)
        spread = transformed.std(axis=0)
    spread = np.where(spread > 0, spread, 1.0)
    scaled = (transformed - centre) / spread

    return PreparedFeatures(
        keys=items[key_columns_of(items)].reset_index(drop=True),
        features=chosen,
        original=original,
        scaled=scaled,
        log_features=log_features,
        caps=caps,
        imputed=imputed,
        scaling=scaling,
        cap_percentile=None if cap_percentile is None else float(cap_percentile),
        log=log if isinstance(log, str) else list(log),
        data_hash=frame_hash(items),
        source=items.reset_index(drop=True),
        centre=centre,
        spread=spread,
    )


def _log_features(original: np.ndarray, chosen: list[str], log: str | Sequence[str]) -> list[str]:
    if isinstance(log, str):
        if log == "none":
            return []
        if log == "auto":
            # Skewness on a seeded sample: the flag does not need every item (1 s at 1M items).
            rows = np.random.default_rng(0).choice(len(original), SKEW_SAMPLE, replace=False) \
                if len(original) > SKEW_SAMPLE else slice(None)
            skew = skewness(original[rows])
            return [name for j, name in enumerate(chosen) if abs(skew[j]) > SKEW_THRESHOLD]
        raise SegplanError(f"log: unknown setting {log!r}", "use 'auto', 'none' or a list of feature names")
    unknown = [name for name in log if name not in chosen]
    if unknown:
        raise SegplanError(f"log: {unknown[0]!r} is not a chosen feature",
                           f"log only chosen features: {', '.join(chosen)}")
    return [name for name in chosen if name in set(log)]
