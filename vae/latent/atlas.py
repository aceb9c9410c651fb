"""A decoded atlas over a map's view: a grid of cells, each centre's code, and which cells lie far from data.

The grid has as many columns and rows as keep its cells square on screen (the model's images are), at
least MIN_CELL_PX a side and at most MAX_SIDE cells along either axis (32×32 at most, as the issue's K×K).

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

MIN_CELL_PX = 28  # a cell is at least this many screen pixels a side
MIN_SIDE, MAX_SIDE = 2, 32  # cells along either axis
FAR_QUANTILE = 0.95
FAR_SPACINGS = 3.0
SPACING_SAMPLE = 10_000  # points whose nearest-neighbour distance sets the spacing (all of a small map)


def grid_for(width_px: float, height_px: float, min_cell_px: int = MIN_CELL_PX) -> tuple[int, int]:
    """(columns, rows) of cells as near square on screen as whole numbers allow: cells of one size, at least
    `min_cell_px` and large enough that neither axis holds more than MAX_SIDE; MIN_SIDE to MAX_SIDE each."""
    cell = max(min_cell_px, max(width_px, height_px) / MAX_SIDE)
    columns, rows = (int(np.clip(length // cell, MIN_SIDE, MAX_SIDE)) for length in (width_px, height_px))
    return columns, rows


def cell_centres(view: tuple[float, float, float, float], columns: int, rows: int) -> np.ndarray:
    """(rows*columns, 2) the cells' centres row by row, the top row (highest y) first, as vae.latent.plane.tile
    reads."""
    x0, x1, y0, y1 = view
    xs = x0 + (np.arange(columns) + 0.5) * (x1 - x0) / columns
    ys = y1 - (np.arange(rows) + 0.5) * (y1 - y0) / rows
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
    """One view's atlas: rows × columns cells, their centres on the map, their codes and which lie far from data."""

    view: tuple[float, float, float, float]
    columns: int
    rows: int
    centres: np.ndarray  # (rows*columns, 2), row by row from the top
    codes: np.ndarray  # (rows*columns, D) float32
    far: np.ndarray  # (rows*columns,) bool


def atlas_grid(inverse: InverseProjector, view: tuple[float, float, float, float], columns: int, rows: int,
               spacing: float) -> AtlasGrid:
    """The atlas of `view` in `columns` × `rows` cells, for the map `inverse` inverts; `spacing` from
    `data_spacing`."""
    for count in (columns, rows):
        if not MIN_SIDE <= count <= MAX_SIDE:
            raise ValueError(f"an atlas has {MIN_SIDE} to {MAX_SIDE} cells along each axis, not {count}")
    centres = cell_centres(view, columns, rows)
    return AtlasGrid(tuple(float(v) for v in view), columns, rows, centres, inverse.codes_at(centres),
                     far_from_data(inverse.tree, centres, spacing))
