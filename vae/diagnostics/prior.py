"""Where the prior puts mass that no test image uses: prior samples and the aggregate posterior.

A VAE samples from N(0, I), but its decoder only learned the codes its encoder produced: the
aggregate posterior q(z) = mean over images of q(z|x). A prior sample where q(z) is low lies in a
"hole" and decodes to a poor image. "Low" is measured against q itself: the density q gives its
own samples, each judged without the image it came from (leave one out), as a new image's code
would be. If prior and aggregate posterior agreed, HOLE_QUANTILE of prior samples would fall below.
"""

from __future__ import annotations

import numpy as np
from scipy.special import logsumexp

HOLE_QUANTILE = 0.01  # a prior sample is in a hole when q(z) there is lower than at 99% of q's own samples
LOG_2PI = float(np.log(2 * np.pi))


def prior_samples(n: int, latent_dim: int, seed: int = 0) -> np.ndarray:
    """(n, D) float32 codes from N(0, I), reproducible by seed."""
    return np.random.default_rng(seed).standard_normal((n, latent_dim)).astype(np.float32)


def log_aggregate_density(z: np.ndarray, mu: np.ndarray, logvar: np.ndarray, leave_out: np.ndarray | None = None,
                          chunk: int = 256) -> np.ndarray:
    """log q(z) for (M, D) codes, q the mixture of the N posteriors N(mu_i, diag exp(logvar_i)).

    `leave_out[m]` (optional) drops component leave_out[m] for code m. Memory stays (chunk, N).
    """
    z, mu = np.asarray(z, dtype=np.float64), np.asarray(mu, dtype=np.float64)
    precision = np.exp(-np.asarray(logvar, dtype=np.float64))  # (N, D)
    const = -0.5 * (mu.shape[1] * LOG_2PI + np.asarray(logvar, dtype=np.float64).sum(axis=1)
                    + (mu**2 * precision).sum(axis=1))  # (N,)
    n = len(mu) - (leave_out is not None)
    out = np.empty(len(z))
    for start in range(0, len(z), chunk):
        part = z[start:start + chunk]  # (m, D)
        # -0.5 * sum_d (z_d - mu_d)^2 / var_d, expanded so that no (m, N, D) array is made
        log_p = const + part @ (mu * precision).T - 0.5 * (part**2) @ precision.T  # (m, N)
        if leave_out is not None:
            log_p[np.arange(len(part)), leave_out[start:start + chunk]] = -np.inf
        out[start:start + chunk] = logsumexp(log_p, axis=1) - np.log(max(n, 1))
    return out


def hole_reference(mu: np.ndarray, logvar: np.ndarray, n: int = 500, seed: int = 0) -> np.ndarray:
    """Sorted log q at n samples of q, each without its own image's component (needs N >= 2)."""
    rng = np.random.default_rng(seed)
    own = rng.choice(len(mu), size=min(n, len(mu)), replace=False)
    samples = mu[own] + rng.standard_normal((len(own), mu.shape[1])) * np.exp(0.5 * logvar[own])
    return np.sort(log_aggregate_density(samples, mu, logvar, leave_out=own))


def hole_scores(samples: np.ndarray, mu: np.ndarray, logvar: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """For each sample, the fraction of q's own samples (`hole_reference`) where q is lower than at
    the sample: about uniform on [0, 1] where the prior matches q, near 0 in a hole."""
    log_q = log_aggregate_density(samples, mu, logvar)
    return (np.searchsorted(reference, log_q) / len(reference)).astype(np.float32)


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
