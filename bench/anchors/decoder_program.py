"""The decoder as a small program a browser can run, so a slider step needs no server round trip.

The anchor of bench/browser_decode.py: vae/decoder_export.py as VAE Lab shipped it until
onnxruntime-web replaced it (commit c65ac8d), unchanged; js_interpreter.js beside it runs its programs.

Through Streamlit, every slider step costs the browser ~30 ms of main-thread work (a rerun's
render) and the server a script run; with ten users on one small machine that contention doubled
step latency. The shipped 16-D conv decoder is ~8 M multiply-adds: ~6 ms in plain JavaScript
(ui/components/local_decoder.js runs the program). Supported layers: Linear, Conv2d (stride 1),
ConvTranspose2d (groups 1, dilation 1), ReLU, SiLU, ELU and Unflatten; anything else raises
`UnsupportedLayer`, and the explorer keeps decoding on the server.
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn

from vae.models import VAE

ACTIVATIONS = {nn.ReLU: "relu", nn.SiLU: "silu"}


class UnsupportedLayer(ValueError):
    """The decoder has a layer the browser program cannot express."""


@dataclass(frozen=True)
class DecoderProgram:
    """`ops` applied in order to a code of `latent_dim` values give the image (C, H, W) in [0, 1].

    Each op names its parameters by offset and length into `weights` (PyTorch's own layouts:
    Linear (out, in), Conv2d (out, in, kh, kw), ConvTranspose2d (in, out, kh, kw)) and says the
    shape it produces. The last op is a sigmoid, as in `VAE.decode`.
    """

    latent_dim: int
    ops: list[dict[str, Any]]
    weights: np.ndarray  # (P,) float32

    def to_json(self, dtype: str = "float16") -> dict[str, Any]:
        """JSON-ready: the weights as base64 of little-endian `dtype` (float16 halves what is sent)."""
        raw = self.weights.astype(np.dtype(dtype).newbyteorder("<")).tobytes()
        return {"latent_dim": self.latent_dim, "ops": self.ops, "dtype": dtype,
                "weights": base64.b64encode(raw).decode("ascii"), "id": hashlib.sha256(raw).hexdigest()[:16]}


def _conv_op(layer: nn.Conv2d | nn.ConvTranspose2d, name: str) -> dict[str, Any]:
    if layer.groups != 1 or tuple(layer.dilation) != (1, 1) or layer.padding_mode != "zeros":
        raise UnsupportedLayer(f"{name} with groups, dilation or non-zero padding is not supported")
    if isinstance(layer, nn.ConvTranspose2d) and tuple(layer.output_padding) != (0, 0):
        raise UnsupportedLayer("ConvTranspose2d with output_padding is not supported")
    if isinstance(layer.padding, str):
        raise UnsupportedLayer(f"{name} with padding={layer.padding!r} is not supported")
    return {"op": name, "kernel": list(layer.kernel_size), "stride": list(layer.stride),
            "padding": list(layer.padding)}


@torch.no_grad()
def export_decoder(model: VAE) -> DecoderProgram:
    """Flatten `model.decoder_layers()` into a `DecoderProgram`; raises `UnsupportedLayer`."""
    chunks: list[np.ndarray] = []
    offset = 0

    def add(tensor: torch.Tensor | None) -> int:
        nonlocal offset
        if tensor is None:
            return -1
        chunks.append(tensor.detach().float().cpu().numpy().ravel())
        start, offset = offset, offset + tensor.numel()
        return start

    device = next(model.parameters()).device
    x = torch.zeros(1, model.latent_dim, device=device)  # carried through to record each op's shape
    ops: list[dict[str, Any]] = []
    for layer in model.decoder_layers():
        if isinstance(layer, nn.Linear):
            op = {"op": "linear"}
        elif isinstance(layer, nn.ConvTranspose2d):
            op = _conv_op(layer, "conv_transpose2d")
        elif isinstance(layer, nn.Conv2d):
            if tuple(layer.stride) != (1, 1):
                raise UnsupportedLayer("Conv2d with a stride other than 1 is not supported")
            op = _conv_op(layer, "conv2d")
        elif type(layer) in ACTIVATIONS:
            op = {"op": ACTIVATIONS[type(layer)]}
        elif isinstance(layer, nn.ELU):
            op = {"op": "elu", "alpha": float(layer.alpha)}
        elif isinstance(layer, nn.Unflatten):
            op = {"op": "unflatten"}
        else:
            raise UnsupportedLayer(f"the browser cannot run a {type(layer).__name__} layer")
        if isinstance(layer, nn.Linear | nn.Conv2d | nn.ConvTranspose2d):
            op |= {"weight": add(layer.weight), "bias": add(layer.bias)}
        op["in_shape"] = list(x.shape[1:])
        x = layer(x)
        op["out_shape"] = list(x.shape[1:])
        ops.append(op)
    ops.append({"op": "sigmoid", "in_shape": list(x.shape[1:]), "out_shape": list(x.shape[1:])})
    if list(x.shape[1:]) != list(model.config.input_shape):
        raise UnsupportedLayer(f"decoder layers end in shape {list(x.shape[1:])}, not the image shape")
    weights = np.concatenate(chunks).astype(np.float32) if chunks else np.zeros(0, np.float32)
    return DecoderProgram(model.latent_dim, ops, weights)
