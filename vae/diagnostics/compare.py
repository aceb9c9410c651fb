"""Two bundles side by side: are they on the same test set, their maps aligned, their metrics."""

from __future__ import annotations

import hashlib
from numbers import Real

import numpy as np
from scipy.linalg import orthogonal_procrustes


def test_set_fingerprint(images: np.ndarray) -> str:
    """SHA-256 of the test images' shape, dtype and pixels: equal only for the same images in the same order."""
    images = np.ascontiguousarray(images)
    digest = hashlib.sha256(f"{images.dtype.str}{images.shape}".encode())
    digest.update(memoryview(images).cast("B"))
    return digest.hexdigest()


def same_test_set_problem(images_a: np.ndarray, images_b: np.ndarray) -> str | None:
    """None when the two bundles hold the same test images, else a one-line reason."""
    if images_a.shape != images_b.shape:
        return (f"the two models were built on different test sets: {len(images_a):,} images of shape "
                f"{list(images_a.shape[1:])} against {len(images_b):,} of shape {list(images_b.shape[1:])}")
    if test_set_fingerprint(images_a) != test_set_fingerprint(images_b):
        differ = int(np.any(images_a.reshape(len(images_a), -1) != images_b.reshape(len(images_b), -1), axis=1).sum())
        return (f"the two models were built on different test sets: {differ:,} of their {len(images_a):,} "
                "test images differ (another dataset, order or subset)")
    return None


def procrustes_align(source: np.ndarray, target: np.ndarray) -> np.ndarray:
    """`source` (N, 2) rotated or reflected, scaled and shifted to lie as close as it can to `target`
    (N, 2), point i onto point i (least squares): B's map drawn in A's frame."""
    source, target = np.asarray(source, dtype=np.float64), np.asarray(target, dtype=np.float64)
    source_centre, target_centre = source.mean(axis=0), target.mean(axis=0)
    s, t = source - source_centre, target - target_centre
    rotation, singular_sum = orthogonal_procrustes(s, t)
    norm = float((s**2).sum())
    scale = singular_sum / norm if norm > 0 else 1.0
    return s @ rotation * scale + target_centre


def _number(value: object) -> float | None:
    return float(value) if isinstance(value, Real) and not isinstance(value, bool) else None


def metric_rows(metrics_a: dict, metrics_b: dict) -> list[tuple[str, float | None, float | None, float | None]]:
    """(name, A, B, B − A) for every number in either model card's metrics, A's order first."""
    names = [k for k in metrics_a if _number(metrics_a[k]) is not None]
    names += [k for k in metrics_b if _number(metrics_b[k]) is not None and k not in names]
    rows = []
    for name in names:
        a, b = _number(metrics_a.get(name)), _number(metrics_b.get(name))
        rows.append((name, a, b, None if a is None or b is None else b - a))
    return rows


def kl_by_rank(kl_per_dim: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(KL sorted high to low, the dimension of each): two models' dimensions compare by rank."""
    order = np.argsort(-np.asarray(kl_per_dim), kind="stable")
    return np.asarray(kl_per_dim)[order], order
