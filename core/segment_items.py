"""The items the segmentation engine takes: features, classes and master attributes, one row per item.

`segmentation_items` computes the features once (`core.features`), derives ABC / XYZ / demand
pattern from them (`core.classify`, same frame, no second query) and joins the master
attributes that are loaded, so rules can say ``("region", "==", "North")`` or
``("strategic_account", "==", True)``. Text and boolean attributes are never clustering
features (`core.segment_prep.numeric_feature_columns` skips them).

`window_items` builds the same frame for the first and second half of the order history, for
the time-window stability check (`core.segment.compare_windows`).
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

from core.classify import MEASURES, classify
from core.errors import SegplanError
from core.features import BUCKETS, compute_features, key_columns
from core.store import Store, quote_ident

if TYPE_CHECKING:
    import pandas as pd

CLASS_COLUMNS = ("abc", "xyz", "demand_pattern")

#: Features clustering uses when none are chosen (page and CLI alike): size, frequency,
#: variability, intermittency and profitability of an item. All features would weigh the
#: same thing several times (quantity, gross_quantity, demand_mean all measure volume).
DEFAULT_FEATURES: dict[str, tuple[str, ...]] = {
    "product": ("revenue", "order_lines", "cv", "adi", "margin_pct"),
    "customer": ("revenue", "orders_per_bucket", "average_order_value", "margin_pct", "distinct_products"),
    "customer_product": ("revenue", "order_lines", "cv", "adi", "margin_pct"),
}

#: master table -> its key and the attributes segmentation rules may use
MASTER_ATTRIBUTES: dict[str, tuple[str, tuple[str, ...]]] = {
    "customers": ("customer_id", ("region", "channel", "strategic_account")),
    "products": ("product_id", ("category", "lifecycle_stage")),
}



def default_features(level: str, items: pd.DataFrame | None = None) -> list[str]:
    """The level's default clustering features; given the items, only those with values (order
    data without costs has no margin_pct, without delivery dates no lead time)."""
    names = list(DEFAULT_FEATURES[level])
    return names if items is None else features_with_values(items, names)


def features_with_values(items: pd.DataFrame, names: list[str]) -> list[str]:
    """Those of ``names`` that at least one item has a value for."""
    return [name for name in names if name in items.columns and items[name].notna().any()]

def _master_attributes(store: Store, table: str) -> pd.DataFrame:
    """One row per key of a master table with its attributes; attributes never loaded are left out."""
    key, attributes = MASTER_ATTRIBUTES[table]
    # max(): the key is unique after ingest; should a duplicate slip in, one item stays one row
    columns = ", ".join(f"max({quote_ident(a)}) AS {quote_ident(a)}" for a in attributes)
    frame = store.cursor().execute(
        f"SELECT {quote_ident(key)}, {columns} FROM {quote_ident(table)} GROUP BY {quote_ident(key)}"
    ).df()
    loaded = [a for a in attributes if frame[a].notna().any()]
    return frame[[key, *loaded]]


def segmentation_items(
    store: Store,
    level: str,
    bucket: str = "week",
    measure: str = "revenue",
    *,
    period: tuple[dt.date, dt.date] | None = None,
) -> pd.DataFrame:
    """One row per item of ``level``: key columns, features, abc / xyz / demand_pattern, master attributes.

    ``measure`` is what ABC ranks on (revenue, quantity, margin or lines). Master attributes:
    customer level gets region, channel, strategic_account; product level category and
    lifecycle_stage; customer_product both; each only when some row of the master table has it.
    ``period`` restricts the order lines to (first day, last day), see `compute_features`.
    Items are those with an order line, in key order.
    """
    keys = list(key_columns(level))
    features = compute_features(store, level, bucket, period=period)
    classes = classify(store, level, measure, bucket, features=features)
    items = features.merge(classes[[*keys, *CLASS_COLUMNS]], on=keys, how="left", validate="one_to_one")
    for table, (key, _) in MASTER_ATTRIBUTES.items():
        if key in keys:
            attributes = _master_attributes(store, table)
            if attributes.shape[1] > 1:
                items = items.merge(attributes, on=key, how="left", validate="many_to_one")
    return items


def window_periods(store: Store, bucket: str = "week") -> tuple[tuple[dt.date, dt.date], tuple[dt.date, dt.date]]:
    """The first and second half of the order history, split at the bucket start nearest the middle.

    Splitting on a bucket boundary keeps every week (or month) whole in one half. Raises when
    the history spans fewer than two buckets.
    """
    if bucket not in BUCKETS:
        raise SegplanError(f"unknown bucket {bucket!r} for parameter 'bucket'", hint="choose one of: " + ", ".join(BUCKETS))
    first, last = store.cursor().execute("SELECT min(order_date), max(order_date) FROM orders").fetchone()
    if first is None:
        raise SegplanError("no order lines are loaded, so there is no history to split", hint="load orders first")
    split = _bucket_start(first + (last - first) // 2, bucket)
    if split <= first:
        split = _next_bucket_start(first, bucket)
    if split > last:
        raise SegplanError(
            f"order history {first} to {last} spans one {bucket}; the stability check needs two halves",
            hint="load a longer history or use bucket 'week'",
        )
    return (first, split - dt.timedelta(days=1)), (split, last)


def _bucket_start(day: dt.date, bucket: str) -> dt.date:
    return day - dt.timedelta(days=day.weekday()) if bucket == "week" else day.replace(day=1)


def _next_bucket_start(day: dt.date, bucket: str) -> dt.date:
    if bucket == "week":
        return _bucket_start(day, bucket) + dt.timedelta(days=7)
    return (day.replace(day=1) + dt.timedelta(days=32)).replace(day=1)


def window_items(
    store: Store, level: str, bucket: str = "week", measure: str = "revenue"
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """`segmentation_items` over the first and the second half of the history (see `window_periods`)."""
    if measure not in MEASURES:
        raise SegplanError(f"unknown measure {measure!r} for parameter 'measure'", hint="choose one of: " + ", ".join(MEASURES))
    key_columns(level)
    first, second = window_periods(store, bucket)
    return (segmentation_items(store, level, bucket, measure, period=first),
            segmentation_items(store, level, bucket, measure, period=second))
