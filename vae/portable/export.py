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

from vae.portable.onnx_check import GraphError, first_line
from vae.portable.results import (
    read_decoded,
    read_posterior,
    spread_to_logvar,
    to_images,
    to_model_input,
    to_pixels,
)
from vae.portable.spec import DECODER_INPUT, ENCODER_INPUT, ENCODER_OUTPUTS, ImportSpec

log = logging.getLogger(__name__)

OPSET = 18
EXPORTER_LOGGERS = ("torch.onnx", "torch.export", "torch._dynamo", "onnxscript", "onnx_ir")  # INFO per pass
EXPORT_BATCH = 2  # traced with two images: a batch of one lets tracers treat N as a constant 1


class EncoderAdapter(nn.Module):
    """images (N, C, H, W) in [0, 1] -> (mu, logvar) (N, D), whatever the wrapped encoder expects and returns."""

    def __init__(self, module: nn.Module, encode: Callable[[torch.Tensor], Any], spec: ImportSpec) -> None:
        super().__init__()
        self.module, self.encode, self.spec = module, encode, spec  # `module` registers the weights

    def forward(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        read = read_posterior(self.encode(to_model_input(images, self.spec.input_range, self.spec.input_layout)))
        return read.mu.flatten(1), spread_to_logvar(read.spread, self.spec.posterior).flatten(1)


class DecoderAdapter(nn.Module):
    """z (N, D) -> (N, C, H, W) logits, or pixel values for every other output kind, from any decoder."""

    def __init__(self, module: nn.Module, decode: Callable[[torch.Tensor], Any], spec: ImportSpec) -> None:
        super().__init__()
        self.module, self.decode, self.spec = module, decode, spec

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        out = read_decoded(self.decode(z.reshape(z.shape[0], *self.spec.latent_shape)))
        images = to_images(out, self.spec.input_layout, self.spec.input_shape)
        return images if self.spec.decoder_output == "logits" else to_pixels(images, self.spec.decoder_output)


@contextlib.contextmanager
def _quiet_tracing() -> Iterator[None]:
    """No gradients, no exporter warnings or progress lines, and no argument checks inside
    torch.distributions (they compare tensor values, which a tracer cannot)."""
    previous = torch.distributions.Distribution._validate_args
    torch.distributions.Distribution.set_default_validate_args(False)
    loggers = [logging.getLogger(name) for name in EXPORTER_LOGGERS]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.WARNING)
    try:
        with warnings.catch_warnings(), torch.no_grad(), contextlib.redirect_stdout(io.StringIO()):
            warnings.simplefilter("ignore")
            yield
    finally:
        for logger, level in zip(loggers, levels, strict=True):
            logger.setLevel(level)
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
            raise GraphError(f"PyTorch could not export the model to ONNX ({first_line(first_error)})") from exc
    return onnx.load_model_from_string(buffer.getvalue())


def export_pair(encoder: EncoderAdapter, decoder: DecoderAdapter, latent_dim: int,
                decoder_output: str) -> tuple[onnx.ModelProto, onnx.ModelProto]:  # decoder_output: the bundle's kind
    """The encoder and decoder graphs under the bundle contract's names."""
    c, h, w = encoder.spec.input_shape
    images = torch.rand(EXPORT_BATCH, c, h, w, generator=torch.Generator().manual_seed(0))
    z = torch.randn(EXPORT_BATCH, latent_dim, generator=torch.Generator().manual_seed(0))
    return (export_graph(encoder, images, ENCODER_INPUT, list(ENCODER_OUTPUTS)),
            export_graph(decoder, z, DECODER_INPUT, [decoder_output]))
