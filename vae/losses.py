"""Loss terms as pure functions; every value is in nats per image."""

from __future__ import annotations

import math
from typing import NamedTuple

import torch
import torch.nn.functional as F

from vae.models.base import VAE

LIKELIHOODS = ("bernoulli", "gaussian")
LOG_2PI = math.log(2 * math.pi)


class LossTerms(NamedTuple):
    """Batch means: `loss` is what is minimised (beta-weighted), `elbo` is the true bound."""

    loss: torch.Tensor
    recon: torch.Tensor
    kl: torch.Tensor

    @property
    def neg_elbo(self) -> torch.Tensor:
        return self.recon + self.kl


def reconstruction_nll(
    logits: torch.Tensor, x: torch.Tensor, likelihood: str = "bernoulli", sigma: float = 0.1
) -> torch.Tensor:
    """-log p(x|z) per image, (B,). Bernoulli is BCE on [0, 1] pixels, as the classic example."""
    if likelihood == "bernoulli":
        nll = F.binary_cross_entropy_with_logits(logits, x, reduction="none")
    elif likelihood == "gaussian":
        mean = torch.sigmoid(logits)
        nll = 0.5 * ((x - mean) / sigma) ** 2 + math.log(sigma) + 0.5 * LOG_2PI
    else:
        raise ValueError(f"unknown likelihood {likelihood!r}; known: {LIKELIHOODS}")
    return nll.flatten(1).sum(dim=1)


def kl_per_dim(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """Analytic KL(N(mu, sigma^2) || N(0, 1)) for each latent dimension, (B, D)."""
    return 0.5 * (mu.pow(2) + logvar.exp() - 1.0 - logvar)


def kl_standard_normal(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """KL(q(z|x) || N(0, I)) per image, (B,)."""
    return kl_per_dim(mu, logvar).sum(dim=1)


def kl_weight(step: int, warmup_steps: int, beta: float = 1.0) -> float:
    """Linear KL warm-up from 0 to beta over `warmup_steps` optimiser steps."""
    if warmup_steps <= 0:
        return beta
    return beta * min(1.0, step / warmup_steps)


def vae_loss(
    logits: torch.Tensor,
    x: torch.Tensor,
    mu: torch.Tensor,
    logvar: torch.Tensor,
    kl_scale: float = 1.0,
    likelihood: str = "bernoulli",
    sigma: float = 0.1,
) -> LossTerms:
    """Negative ELBO terms averaged over the batch, with the KL term scaled by `kl_scale`."""
    recon = reconstruction_nll(logits, x, likelihood, sigma).mean()
    kl = kl_standard_normal(mu, logvar).mean()
    return LossTerms(recon + kl_scale * kl, recon, kl)


def _log_normal(z: torch.Tensor, mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    return -0.5 * (LOG_2PI + logvar + (z - mu).pow(2) / logvar.exp()).sum(dim=-1)


@torch.no_grad()
def iwae_log_likelihood(
    model: VAE,
    x: torch.Tensor,
    k: int = 1000,
    max_decoded: int = 8192,
    likelihood: str = "bernoulli",
    sigma: float = 0.1,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Importance-weighted estimate of log p(x) with k samples per image, (B,).

    Decodes at most `max_decoded` images at a time, so memory stays bounded for k up to 5000.
    """
    if not 1 <= k <= 5000:
        raise ValueError(f"k must be in 1..5000, got {k}")
    mu, logvar = model.encode(x)  # (B, D)
    std = torch.exp(0.5 * logvar)
    log_weights = torch.empty(x.shape[0], k, device=x.device)
    per_chunk = max(1, max_decoded // x.shape[0])
    for start in range(0, k, per_chunk):
        n = min(per_chunk, k - start)
        eps = torch.randn(n, *mu.shape, device=x.device, generator=generator)  # (n, B, D)
        z = mu + std * eps
        logits = model.decode_logits(z.flatten(0, 1))  # (n*B, C, H, W)
        target = x.unsqueeze(0).expand(n, *x.shape).flatten(0, 1)
        log_px_z = -reconstruction_nll(logits, target, likelihood, sigma).view(n, -1)
        log_pz = -0.5 * (LOG_2PI + z.pow(2)).sum(dim=-1)
        log_qz = _log_normal(z, mu, logvar)
        log_weights[:, start : start + n] = (log_px_z + log_pz - log_qz).T
    return torch.logsumexp(log_weights, dim=1) - math.log(k)
