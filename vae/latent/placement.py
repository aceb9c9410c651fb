"""Placing codes on a 2-D map and back: a map position's code, a code's map position, neighbours.

Both directions weigh the k nearest points by inverse distance (`inverse_distance_weighted`)
where there is nothing better: outside the map's convex hull, and for UMAP, which has no cheap
forward transform of a new code.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.spatial import Delaunay, cKDTree

MAX_TRIANGULATED = 100_000


def inverse_distance_weighted(tree: cKDTree, point: np.ndarray, values: np.ndarray, k: int) -> np.ndarray:
    """The mean of `values` at the k points of `tree` nearest `point`, weighted by 1 / distance."""
    distances, index = tree.query(point, k=k)
    weights = 1 / np.maximum(np.atleast_1d(distances), 1e-12)
    return (weights / weights.sum()) @ values[np.atleast_1d(index)]


class InverseProjector:
    """Map a 2-D map position back to a latent code without UMAP's slow inverse_transform.

    Inside the convex hull of the map: barycentric interpolation of the codes at the corners of
    the Delaunay triangle holding the point. Outside: inverse-distance weighting of the k nearest
    map points. Building takes ~50 ms for 10k points; a query well under a millisecond. Above
    MAX_TRIANGULATED points (a million took a minute to triangulate here) every position is
    decoded from its k nearest points, found among all of them by a k-d tree (~1 s to build).
    """

    def __init__(self, xy: np.ndarray, codes: np.ndarray, k: int = 8) -> None:
        self.xy = np.asarray(xy, dtype=np.float64)
        self.codes = np.asarray(codes)
        self.k = min(k, len(self.xy))
        self.tree = cKDTree(self.xy)
        self.triangulation = Delaunay(self.xy) if len(self.xy) <= MAX_TRIANGULATED else None
        # SciPy computes the barycentric transforms lazily: pay for them here, not in the first click.
        self.transforms = None if self.triangulation is None else self.triangulation.transform  # (T, 3, 2)

    def __call__(self, point: tuple[float, float]) -> tuple[np.ndarray, str]:
        """Latent code (D,) at `point`, and 'barycentric' or 'neighbours' for how it was found."""
        p = np.asarray(point, dtype=np.float64)
        simplex = -1 if self.triangulation is None else int(self.triangulation.find_simplex(p))
        if simplex >= 0:
            transform = self.transforms[simplex]
            partial = transform[:2] @ (p - transform[2])
            weights = np.append(partial, 1 - partial.sum())
            corners = self.triangulation.simplices[simplex]
            return (weights @ self.codes[corners].astype(np.float64)).astype(np.float32), "barycentric"
        codes = inverse_distance_weighted(self.tree, p, self.codes, self.k)
        return codes.astype(np.float32), "neighbours"


@dataclass
class ForwardProjector:
    """Place a new latent code on an existing map: linear for PCA, neighbours for UMAP."""

    codes: np.ndarray  # (N, D) the codes the map was made from
    xy: np.ndarray  # (N, 2)
    components: np.ndarray | None = None  # (2, D) for PCA
    mean: np.ndarray | None = None
    k: int = 8

    def __post_init__(self) -> None:
        self.tree = None if self.components is not None or self.codes.shape[1] == 2 else cKDTree(self.codes)

    def __call__(self, code: np.ndarray) -> np.ndarray:
        code = np.asarray(code, dtype=np.float64)
        if self.components is not None:
            return (code - self.mean) @ self.components.T
        if self.tree is None:  # the map is the 2-D latent itself
            return code[:2].copy()
        return inverse_distance_weighted(self.tree, code, self.xy, min(self.k, len(self.codes)))

    def place_many(self, codes: np.ndarray) -> np.ndarray:
        """(M, D) codes -> (M, 2) at once, row i equal to `self(codes[i])` (overlays place hundreds)."""
        codes = np.asarray(codes, dtype=np.float64).reshape(-1, self.codes.shape[1])
        if self.components is not None:
            return (codes - self.mean) @ np.asarray(self.components, dtype=np.float64).T
        if self.tree is None:
            return codes[:, :2].copy()
        k = min(self.k, len(self.codes))
        distances, index = self.tree.query(codes, k=k)
        weights = 1 / np.maximum(distances.reshape(len(codes), k), 1e-12)  # (M, k)
        weights /= weights.sum(axis=1, keepdims=True)
        return np.einsum("mk,mkj->mj", weights, np.asarray(self.xy, dtype=np.float64)[index.reshape(len(codes), k)])


def nearest_neighbours(codes: np.ndarray, query: np.ndarray, k: int = 8, exclude: int | None = None) -> np.ndarray:
    """Indices of the k codes closest (Euclidean) to `query`, nearest first."""
    distances = np.sum((codes - query) ** 2, axis=1)
    if exclude is not None:
        distances[exclude] = np.inf
    k = min(k, len(codes) - (exclude is not None))
    nearest = np.argpartition(distances, k)[:k] if k < len(codes) else np.arange(len(codes))
    return nearest[np.argsort(distances[nearest])]
