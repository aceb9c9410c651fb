"""What a portable bundle's two ONNX graphs look like, and how an imported model's conventions are declared.

In a bundle every graph follows one contract, whatever framework made it: the encoder takes
`images` (N, C, H, W) float32 in [0, 1] and returns `mu` and `logvar` (N, D); the decoder takes
`z` (N, D) and returns (N, C, H, W) named after what it holds, `logits` or `probs`. Importers
adapt a model's own conventions (input range, flat input, log-std, a spatial latent, a Tanh
output...) to it once, at import time, so nothing downstream (the server, the browser, the
metrics) needs to know them. A convention left unset (None) is found by running the model on the
map's images (vae/portable/conventions.py).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any, ClassVar

from vae.losses import LIKELIHOODS
from vae.models.base import ModelConfig

KIND = "portable"
ENCODER_FILE = "encoder.onnx"
DECODER_FILE = "decoder.onnx"
ENCODER_INPUT = "images"
ENCODER_OUTPUTS = ("mu", "logvar")
DECODER_INPUT = "z"
DECODER_OUTPUTS = ("logits", "probs")  # the bundle decoder's one output is named after its kind
# What a model's decoder may return, each mapped to the bundle's two kinds in the exported graph:
# logits; probabilities in [0, 1]; pixel means on the [0, 1] scale, not squashed (a linear or
# Tanh output trained with MSE, clipped); values on the [-1, 1] scale (a Tanh output, or means of
# [-1, 1] images: (y + 1) / 2, clipped).
OUTPUT_KINDS = ("logits", "probs", "means", "symmetric")
OUTPUT_KIND_TEXT = {"logits": "logits (sigmoid gives the pixels)", "probs": "probabilities in [0, 1]",
                    "means": "pixel values on the [0, 1] scale, not squashed",
                    "symmetric": "pixel values on the [-1, 1] scale (a Tanh output, or unsquashed)"}
INPUT_RANGES = ("unit", "symmetric")  # images in [0, 1], or in [-1, 1]
INPUT_LAYOUTS = ("nchw", "nhwc", "flat")
POSTERIORS = ("logvar", "log_std", "std")
MAX_SPEC_BYTES = 1 << 20


class SpecError(ValueError):
    """A spec or option that cannot describe a model; the message is one line for the user."""


@dataclass
class PortableConfig(ModelConfig):
    """The `model` section of a portable bundle's config.json: shapes and the decoder's output kind."""

    arch: ClassVar[str] = "onnx"
    latent_dim: int = 16
    decoder_output: str = "logits"

    def validate(self) -> None:
        super().validate()
        if self.decoder_output not in DECODER_OUTPUTS:
            raise ValueError(f"decoder_output must be one of {DECODER_OUTPUTS}, got {self.decoder_output!r}")


@dataclass
class ImportSpec:
    """A model's own conventions, declared by the user (the `onnx` route's JSON spec, the CLI options).

    `input_shape` is the image shape (C, H, W); `input_layout` is what the model's encoder takes
    (`nchw`, `nhwc` as Keras models do, or `flat` C*H*W); `posterior` is what its second encoder
    output holds; `latent_shape` the shape of one code as the decoder takes it ((4, 7, 7) for a
    spatial latent; the bundle flattens it). The decoder's output may have any shape with C*H*W
    values per image, in the same layout as the input. None means "find it by running the model".
    """

    input_shape: tuple[int, int, int] = (1, 28, 28)
    latent_dim: int | None = None  # None: taken from the encoder, when the importer can run it
    input_range: str | None = None
    input_layout: str | None = None
    posterior: str | None = None
    decoder_output: str | None = None
    likelihood: str | None = None
    gaussian_sigma: float | None = None
    class_names: list[str] = field(default_factory=list)
    latent_shape: tuple[int, ...] | None = None

    CHOICES: ClassVar[dict[str, tuple[str, ...]]] = {
        "input_range": INPUT_RANGES, "input_layout": INPUT_LAYOUTS, "posterior": POSTERIORS,
        "decoder_output": OUTPUT_KINDS, "likelihood": LIKELIHOODS}

    @property
    def resolved(self) -> bool:
        """Every convention known: what the adapters and the metrics need."""
        return all(getattr(self, name) is not None for name in (*self.CHOICES, "gaussian_sigma", "latent_shape"))

    def validate(self) -> None:
        """Raise SpecError naming the first field that is wrong (None, still to be found, is not wrong)."""
        shape = self.input_shape
        for name, allowed in self.CHOICES.items():
            if getattr(self, name) not in (*allowed, None):
                raise SpecError(f"{name} must be one of {', '.join(allowed)}, got {getattr(self, name)!r}")
        if len(shape) != 3 or not all(isinstance(v, int) for v in shape):
            raise SpecError(f"input_shape must be three integers [C, H, W], got {list(shape)}")
        try:
            PortableConfig(input_shape=shape, latent_dim=self.latent_dim or 1).validate()
        except ValueError as exc:
            raise SpecError(str(exc)) from exc
        if self.gaussian_sigma is not None and not 1e-3 <= self.gaussian_sigma <= 10:
            raise SpecError(f"gaussian_sigma must be in 0.001..10, got {self.gaussian_sigma}")
        if not all(isinstance(n, str) for n in self.class_names):
            raise SpecError("class_names must be a list of strings")
        if self.latent_shape is not None and not (
                self.latent_shape and all(isinstance(v, int) and v > 0 for v in self.latent_shape)):
            raise SpecError(f"latent_shape must be positive integers, got {list(self.latent_shape)}")

    @property
    def bundle_output(self) -> str:
        """The bundle decoder's kind: logits stay logits, every other kind becomes probabilities."""
        return "logits" if self.decoder_output == "logits" else "probs"

    def model_config(self, latent_dim: int) -> PortableConfig:
        return PortableConfig(input_shape=self.input_shape, latent_dim=latent_dim, decoder_output=self.bundle_output)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["input_shape"] = list(self.input_shape)
        if self.latent_shape is not None:
            data["latent_shape"] = list(self.latent_shape)
        return data

    @classmethod
    def from_dict(cls, data: object) -> ImportSpec:
        """Build and validate from JSON; unknown keys are an error (a typo must not pass silently)."""
        if not isinstance(data, dict):
            raise SpecError("the spec must be a JSON object")
        unknown = set(data) - {f.name for f in fields(cls)}
        if unknown:
            raise SpecError(f"unknown spec keys: {', '.join(sorted(unknown))}")
        values = dict(data)
        if "input_shape" in values:
            if not isinstance(values["input_shape"], list):
                raise SpecError("input_shape must be a list [C, H, W]")
            values["input_shape"] = tuple(values["input_shape"])
        if values.get("latent_shape") is not None:
            if not isinstance(values["latent_shape"], list):
                raise SpecError("latent_shape must be a list of integers")
            values["latent_shape"] = tuple(values["latent_shape"])
        try:
            spec = cls(**values)
        except TypeError as exc:
            raise SpecError(str(exc)) from exc
        spec.validate()
        return spec

    @classmethod
    def from_file(cls, path: str | Path) -> ImportSpec:
        path = Path(path)
        if not path.is_file():
            raise SpecError(f"{path}: no such file")
        if path.stat().st_size > MAX_SPEC_BYTES:
            raise SpecError(f"{path}: larger than {MAX_SPEC_BYTES >> 10} KB, not a spec")
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise SpecError(f"{path.name} is not valid JSON ({exc})") from exc
        return cls.from_dict(data)
