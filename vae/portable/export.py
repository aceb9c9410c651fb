"""PyTorch encoder and decoder -> the bundle's two ONNX graphs, through adapters for common conventions.

An importer hands over two callables, `encode(x)` and `decode(z)`, and an `ImportSpec` saying what
they expect and return. The adapters below turn them into the bundle contract (vae/portable/spec.py)
inside the traced graph, so the exported files need no conventions at run time. Export uses
torch.onnx's torch.export-based exporter; a model it cannot trace (data-dependent Python control
flow, say) is tried once more with the TorchScript tracer.
"""

from __future__ import annotations

import contextlib
import io
import logging
import warnings
from collections.abc import Callable, Iterator
from typing import Any

import onnx
import torch
from torch import nn

from vae.portable.onnx_check import GraphError
from vae.portable.spec import DECODER_INPUT, ENCODER_INPUT, ENCODER_OUTPUTS, ImportSpec

log = logging.getLogger(__name__)

OPSET = 18
EXPORT_BATCH = 2  # traced with two images: a batch of one lets tracers treat N as a constant 1


def _posterior(out: Any) -> tuple[torch.Tensor, torch.Tensor]:
    """(mu, second) from what an encoder returns: a pair, a Normal, or an object with loc and scale."""
    if isinstance(out, torch.distributions.Independent):
        out = out.base_dist
    if isinstance(out, torch.distributions.Normal):
        return out.loc, out.scale
    if isinstance(out, tuple | list) and len(out) == 2 and all(isinstance(t, torch.Tensor) for t in out):
        return out[0], out[1]
    raise GraphError(f"encode(x) returned {type(out).__name__}; expected (mu, logvar | log_std | std) "
                     f"or a torch.distributions.Normal")


class EncoderAdapter(nn.Module):
    """images (N, C, H, W) in [0, 1] -> (mu, logvar), whatever the wrapped encoder expects and returns."""

    def __init__(self, module: nn.Module, encode: Callable[[torch.Tensor], Any], spec: ImportSpec) -> None:
        super().__init__()
        self.module, self.encode, self.spec = module, encode, spec  # `module` registers the weights

    def forward(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x = images * 2 - 1 if self.spec.input_range == "symmetric" else images
        if self.spec.input_layout == "flat":
            x = x.flatten(1)
        elif self.spec.input_layout == "nhwc":
            x = x.permute(0, 2, 3, 1)
        mu, second = _posterior(self.encode(x))
        if self.spec.posterior == "std":
            second = 2 * torch.log(second)
        elif self.spec.posterior == "log_std":
            second = 2 * second
        return mu.flatten(1), second.flatten(1)


class DecoderAdapter(nn.Module):
    """z (N, D) -> (N, C, H, W) logits or probabilities, from a decoder of any output layout."""

    def __init__(self, module: nn.Module, decode: Callable[[torch.Tensor], Any], spec: ImportSpec) -> None:
        super().__init__()
        self.module, self.decode, self.spec = module, decode, spec

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        out = self.decode(z)
        if not isinstance(out, torch.Tensor):
            raise GraphError(f"decode(z) returned {type(out).__name__}; expected a tensor of pixel values")
        c, h, w = self.spec.input_shape
        if self.spec.input_layout == "nhwc":
            return out.reshape(out.shape[0], h, w, c).permute(0, 3, 1, 2)
        return out.reshape(out.shape[0], c, h, w)


@contextlib.contextmanager
def _quiet_tracing() -> Iterator[None]:
    """No gradients, no exporter warnings, and no argument checks inside torch.distributions
    (they compare tensor values, which a tracer cannot)."""
    previous = torch.distributions.Distribution._validate_args
    torch.distributions.Distribution.set_default_validate_args(False)
    try:
        with warnings.catch_warnings(), torch.no_grad():
            warnings.simplefilter("ignore")
            yield
    finally:
        torch.distributions.Distribution.set_default_validate_args(previous)


def export_graph(module: nn.Module, example: torch.Tensor, input_name: str, output_names: list[str]) -> onnx.ModelProto:
    """One graph with a dynamic batch dimension; the torch.export path first, then TorchScript."""
    module.eval()
    with _quiet_tracing():
        try:
            program = torch.onnx.export(module, (example,), None, dynamo=True, opset_version=OPSET,
                                        input_names=[input_name], output_names=output_names,
                                        dynamic_shapes=({0: torch.export.Dim("batch", min=1, max=1 << 20)},),
                                        verbose=False)
            return program.model_proto
        except Exception as exc:  # torch.export raises many kinds (Unsupported, UserError...)
            first_error = exc
            log.info("torch.export could not trace %s (%s); trying TorchScript", type(module).__name__, exc)
        buffer = io.BytesIO()
        try:
            torch.onnx.export(module, (example,), buffer, dynamo=False, opset_version=OPSET,
                              input_names=[input_name], output_names=output_names,
                              dynamic_axes={name: {0: "batch"} for name in [input_name, *output_names]})
        except GraphError:
            raise
        except Exception as exc:
            reason = (str(first_error).strip() or type(first_error).__name__).splitlines()[0][:300]
            raise GraphError(f"PyTorch could not export the model to ONNX ({reason})") from exc
    return onnx.load_model_from_string(buffer.getvalue())


def export_pair(encoder: EncoderAdapter, decoder: DecoderAdapter, latent_dim: int,
                decoder_output: str) -> tuple[onnx.ModelProto, onnx.ModelProto]:
    """The encoder and decoder graphs under the bundle contract's names."""
    c, h, w = encoder.spec.input_shape
    images = torch.rand(EXPORT_BATCH, c, h, w, generator=torch.Generator().manual_seed(0))
    z = torch.randn(EXPORT_BATCH, latent_dim, generator=torch.Generator().manual_seed(0))
    return (export_graph(encoder, images, ENCODER_INPUT, list(ENCODER_OUTPUTS)),
            export_graph(decoder, z, DECODER_INPUT, [decoder_output]))
