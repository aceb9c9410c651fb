"""Import an encoder/decoder pair exported to ONNX by any framework (Keras via tf2onnx, JAX, PyTorch).

The graphs are checked (operators, external data), run on the map's images to find what they take
and return (vae/portable/conventions.py; an optional JSON spec or flags name any convention
instead), wrapped in adapters (vae/portable/graph_adapters.py) and checked again as a bundle's.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import onnx
import torch
from onnx import ModelProto

from vae.portable import onnx_check
from vae.portable.build import PARITY_IMAGES, ImportRefused, check_data_shape
from vae.portable.conventions import detect
from vae.portable.data import MapData
from vae.portable.graph_adapters import adapt_decoder, adapt_encoder, graph_inputs, single_float_input
from vae.portable.onnx_check import GraphError
from vae.portable.results import read_decoded, read_posterior, to_model_input
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


class GraphOutputs(dict):
    """A graph's outputs by name, in the graph's order (the conventions' readers match the names)."""

    label = "the graph's outputs"


def _runner(graph: ModelProto, label: str) -> Callable[[torch.Tensor], Any]:
    """The graph as a function of one tensor: its one output, or all of them by name."""
    runner = session(graph, label)
    input_name = graph_inputs(graph)[0].name
    names = [o.name for o in graph.graph.output]

    def run(x: torch.Tensor) -> Any:
        outputs = run_session(runner, names, {input_name: x.detach().float().numpy()}, label)
        tensors = GraphOutputs((name, torch.from_numpy(o)) for name, o in zip(names, outputs, strict=True))
        return next(iter(tensors.values())) if len(tensors) == 1 else tensors

    return run


def _layouts(encoder: ModelProto, spec: ImportSpec) -> tuple[str, ...]:
    """The layouts to try, most likely first, from the rank and sizes the encoder's input declares."""
    dims = [d.dim_value or None for d in graph_inputs(encoder)[0].type.tensor_type.shape.dim]
    if len(dims) == 2:
        return ("flat",)
    if len(dims) == 4 and dims[3] == spec.input_shape[0] and dims[1] != spec.input_shape[0]:
        return ("nhwc", "nchw")
    return ("nchw", "nhwc", "flat")


@torch.no_grad()
def import_onnx(encoder_path: str | Path, decoder_path: str | Path, spec: ImportSpec, data: MapData,
                detect_only: bool = False) -> tuple[PortableVAE | None, ImportSpec, dict[str, Any]]:
    """Check the pair, find its conventions, adapt it and run it on the data; (model, the spec found,
    the card's import record); no model with `detect_only`."""
    check_data_shape(data, spec)
    encoder_path, decoder_path = Path(encoder_path), Path(decoder_path)
    encoder = read_source_graph(encoder_path, encoder_path.name)
    decoder = read_source_graph(decoder_path, decoder_path.name)
    single_float_input(encoder, encoder_path.name)
    single_float_input(decoder, decoder_path.name)
    encode, decode = _runner(encoder, encoder_path.name), _runner(decoder, decoder_path.name)
    detection = detect(encode, decode, data.images, spec, _layouts(encoder, spec))
    found = detection.spec
    if detect_only:
        return None, found, detection.record()
    x = torch.from_numpy(data.images[:8]).float() / 255
    read = read_posterior(encode(to_model_input(x, found.input_range, found.input_layout)))
    decoded = decode(read.mu)
    output = (decoder.graph.output[0].name if not isinstance(decoded, GraphOutputs)
              else next(k for k, v in decoded.items() if v is read_decoded(decoded)))
    model = PortableVAE(found.model_config(found.latent_dim),
                        adapt_encoder(encoder, found, encoder_path.name, read.keys),
                        adapt_decoder(decoder, found, decoder_path.name, output))
    x = torch.from_numpy(data.images[:PARITY_IMAGES]).float() / 255
    mu, logvar = model.encode(x)
    prior = torch.randn(len(mu), found.latent_dim, generator=torch.Generator().manual_seed(0))
    try:
        check_outputs(mu, logvar, model.run_decoder(torch.cat([mu, prior])), model.config)
    except GraphError as exc:
        raise ImportRefused(f"on the data's images: {exc}") from exc
    producers = {f"{g.producer_name} {g.producer_version}".strip() for g in (encoder, decoder)} - {""}
    source = {"route": "onnx", "encoder": encoder_path.name, "decoder": decoder_path.name,
              "producer": ", ".join(sorted(producers)) or "unknown",
              "opset": max(o.version for o in encoder.opset_import if o.domain in ("", "ai.onnx")),
              **detection.record()}
    return model, found, source
