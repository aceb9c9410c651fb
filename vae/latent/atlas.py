"""A decoded atlas over a map's view: a K×K grid of cells, each centre's code, and which cells lie far from data.

The map's own inverse projection (`InverseProjector.codes_at`) turns each cell's centre into a code,
so a click on a cell and the empty-space click of the map decode the same code there. A cell is far
from the data when its centre is farther from every test point on the map than the map's points
usually are from their nearest neighbour (FAR_SPACINGS times its FAR_QUANTILE): the decoder is
extrapolating there. That is measured on the 2-D map, not by the prior-hole score of
vae/diagnostics/prior.py: a k-d tree answers a view's thousand cells in about a millisecond, where
the aggregate posterior's density costs a sum over every test code per cell (~0.2 s a view).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.spatial import cKDTree

from vae.latent.placement import InverseProjector

MIN_CELL_PX = 28  # a cell is at least this many screen pixels on its shorter side
MIN_SIDE, MAX_SIDE = 2, 32  # cells per side
FAR_QUANTILE = 0.95
FAR_SPACINGS = 3.0
SPACING_SAMPLE = 10_000  # points whose nearest-neighbour distance sets the spacing (all of a small map)


def side_for(width_px: float, height_px: float, min_cell_px: int = MIN_CELL_PX) -> int:
    """K: as many cells per side as keep each at least `min_cell_px` on screen, MIN_SIDE to MAX_SIDE."""
    return int(np.clip(min(width_px, height_px) // min_cell_px, MIN_SIDE, MAX_SIDE))


def cell_centres(view: tuple[float, float, float, float], side: int) -> np.ndarray:
    """(K*K, 2) the cells' centres row by row, the top row (highest y) first, as vae.latent.plane.tile reads."""
    x0, x1, y0, y1 = view
    xs = x0 + (np.arange(side) + 0.5) * (x1 - x0) / side
    ys = y1 - (np.arange(side) + 0.5) * (y1 - y0) / side
    gx, gy = np.meshgrid(xs, ys)
    return np.column_stack([gx.ravel(), gy.ravel()])


def data_spacing(tree: cKDTree, sample: int = SPACING_SAMPLE, seed: int = 0) -> float:
    """How far apart the map's points usually are: the FAR_QUANTILE of (up to `sample` of) their
    distances to their nearest other point, found among all of them."""
    n = tree.n
    chosen = np.arange(n) if n <= sample else np.random.default_rng(seed).choice(n, sample, replace=False)
    distances, _ = tree.query(tree.data[chosen], k=min(2, n))
    nearest = distances.reshape(len(chosen), -1)[:, -1]
    return float(np.quantile(nearest, FAR_QUANTILE))


def far_from_data(tree: cKDTree, points: np.ndarray, spacing: float) -> np.ndarray:
    """(M,) bool: the map positions farther than FAR_SPACINGS × `spacing` from every map point."""
    distances, _ = tree.query(np.asarray(points, dtype=np.float64), k=1)
    return distances > FAR_SPACINGS * spacing


@dataclass(frozen=True)
class AtlasGrid:
    """One view's atlas: K×K cells, their centres on the map, their codes and which lie far from data."""

    view: tuple[float, float, float, float]
    side: int
    centres: np.ndarray  # (K*K, 2), row by row from the top
    codes: np.ndarray  # (K*K, D) float32
    far: np.ndarray  # (K*K,) bool


def atlas_grid(inverse: InverseProjector, view: tuple[float, float, float, float], side: int,
               spacing: float) -> AtlasGrid:
    """The atlas of `view` with `side` cells per side, for the map `inverse` inverts; `spacing` from `data_spacing`."""
    if not MIN_SIDE <= side <= MAX_SIDE:
        raise ValueError(f"an atlas has {MIN_SIDE} to {MAX_SIDE} cells per side, not {side}")
    centres = cell_centres(view, side)
    return AtlasGrid(tuple(float(v) for v in view), side, centres, inverse.codes_at(centres),
                     far_from_data(inverse.tree, centres, spacing))
