"""Classic classes: ABC on a measure, XYZ on demand variability, SBC demand patterns.

(Contract stub: being implemented. Signatures below are the agreed API.)
"""

from __future__ import annotations

import pandas as pd

from core.store import Store

MEASURES = ("revenue", "quantity", "margin", "lines")


def classify(
    store: Store,
    level: str = "product",
    measure: str = "revenue",
    bucket: str = "week",
    abc_cutoffs: tuple[float, float] = (0.80, 0.95),
    xyz_cutoffs: tuple[float, float] = (0.5, 1.0),
    adi_cutoff: float = 1.32,
    cv2_cutoff: float = 0.49,
) -> pd.DataFrame:
    """Key columns, abc, xyz, demand_pattern and the values used (measure, cumulative share, cv, adi, cv2)."""
    raise NotImplementedError
