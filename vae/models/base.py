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
        for f in fields(cls):
            if f.name in data and not _same_kind(data[f.name], getattr(cls, f.name)):
                raise ValueError(f"{cls.arch} config: {f.name} must be like {getattr(cls, f.name)!r}, "
                                 f"got {_short(data[f.name])}")
        config = cls(**data)
        config.validate()
        return config

    def activations_per_image(self) -> int:
        """Floats the model's layers produce for one image, encoder and decoder (vae/models/size.py)."""
        raise NotImplementedError

    def validate(self) -> None:
        """Raise ValueError on values no model can be built from."""
        channels, height, width = self.input_shape
        if channels not in (1, 3) or not (8 <= height <= 256 and 8 <= width <= 256):
            raise ValueError(f"input_shape {self.input_shape} unsupported (1 or 3 channels, 8-256 px)")
        low, high = LATENT_DIM_BOUNDS
        if not low <= self.latent_dim <= high:
            raise ValueError(f"latent_dim must be {low}..{high}, got {self.latent_dim}")


def _same_kind(value: Any, default: Any) -> bool:
    """Whether a JSON value has the type of a field's default (ints for ints, never a bool for a number)."""
    if isinstance(default, bool) or isinstance(value, bool):
        return type(value) is type(default)
    if isinstance(default, int):
        return isinstance(value, int)
    if isinstance(default, float):
        return isinstance(value, int | float)
    if isinstance(default, tuple):
        return isinstance(value, tuple) and all(isinstance(v, int) and not isinstance(v, bool) for v in value)
    return isinstance(value, type(default))


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


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
