"""Saving a version with its per-item features vs without: what `segment_item_features` costs.

Run: ``python -m bench save [--items 100000] [--repeat K]`` (or ``python bench/bench_save.py``).
One k-means result (k = 6) on synthetic items with the catalogue features a product version
keeps (`core.version_features.features_to_keep`: the level's defaults, the clustering features
and the demand shape) is saved K times each way into one temporary database file, round robin
so that a change in machine load hits both alike:

* ``without features``: `core.versions.save_version` without the items frame and without
  ``parameters["items"]``, so no features are written: the save as it was before migration 5;
* ``with features``: the same with ``items=``: the features are staged, then written inside
  the save's transaction by one ``INSERT ... SELECT`` over ``UNPIVOT``.

Medians of wall seconds (and CPU seconds, all threads) per save; the rows each save writes to
``segment_item_features`` and the growth of the file per save (after a CHECKPOINT).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

if __package__ in (None, ""):  # run as a script: make `core` and `bench` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from core.segment import segment
from core.store import Store
from core.version_features import features_to_keep
from core.versions import save_version

#: Catalogue features of a product item that a version keeps (see the module docstring).
FEATURES = ["revenue", "order_lines", "margin_pct", "demand_mean", "demand_std", "cv", "adi", "cv2"]
CLUSTER_FEATURES = ["revenue", "order_lines", "cv", "adi", "margin_pct"]
DEFAULT_ITEMS = (100_000,)
WITHOUT, WITH = "without features", "with features"


def synthetic_items(n_items: int, seed: int = 0) -> pd.DataFrame:
    """Skewed product features in 6 latent groups, a tenth of margins undefined (no costs)."""
    rng = np.random.default_rng(seed)
    group = rng.integers(0, 6, n_items)
    base = rng.normal(size=(n_items, len(FEATURES))) + rng.normal(0, 1.5, size=(6, len(FEATURES)))[group]
    items = pd.DataFrame(np.exp(base), columns=FEATURES)
    items["margin_pct"] = base[:, FEATURES.index("margin_pct")] * 10
    items.loc[rng.random(n_items) < 0.1, "margin_pct"] = np.nan
    items.insert(0, "product_id", [f"P{i:07d}" for i in range(n_items)])
    return items


def _load() -> str:
    return "load average " + " ".join(f"{x:.2f}" for x in os.getloadavg())


def _timed(fn):
    wall, cpu = time.perf_counter(), time.process_time()
    fn()
    return time.perf_counter() - wall, time.process_time() - cpu


def _file_size(store: Store) -> int:
    store.cursor().execute("CHECKPOINT")
    return os.path.getsize(store.path)


def run(n_items: int, repeats: int, seed: int = 0) -> dict[str, dict[str, float]]:
    """Time one size; print its table; return median wall and cpu seconds, rows and bytes per save."""
    items = synthetic_items(n_items, seed)
    result = segment(items, method="kmeans", k=6, features=CLUSTER_FEATURES, seed=seed)
    kept = features_to_keep(result, "product", items)
    print(f"save a version: {n_items:,} items, {len(kept)} features kept ({', '.join(kept)}), "
          f"{repeats} saves each way (median); {_load()}", flush=True)
    wall: dict[str, list[float]] = {WITHOUT: [], WITH: []}
    cpu: dict[str, list[float]] = {WITHOUT: [], WITH: []}
    growth: dict[str, list[int]] = {WITHOUT: [], WITH: []}
    rows: list[int] = []
    with tempfile.TemporaryDirectory() as folder, Store(Path(folder) / "save.duckdb") as store:
        save_version(store, result, "product", "week")  # warm-up: first writes to a new file
        for _ in range(repeats):
            for name, frame in ((WITHOUT, None), (WITH, items)):
                size = _file_size(store)
                seconds, cpu_seconds = _timed(lambda f=frame: save_version(store, result, "product", "week", items=f))
                wall[name].append(seconds)
                cpu[name].append(cpu_seconds)
                growth[name].append(_file_size(store) - size)
            rows.append(store.cursor().execute(
                "SELECT count(*) FROM segment_item_features WHERE version_id = (SELECT max(version_id) "
                "FROM segment_versions)").fetchone()[0])
    out = {name: {"seconds": statistics.median(wall[name]), "cpu": statistics.median(cpu[name]),
                  "bytes": statistics.median(growth[name])} for name in wall}
    out[WITH]["rows"] = statistics.median(rows)
    print(f"{'save':<20}{'seconds':>9}{'min':>8}{'max':>8}{'cpu s':>8}{'MB per save':>13}{'feature rows':>14}")
    for name in (WITHOUT, WITH):
        print(f"{name:<20}{out[name]['seconds']:>9.3f}{min(wall[name]):>8.3f}{max(wall[name]):>8.3f}"
              f"{out[name]['cpu']:>8.2f}{out[name]['bytes'] / 1e6:>13.1f}{int(out[name].get('rows', 0)):>14,}")
    extra = out[WITH]["seconds"] - out[WITHOUT]["seconds"]
    print(f"features cost {extra:+.3f} s per save ({extra / out[WITHOUT]['seconds']:+.0%}) at {n_items:,} items; "
          f"after: {_load()}", flush=True)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench save", description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, nargs="+", default=list(DEFAULT_ITEMS))
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    for n_items in args.items:
        run(n_items, args.repeat, args.seed)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
