"""Model registry: architecture name -> (config class, model class), and named presets."""

from __future__ import annotations

from typing import Any

from vae.models.base import VAE, ModelConfig, VAEOutput
from vae.models.conv import ConvConfig, ConvVAE
from vae.models.mlp import MLPVAE, MLPConfig
from vae.models.size import size_problem

REGISTRY: dict[str, tuple[type[ModelConfig], type[VAE]]] = {
    "mlp": (MLPConfig, MLPVAE),
    "conv": (ConvConfig, ConvVAE),
}

PRESETS: dict[str, dict[str, Any]] = {
    # pytorch/examples vae/main.py: 784-400-20.
    "classic": {"arch": "mlp", "hidden": (400,), "latent_dim": 20},
}


def config_from_dict(data: dict[str, Any]) -> ModelConfig:
    """Rebuild a model config from JSON; the `arch` key picks the class."""
    arch = data.get("arch")
    if arch not in REGISTRY:
        raise ValueError(f"unknown architecture {arch!r}; known: {sorted(REGISTRY)}")
    return REGISTRY[arch][0].from_dict(data)


def check_size(config: ModelConfig) -> None:
    """ValueError, before any memory is spent, when the model would be too big (vae/models/size.py)."""
    problem = size_problem(REGISTRY[config.arch][1], config)
    if problem:
        raise ValueError(f"the model is too big: {problem}")


def build_model(config: ModelConfig) -> VAE:
    """Instantiate the model class registered for the config's architecture (once `check_size` passes)."""
    check_size(config)
    return REGISTRY[config.arch][1](config)


__all__ = [
    "PRESETS", "REGISTRY", "VAE", "ConvConfig", "ConvVAE", "MLPConfig", "MLPVAE",
    "ModelConfig", "VAEOutput", "build_model", "check_size", "config_from_dict",
]
