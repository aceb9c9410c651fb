"""How long a training run would take on this machine, measured before it starts: a few optimiser steps of
the chosen model on random images, timed. The Train page shows it before Start, so that a half-hour CPU
job is never started by surprise (the running job's own ETA then comes from its events)."""

from __future__ import annotations

import time

import torch

from vae.losses import vae_loss
from vae.models import REGISTRY, build_model

WARM_STEPS = 1
TIMED_STEPS = 3


def images_per_second(arch: str, latent_dim: int, batch_size: int, input_shape: tuple[int, int, int]) -> float:
    """Training images per second of `arch` at this batch size on the CPU, from TIMED_STEPS timed steps."""
    model = build_model(REGISTRY[arch][0](latent_dim=latent_dim, input_shape=tuple(input_shape)))
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    x = torch.rand(batch_size, *input_shape, generator=torch.Generator().manual_seed(0))

    def step() -> None:
        out = model(x)
        optimizer.zero_grad(set_to_none=True)
        vae_loss(out.logits, x, out.mu, out.logvar).loss.backward()
        optimizer.step()

    for _ in range(WARM_STEPS):
        step()
    started = time.perf_counter()
    for _ in range(TIMED_STEPS):
        step()
    return TIMED_STEPS * batch_size / (time.perf_counter() - started)


def run_seconds(n_train: int, epochs: int, rate: float) -> float:
    """Seconds of training for `epochs` passes over `n_train` images at `rate` images per second."""
    return epochs * n_train / rate
