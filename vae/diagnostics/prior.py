"""Where the prior puts mass that no test image uses: prior samples and the aggregate posterior.

A VAE samples from N(0, I), but its decoder only learned the codes its encoder produced. Prior
samples far from every posterior mean fall in "holes" and decode to poor images; a dimension
whose aggregate posterior is narrower than (or shifted from) N(0, 1) shows where they come from.
"""

from __future__ import annotations

import numpy as np
from scipy.spatial import cKDTree

HOLE_FACTOR = 3.0  # a prior sample is "in a hole" when its nearest test code is this many typical gaps away


def prior_samples(n: int, latent_dim: int, seed: int = 0) -> np.ndarray:
    """(n, D) float32 codes from N(0, I), reproducible by seed."""
    return np.random.default_rng(seed).standard_normal((n, latent_dim)).astype(np.float32)


def hole_scores(samples: np.ndarray, mu: np.ndarray) -> np.ndarray:
    """Each sample's distance to its nearest test code, in units of the test codes' typical
    (median) distance to their own nearest neighbour: about 1 inside the data, large in a hole."""
    tree = cKDTree(np.asarray(mu, dtype=np.float64))
    typical = np.median(tree.query(mu, k=2)[0][:, 1]) if len(mu) > 1 else 1.0
    distances, _ = tree.query(np.asarray(samples, dtype=np.float64), k=1)
    return (distances / max(float(typical), 1e-12)).astype(np.float32)


def standard_normal_pdf(x: np.ndarray) -> np.ndarray:
    return np.exp(-0.5 * np.asarray(x, dtype=np.float64) ** 2) / np.sqrt(2 * np.pi)


def aggregate_posterior(mu: np.ndarray, logvar: np.ndarray, dim: int, bins: int = 60,
                        max_images: int = 5000) -> dict[str, np.ndarray]:
    """One latent dimension: the histogram of posterior means (a density), the aggregate posterior
    q(z_d) = mean over images of N(mu_d, σ_d²) on a grid, and N(0, 1) on the same grid.

    The mixture uses at most `max_images` images (evenly spaced), which keeps it ~1 ms a dimension.
    """
    means = np.asarray(mu[:, dim], dtype=np.float64)
    spread = max(4.0, float(np.abs(means).max()) + 1.0)
    edges = np.linspace(-spread, spread, bins + 1)
    density, _ = np.histogram(means, bins=edges, density=True)
    grid = np.linspace(-spread, spread, 241)
    step = max(1, len(means) // max_images)
    m = means[::step, None]
    s = np.exp(0.5 * np.asarray(logvar[::step, dim], dtype=np.float64))[:, None]
    mixture = (standard_normal_pdf((grid[None, :] - m) / s) / s).mean(axis=0)
    return {"edges": edges, "density": density, "grid": grid, "aggregate": mixture,
            "prior": standard_normal_pdf(grid)}
