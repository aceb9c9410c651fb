"""The classic fully connected VAE (Kingma & Welling; pytorch/examples vae)."""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn

from vae.models.base import VAE, ModelConfig
from vae.models.size import MAX_LAYERS


@dataclass
class MLPConfig(ModelConfig):
    """Hidden layer sizes run from the input inwards; the decoder mirrors them."""

    arch = "mlp"
    latent_dim: int = 20
    hidden: tuple[int, ...] = (400,)

    def activations_per_image(self) -> int:
        # Each hidden layer twice (linear, ReLU), in the encoder and the decoder; params; logits.
        return 4 * sum(self.hidden) + 2 * self.latent_dim + math.prod(self.input_shape)

    def validate(self) -> None:
        super().validate()
        if not 1 <= len(self.hidden) <= MAX_LAYERS:
            raise ValueError(f"hidden must list 1..{MAX_LAYERS} layer sizes, got {len(self.hidden)}")
        if any(not 1 <= h <= 8192 for h in self.hidden):
            raise ValueError(f"hidden sizes must be 1..8192, got {self.hidden}")


def _stack(sizes: list[int]) -> nn.Sequential:
    layers: list[nn.Module] = []
    for fan_in, fan_out in zip(sizes[:-1], sizes[1:], strict=True):
        layers += [nn.Linear(fan_in, fan_out), nn.ReLU()]
    return nn.Sequential(*layers)


class MLPVAE(VAE):
    """Encoder 784-400-(mu, logvar); decoder 20-400-784 for the `classic` preset."""

    def __init__(self, config: MLPConfig) -> None:
        super().__init__(config)
        n_pixels = math.prod(config.input_shape)
        hidden = list(config.hidden)
        self.encoder = _stack([n_pixels, *hidden])
        # mu and logvar come from one layer: one matmul instead of two per step.
        self.to_params = nn.Linear(hidden[-1], 2 * config.latent_dim)
        self.decoder = _stack([config.latent_dim, *reversed(hidden)])
        self.to_logits = nn.Linear(hidden[0], n_pixels)

    def _encode_params(self, x: torch.Tensor) -> torch.Tensor:
        return self.to_params(self.encoder(x.flatten(1)))  # (B, 2D)

    def decoder_layers(self) -> list[nn.Module]:
        return [*self.decoder, self.to_logits, nn.Unflatten(1, self.config.input_shape)]

    def decode_logits(self, z: torch.Tensor) -> torch.Tensor:
        return self.to_logits(self.decoder(z)).view(-1, *self.config.input_shape)
