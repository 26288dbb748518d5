"""Versions with assignments chosen by hand, for the approval, override and export tests.

`save_rules_version` saves a rules-method version whose items sit exactly where the test says,
so carry-over and effective assignments can be checked against results worked by hand.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from core.segment import SegmentationResult
from core.store import Store
from core.users import add_user
from core.versions import save_version


def save_rules_version(store: Store, items: Mapping[object, str], names: Mapping[str, str] | None = None,
                       level: str = "product", user: str = "pat") -> int:
    """Save a version putting each item (a product id, customer id or (customer, product)) in its segment.

    ``names``: segment -> automatic name (default: the segment itself).
    """
    keys = ["customer_id", "product_id"] if level == "customer_product" else [f"{level}_id"]
    rows = [dict(zip(keys, key if isinstance(key, tuple) else (key,), strict=True)) for key in items]
    segments = list(items.values())
    order = list(dict.fromkeys(segments))
    auto = {seg: (names or {}).get(seg, seg) for seg in order}
    assignments = pd.DataFrame(rows).assign(
        segment=segments, segment_label=[auto[s] for s in segments],
        distance_own=np.nan, distance_next=np.nan, boundary_margin=np.nan)
    profile = pd.DataFrame({"segment": order, "segment_label": [auto[s] for s in order],
                            "items": [segments.count(s) for s in order]})
    result = SegmentationResult(method="rules", parameters={"rules": "by hand"}, k=len(order), assignments=assignments,
                                profile=profile, metrics={}, merges=[], fingerprint="by-hand", auto_names=auto)
    return save_version(store, result, level, "week", user)


def add_team(store: Store) -> None:
    """Accounts for the maker-checker tests: two planners, two approvers, a viewer and an admin."""
    add_user(store, "ada", "admin", by="setup")  # the first account must be an admin
    for name, role in (("pat", "planner"), ("paula", "planner"), ("anna", "approver"), ("alex", "approver"),
                       ("vic", "viewer")):
        add_user(store, name, role, by="ada")  # no password: OIDC-only accounts, no slow hashing here
