"""Import an encoder/decoder pair exported to ONNX by any framework (Keras via tf2onnx, JAX, PyTorch).

The user's JSON spec (vae/portable/spec.py `ImportSpec`) says what the graphs take and return;
the graphs are checked (operators, external data), run once on real images to learn and check
their shapes, wrapped in adapters (vae/portable/graph_adapters.py) and checked again as a bundle's.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import onnx
import torch
from onnx import ModelProto

from vae.portable import onnx_check
from vae.portable.build import PARITY_IMAGES, ImportRefused, check_data_shape
from vae.portable.data import MapData
from vae.portable.graph_adapters import adapt_decoder, adapt_encoder, graph_inputs
from vae.portable.onnx_check import GraphError
from vae.portable.runtime import PortableVAE, check_outputs, run_session, session
from vae.portable.spec import ImportSpec


def read_source_graph(path: Path, label: str) -> ModelProto:
    """A user's graph with its external data (from its own folder only), local functions inlined, checked."""
    graph = onnx_check.read_graph(path, label)
    onnx_check.load_external_data(graph, path.parent, label)
    if graph.functions:
        # Exporters wrap modules in local functions; inlined, they are standard operators again.
        function_domains = {f.domain for f in graph.functions}
        graph = onnx.inliner.inline_local_functions(graph)
        kept = [o for o in graph.opset_import if o.domain not in function_domains - onnx_check.STANDARD_DOMAINS]
        del graph.opset_import[:]
        graph.opset_import.extend(kept)
    onnx_check.check_graph(graph, label)
    return graph


def _model_input(images: np.ndarray, spec: ImportSpec) -> np.ndarray:
    """uint8 (N, C, H, W) -> what the user's encoder takes, by the spec's range and layout."""
    x = images.astype(np.float32) / 255
    if spec.input_range == "symmetric":
        x = x * 2 - 1
    if spec.input_layout == "flat":
        return x.reshape(len(x), -1)
    return x.transpose(0, 2, 3, 1) if spec.input_layout == "nhwc" else x


def _latent_dim(encoder: ModelProto, spec: ImportSpec, images: np.ndarray, label: str) -> int:
    """The code size, from a run of the user's own encoder; checked against the spec's latent_dim."""
    feed = {graph_inputs(encoder)[0].name: _model_input(images, spec)}
    outputs = run_session(session(encoder, label), None, feed, label)
    widths = [int(np.prod(o.shape[1:])) for o in outputs]
    if len(outputs) == 2 and widths[0] != widths[1]:
        raise GraphError(f"{label}: its two outputs have {widths[0]} and {widths[1]} values per image; "
                         f"expected mu and its spread, of equal size")
    if len(outputs) == 1 and widths[0] % 2:
        raise GraphError(f"{label}: its one output has {widths[0]} values per image, "
                         f"not mu and its spread side by side")
    latent_dim = widths[0] if len(outputs) == 2 else widths[0] // 2
    if spec.latent_dim is not None and spec.latent_dim != latent_dim:
        raise GraphError(f"{label}: outputs {latent_dim}-D codes, but the spec says latent_dim {spec.latent_dim}")
    return latent_dim


@torch.no_grad()
def import_onnx(encoder_path: str | Path, decoder_path: str | Path, spec: ImportSpec,
                data: MapData) -> tuple[PortableVAE, dict[str, Any]]:
    """Check, adapt and run the pair on the data; (model, the card's import record)."""
    check_data_shape(data, spec)
    encoder_path, decoder_path = Path(encoder_path), Path(decoder_path)
    encoder = read_source_graph(encoder_path, encoder_path.name)
    decoder = read_source_graph(decoder_path, decoder_path.name)
    latent_dim = _latent_dim(encoder, spec, data.images[:8], encoder_path.name)
    model = PortableVAE(spec.model_config(latent_dim), adapt_encoder(encoder, spec, latent_dim, encoder_path.name),
                        adapt_decoder(decoder, spec, latent_dim, decoder_path.name))
    x = torch.from_numpy(data.images[:PARITY_IMAGES]).float() / 255
    mu, logvar = model.encode(x)
    prior = torch.randn(len(mu), latent_dim, generator=torch.Generator().manual_seed(0))
    try:
        check_outputs(mu, logvar, model.run_decoder(torch.cat([mu, prior])), model.config)
    except GraphError as exc:
        raise ImportRefused(f"on the data's images: {exc}") from exc
    producers = {f"{g.producer_name} {g.producer_version}".strip() for g in (encoder, decoder)} - {""}
    source = {"route": "onnx", "encoder": encoder_path.name, "decoder": decoder_path.name,
              "producer": ", ".join(sorted(producers)) or "unknown",
              "opset": max(o.version for o in encoder.opset_import if o.domain in ("", "ai.onnx"))}
    return model, source
