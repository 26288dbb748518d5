"""Features in SQL on DuckDB, per product, customer or customer x product.

(Contract stub: being implemented. Signatures below are the agreed API.)
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from core.store import Store

LEVELS = ("product", "customer", "customer_product")
BUCKETS = ("week", "month")


@dataclass(frozen=True)
class FeatureSpec:
    name: str
    unit: str
    description: str


def key_columns(level: str) -> tuple[str, ...]:
    """The key columns of a level: ('product_id',), ('customer_id',) or ('customer_id', 'product_id')."""
    raise NotImplementedError


def feature_catalog(level: str) -> list[FeatureSpec]:
    """The features computed at a level, with units and descriptions (for pages and docs)."""
    raise NotImplementedError


def compute_features(store: Store, level: str = "product", bucket: str = "week") -> pd.DataFrame:
    """One row per item of the level: key columns then features, computed in DuckDB."""
    raise NotImplementedError


def bucket_demand(store: Store, level: str = "product", bucket: str = "week", keys: list[str] | None = None) -> pd.DataFrame:
    """Demand per item and bucket, zero-filled over each item's horizon (for charts)."""
    raise NotImplementedError
