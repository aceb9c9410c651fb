"""How big a model a config describes, known before any memory is spent on it.

Each field of a model config has bounds, but not their product: an MLP with eight hidden layers
of 4096 has 0.77 GB of weights, and larger ones fail to allocate. `model_size` builds the model
on PyTorch's "meta" device, which records shapes and allocates nothing, to count its parameters;
each config class says how many floats its layers produce per image (running a forward pass on
"meta" would tell too, but its first call imports ~5 s of PyTorch machinery).
"""

from __future__ import annotations

import torch

from vae.models.base import VAE, ModelConfig

MAX_PARAMETERS = 50_000_000  # 200 MB of float32; the shipped models have under 2 M
MAX_ACTIVATIONS = 16_000_000  # floats one image makes in one forward pass (64 MB)
MAX_LAYERS = 16  # layers a config may list (an MLP's hidden sizes), checked before anything is built


def model_size(model_class: type[VAE], config: ModelConfig) -> tuple[int, int]:
    """(parameters, activation floats per image) of `model_class(config)`, allocating nothing."""
    with torch.device("meta"):
        model = model_class(config)
    return sum(p.numel() for p in model.parameters()), config.activations_per_image()


def size_problem(model_class: type[VAE], config: ModelConfig) -> str | None:
    """Why a model of this config is too big to build here, or None."""
    parameters, activations = model_size(model_class, config)
    if parameters > MAX_PARAMETERS:
        return f"{parameters:,} parameters (at most {MAX_PARAMETERS:,})"
    if activations > MAX_ACTIVATIONS:
        return f"{activations:,} activations per image (at most {MAX_ACTIVATIONS:,})"
    return None
