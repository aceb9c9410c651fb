"""Which map points to draw, and which ones a box or lasso selection holds."""

from __future__ import annotations

import numpy as np

POLYGON_BLOCK_ENTRIES = 2**22  # point-edge pairs a lasso tests at once (32 MB of float64)


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
    """Indices of the points inside a polygon (even-odd rule), vectorised over the points.

    Only the points inside the polygon's bounding box are tested, a block at a time: a lasso of
    200 vertices over a million points would otherwise hold 200 million crossings at once.
    """
    px, py = np.asarray(polygon_x, dtype=np.float64), np.asarray(polygon_y, dtype=np.float64)
    if len(px) < 3:
        return np.zeros(0, dtype=np.int64)
    candidates = points_in_box(xy, (px.min(), px.max()), (py.min(), py.max()))
    block = max(1, POLYGON_BLOCK_ENTRIES // len(px))
    inside = [candidates[start : start + block][_inside(xy[candidates[start : start + block]], px, py)]
              for start in range(0, len(candidates), block)]
    return np.concatenate([np.zeros(0, dtype=np.int64), *inside])


def _inside(xy: np.ndarray, px: np.ndarray, py: np.ndarray) -> np.ndarray:
    """(M,) bool: which of the points lie inside the polygon (even-odd rule)."""
    x, y = xy[:, 0:1].astype(np.float64), xy[:, 1:2].astype(np.float64)  # (M, 1) against (V,) edges
    qx, qy = np.roll(px, -1), np.roll(py, -1)
    crosses = (py > y) != (qy > y)
    with np.errstate(divide="ignore", invalid="ignore"):
        at_x = px + (y - py) * (qx - px) / (qy - py)
    return np.logical_xor.reduce(crosses & (x < at_x), axis=1)


def view_subset(xy: np.ndarray, priority: np.ndarray, bounds: tuple[float, float, float, float],
                limit: int) -> np.ndarray:
    """Sorted indices of the points to draw in a view (x0, x1, y0, y1): every point in it up to `limit`,
    else the `limit` of lowest `priority` (a fixed random rank per point, `draw_priority`).

    With a fixed rank, a point drawn in a view is drawn in every view inside it that shows it: zooming
    in only adds points, until every point in view is drawn.
    """
    x0, x1, y0, y1 = bounds
    inside = points_in_box(xy, (x0, x1), (y0, y1))
    if len(inside) > limit:
        inside = np.sort(inside[np.argpartition(priority[inside], limit)[:limit]])
    return inside


def draw_priority(n: int, seed: int = 0) -> np.ndarray:
    """A fixed random rank (N,) int32 for `view_subset`: the same map draws the same points."""
    return np.random.default_rng(seed).permutation(n).astype(np.int32)
