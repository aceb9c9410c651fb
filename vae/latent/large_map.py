"""A neighbour-preserving map of a million codes: UMAP of a sample, every other code placed by its
nearest sample codes.

UMAP's own `transform` of 930,000 codes after a fit on a sample takes tens of minutes on two
cores. Placing a code near its nearest sample code's map position, nudged toward its other near
sample codes' positions, keeps its neighbourhood (the trustworthiness `bench/million_umap.py`
measures) and costs matrix products only (pynndescent's index took minutes of numba compilation
here, a k-d tree in 16-D was no faster, and cutting the sample into k-means cells lost a tenth of
the true neighbours for a third less time). The chosen pairs are measured again exactly, so a sample
code finds itself at distance 0 and lands exactly on its own position.
"""

from __future__ import annotations

import logging
import time

import numpy as np

from vae.latent.projection import KNN_BLOCK_ENTRIES, umap_2d

log = logging.getLogger(__name__)

# Codes UMAP fits; the rest are placed. 20,000 kept the same trustworthiness as 10,000 on the 1M
# codes and took 5x longer (bench/million_umap.py).
SAMPLE_SIZE = 10_000
PLACE_K = 10  # sample neighbours a placed code is averaged over
# How far a code moves from its nearest sample code toward its neighbours' mean. The mean alone
# (1) blurred the map: trustworthiness 0.907 against umap-learn's 0.953 on a 10k sample of the 1M
# codes; the nearest's position alone (0) kept 0.951 but piled ~100 codes on each sample position;
# 0.1 kept 0.944 and spreads each pile by its neighbours (bench/million_umap.py).
PULL = 0.1
# Up to this many codes a map is a UMAP of them all, as before (70,000: about a minute here).
SAMPLED_ABOVE = 100_000


def nearest_in_sample(codes: np.ndarray, sample: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """(M, k) indices into `sample` of each code's k nearest sample codes, nearest first, and their
    exact Euclidean distances (a brute-force search by blocks of matrix products)."""
    import torch

    k = min(k, len(sample))
    mean = np.mean(sample, axis=0, dtype=np.float64).astype(np.float32)
    sample = np.asarray(sample, dtype=np.float32) - mean  # (S, D) centring keeps digits
    s = torch.from_numpy(sample)
    squares = (s * s).sum(dim=1)[None, :]  # (1, S)
    block = max(1, KNN_BLOCK_ENTRIES // len(sample))
    index = np.empty((len(codes), k), dtype=np.int64)
    distances = np.empty((len(codes), k), dtype=np.float32)
    for start in range(0, len(codes), block):
        q = np.asarray(codes[start:start + block], dtype=np.float32) - mean  # (B, D)
        # |q - s|² = |q|² - 2q·s + |s|²; |q|² is the same along a row, so ranking needs the rest only.
        ranking = torch.addmm(squares, torch.from_numpy(q), s.T, alpha=-2)  # (B, S)
        chosen = ranking.topk(k, dim=1, largest=False).indices.numpy()  # (B, k)
        # The expansion loses digits: measure the chosen pairs exactly, nearest first.
        exact = np.linalg.norm(q[:, None, :] - sample[chosen], axis=2)  # (B, k)
        order = np.argsort(exact, axis=1, kind="stable")
        index[start:start + block] = np.take_along_axis(chosen, order, axis=1)
        distances[start:start + block] = np.take_along_axis(exact, order, axis=1)
    return index, distances


def place_by_neighbours(codes: np.ndarray, sample: np.ndarray, sample_xy: np.ndarray, k: int = PLACE_K,
                        pull: float = PULL) -> np.ndarray:
    """(M, 2) positions: each code at its nearest sample code's position, moved `pull` of the way
    toward the 1/distance-weighted mean of its k nearest sample codes' positions (`pull` 1: that
    mean, as `ForwardProjector` places a code). A code equal to a sample code lands on its position."""
    index, distances = nearest_in_sample(codes, sample, k)
    exact = distances[:, 0] == 0
    weights = 1 / np.maximum(distances, 1e-12)  # (M, k)
    weights[exact] = 0
    weights[exact, 0] = 1
    weights /= weights.sum(axis=1, keepdims=True)
    positions = np.asarray(sample_xy, dtype=np.float32)[index]  # (M, k, 2)
    mean = np.einsum("mk,mkj->mj", weights, positions)
    return (positions[:, 0] + pull * (mean - positions[:, 0])).astype(np.float32)


def sample_indices(n: int, size: int, seed: int = 0) -> np.ndarray:
    """Sorted indices of the `size` codes (of `n`) that UMAP fits."""
    return np.sort(np.random.default_rng(seed).choice(n, size, replace=False))


def sampled_umap_2d(codes: np.ndarray, sample_size: int = SAMPLE_SIZE, k: int = PLACE_K, seed: int = 0,
                    sampled_above: int = SAMPLED_ABOVE) -> dict[str, np.ndarray]:
    """UMAP map of (N, D) codes: `umap_2d` of a random sample, every code placed by its neighbours.

    Returns {"xy": (N, 2)}; up to `sampled_above` codes (or `sample_size`), the plain `umap_2d`.
    """
    codes = np.asarray(codes, dtype=np.float32)
    if len(codes) <= max(sampled_above, sample_size):
        return umap_2d(codes, seed=seed)
    started = time.monotonic()
    sample = sample_indices(len(codes), sample_size, seed)
    sample_xy = umap_2d(codes[sample], seed=seed)["xy"]
    fitted = time.monotonic()
    xy = place_by_neighbours(codes, codes[sample], sample_xy, k)  # the sample lands on its own positions
    log.info("UMAP of a %d-code sample in %.1f s, %d codes placed in %.1f s", sample_size, fitted - started,
             len(codes), time.monotonic() - fitted)
    return {"xy": xy}
