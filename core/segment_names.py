"""Readable segment names from profiles: "High volume, stable, low margin".

A segment is described by the two or three features where its median differs most from the
overall median, as a standardised difference (difference of medians divided by the feature's
standard deviation, in the logged and capped space the clustering used), worded from a
per-feature vocabulary. A difference below 0.5 standard deviations (a "medium" effect,
Cohen 1988) is not named.

References:
    Cohen, J. (1988). *Statistical Power Analysis for the Behavioral Sciences*, 2nd ed.,
    Lawrence Erlbaum, ch. 2 (standardised mean difference d; 0.5 = medium).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

#: Words for a low and a high value of each known feature.
VOCABULARY: dict[str, tuple[str, str]] = {
    "quantity": ("low volume", "high volume"),
    "revenue": ("low revenue", "high revenue"),
    "margin": ("low margin", "high margin"),
    "margin_pct": ("low margin", "high margin"),
    "order_lines": ("few order lines", "many order lines"),
    "orders": ("rarely ordered", "frequently ordered"),
    "customers": ("few customers", "many customers"),
    "products": ("few products", "many products"),
    "demand_mean": ("low demand", "high demand"),
    "demand_std": ("steady quantities", "swinging quantities"),
    "cv": ("stable", "variable"),
    "cv2": ("even sizes", "erratic sizes"),
    "adi": ("regular demand", "intermittent"),
    "demand_share": ("sporadic", "frequent"),
    "weeks_since_last_sale": ("recently sold", "dormant"),
    "lead_time_days": ("short lead time", "long lead time"),
    "lead_time": ("short lead time", "long lead time"),
}
#: Below this standardised difference a feature is "typical" and not named.
MIN_DISTINCTION = 0.5
MAX_WORDS = 3
TYPICAL = "Typical"


def feature_words(feature: str, high: bool) -> str:
    """The phrase for a low or high value of ``feature`` (generic words for unknown features)."""
    if feature in VOCABULARY:
        return VOCABULARY[feature][1 if high else 0]
    return ("high " if high else "low ") + feature.replace("_", " ")


def distinctive_features(differences: Mapping[str, float], max_words: int = MAX_WORDS) -> list[tuple[str, float]]:
    """The features with the largest absolute standardised difference, at least `MIN_DISTINCTION`.

    Two features with the same wording (margin and margin_pct) count once.
    """
    ranked = sorted(differences.items(), key=lambda kv: (-abs(kv[1]), kv[0]))
    chosen: list[tuple[str, float]] = []
    phrases: set[str] = set()
    for feature, diff in ranked:
        if not np.isfinite(diff) or abs(diff) < MIN_DISTINCTION or len(chosen) == max_words:
            continue
        phrase = feature_words(feature, diff > 0)
        if phrase not in phrases:
            phrases.add(phrase)
            chosen.append((feature, diff))
    return chosen


def name_from_differences(differences: Mapping[str, float], max_words: int = MAX_WORDS) -> str:
    """A name such as "High volume, stable, low margin"; "Typical" when nothing stands out."""
    chosen = distinctive_features(differences, max_words)
    if not chosen:
        return TYPICAL
    text = ", ".join(feature_words(f, d > 0) for f, d in chosen)
    return text[0].upper() + text[1:]


def unique_names(names: Sequence[str]) -> list[str]:
    """The names with a suffix " (2)", " (3)" ... on the second and later copies of a name."""
    seen: dict[str, int] = {}
    taken = set(names)
    out = []
    for name in names:
        seen[name] = seen.get(name, 0) + 1
        candidate = name
        if seen[name] > 1:
            n = seen[name]
            while (candidate := f"{name} ({n})") in taken:
                n += 1
            taken.add(candidate)
        out.append(candidate)
    return out


def segment_names(segment_medians: np.ndarray, overall_medians: np.ndarray, spreads: np.ndarray,
                  features: Sequence[str]) -> list[str]:
    """Unique readable names, one per row of ``segment_medians`` (in the scaled space).

    ``spreads`` are the features' standard deviations in the same space; the
    standardised difference of segment s on feature j is
    ``(segment_medians[s, j] - overall_medians[j]) / spreads[j]``.
    """
    safe = np.where(spreads > 0, spreads, 1.0)
    diffs = (segment_medians - overall_medians[None, :]) / safe[None, :]
    names = [name_from_differences(dict(zip(features, row, strict=True))) for row in diffs]
    return unique_names(names)
