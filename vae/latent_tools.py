"""Latent-space helpers for the explorer: fast inverse projection, neighbours, decoding to pixels."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from scipy.spatial import Delaunay, cKDTree

from vae.models import VAE

COLLAPSED_KL = 0.01  # nats: a dimension whose mean KL is below this carries no information


def order_dimensions(kl_per_dim: np.ndarray, threshold: float = COLLAPSED_KL) -> tuple[list[int], list[int]]:
    """(informative dims by KL, most first; collapsed dims) — the sliders' order."""
    order = [int(d) for d in np.argsort(-np.asarray(kl_per_dim), kind="stable")]
    return [d for d in order if kl_per_dim[d] >= threshold], [d for d in order if kl_per_dim[d] < threshold]


class InverseProjector:
    """Map a 2-D map position back to a latent code without UMAP's slow inverse_transform.

    Inside the convex hull of the map: barycentric interpolation of the codes at the corners of
    the Delaunay triangle holding the point. Outside: inverse-distance weighting of the k nearest
    map points. Building takes ~50 ms for 10k points; a query well under a millisecond.
    """

    METHOD = "Delaunay barycentric interpolation (k-nearest inverse-distance weighting outside the hull)"

    def __init__(self, xy: np.ndarray, codes: np.ndarray, k: int = 8) -> None:
        self.xy = np.asarray(xy, dtype=np.float64)
        self.codes = np.asarray(codes, dtype=np.float64)
        self.k = min(k, len(self.xy))
        self.tree = cKDTree(self.xy)
        self.triangulation = Delaunay(self.xy)
        # SciPy computes the barycentric transforms lazily: pay for them here, not in the first click.
        self.transforms = self.triangulation.transform  # (T, 3, 2)

    def __call__(self, point: tuple[float, float]) -> tuple[np.ndarray, str]:
        """Latent code (D,) at `point`, and 'barycentric' or 'neighbours' for how it was found."""
        p = np.asarray(point, dtype=np.float64)
        simplex = int(self.triangulation.find_simplex(p))
        if simplex >= 0:
            transform = self.transforms[simplex]
            partial = transform[:2] @ (p - transform[2])
            weights = np.append(partial, 1 - partial.sum())
            corners = self.triangulation.simplices[simplex]
            return (weights @ self.codes[corners]).astype(np.float32), "barycentric"
        distances, index = self.tree.query(p, k=self.k)
        weights = 1 / np.maximum(np.atleast_1d(distances), 1e-12)
        code = (weights / weights.sum()) @ self.codes[np.atleast_1d(index)]
        return code.astype(np.float32), "neighbours"


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
        distances, index = self.tree.query(code, k=min(self.k, len(self.codes)))
        weights = 1 / np.maximum(np.atleast_1d(distances), 1e-12)
        return (weights / weights.sum()) @ self.xy[np.atleast_1d(index)]


def nearest_neighbours(codes: np.ndarray, query: np.ndarray, k: int = 8, exclude: int | None = None) -> np.ndarray:
    """Indices of the k codes closest (Euclidean) to `query`, nearest first."""
    distances = np.sum((codes - query) ** 2, axis=1)
    if exclude is not None:
        distances[exclude] = np.inf
    k = min(k, len(codes) - (exclude is not None))
    nearest = np.argpartition(distances, k)[:k] if k < len(codes) else np.arange(len(codes))
    return nearest[np.argsort(distances[nearest])]


def to_pixels(images: np.ndarray | torch.Tensor, scale: int = 1) -> np.ndarray:
    """(N, C, H, W) uint8 or [0, 1] floats -> (N, H*scale, W*scale[, 3]) uint8, nearest-neighbour."""
    array = images.detach().cpu().numpy() if isinstance(images, torch.Tensor) else np.asarray(images)
    if array.dtype != np.uint8:
        array = (np.clip(array, 0, 1) * 255 + 0.5).astype(np.uint8)
    array = array.transpose(0, 2, 3, 1)  # (N, H, W, C)
    if scale > 1:
        array = array.repeat(scale, axis=1).repeat(scale, axis=2)
    return array[..., 0] if array.shape[-1] == 1 else array


@torch.no_grad()
def decode_codes(model: VAE, codes: np.ndarray, scale: int = 1) -> np.ndarray:
    """Decode (N, D) codes to display pixels (see `to_pixels`)."""
    z = torch.as_tensor(np.asarray(codes, dtype=np.float32)).reshape(-1, model.latent_dim)
    return to_pixels(model.decode(z), scale)


@torch.no_grad()
def reconstruct_images(model: VAE, images: np.ndarray, scale: int = 1) -> np.ndarray:
    """Reconstructions (from the posterior mean) of uint8 (N, C, H, W) images, as display pixels."""
    x = torch.from_numpy(np.asarray(images)).float() / 255
    return to_pixels(model.reconstruct(x), scale)


def display_subset(n: int, limit: int, keep: int | None = None, seed: int = 0) -> np.ndarray:
    """Sorted indices of the points to draw: all of them up to `limit`, else a fixed random sample.

    The sample is the same on every rerun (seeded), and `keep` (the selected point) is always in it.
    """
    if n <= limit:
        return np.arange(n)
    chosen = np.random.default_rng(seed).choice(n, size=limit, replace=False)
    if keep is not None and 0 <= keep < n and keep not in chosen:
        chosen[0] = keep
    return np.sort(chosen)


def points_in_box(xy: np.ndarray, x_range: tuple[float, float], y_range: tuple[float, float]) -> np.ndarray:
    """Indices of the points inside an axis-aligned box (either corner order)."""
    (x0, x1), (y0, y1) = sorted(x_range), sorted(y_range)
    inside = (xy[:, 0] >= x0) & (xy[:, 0] <= x1) & (xy[:, 1] >= y0) & (xy[:, 1] <= y1)
    return np.flatnonzero(inside)


def points_in_polygon(xy: np.ndarray, polygon_x: np.ndarray, polygon_y: np.ndarray) -> np.ndarray:
    """Indices of the points inside a polygon (even-odd rule), vectorised over the points."""
    px, py = np.asarray(polygon_x, dtype=np.float64), np.asarray(polygon_y, dtype=np.float64)
    x, y = xy[:, 0:1], xy[:, 1:2]  # (N, 1) against (V,) edges
    qx, qy = np.roll(px, -1), np.roll(py, -1)
    crosses = (py > y) != (qy > y)
    with np.errstate(divide="ignore", invalid="ignore"):
        at_x = px + (y - py) * (qx - px) / (qy - py)
    inside = np.logical_xor.reduce(crosses & (x < at_x), axis=1)
    return np.flatnonzero(inside)
