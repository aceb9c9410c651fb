"""Read what a model's encode and decode return, whatever their form, and map its output to pixels.

Published VAEs return the posterior as a pair, a list, a `Normal`, one tensor of width 2D, N named
outputs (Keras' z_mean, z_log_var, z) or an object holding `.latent_dist` (diffusers), and images
as a tensor, `.sample` or `.reconstruction`. These readers serve both the run that finds a model's
conventions (vae/portable/conventions.py) and the exported adapters (vae/portable/export.py), so
what was checked is what is exported.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from vae.portable.onnx_check import GraphError

# Names under which models return the posterior's mean and spread (Keras' z_mean / z_log_var,
# pythae's embedding / log_covariance, diffusers' mean / logvar...), compared in lower case.
MU_NAMES = ("mu", "mean", "z_mean", "z_mu", "loc", "embedding", "means", "posterior_mean")
SPREAD_NAMES = {
    "logvar": ("logvar", "log_var", "z_log_var", "log_variance", "logvariance", "log_covariance", "z_logvar"),
    "log_std": ("log_std", "logstd", "log_sigma", "logsigma", "z_log_std", "log_scale"),
    "std": ("std", "sigma", "scale", "stddev", "z_std", "z_sigma"),
}
DECODED_NAMES = ("sample", "reconstruction", "recon", "x_recon", "x_hat", "recon_x", "decoded", "images",
                 "logits", "probs", "output", "outputs")


class Ambiguous(ValueError):
    """The run cannot tell a convention; the message is a one-line question naming the flag."""


def _short(name: object) -> str:
    """An output's own name, without an exporter's prefix or tf2onnx's ':0', in lower case."""
    return str(name).rsplit("/", 1)[-1].split(":", 1)[0].lower()


def named_tensors(out: Any) -> dict[str, torch.Tensor] | None:
    """The tensors a result holds by name: a dict, a ModelOutput, a namedtuple, a dataclass or any
    object's attributes; None when it holds no names."""
    if isinstance(out, torch.Tensor | tuple | list) and not hasattr(out, "_asdict"):
        return None
    if isinstance(out, Mapping):
        items = out.items()
    elif hasattr(out, "_asdict"):
        items = out._asdict().items()
    elif hasattr(out, "__dict__"):
        items = vars(out).items()
    else:
        return None
    return {str(k): v for k, v in items if isinstance(v, torch.Tensor)}


@dataclass
class PosteriorRead:
    """The posterior's mean and spread from one encoder result, and what that result said of them."""

    mu: torch.Tensor
    spread: torch.Tensor
    posterior: str | None  # "logvar" | "log_std" | "std" when the type or a name says so
    how: str
    keys: tuple[str, str] | None = None  # the names of mu and the spread, for a result that has names


def _by_name(named: dict[str, torch.Tensor]) -> PosteriorRead | None:
    short = {_short(k): k for k in named}
    mu_key = next((short[n] for n in MU_NAMES if n in short), None)
    for posterior, names in SPREAD_NAMES.items():
        spread_key = next((short[n] for n in names if n in short), None)
        if mu_key is not None and spread_key is not None:
            return PosteriorRead(named[mu_key], named[spread_key], posterior,
                                 f"named results {mu_key!r} and {spread_key!r}", (mu_key, spread_key))
    return None


def read_posterior(out: Any) -> PosteriorRead:
    """(mu, spread) from what an encoder returns, whatever its form; raises GraphError when none fits."""
    label = getattr(type(out), "label", None)  # a result type that names itself (an ONNX graph's outputs)
    what = label if isinstance(label, str) else type(out).__name__
    if hasattr(out, "latent_dist"):  # diffusers' AutoencoderKLOutput
        out = out.latent_dist
    if isinstance(out, torch.distributions.Independent):
        out = out.base_dist
    if isinstance(out, torch.distributions.Normal):
        return PosteriorRead(out.loc, out.scale, "std", f"a torch.distributions.Normal from {what}: loc, scale")
    if isinstance(out, torch.Tensor):
        if out.dim() < 2 or out.shape[1] % 2:
            raise GraphError(f"encode(x) returned one tensor of shape {list(out.shape)}; expected mu and its spread "
                             f"side by side (an even size along dim 1), or a pair")
        mu, spread = out.chunk(2, dim=1)
        return PosteriorRead(mu, spread, None, f"one tensor {list(out.shape[1:])}: mu, then the spread, along dim 1")
    named = named_tensors(out)
    if named:
        found = _by_name(named)
        if found:
            found.how = f"{found.how} of {what}"
            return found
        if len(named) >= 2:
            first, second = list(named)[:2]
            return PosteriorRead(named[first], named[second], None,
                                 f"the first two of {what}'s {len(named)} results ({first!r}, {second!r})",
                                 (first, second))
    if isinstance(out, tuple | list) and len(out) >= 2 and all(isinstance(t, torch.Tensor) for t in out[:2]):
        which = "a pair" if len(out) == 2 else f"the first two of {len(out)} results"
        return PosteriorRead(out[0], out[1], None, f"{which} ({what}): mu, then the spread")
    raise GraphError(f"encode(x) returned {what}; expected (mu, logvar | log_std | std), a torch.distributions."
                     f"Normal, one tensor of mu and spread side by side, or named results such as z_mean and "
                     f"z_log_var")


def read_decoded(out: Any) -> torch.Tensor:
    """The image tensor from what a decoder returns: a tensor, `.sample`, `.reconstruction`, a tuple's first."""
    if isinstance(out, torch.Tensor):
        return out
    named = named_tensors(out)
    if named:
        short = {_short(k): k for k in named}
        key = next((short[n] for n in DECODED_NAMES if n in short), None)
        if key is not None:
            return named[key]
        if len(named) == 1:
            return next(iter(named.values()))
    if isinstance(out, tuple | list) and out and isinstance(out[0], torch.Tensor):
        return out[0]
    raise GraphError(f"decode(z) returned {type(out).__name__}; expected a tensor of pixel values, or a result "
                     f"holding one as .sample or .reconstruction")


def spread_to_logvar(spread: torch.Tensor, posterior: str) -> torch.Tensor:
    """The bundle's log-variance from the posterior's second parameter."""
    if posterior == "std":
        return 2 * torch.log(spread)
    if posterior == "log_std":
        return 2 * spread
    return spread


def to_pixels(out: torch.Tensor, kind: str) -> torch.Tensor:
    """A decoder's output of `kind` as pixel values in [0, 1] (graph_adapters.py builds the same in ONNX)."""
    if kind == "logits":
        return torch.sigmoid(out)
    if kind == "symmetric":
        return (out * 0.5 + 0.5).clamp(0, 1)
    return out.clamp(0, 1)


def to_model_input(images: torch.Tensor, input_range: str, layout: str) -> torch.Tensor:
    """Images (N, C, H, W) in [0, 1] -> what the model's encoder takes."""
    x = images * 2 - 1 if input_range == "symmetric" else images
    if layout == "flat":
        return x.flatten(1)
    return x.permute(0, 2, 3, 1) if layout == "nhwc" else x


def shape_text(shape: tuple[int, ...] | list[int]) -> str:
    return "×".join(str(int(v)) for v in shape)


def to_images(out: torch.Tensor, layout: str, shape: tuple[int, int, int]) -> torch.Tensor:
    """A decoder's output (any shape with C·H·W values per image, in the model's layout) -> (N, C, H, W)."""
    c, h, w = shape
    per_image = int(np.prod(out.shape[1:]))
    if per_image != c * h * w:
        wanted = "channels" if per_image in (h * w, 3 * h * w) else "size"
        hint = (f"use --channels {per_image // (h * w)} or {'RGB' if per_image == 3 * h * w else 'grey'} data"
                if wanted == "channels" else "map images of the size it was trained on")
        raise Ambiguous(f"the decoder gives {shape_text(out.shape[1:])} per image, the data is {shape_text(shape)} "
                        f"({hint})")
    if layout == "nhwc":
        return out.reshape(out.shape[0], h, w, c).permute(0, 3, 1, 2)
    return out.reshape(out.shape[0], c, h, w)
