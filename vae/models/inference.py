"""The one home of what a trained model is used for: encode, decode, reconstruct, sample, complete.

Images go in as uint8 (N, C, H, W) arrays; codes are float (N, D) or (D,) arrays. `decode`,
`reconstruct` and `sample` return display pixels (see `vae.media.to_pixels`), which is what every
caller (the pages, the model card, the tests) wants.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import torch

from vae.media import to_pixels
from vae.models.base import VAE


def model_device(model: VAE) -> torch.device:
    """Where the weights live; the CPU for a model without PyTorch parameters (an ONNX one)."""
    first = next(model.parameters(), None)
    return first.device if first is not None else torch.device("cpu")


def batches(images: torch.Tensor, batch_size: int, device: torch.device) -> Iterator[torch.Tensor]:
    """Float [0, 1] batches of a uint8 tensor, moved to `device`."""
    for start in range(0, len(images), batch_size):
        yield images[start : start + batch_size].to(device).float().div_(255)


@torch.no_grad()
def encode(model: VAE, images: np.ndarray | torch.Tensor, batch_size: int = 1000) -> tuple[np.ndarray, np.ndarray]:
    """Posterior means and log-variances of uint8 images, float32 (N, D) each."""
    model.eval()
    mus, logvars = [], []
    for x in batches(torch.as_tensor(images), batch_size, model_device(model)):
        mu, logvar = model.encode(x)
        mus.append(mu.float().cpu())
        logvars.append(logvar.float().cpu())
    return torch.cat(mus).numpy(), torch.cat(logvars).numpy()


@torch.no_grad()
def decode(model: VAE, codes: np.ndarray, scale: int = 1) -> np.ndarray:
    """Decode (N, D) codes (or one (D,) code) to display pixels."""
    z = torch.as_tensor(np.asarray(codes, dtype=np.float32)).reshape(-1, model.latent_dim)
    return to_pixels(model.decode(z.to(model_device(model))), scale)


@torch.no_grad()
def reconstruct(model: VAE, images: np.ndarray, scale: int = 1) -> np.ndarray:
    """Reconstructions (decoded posterior means) of uint8 (N, C, H, W) images, as display pixels."""
    mu, _ = encode(model, images)
    return decode(model, mu, scale)


def prior_codes(n: int, latent_dim: int, temperature: float = 1.0, seed: int = 0) -> np.ndarray:
    """n codes from N(0, T^2 I), reproducible by seed."""
    generator = np.random.default_rng(seed)
    return (generator.standard_normal((n, latent_dim)) * temperature).astype(np.float32)


def sample(model: VAE, n: int, temperature: float = 1.0, seed: int = 0, scale: int = 1) -> np.ndarray:
    """n images decoded from `prior_codes`, as display pixels."""
    return decode(model, prior_codes(n, model.latent_dim, temperature, seed), scale)


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
