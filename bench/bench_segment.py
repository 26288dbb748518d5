"""Timing of the segmentation engine: prepare once, then re-segment after weight changes.

Run: ``.venv/bin/python bench/bench_segment.py [items ...]`` (default 100000 1000000).
Target (issue "Segmentation engine"): re-segmenting after a weight change (k-means, fixed k)
under 1 s median at 100k items and under 10 s at 1M items.
"""

from __future__ import annotations

import statistics
import sys
import time

import numpy as np
import pandas as pd

from core.segment import Segmenter

FEATURES = ["quantity", "revenue", "margin_pct", "orders", "customers", "cv", "adi", "weeks_since_last_sale"]


def synthetic_items(n_items: int, seed: int = 0) -> pd.DataFrame:
    """Skewed, grouped features like a product feature table (6 latent groups)."""
    rng = np.random.default_rng(seed)
    group = rng.integers(0, 6, n_items)
    shift = rng.normal(0, 1.5, size=(6, len(FEATURES)))[group]
    base = rng.normal(size=(n_items, len(FEATURES))) + shift
    values = np.exp(base)  # log-normal: skewed like volumes
    values[:, 2] = base[:, 2] * 10  # margin % can be negative
    items = pd.DataFrame(values, columns=FEATURES)
    items.insert(0, "product_id", [f"P{i:07d}" for i in range(n_items)])
    return items


def run(n_items: int, repeats: int) -> None:
    items = synthetic_items(n_items)
    t0 = time.perf_counter()
    first = Segmenter(method="kmeans", k=6, features=FEATURES, seed=0).fit(items)
    first_fit = time.perf_counter() - t0
    times = []
    for r in range(repeats):
        weights = {f: 1.0 for f in FEATURES}
        weights[FEATURES[r % len(FEATURES)]] = 3.0
        t = time.perf_counter()
        Segmenter(method="kmeans", k=6, features=FEATURES, weights=weights, seed=0).fit(items, prepared=first.prepared_)
        times.append(time.perf_counter() - t)
    t = time.perf_counter()
    Segmenter(method="kmeans", k="auto", features=FEATURES, seed=0).fit(items, prepared=first.prepared_)
    auto = time.perf_counter() - t
    print(f"{n_items:>9} items x {len(FEATURES)} features: first fit (prepare + cluster) {first_fit:.2f} s; "
          f"reweight + re-segment median {statistics.median(times):.2f} s (min {min(times):.2f}, "
          f"max {max(times):.2f}, n={repeats}); k='auto' scan + fit {auto:.2f} s; "
          f"k-means path: {'MiniBatchKMeans' if n_items > 200_000 else 'KMeans'}", flush=True)


if __name__ == "__main__":
    sizes = [int(a) for a in sys.argv[1:]] or [100_000, 1_000_000]
    for size in sizes:
        run(size, repeats=7 if size <= 200_000 else 3)
