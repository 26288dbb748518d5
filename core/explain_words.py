"""One plain sentence for an item's explanation, in a planner's words.

"In «Fast movers» mainly because weekly volume (demand_mean 120 units/week) is 6.0x the
median, and variability (cv 0.21) is 0.4x the median."

The sentence names the one or two features that push the item most towards its own segment
(largest positive SHAP values, Lundberg & Lee 2017), and compares each to the median of all
items: as a ratio when value and median are both positive, else as above / below the median.
A second feature is named only when it pushes at least `SECOND_SHARE` as hard as the first,
so that a negligible one does not dilute the reason.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from core.explain import ItemExplanation

#: A second reason is named when its push is at least this share of the first one's.
SECOND_SHARE = 0.2

#: Readable words per feature; ``{bucket}`` becomes "weekly" or "monthly".
FEATURE_WORDS: dict[str, str] = {
    "demand_mean": "{bucket} volume",
    "demand_std": "{bucket} demand swings",
    "quantity": "volume",
    "gross_quantity": "volume ordered",
    "revenue": "revenue",
    "margin": "margin",
    "margin_pct": "margin",
    "order_lines": "number of order lines",
    "orders": "number of orders",
    "cv": "variability",
    "cv2": "variability of order sizes",
    "adi": "interval between demands",
    "demand_share": "share of periods with demand",
    "weeks_since_last_sale": "time since the last sale",
    "distinct_customers": "number of customers",
    "distinct_products": "number of products",
    "return_share": "returns",
    "on_time_share": "on-time share",
    "lead_time_days_mean": "lead time",
}
#: Units shown after a value; ``{unit}`` becomes "week" or "month".
FEATURE_UNITS: dict[str, str] = {
    "demand_mean": "units/{unit}", "demand_std": "units/{unit}", "quantity": "units",
    "gross_quantity": "units", "margin_pct": "%", "order_lines": "lines", "orders": "orders",
    "adi": "{unit}s", "weeks_since_last_sale": "weeks", "lead_time_days_mean": "days",
}
_BUCKETS = {"week": ("weekly", "week"), "month": ("monthly", "month")}


def _number(value: float) -> str:
    """Three significant digits, thousands separated: 120, 0.21, 12,345."""
    if abs(value) >= 1000:
        return f"{value:,.0f}"
    return f"{value:.3g}"


def feature_words(feature: str, bucket: str = "week") -> tuple[str, str]:
    """The readable name and unit of ``feature`` (unknown features: name with spaces, no unit)."""
    adjective, unit = _BUCKETS.get(bucket, _BUCKETS["week"])
    word = FEATURE_WORDS.get(feature, feature.replace("_", " ")).format(bucket=adjective)
    return word, FEATURE_UNITS.get(feature, "").format(unit=unit)


def compare_to_median(value: float, median: float) -> str:
    """'6.0x the median' when both are positive, else 'above / below / at the median (m)'."""
    if math.isnan(median):
        return "has no median to compare with"
    if value > 0 and median > 0:
        return f"is {value / median:.1f}x the median"
    if value == median:
        return "is at the median"
    side = "above" if value > median else "below"
    return f"is {side} the median ({_number(median)})"


def _reason(feature: str, value: float, medians: Mapping[str, float], bucket: str) -> str:
    word, unit = feature_words(feature, bucket)
    if math.isnan(value):
        return f"{word} ({feature}) is missing"
    # The column name is shown once the words differ from it, so planners can find it.
    named = "" if word == feature.replace("_", " ") else f"{feature} "
    shown = f"{named}{_number(value)}" + (f" {unit}" if unit else "")
    return f"{word} ({shown}) {compare_to_median(value, float(medians.get(feature, math.nan)))}"


def sentence(explanation: ItemExplanation, medians: Mapping[str, float], segment_label: str | None = None,
             *, bucket: str = "week") -> str:
    """One sentence on why the item is in its segment (``segment_label`` defaults to the
    explanation's). ``medians``: feature -> median over all items (`Surrogate.medians`)."""
    label = segment_label if segment_label is not None else explanation.segment_label
    pushes = explanation.contributions[explanation.contributions["shap_value"] > 0]
    pushes = pushes.sort_values("shap_value", ascending=False, kind="stable")
    if len(pushes) > 1 and pushes["shap_value"].iloc[1] < SECOND_SHARE * pushes["shap_value"].iloc[0]:
        pushes = pushes.head(1)
    reasons = [_reason(str(r.feature), float(r.feature_value), medians, bucket) for r in pushes.head(2).itertuples()]
    if explanation.predicted_segment != explanation.segment:
        aside = f" (the surrogate model would place it in «{explanation.predicted_label}»)"
    else:
        aside = ""
    if not reasons:
        return f"In «{label}», though no feature clearly pushes it there{aside}."
    return f"In «{label}» mainly because {', and '.join(reasons)}{aside}."
