"""2-D maps of latent codes: PCA at once, UMAP when there is time for it."""

from __future__ import annotations

import logging
import time

import numpy as np

log = logging.getLogger(__name__)


def pca_2d(codes: np.ndarray) -> dict[str, np.ndarray]:
    """Project (N, D) codes on their top two principal axes; keeps the axes for new codes."""
    codes = np.asarray(codes, dtype=np.float64)
    mean = codes.mean(axis=0)
    centred = codes - mean
    _, _, vt = np.linalg.svd(centred, full_matrices=False)
    components = vt[:2]  # (2, D)
    if components.shape[0] < 2:  # a 1-D latent: pad with a zero axis
        components = np.vstack([components, np.zeros_like(components)])
    # Fix each axis' sign so the same data always gives the same picture.
    signs = np.sign(components[np.arange(2), np.abs(components).argmax(axis=1)])
    components *= np.where(signs == 0, 1, signs)[:, None]
    return {
        "xy": (centred @ components.T).astype(np.float32),  # (N, 2)
        "components": components.astype(np.float32),
        "mean": mean.astype(np.float32),
    }


def exact_knn(codes: np.ndarray, k: int = 15) -> tuple[np.ndarray, np.ndarray, None]:
    """Exact k nearest neighbours (self included), in the form UMAP's `precomputed_knn` takes.

    For 10k low-dimensional codes an exact search takes about a second and skips pynndescent,
    whose numba compilation is a large part of UMAP's first-call cost.
    """
    from scipy.spatial import cKDTree

    distances, indices = cKDTree(codes).query(codes, k=k)
    return indices.astype(np.int64), distances.astype(np.float32), None


def umap_2d(codes: np.ndarray, seed: int = 0, n_neighbors: int = 15) -> dict[str, np.ndarray]:
    """UMAP of (N, D) codes. Slow the first time in a process (numba compiles): run it offline."""
    import umap  # imported here: ~4 s, and only the offline path needs it

    started = time.monotonic()
    codes = np.asarray(codes, dtype=np.float32)
    n_neighbors = min(n_neighbors, len(codes) - 1)
    reducer = umap.UMAP(n_components=2, n_neighbors=n_neighbors, random_state=seed, init="pca",
                        precomputed_knn=exact_knn(codes, n_neighbors))
    xy = reducer.fit_transform(codes)
    log.info("UMAP of %d points took %.1f s", len(codes), time.monotonic() - started)
    return {"xy": np.asarray(xy, dtype=np.float32)}
