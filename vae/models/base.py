"""The contract every VAE model follows, and its typed forward output."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any, ClassVar, NamedTuple

import torch
from torch import nn

LATENT_DIM_BOUNDS = (1, 512)  # what every model accepts; the training options take it from here


class VAEOutput(NamedTuple):
    """What `forward` returns: decoder logits and the posterior parameters."""

    logits: torch.Tensor  # (B, C, H, W) pre-sigmoid pixel means
    mu: torch.Tensor  # (B, D)
    logvar: torch.Tensor  # (B, D)
    z: torch.Tensor  # (B, D) the reparameterised sample that produced `logits`


@dataclass
class ModelConfig:
    """Fields shared by every model; subclasses add their own. JSON in, JSON out."""

    arch: ClassVar[str] = ""
    input_shape: tuple[int, int, int] = (1, 28, 28)
    latent_dim: int = 20

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready dict, with the architecture name."""
        data = asdict(self)
        data["input_shape"] = list(self.input_shape)
        return {"arch": self.arch, **data}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ModelConfig:
        """Build from `to_dict` output; unknown keys are an error, not silently dropped."""
        data = dict(data)
        data.pop("arch", None)
        known = {f.name for f in fields(cls)}
        unknown = set(data) - known
        if unknown:
            raise ValueError(f"unknown {cls.arch} config keys: {sorted(unknown)}")
        for name, value in list(data.items()):
            if isinstance(value, list):
                data[name] = tuple(value)
        config = cls(**data)
        config.validate()
        return config

    def validate(self) -> None:
        """Raise ValueError on values no model can be built from."""
        channels, height, width = self.input_shape
        if channels not in (1, 3) or not (8 <= height <= 256 and 8 <= width <= 256):
            raise ValueError(f"input_shape {self.input_shape} unsupported (1 or 3 channels, 8-256 px)")
        low, high = LATENT_DIM_BOUNDS
        if not low <= self.latent_dim <= high:
            raise ValueError(f"latent_dim must be {low}..{high}, got {self.latent_dim}")


class VAE(nn.Module):
    """Gaussian-posterior VAE: subclasses provide `_encode_params` and `decode_logits`."""

    config: ModelConfig

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        config.validate()
        self.config = config

    @property
    def latent_dim(self) -> int:
        return self.config.latent_dim

    def _encode_params(self, x: torch.Tensor) -> torch.Tensor:
        """Return (B, 2*D): mu and logvar side by side, from one final layer."""
        raise NotImplementedError

    def decode_logits(self, z: torch.Tensor) -> torch.Tensor:
        """Return (B, C, H, W) logits of the pixel means."""
        raise NotImplementedError

    def decoder_layers(self) -> list[nn.Module]:
        """The decoder as a flat list of layers that, applied in order to z, give `decode_logits(z)`.

        The browser decodes slider moves itself from this list (see vae/decoder_export.py).
        """
        raise NotImplementedError

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Posterior parameters (mu, logvar) for images in [0, 1]."""
        mu, logvar = self._encode_params(x).chunk(2, dim=-1)
        return mu, logvar

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """Images in [0, 1] for latent codes z of shape (B, D)."""
        return torch.sigmoid(self.decode_logits(z))

    def reparameterize(self, mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
        return mu + torch.randn_like(mu) * torch.exp(0.5 * logvar)

    def forward(self, x: torch.Tensor) -> VAEOutput:
        mu, logvar = self.encode(x)
        z = self.reparameterize(mu, logvar)
        return VAEOutput(self.decode_logits(z), mu, logvar, z)
