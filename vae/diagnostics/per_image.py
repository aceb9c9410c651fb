"""Per-image −ELBO, its reconstruction and KL terms, and the mean posterior σ of every test image.

The values are one-sample estimates drawn exactly as `vae.evaluation.evaluate` draws them (same
seed, same batches), so their mean is the model card's test −ELBO. Only the model's `encode` and
`decode_logits` are used: any model that follows the VAE contract (native or portable) works.
"""

from __future__ import annotations

import numpy as np
import torch

from vae.losses import kl_standard_normal, reconstruction_nll
from vae.models.inference import batches, model_device

PER_IMAGE = "per_image.npz"
FIELDS = ("neg_elbo", "recon", "kl", "mean_sigma")
LABELS = {"neg_elbo": "−ELBO", "recon": "reconstruction", "kl": "KL", "mean_sigma": "mean posterior σ"}


@torch.no_grad()
def per_image_values(
    model, images: np.ndarray | torch.Tensor, likelihood: str = "bernoulli", sigma: float = 0.1,
    seed: int = 0, batch_size: int = 1000,
) -> dict[str, np.ndarray]:
    """{field: (N,) float32} for uint8 (N, C, H, W) images, in nats per image (σ unitless)."""
    model.eval()
    images = torch.as_tensor(images)
    device = model_device(model)
    generator = torch.Generator(device=device).manual_seed(seed)
    parts: dict[str, list[torch.Tensor]] = {name: [] for name in FIELDS}
    for x in batches(images, batch_size, device):
        mu, logvar = model.encode(x)  # (B, D) each
        eps = torch.randn(mu.shape, generator=generator, device=device)
        logits = model.decode_logits(mu + eps * torch.exp(0.5 * logvar))
        recon = reconstruction_nll(logits, x, likelihood, sigma)  # (B,)
        kl = kl_standard_normal(mu, logvar)  # (B,)
        for name, value in (("neg_elbo", recon + kl), ("recon", recon), ("kl", kl),
                            ("mean_sigma", torch.exp(0.5 * logvar).mean(dim=1))):
            parts[name].append(value.float().cpu())
    empty = torch.zeros(0)
    return {name: torch.cat(parts[name] or [empty]).numpy().astype(np.float32) for name in FIELDS}


def check_values(values: dict[str, np.ndarray], n: int) -> list[str]:
    """Why `values` cannot be the per-image values of n images (empty when they can)."""
    problems = []
    for name in FIELDS:
        value = values.get(name)
        if value is None:
            problems.append(f"{PER_IMAGE}: array '{name}' is missing")
        elif value.shape != (n,) or value.dtype.kind != "f":
            problems.append(f"{PER_IMAGE}: '{name}' is {value.dtype}{list(value.shape)}, expected ({n},) floats")
        elif not np.isfinite(value).all():
            problems.append(f"{PER_IMAGE}: '{name}' holds NaN or infinite values")
    return problems
