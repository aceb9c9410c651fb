"""Placing codes on a 2-D map and back: a map position's code, a code's map position, neighbours.

Both directions weigh the k nearest points by inverse distance (`inverse_distance_weighted`)
where there is nothing better: outside the map's convex hull, and for UMAP, which has no cheap
forward transform of a new code. A code that a map position decoded to goes back to that position
(`MapSurface`): a click's mark lands where the click was.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.spatial import Delaunay, cKDTree

MAX_TRIANGULATED = 100_000
# Triangles × latent dimensions above which a map keeps no MapSurface (three such float64 arrays).
MAX_SURFACE_VALUES = 8_000_000
# How far outside a triangle (in barycentric weight) a code rounded for display may seem to lie.
SURFACE_SLACK = 0.05


def inverse_distance_weighted(tree: cKDTree, points: np.ndarray, values: np.ndarray, k: int) -> np.ndarray:
    """The mean of `values` at the k points of `tree` nearest each of `points` ((dims,) or (M, dims)), weighted
    by 1 / distance: (D,) or (M, D)."""
    points = np.asarray(points, dtype=np.float64)
    distances, index = tree.query(points, k=k)
    shape = (*points.shape[:-1], k)
    weights = 1 / np.maximum(np.reshape(distances, shape), 1e-12)
    weights /= weights.sum(axis=-1, keepdims=True)
    return np.einsum("...k,...kd->...d", weights, values[np.reshape(index, shape)])


def barycentric_transforms(points: np.ndarray, simplices: np.ndarray) -> np.ndarray:
    """SciPy's `Delaunay.transform` of a 2-D triangulation, (T, 3, 2): rows 0-1 the inverse of the matrix
    whose columns are corners 0 and 1 less corner 2, row 2 corner 2 (NaN rows for a flat triangle).

    Computed in a few array operations: SciPy's own loop (~0.05 s for 20k triangles alone) took 2-4 s in
    the app's server, where other Python threads (serving the page's files) take the GIL between triangles.
    """
    corners = np.asarray(points, dtype=np.float64)[simplices]  # (T, 3, 2)
    (a, c), (b, d) = (corners[:, 0] - corners[:, 2]).T, (corners[:, 1] - corners[:, 2]).T  # columns [[a, b], [c, d]]
    with np.errstate(divide="ignore", invalid="ignore"):
        determinant = (a * d - b * c)[:, None, None]
        inverse = np.stack([np.stack([d, -b], axis=1), np.stack([-c, a], axis=1)], axis=1) / determinant
    inverse[~np.isfinite(inverse).all(axis=(1, 2))] = np.nan
    return np.concatenate([inverse, corners[:, 2:]], axis=1)


class InverseProjector:
    """Map a 2-D map position back to a latent code without UMAP's slow inverse_transform.

    Inside the convex hull of the map: barycentric interpolation of the codes at the corners of
    the Delaunay triangle holding the point. Outside: inverse-distance weighting of the k nearest
    map points. Building takes ~60 ms for 10k points; a query ~0.6 ms (~13 ms for 100k points). Above
    MAX_TRIANGULATED points (a million took a minute to triangulate here) every position is
    decoded from its k nearest points, found among all of them by a k-d tree (~1 s to build).
    """

    def __init__(self, xy: np.ndarray, codes: np.ndarray, k: int = 8) -> None:
        self.xy = np.asarray(xy, dtype=np.float64)
        self.codes = np.asarray(codes)
        self.k = min(k, len(self.xy))
        self.tree = cKDTree(self.xy)
        self.triangulation = Delaunay(self.xy) if len(self.xy) <= MAX_TRIANGULATED else None
        # Paid here, not in the first click; SciPy's find_simplex would compute its own, slowly (see below).
        self.transforms = (None if self.triangulation is None
                           else barycentric_transforms(self.xy, self.triangulation.simplices))  # (T, 3, 2)
        if self.triangulation is not None:  # SciPy's find_simplex (`codes_at`) takes these, not its own loop's
            self.triangulation._transform = self.transforms
        corners = None if self.triangulation is None else self.xy[self.triangulation.simplices]  # (T, 3, 2)
        self.boxes = None if corners is None else (corners.min(axis=1), corners.max(axis=1))  # each (T, 2)

    def surface(self) -> MapSurface | None:
        """The codes this projector gives inside the hull, for placing them back (None when too large)."""
        if self.triangulation is None or not MapSurface.fits(len(self.triangulation.simplices), self.codes.shape[1]):
            return None
        return MapSurface(self.triangulation, self.xy, self.codes)

    def _locate(self, p: np.ndarray) -> tuple[int, np.ndarray | None]:
        """A triangle holding `p` (-1 outside the hull) and `p`'s first two barycentric weights in it, in
        place of SciPy's find_simplex: the weights in every triangle whose bounding box holds `p`."""
        if self.transforms is None:
            return -1, None
        slack = 100 * np.finfo(np.float64).eps  # as SciPy's find_simplex
        low, high = self.boxes
        near = np.flatnonzero(((low - slack <= p) & (p <= high + slack)).all(axis=1))
        transforms = self.transforms[near]
        weights = np.einsum("tij,tj->ti", transforms[:, :2], p - transforms[:, 2])  # (candidates, 2)
        holding = np.flatnonzero((weights >= -slack).all(axis=1) & (weights.sum(axis=1) <= 1 + slack))
        return (int(near[holding[0]]), weights[holding[0]]) if len(holding) else (-1, None)

    def __call__(self, point: tuple[float, float]) -> tuple[np.ndarray, str]:
        """Latent code (D,) at `point`, and 'barycentric' or 'neighbours' for how it was found."""
        p = np.asarray(point, dtype=np.float64)
        simplex, partial = self._locate(p)
        if simplex >= 0:
            weights = np.append(partial, 1 - partial.sum())
            corners = self.triangulation.simplices[simplex]
            return (weights @ self.codes[corners].astype(np.float64)).astype(np.float32), "barycentric"
        codes = inverse_distance_weighted(self.tree, p, self.codes, self.k)
        return codes.astype(np.float32), "neighbours"

    def codes_at(self, points: np.ndarray) -> np.ndarray:
        """(M, 2) map positions -> (M, D) float32 codes at once, row i equal to `self(points[i])[0]`
        (an atlas asks for a thousand per view)."""
        points = np.asarray(points, dtype=np.float64).reshape(-1, 2)
        out = np.empty((len(points), self.codes.shape[1]), dtype=np.float32)
        simplices = (np.full(len(points), -1) if self.triangulation is None
                     else self.triangulation.find_simplex(points))
        inside = simplices >= 0
        if inside.any():
            transforms = self.transforms[simplices[inside]]  # (m, 3, 2)
            partial = np.einsum("mij,mj->mi", transforms[:, :2], points[inside] - transforms[:, 2])  # (m, 2)
            weights = np.column_stack([partial, 1 - partial.sum(axis=1)])  # (m, 3)
            corners = self.codes[self.triangulation.simplices[simplices[inside]]].astype(np.float64)  # (m, 3, D)
            out[inside] = np.einsum("mk,mkd->md", weights, corners)
        if (~inside).any():
            out[~inside] = inverse_distance_weighted(self.tree, points[~inside], self.codes, self.k)
        return out


class MapSurface:
    """The codes that the map's positions decode to inside its convex hull: each Delaunay triangle of
    the map, carried into latent space by its corners' codes (InverseProjector's barycentric step).

    Neighbour placement of such a code can land far from where it came from (a code between two
    clusters has its latent neighbours in one of them); on the surface, it has exactly one place.
    """

    def __init__(self, triangulation: Delaunay, xy: np.ndarray, codes: np.ndarray) -> None:
        corners = triangulation.simplices  # (T, 3)
        latent = np.asarray(codes, dtype=np.float64)[corners]  # (T, 3, D)
        self.origin = latent[:, 0]
        self.edges = latent[:, 1:] - latent[:, :1]  # (T, 2, D)
        self.solve = np.linalg.pinv(self.edges.transpose(0, 2, 1))  # (T, 2, D): least-squares weights
        place = np.asarray(xy, dtype=np.float64)[corners]
        self.xy_origin, self.xy_edges = place[:, 0], place[:, 1:] - place[:, :1]

    @staticmethod
    def fits(triangles: int, latent_dim: int) -> bool:
        return triangles * latent_dim <= MAX_SURFACE_VALUES

    def place(self, code: np.ndarray, tolerance: float) -> np.ndarray | None:
        """The map position whose code is within `tolerance` (latent distance) of `code`, else None."""
        offset = np.asarray(code, dtype=np.float64) - self.origin  # (T, D)
        weights = np.einsum("tij,tj->ti", self.solve, offset)  # (T, 2): along each triangle's two edges
        near = np.flatnonzero((weights >= -SURFACE_SLACK).all(axis=1) & (weights.sum(axis=1) <= 1 + SURFACE_SLACK))
        if not len(near):
            return None
        inside = np.clip(weights[near], 0, None)
        inside /= np.maximum(inside.sum(axis=1, keepdims=True), 1)  # back onto the triangle
        miss = np.linalg.norm(offset[near] - np.einsum("ti,tij->tj", inside, self.edges[near]), axis=1)
        best = int(np.argmin(miss))
        if miss[best] > tolerance:
            return None
        triangle = near[best]
        return self.xy_origin[triangle] + inside[best] @ self.xy_edges[triangle]


@dataclass
class ForwardProjector:
    """Place a new latent code on an existing map: linear for PCA, neighbours for UMAP."""

    codes: np.ndarray  # (N, D) the codes the map was made from
    xy: np.ndarray  # (N, 2)
    components: np.ndarray | None = None  # (2, D) for PCA
    mean: np.ndarray | None = None
    k: int = 8
    surface: MapSurface | None = None  # UMAP: codes that came from a map position go back to it
    tolerance: float = 0.0  # how far (latent distance) a code may lie from the surface and still count

    def __post_init__(self) -> None:
        self.tree = None if self.components is not None or self.codes.shape[1] == 2 else cKDTree(self.codes)

    def __call__(self, code: np.ndarray) -> np.ndarray:
        code = np.asarray(code, dtype=np.float64)
        if self.components is not None:  # linear: a mix of map points' codes lands on the same mix of places
            return (code - self.mean) @ self.components.T
        if self.tree is None:  # the map is the 2-D latent itself
            return code[:2].copy()
        if self.surface is not None and (place := self.surface.place(code, self.tolerance)) is not None:
            return place
        return inverse_distance_weighted(self.tree, code, self.xy, min(self.k, len(self.codes)))

    def place_many(self, codes: np.ndarray) -> np.ndarray:
        """(M, D) codes -> (M, 2) at once, row i equal to `self(codes[i])` (overlays place hundreds)."""
        codes = np.asarray(codes, dtype=np.float64).reshape(-1, self.codes.shape[1])
        if self.components is not None:
            return (codes - self.mean) @ np.asarray(self.components, dtype=np.float64).T
        if self.tree is None:
            return codes[:, :2].copy()
        return inverse_distance_weighted(self.tree, codes, np.asarray(self.xy, dtype=np.float64),
                                         min(self.k, len(self.codes)))


DISTANCES = ("euclidean", "cosine")


def neighbours_with_distances(codes: np.ndarray, query: np.ndarray, k: int = 8, exclude: int | None = None,
                              distance: str = "euclidean") -> tuple[np.ndarray, np.ndarray]:
    """The k codes closest to `query`, nearest first: their indices and distances (Euclidean, or cosine:
    1 − cos of the angle between the codes, for when a code's direction matters more than its length)."""
    codes, query = np.asarray(codes, dtype=np.float64), np.asarray(query, dtype=np.float64)
    if distance == "cosine":
        norms = np.maximum(np.linalg.norm(codes, axis=1) * np.linalg.norm(query), 1e-12)
        distances = 1 - codes @ query / norms
    elif distance == "euclidean":
        distances = np.sqrt(np.sum((codes - query) ** 2, axis=1))
    else:
        raise ValueError(f"distance must be one of {', '.join(DISTANCES)}")
    if exclude is not None:
        distances[exclude] = np.inf
    k = min(k, len(codes) - (exclude is not None))
    nearest = np.argpartition(distances, k)[:k] if k < len(codes) else np.arange(len(codes))
    nearest = nearest[np.argsort(distances[nearest], kind="stable")]
    return nearest, distances[nearest]


def nearest_neighbours(codes: np.ndarray, query: np.ndarray, k: int = 8, exclude: int | None = None) -> np.ndarray:
    """Indices of the k codes closest (Euclidean) to `query`, nearest first."""
    return neighbours_with_distances(codes, query, k, exclude)[0]
