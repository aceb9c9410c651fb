"""Which map points to draw, and which ones a box or lasso selection holds."""

from __future__ import annotations

import numpy as np


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
