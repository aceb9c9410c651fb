"""A map's points as a picture: counts per pixel, coloured by the mix of classes or a mean value.

The Explore page draws a big map as this picture under a bounded sample of points, made again for
each view (pages/explore/map_detail.py), so every point counts in what is shown at any zoom.
"""

from __future__ import annotations

import numpy as np

MIN_ALPHA = 0.35  # the faintest occupied pixel's opacity: one point in a pixel stays visible


def bin_counts(xy: np.ndarray, bounds: tuple[float, float, float, float], width: int, height: int,
               groups: np.ndarray | None = None, n_groups: int = 1, weights: np.ndarray | None = None
               ) -> np.ndarray:
    """Counts (or sums of `weights`) per pixel and group, (height, width, n_groups), row 0 at the top."""
    x0, x1, y0, y1 = bounds
    column = np.floor((xy[:, 0] - x0) * (width / max(x1 - x0, 1e-12))).astype(np.int64)
    row = np.floor((y1 - xy[:, 1]) * (height / max(y1 - y0, 1e-12))).astype(np.int64)
    keep = (column >= 0) & (column < width) & (row >= 0) & (row < height)
    cell = (row[keep] * width + column[keep]) * n_groups
    if groups is not None:
        cell += groups[keep]
    totals = np.bincount(cell, weights=None if weights is None else weights[keep],
                         minlength=width * height * n_groups)
    return totals.reshape(height, width, n_groups)


def _alpha(counts: np.ndarray) -> np.ndarray:
    """Opacity per pixel from its count: log scale, MIN_ALPHA for one point, 1 for the densest."""
    top = np.log1p(max(float(counts.max()), 1.0))
    alpha = MIN_ALPHA + (1 - MIN_ALPHA) * np.log1p(counts) / max(top, 1e-9)
    return np.where(counts > 0, alpha, 0.0)


def class_density(xy: np.ndarray, labels: np.ndarray, colours: np.ndarray,
                  bounds: tuple[float, float, float, float], width: int, height: int) -> np.ndarray:
    """(height, width, 4) uint8 RGBA: each pixel the mean of its points' class colours (N_classes, 3)."""
    per_class = bin_counts(xy, bounds, width, height, labels, len(colours))  # (H, W, C)
    counts = per_class.sum(axis=2)
    rgb = per_class @ np.asarray(colours, dtype=np.float64) / np.maximum(counts, 1)[..., None]
    return _rgba(rgb, _alpha(counts))


def value_density(xy: np.ndarray, values: np.ndarray, low: float, high: float, lut: np.ndarray,
                  bounds: tuple[float, float, float, float], width: int, height: int) -> np.ndarray:
    """(height, width, 4) uint8 RGBA: each pixel the mean of its points' values on the colour table
    `lut` (K, 3), clipped to [low, high]."""
    counts = bin_counts(xy, bounds, width, height)[..., 0]
    sums = bin_counts(xy, bounds, width, height, weights=np.asarray(values, dtype=np.float64))[..., 0]
    mean = sums / np.maximum(counts, 1)
    position = np.clip((mean - low) / max(high - low, 1e-12), 0, 1)
    rgb = np.asarray(lut, dtype=np.float64)[np.round(position * (len(lut) - 1)).astype(np.int64)]
    return _rgba(rgb, _alpha(counts))


def _rgba(rgb: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    return np.concatenate([np.clip(rgb, 0, 255), 255 * alpha[..., None]], axis=2).round().astype(np.uint8)
