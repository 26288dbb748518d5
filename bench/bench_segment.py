"""Re-segmenting after a weight change: segplan's engine vs plain scikit-learn on the same matrix.

Run: ``python -m bench segment [--items 100000 1000000] [--repeat K]`` (or
``python bench/bench_segment.py ...``). Aim (issue "Segmentation engine"): from changed weight
to result under 1 s median at 100k items and under 10 s at 1M items (k-means, fixed k).

For each size the features are prepared once (the first fit, timed on its own), then K weight
changes are timed, round robin over the contenders so that a change in machine load hits each
of them alike:

* ``segplan``: ``Segmenter(..., weights=w).fit(items, prepared=first.prepared_)``, which is what
  the Segment page does on a slider change: reweight, cluster, merge small segments,
  distances, metrics, profile, names.
* ``sklearn KMeans``: ``KMeans(n_clusters=k, n_init=<the engine's>, random_state=seed)`` fitted
  on the same weighted matrix (``prepared.reweight(w)``, built outside the timer): the
  clustering alone, none of segplan's other work.
* ``sklearn MiniBatchKMeans`` (above the engine's mini-batch threshold, i.e. at 1M): scikit-learn
  defaults plus ``n_clusters`` and ``random_state``.

The baselines run under the same native thread limit as the engine (``ClusterOptions.threads``,
1 by default), so that the ratio compares algorithms, not thread counts. Timings are medians of
wall seconds; CPU seconds (process time, all threads) are the medians too. ARI is the adjusted
Rand index of each baseline's labels against segplan's final labels, lowest over the K changes:
near 1 means both found the same segments, so the times are of like with like. segplan merges
segments below 5 % of revenue (the page's default) into the nearest, which the baselines do
not; so the first ARI column applies the same merge rule (`core.segment._order_and_merge`,
outside the timer) to the baseline's clusters before comparing, and the second compares its
raw clusters. Where they differ, "SSE ratio" says who found the tighter segments: the within-segment
sum of squares of the baseline's merged segments over segplan's, on the same weighted matrix
(median over the changes; above 1 means segplan's are tighter).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

if __package__ in (None, ""):  # run as a script: make `core` and `bench` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from core.segment import Segmenter, _order_and_merge
from core.segment_methods import SMALL_DATA, ClusterOptions, centres_of, thread_limit

FEATURES = ["quantity", "revenue", "margin_pct", "orders", "customers", "cv", "adi", "weeks_since_last_sale"]
DEFAULT_ITEMS = (100_000, 1_000_000)
DEFAULT_K = 6
DEFAULT_SEED = 0
#: Seconds from changed weight to result, median, by item count (from the issue).
AIMS = {100_000: 1.0, 1_000_000: 10.0}
SEGPLAN = "segplan"
KMEANS = "sklearn KMeans"
MINIBATCH = "sklearn MiniBatchKMeans"


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


def weight_change(r: int) -> dict[str, float]:
    """The r-th weight change: one feature (in turn) weighted 3, the rest 1 (deterministic)."""
    weights = {f: 1.0 for f in FEATURES}
    weights[FEATURES[r % len(FEATURES)]] = 3.0
    return weights


def engine_n_init(n_items: int, options: ClusterOptions) -> int:
    """The k-means restarts the engine uses (`core.segment_methods._kmeans`), for the baseline."""
    return options.n_init or (8 if n_items <= SMALL_DATA else 2)


def _timed(fn):
    """(result, wall seconds, CPU seconds of the whole process, i.e. all its threads)."""
    w0, c0 = time.perf_counter(), time.process_time()
    out = fn()
    return out, time.perf_counter() - w0, time.process_time() - c0


def within_ss(matrix: np.ndarray, labels: np.ndarray) -> float:
    """Within-segment sum of squared distances to the segment means (k-means' objective)."""
    segments = np.unique(labels)
    centres = centres_of(matrix, labels, segments)
    return float(((matrix - centres[np.searchsorted(segments, labels)]) ** 2).sum())


def _load() -> str:
    return "load average " + " ".join(f"{x:.2f}" for x in os.getloadavg())


def run(n_items: int, repeats: int, k: int = DEFAULT_K, seed: int = DEFAULT_SEED,
        options: ClusterOptions | None = None) -> dict:
    """Time one size; print its table; return the numbers (for tests and callers).

    ``options``: the engine's `ClusterOptions` (default: its defaults, as on the Segment page);
    the baselines follow its thread limit, restarts and mini-batch threshold.
    """
    from sklearn.cluster import KMeans, MiniBatchKMeans
    from sklearn.metrics import adjusted_rand_score

    options = options or ClusterOptions()
    n_init = engine_n_init(n_items, options)
    minibatch = n_items > options.minibatch_threshold
    items = synthetic_items(n_items, seed)
    print(f"segmentation: {n_items:,} items x {len(FEATURES)} features, k={k}, seed {seed}, "
          f"{repeats} weight changes (median); native threads {options.threads} for every contender; "
          f"engine k-means path: {'mini-batch' if minibatch else 'KMeans'} (n_init={n_init}); {_load()}",
          flush=True)

    first, first_wall, first_cpu = _timed(
        lambda: Segmenter(method="kmeans", k=k, features=FEATURES, seed=seed, options=options).fit(items))
    print(f"first fit (prepare + cluster + result): {first_wall:.2f} s, cpu {first_cpu:.2f} s", flush=True)
    prepared = first.prepared_

    contenders = [SEGPLAN, KMEANS] + ([MINIBATCH] if minibatch else [])
    wall = {c: [] for c in contenders}
    cpu = {c: [] for c in contenders}
    ari = {c: [] for c in contenders[1:]}
    ari_raw = {c: [] for c in contenders[1:]}
    sse = {c: [] for c in contenders[1:]}
    merges = []
    volume = np.clip(items["revenue"].to_numpy(), 0.0, None)  # the engine's default measure
    for r in range(repeats):
        weights = weight_change(r)
        fitted, w, c = _timed(lambda: Segmenter(method="kmeans", k=k, features=FEATURES, weights=weights,
                                                seed=seed, options=options).fit(items, prepared=prepared))
        wall[SEGPLAN].append(w)
        cpu[SEGPLAN].append(c)
        ours = fitted.result_.assignments["segment"].to_numpy()
        merges.append(len(fitted.result_.merges))
        min_share = float(fitted.result_.parameters["min_share"])
        # The baselines' input, built outside their timer: the same weighted matrix the engine clusters.
        matrix, _ = prepared.reweight(weights)
        models = {KMEANS: lambda: KMeans(n_clusters=k, n_init=n_init, random_state=seed)}
        if minibatch:
            models[MINIBATCH] = lambda: MiniBatchKMeans(n_clusters=k, random_state=seed)
        for name, make in models.items():
            with thread_limit(options.threads):
                labels, w, c = _timed(lambda make=make: make().fit_predict(matrix))
            wall[name].append(w)
            cpu[name].append(c)
            merged, _ = _order_and_merge(matrix, labels.astype(np.int64), volume, min_share, 1, "revenue")
            ari[name].append(adjusted_rand_score(ours, merged))
            ari_raw[name].append(adjusted_rand_score(ours, labels))
            sse[name].append(within_ss(matrix, merged) / within_ss(matrix, ours))

    median = {c: statistics.median(wall[c]) for c in contenders}
    median_cpu = {c: statistics.median(cpu[c]) for c in contenders}
    print(f"{'contender':<26}{'seconds':>9}{'min':>8}{'max':>8}{'cpu s':>8}{'baseline/segplan':>18}"
          f"{'ARI merged':>12}{'ARI raw':>9}{'SSE ratio':>11}")
    for c in contenders:
        ratio = median[c] / median[SEGPLAN] if median[SEGPLAN] > 0 else float("nan")
        agree, raw, tight = ((f"{min(ari[c]):.3f}", f"{min(ari_raw[c]):.3f}", f"{statistics.median(sse[c]):.3f}")
                             if c in ari else ("-", "-", "-"))
        print(f"{c:<26}{median[c]:>9.3f}{min(wall[c]):>8.3f}{max(wall[c]):>8.3f}{median_cpu[c]:>8.2f}"
              f"{ratio:>17.2f}x{agree:>12}{raw:>9}{tight:>11}")
    print(f"segplan merged {min(merges)}-{max(merges)} small segment(s) per change (min share "
          f"{min_share:.0%} of revenue); ARI is the lowest over the {repeats} changes")
    aim = AIMS.get(n_items)
    if aim is None:
        verdict = None
        print(f"aim: none stated for {n_items:,} items (stated: "
              + ", ".join(f"{n:,} items under {s:g} s" for n, s in AIMS.items()) + ")")
    else:
        verdict = median[SEGPLAN] < aim
        print(f"aim: re-segment {n_items:,} items under {aim:g} s median: {median[SEGPLAN]:.3f} s "
              f"{'PASS' if verdict else 'MISS'}")
    print(f"after: {_load()}", flush=True)
    return {"items": n_items, "first_fit": (first_wall, first_cpu), "median": median, "cpu": median_cpu,
            "ari": {c: min(v) for c, v in ari.items()}, "ari_raw": {c: min(v) for c, v in ari_raw.items()},
            "sse_ratio": {c: statistics.median(v) for c, v in sse.items()}, "aim_met": verdict}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench segment",
        description="Re-segmenting after a weight change: segplan vs scikit-learn on the same weighted matrix.")
    parser.add_argument("--items", type=int, nargs="+", default=list(DEFAULT_ITEMS),
                        help="item counts, one table each (default 100000 1000000)")
    parser.add_argument("--repeat", type=int, default=None,
                        help="weight changes per size; the median is reported (default 5, or 3 above 200,000 items)")
    parser.add_argument("--k", type=int, default=DEFAULT_K, help="segments (default 6, the synthetic groups)")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED, help="seed of the data and of every fit")
    args = parser.parse_args(list(sys.argv[1:] if argv is None else argv))
    if any(n < 2 * args.k for n in args.items) or (args.repeat is not None and args.repeat < 1):
        parser.error("--items must be at least 2*k and --repeat at least 1")
    for i, n in enumerate(args.items):
        if i:
            print()
        run(n, args.repeat or (5 if n <= 200_000 else 3), args.k, args.seed)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
