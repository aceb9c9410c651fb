"""Samples of one image's posterior q(z|x) = N(mu, diag σ²): what the model is unsure about."""

from __future__ import annotations

import numpy as np


def posterior_samples(mu: np.ndarray, logvar: np.ndarray, k: int, seed: int = 0) -> np.ndarray:
    """(k, D) float32 codes drawn from N(mu, exp(logvar)), reproducible by seed."""
    mu = np.asarray(mu, dtype=np.float64)
    std = np.exp(0.5 * np.asarray(logvar, dtype=np.float64))
    eps = np.random.default_rng(seed).standard_normal((k, mu.shape[-1]))
    return (mu + eps * std).astype(np.float32)
