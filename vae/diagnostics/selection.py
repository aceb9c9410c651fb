"""A set of selected images: what it holds, its downloads, and the worst-fitting images."""

from __future__ import annotations

import csv
import io

import numpy as np

GRID_LIMIT = 100
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")  # a spreadsheet would run these as formulas


def worst_fit(neg_elbo: np.ndarray, n: int) -> np.ndarray:
    """Indices of the n images with the highest −ELBO, worst first."""
    n = min(n, len(neg_elbo))
    top = np.argpartition(-neg_elbo, n - 1)[:n] if 0 < n < len(neg_elbo) else np.arange(len(neg_elbo))
    return top[np.argsort(-neg_elbo[top], kind="stable")]


def browse(labels: np.ndarray, key: np.ndarray | None = None, descending: bool = False,
           classes: set[int] | None = None, within: np.ndarray | None = None) -> np.ndarray:
    """Test indices to show in a grid: those of `classes` (all when None) inside `within` (all when None),
    ordered by `key` (a value per image; by index when None), ties by index."""
    indices = np.arange(len(labels)) if within is None else np.unique(np.asarray(within, dtype=np.int64))
    if classes is not None:
        indices = indices[np.isin(labels[indices], np.asarray(sorted(classes), dtype=np.int64))]
    if key is None:
        return indices[::-1] if descending else indices
    values = np.asarray(key)[indices]
    order = np.lexsort((indices, -values if descending else values))
    return indices[order]


def without_classes(indices: np.ndarray, labels: np.ndarray, hidden: set[int]) -> np.ndarray:
    """The indices whose class is not in `hidden` (classes hidden on the map are not selected)."""
    indices = np.asarray(indices, dtype=np.int64)
    return indices[~np.isin(labels[indices], np.asarray(sorted(hidden), dtype=np.int64))]


def class_counts(indices: np.ndarray, labels: np.ndarray, n_classes: int) -> np.ndarray:
    """(n_classes,) how many selected images each class has."""
    return np.bincount(labels[np.asarray(indices, dtype=np.int64)], minlength=n_classes)[:n_classes]


def mean_value(indices: np.ndarray, values: np.ndarray | None) -> float | None:
    """The mean of a per-image value over the selection (None without values or selection)."""
    if values is None or len(indices) == 0:
        return None
    return float(np.mean(values[np.asarray(indices, dtype=np.int64)]))


def safe_cell(text: str) -> str:
    """`text` for a CSV cell that a spreadsheet shows as text, never runs as a formula."""
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def selection_csv(indices: np.ndarray, labels: np.ndarray, class_names: list[str], mu: np.ndarray) -> bytes:
    """CSV, one row per selected image: index, label, class, then its posterior mean z0..z{D-1}."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["index", "label", "class", *(f"z{d}" for d in range(mu.shape[1]))])
    for i in np.asarray(indices, dtype=np.int64):
        writer.writerow([int(i), int(labels[i]), safe_cell(class_names[labels[i]]), *(repr(float(v)) for v in mu[i])])
    return buffer.getvalue().encode("utf-8")


def selection_array(indices: np.ndarray, labels: np.ndarray, mu: np.ndarray) -> np.ndarray:
    """A structured array (index int64, label int64, code float32 (D,)): no objects, so
    `np.load(..., allow_pickle=False)` reads it."""
    indices = np.asarray(indices, dtype=np.int64)
    dtype = np.dtype([("index", "<i8"), ("label", "<i8"), ("code", "<f4", (mu.shape[1],))])
    out = np.zeros(len(indices), dtype=dtype)
    out["index"], out["label"], out["code"] = indices, labels[indices], mu[indices]
    return out


def selection_npy(indices: np.ndarray, labels: np.ndarray, mu: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, selection_array(indices, labels, mu), allow_pickle=False)
    return buffer.getvalue()
