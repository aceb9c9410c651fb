"""Metrics of a trained model on a uint8 image set: -ELBO terms, active units, IWAE."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch

from vae.losses import iwae_log_likelihood, kl_per_dim, reconstruction_nll
from vae.models.base import VAE
from vae.models.inference import batches, model_device

# What each model-card metric is, in words, and its unit ("" for counts): the pages' one list.
METRIC_NAMES = {
    "test_neg_elbo": ("test −ELBO", "nats per image"), "test_recon": ("reconstruction", "nats per image"),
    "test_kl": ("KL", "nats per image"), "iwae_nll": ("IWAE −log p(x)", "nats per image"),
    "active_units": ("active units", ""), "iwae_k": ("IWAE samples per image (k)", ""),
    "iwae_images": ("IWAE test images", ""), "iwae_nll_stderr": ("IWAE standard error", "nats per image"),
    "iwae_neg_elbo_same_images": ("−ELBO of the IWAE's images", "nats per image"),
    "iwae_time_s": ("IWAE time", "s"),
}
ACTIVE_UNIT_THRESHOLD = 0.01  # Burda et al.: Cov_x(E_q[z_d]) > 0.01


def active_dimensions(mu: np.ndarray | torch.Tensor) -> np.ndarray:
    """Which latent dimensions are active (Burda et al. 2016): their posterior mean E_q[z_d] varies
    across the images (variance above ACTIVE_UNIT_THRESHOLD). A small KL can still be active."""
    mu = np.asarray(mu, dtype=np.float64)
    if len(mu) < 2:
        return np.zeros(mu.shape[1], dtype=bool)
    return mu.var(axis=0, ddof=1) > ACTIVE_UNIT_THRESHOLD


def likelihood_of(training: dict) -> tuple[str, float]:
    """The likelihood and Gaussian sigma a bundle's `training` section says it was trained with."""
    return str(training.get("likelihood", "bernoulli")), float(training.get("gaussian_sigma", 0.1))


@torch.no_grad()
def evaluate(
    model: VAE,
    images: np.ndarray | torch.Tensor,
    batch_size: int = 1000,
    likelihood: str = "bernoulli",
    sigma: float = 0.1,
    seed: int = 0,
) -> dict[str, float | list[float] | int]:
    """Single-sample test -ELBO (as the classic example reports it), its terms, KL per dim, active units."""
    model.eval()
    images = torch.as_tensor(images)
    device = model_device(model)
    generator = torch.Generator(device=device).manual_seed(seed)
    recon_sum = kl_sum = 0.0
    kl_dims = torch.zeros(model.latent_dim, dtype=torch.float64)
    mus = []
    for x in batches(images, batch_size, device):
        mu, logvar = model.encode(x)
        eps = torch.randn(mu.shape, generator=generator, device=device)
        logits = model.decode_logits(mu + eps * torch.exp(0.5 * logvar))
        recon_sum += reconstruction_nll(logits, x, likelihood, sigma).sum().item()
        per_dim = kl_per_dim(mu, logvar)
        kl_sum += per_dim.sum().item()
        kl_dims += per_dim.sum(dim=0).double().cpu()
        mus.append(mu.double().cpu())
    n = len(images)
    return {
        "neg_elbo": (recon_sum + kl_sum) / n,
        "recon": recon_sum / n,
        "kl": kl_sum / n,
        "kl_per_dim": (kl_dims / n).tolist(),
        "active_units": int(active_dimensions(torch.cat(mus).numpy()).sum()),
    }


@torch.no_grad()
def iwae_estimate(
    model: VAE,
    images: np.ndarray | torch.Tensor,
    k: int = 1000,
    n_images: int = 1000,
    likelihood: str = "bernoulli",
    sigma: float = 0.1,
    seed: int = 0,
    batch_size: int = 16,
    progress: Callable[[int, int], None] | None = None,
) -> dict[str, float | int]:
    """IWAE-k estimate of -log p(x) on the first `n_images` images, with its standard error.

    The single-sample -ELBO of the same images comes with it, so the two compare directly.
    `progress(done, total)` hears after each batch of images.
    """
    model.eval()
    images = torch.as_tensor(images)[:n_images]
    device = model_device(model)
    generator = torch.Generator(device=device).manual_seed(seed)
    values = []
    for x in batches(images, batch_size, device):
        values.append(iwae_log_likelihood(model, x, k, likelihood=likelihood, sigma=sigma, generator=generator).cpu())
        if progress is not None:
            progress(sum(len(v) for v in values), len(images))
    nll = -torch.cat(values).double()
    same_images = evaluate(model, images, likelihood=likelihood, sigma=sigma, seed=seed)
    return {
        "iwae_neg_elbo_same_images": same_images["neg_elbo"],
        "iwae_nll": nll.mean().item(),
        "iwae_nll_stderr": (nll.std() / len(nll) ** 0.5).item() if len(nll) > 1 else 0.0,
        "iwae_k": k,
        "iwae_images": len(nll),
    }
