"""Clustering algorithms on a prepared, weighted matrix: labels and centres only.

Every function takes a seed and returns the same labels for the same matrix and seed.
Label ``NOISE`` (-1) marks items HDBSCAN leaves unclassified. scikit-learn and scipy are
imported inside the functions so that importing the engine stays fast.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np

from core.errors import SegplanError

CLUSTER_METHODS = ("kmeans", "hierarchical", "hdbscan", "gmm")
#: Label of items HDBSCAN does not put in any cluster.
NOISE = -1
#: Up to this many items k-means restarts 8 times by default.
SMALL_DATA = 10_000
#: Rows per block when computing item-to-centre distances (bounds memory at 1M items).
_BLOCK_ROWS = 262_144


@dataclass
class ClusterOptions:
    """Size thresholds and algorithm settings; all plain values so they can be saved.

    ``minibatch_threshold``: above this many items k-means runs as mini-batch k-means
    (started from k-means on a sample of this many items), because full Lloyd iterations over
    every item get slow (seconds per fit at a million items).
    ``hierarchical_sample``: Ward linkage needs memory and time quadratic in items, so above
    this many items it is fitted on a seeded sample and the rest join the nearest centre.
    ``hdbscan_sample``: same for HDBSCAN; the rest take the label (or noise) of their nearest
    sampled neighbour. ``gmm_sample``: the Gaussian mixture is fitted on at most this many
    items and then predicts every item. ``min_cluster_size``: HDBSCAN's smallest group
    (default: 1% of the fitted items, at least 10). ``n_init``: k-means restarts (default:
    8 up to `SMALL_DATA` items, where restarts are cheap and guard against a poor local
    optimum, else 2). ``threads``: native threads for scikit-learn and BLAS during a fit
    (``None``: the libraries' default, all cores). Default 1, because on a shared app server
    busy cores make OpenMP threads wait on each other: k-means on 100k items took 0.9 s with
    2 threads on a loaded 2-core machine and 0.07 s with 1.
    """

    minibatch_threshold: int = 200_000
    hierarchical_sample: int = 5_000
    hdbscan_sample: int = 20_000
    gmm_sample: int = 100_000
    min_cluster_size: int | None = None
    n_init: int | None = None
    threads: int | None = 1

    def __post_init__(self) -> None:
        for name, value in self.as_dict().items():
            optional = name in ("min_cluster_size", "n_init", "threads")
            if value is None and optional:
                continue
            if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 1:
                raise SegplanError(f"options: {name} is {value!r}", "give a whole number of 1 or more"
                                   + (" (or None for the default)" if optional else ""))

    def as_dict(self) -> dict[str, int | None]:
        return {
            "minibatch_threshold": self.minibatch_threshold,
            "hierarchical_sample": self.hierarchical_sample,
            "hdbscan_sample": self.hdbscan_sample,
            "gmm_sample": self.gmm_sample,
            "min_cluster_size": self.min_cluster_size,
            "n_init": self.n_init,
            "threads": self.threads,
        }


@contextmanager
def thread_limit(threads: int | None) -> Iterator[None]:
    """Limit native (OpenMP, BLAS) threads inside the block; ``None`` leaves them alone."""
    if threads is None:
        yield
        return
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=threads):
        yield


def seeded_sample(n_items: int, size: int, seed: int) -> np.ndarray:
    """Sorted indices of a seeded sample without replacement (all items when ``size >= n``)."""
    if size >= n_items:
        return np.arange(n_items)
    rng = np.random.default_rng(seed)
    return np.sort(rng.choice(n_items, size=size, replace=False))


def squared_distances(matrix: np.ndarray, centres: np.ndarray) -> np.ndarray:
    """Squared Euclidean distance of every item to every centre, block by block."""
    out = np.empty((matrix.shape[0], centres.shape[0]))
    centre_norms = np.einsum("ij,ij->i", centres, centres)
    for start in range(0, matrix.shape[0], _BLOCK_ROWS):
        block = matrix[start:start + _BLOCK_ROWS]
        d = np.einsum("ij,ij->i", block, block)[:, None] - 2.0 * block @ centres.T + centre_norms[None, :]
        out[start:start + _BLOCK_ROWS] = np.maximum(d, 0.0)
    return out


def centres_of(matrix: np.ndarray, labels: np.ndarray, segments: np.ndarray) -> np.ndarray:
    """Mean of each segment's items (rows in the order of ``segments``)."""
    index = np.searchsorted(segments, labels)
    valid = labels != NOISE
    sums = np.zeros((len(segments), matrix.shape[1]))
    # One bincount per column: much faster than np.add.at on a million rows.
    for j in range(matrix.shape[1]):
        sums[:, j] = np.bincount(index[valid], weights=matrix[valid, j], minlength=len(segments))
    counts = np.bincount(index[valid], minlength=len(segments)).astype(float)
    return sums / np.maximum(counts, 1.0)[:, None]


def cluster_labels(matrix: np.ndarray, method: str, k: int | None, seed: int,
                   options: ClusterOptions | None = None) -> np.ndarray:
    """Cluster labels (0..k-1, or ``NOISE``) for each row of ``matrix``.

    References:
        k-means: Lloyd, S. P. (1982). Least squares quantization in PCM. *IEEE Trans. Inf.
        Theory* 28(2), 129-137; Arthur, D., Vassilvitskii, S. (2007). k-means++. *SODA*.
        MiniBatchKMeans: Sculley, D. (2010). Web-scale k-means clustering. *WWW '10*.
        Ward: Ward, J. H. (1963). Hierarchical grouping to optimize an objective function.
        *JASA* 58(301), 236-244.
        HDBSCAN: Campello, R., Moulavi, D., Sander, J. (2013). Density-based clustering based
        on hierarchical density estimates. *PAKDD*, LNCS 7819, 160-172.
        Gaussian mixture: Dempster, A., Laird, N., Rubin, D. (1977). Maximum likelihood from
        incomplete data via the EM algorithm. *JRSS B* 39(1), 1-38.
    """
    options = options or ClusterOptions()
    n_items = matrix.shape[0]
    if method not in CLUSTER_METHODS:
        raise SegplanError(f"method: unknown clustering method {method!r}",
                           f"use one of: {', '.join(CLUSTER_METHODS)}")
    if method == "hdbscan":
        return _hdbscan(matrix, seed, options)
    if k is None or not 1 <= k <= n_items:
        raise SegplanError(f"k: {k!r} segments for {n_items} items", "choose k between 2 and the number of items")
    if method == "kmeans":
        return _kmeans(matrix, k, seed, options)
    if method == "hierarchical":
        return _ward(matrix, k, seed, options)
    return _gmm(matrix, k, seed, options)


def _kmeans(matrix: np.ndarray, k: int, seed: int, options: ClusterOptions) -> np.ndarray:
    from sklearn.cluster import KMeans

    n_init = options.n_init or (8 if matrix.shape[0] <= SMALL_DATA else 2)
    if matrix.shape[0] > options.minibatch_threshold:
        return _minibatch_kmeans(matrix, k, seed, n_init, options.minibatch_threshold)
    model = KMeans(n_clusters=k, n_init=n_init, random_state=seed)
    return model.fit_predict(matrix).astype(np.int64)


def _minibatch_kmeans(matrix: np.ndarray, k: int, seed: int, n_init: int, start_items: int,
                      batch_size: int = 16_384, max_passes: int = 3, tol: float = 1e-4) -> np.ndarray:
    """Mini-batch k-means (Sculley 2010) started from full k-means on a seeded sample.

    The batches are drawn here and fed to ``partial_fit``: ``MiniBatchKMeans.fit`` in
    scikit-learn 1.9 draws each batch with ``choice(p=weights)``, which costs a pass over all
    items per batch (5-10 s at a million items). Starting from k-means on ``start_items``
    items gives a good start; at most ``max_passes`` passes of batches then refine the
    centres, stopping early when they move less than ``tol`` (relative to the data's spread).
    """
    from sklearn.cluster import KMeans, MiniBatchKMeans

    start = seeded_sample(matrix.shape[0], start_items, seed)
    init = KMeans(n_clusters=k, n_init=n_init, random_state=seed).fit(matrix[start]).cluster_centers_
    batch_size = min(batch_size, matrix.shape[0])
    model = MiniBatchKMeans(n_clusters=k, init=init, n_init=1, batch_size=batch_size, random_state=seed)
    rng = np.random.default_rng(seed)
    scale = float(matrix[start].var(axis=0).sum()) or 1.0
    previous = init
    for _ in range(max(1, max_passes * matrix.shape[0] // batch_size)):
        model.partial_fit(matrix[rng.integers(0, matrix.shape[0], batch_size)])
        shift = float(((model.cluster_centers_ - previous) ** 2).sum()) / scale
        previous = model.cluster_centers_.copy()
        if shift < tol * tol:
            break
    return np.argmin(squared_distances(matrix, model.cluster_centers_), axis=1)


class WardTree:
    """Ward's tree on a seeded sample, built once and cut at any k (the k scan cuts it 9 times).

    Sampled items take their branch of the cut; the other items join the nearest centre of
    the sampled segments.
    """

    def __init__(self, matrix: np.ndarray, seed: int, options: ClusterOptions) -> None:
        from scipy.cluster.hierarchy import ward

        self.matrix = matrix
        self.sample = seeded_sample(matrix.shape[0], options.hierarchical_sample, seed)
        self.tree = ward(matrix[self.sample]) if len(self.sample) > 1 else None

    def labels(self, k: int) -> np.ndarray:
        from scipy.cluster.hierarchy import cut_tree, fcluster

        if self.tree is None or len(self.sample) < k:
            raise SegplanError(f"k: {k} segments but the hierarchical sample has {len(self.sample)} items",
                               "raise hierarchical_sample or lower k")
        # fcluster is fast; with tied merge heights it can return fewer groups, then cut exactly.
        sample_labels = fcluster(self.tree, t=k, criterion="maxclust").astype(np.int64) - 1
        if len(np.unique(sample_labels)) != k:
            sample_labels = cut_tree(self.tree, n_clusters=k)[:, 0].astype(np.int64)
        if len(self.sample) == self.matrix.shape[0]:
            return sample_labels
        centres = centres_of(self.matrix[self.sample], sample_labels, np.arange(k))
        labels = np.argmin(squared_distances(self.matrix, centres), axis=1)
        labels[self.sample] = sample_labels  # sampled items keep the tree's own answer
        return labels


def _ward(matrix: np.ndarray, k: int, seed: int, options: ClusterOptions) -> np.ndarray:
    return WardTree(matrix, seed, options).labels(k)


def _gmm(matrix: np.ndarray, k: int, seed: int, options: ClusterOptions) -> np.ndarray:
    from sklearn.mixture import GaussianMixture

    sample = seeded_sample(matrix.shape[0], options.gmm_sample, seed)
    model = GaussianMixture(n_components=k, covariance_type="full", n_init=2, reg_covar=1e-4, random_state=seed)
    model.fit(matrix[sample])
    return model.predict(matrix).astype(np.int64)


def _hdbscan(matrix: np.ndarray, seed: int, options: ClusterOptions) -> np.ndarray:
    from sklearn.cluster import HDBSCAN
    from sklearn.neighbors import NearestNeighbors

    sample = seeded_sample(matrix.shape[0], options.hdbscan_sample, seed)
    min_size = options.min_cluster_size or max(10, len(sample) // 100)
    if min_size < 2:
        raise SegplanError(f"min_cluster_size: {min_size} is too small", "use 2 or more items")
    sample_labels = HDBSCAN(min_cluster_size=min_size, copy=True).fit_predict(matrix[sample])
    if len(sample) == matrix.shape[0]:
        return sample_labels.astype(np.int64)
    # Items outside the sample take the answer of their nearest sampled neighbour, noise included.
    nearest = NearestNeighbors(n_neighbors=1).fit(matrix[sample]).kneighbors(matrix, return_distance=False)[:, 0]
    labels = sample_labels[nearest].astype(np.int64)
    labels[sample] = sample_labels
    return labels
