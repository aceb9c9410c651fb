"""Paths through latent space: lerp, slerp, the frames between two codes, traversals of one dimension."""

from __future__ import annotations

import numpy as np

INTERPOLATIONS = ("lerp", "slerp")


def lerp(a: np.ndarray, b: np.ndarray, t: float) -> np.ndarray:
    """The straight line between two codes."""
    return (1 - t) * np.asarray(a, dtype=np.float64) + t * np.asarray(b, dtype=np.float64)


def slerp(a: np.ndarray, b: np.ndarray, t: float) -> np.ndarray:
    """Spherical interpolation (Shoemake; White 2016 for generative models).

    Codes from a Gaussian prior lie near a shell of radius ~sqrt(D); the straight line between two
    of them cuts through the low-norm middle, where the decoder has seen few codes. slerp follows
    the arc instead: for two codes of equal norm every intermediate keeps that norm.
    """
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    norm_a, norm_b = np.linalg.norm(a), np.linalg.norm(b)
    if norm_a < 1e-12 or norm_b < 1e-12:
        return lerp(a, b, t)
    omega = np.arccos(np.clip(np.dot(a / norm_a, b / norm_b), -1.0, 1.0))
    if omega < 1e-6 or np.pi - omega < 1e-6:  # parallel or opposite: the arc is undefined
        return lerp(a, b, t)
    return (np.sin((1 - t) * omega) * a + np.sin(t * omega) * b) / np.sin(omega)


def path_codes(a: np.ndarray, b: np.ndarray, steps: int, method: str = "lerp") -> np.ndarray:
    """(steps, D) codes from `a` to `b`, both ends included."""
    if method not in INTERPOLATIONS:
        raise ValueError(f"method must be one of {INTERPOLATIONS}, got {method!r}")
    if steps < 2:
        raise ValueError(f"need at least 2 steps, got {steps}")
    step = lerp if method == "lerp" else slerp
    return np.stack([step(a, b, t) for t in np.linspace(0.0, 1.0, steps)]).astype(np.float32)


def traversal_codes(code: np.ndarray, dims: list[int], steps: int = 9, span: float = 3.0) -> np.ndarray:
    """(len(dims), steps, D): row r varies dimension dims[r] over [-span, span], the rest stay at `code`."""
    code = np.asarray(code, dtype=np.float32)
    values = np.linspace(-span, span, steps, dtype=np.float32)
    grid = np.repeat(np.repeat(code[None, None, :], len(dims), axis=0), steps, axis=1)
    for row, dim in enumerate(dims):
        grid[row, :, dim] = values
    return grid
