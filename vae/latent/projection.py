"""2-D maps of latent codes: PCA at once, UMAP when there is time for it."""

from __future__ import annotations

import collections
import logging
import sys
import time
import warnings

import numpy as np

log = logging.getLogger(__name__)

# umap-learn runs 500 layout epochs up to 10,000 points and 200 above; 200 for every size halves
# the fit of a 10k test set and keeps its trustworthiness within 0.005 of the default fit
# (bench/umap_speed.py; tests/test_projection.py holds the 0.01 bound).
UMAP_EPOCHS = 200
KNN_BLOCK_ENTRIES = 2**23  # distances exact_knn holds at once: 32 MB of float32


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

    A brute-force search by blocks of matrix products (about 0.6 s for 10k 16-D codes, busy) instead of
    pynndescent, whose numba compilation is a large part of UMAP's first call in a process.
    """
    import torch

    centred = np.asarray(codes, dtype=np.float64) - np.mean(codes, axis=0)  # centring keeps digits
    x = torch.from_numpy(centred.astype(np.float32))  # (N, D)
    squares = (x * x).sum(dim=1)[None, :]  # (1, N)
    n = len(x)
    indices = np.empty((n, k), dtype=np.int64)
    block = max(1, KNN_BLOCK_ENTRIES // n)
    for start in range(0, n, block):
        # |a - b|² = |a|² - 2a·b + |b|²; |a|² is the same along a row, so ranking needs the rest only.
        ranking = torch.addmm(squares, x[start:start + block], x.T, alpha=-2)  # (B, N)
        indices[start:start + block] = ranking.topk(k, dim=1, largest=False).indices.numpy()
    # The expansion above loses digits: measure the chosen pairs exactly, nearest first.
    distances = np.linalg.norm(centred[:, None, :] - centred[indices], axis=2)  # (N, k)
    order = np.argsort(distances, axis=1, kind="stable")
    indices = np.take_along_axis(indices, order, axis=1)
    return indices, np.take_along_axis(distances, order, axis=1).astype(np.float32), None


def enable_numba_cache() -> int:
    """Let numba keep umap-learn's compiled kernels on disk, so a new process loads them.

    umap-learn marks one kernel `cache=True`; compiling the rest took most of a first fit (16.9 s
    quiet, 41 s busy for 10k codes). Kernels that share Python code with a parallel twin would
    share its cache entry, so the parallel twins (unused: a seeded fit runs serially) stay
    uncached. Returns how many kernels were switched on.
    """
    from numba.core.registry import CPUDispatcher

    kernels = {id(obj): obj for name, module in list(sys.modules.items())
               if module is not None and (name == "umap" or name.startswith("umap."))
               for obj in list(vars(module).values()) if isinstance(obj, CPUDispatcher)}.values()
    twins = collections.Counter(kernel.py_func for kernel in kernels)
    switched = 0
    for kernel in kernels:
        if type(kernel._cache).__name__ != "NullCache":  # already caching
            continue
        if twins[kernel.py_func] > 1 and kernel.targetoptions.get("parallel"):
            continue
        kernel.enable_caching()
        switched += 1
    return switched


def umap_2d(codes: np.ndarray, seed: int = 0, n_neighbors: int = 15,
            n_epochs: int = UMAP_EPOCHS) -> dict[str, np.ndarray]:
    """UMAP of (N, D) codes: exact kNN, PCA start, kernels from numba's disk cache when primed."""
    import umap  # imported here: 2-4 s, and only the projection worker needs it

    enable_numba_cache()
    started = time.monotonic()
    codes = np.asarray(codes, dtype=np.float32)
    n_neighbors = min(n_neighbors, len(codes) - 1)
    reducer = umap.UMAP(n_components=2, n_neighbors=n_neighbors, random_state=seed, init="pca",
                        n_epochs=n_epochs, precomputed_knn=exact_knn(codes, n_neighbors))
    with warnings.catch_warnings():  # both say what is meant: a seeded (serial) fit, no `transform` later
        warnings.filterwarnings("ignore", message="n_jobs value", category=UserWarning)
        warnings.filterwarnings("ignore", message=r"precomputed_knn\[2\]", category=UserWarning)
        xy = reducer.fit_transform(codes)
    log.info("UMAP of %d points took %.1f s", len(codes), time.monotonic() - started)
    return {"xy": np.asarray(xy, dtype=np.float32)}
