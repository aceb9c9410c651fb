"""Run a portable bundle's ONNX pair with onnxruntime, behind the native models' contract.

`PortableVAE` is a `VAE`: `encode` gives (mu, logvar), `decode_logits` and `decode` give the
pixel means' logits and values, so every page, metric and tool works on it unchanged (the loss
functions compute the declared likelihood from the logits). onnxruntime uses the CPU, and CUDA
when its provider is installed.
"""

from __future__ import annotations

import hashlib
import os
import re
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import onnxruntime as ort
import torch
from onnx import ModelProto

from vae.models.base import VAE
from vae.models.decoder_export import UnsupportedLayer
from vae.portable import first_run, onnx_bounds, onnx_check
from vae.portable.onnx_check import GraphError
from vae.portable.spec import (
    DECODER_FILE,
    DECODER_INPUT,
    ENCODER_FILE,
    ENCODER_INPUT,
    ENCODER_OUTPUTS,
    PortableConfig,
)

# Probabilities are turned into logits for the loss functions: clamping keeps them finite
# (BCE with such logits equals BCE on the probabilities to within float32 rounding).
PROB_EPS = 1e-7
RANGE_TOLERANCE = 1e-5  # how far a `probs` decoder may stray outside [0, 1] (float rounding)
SMOKE_BATCH = 4
# Digests of (encoder, decoder, config) whose first run passed in this process: not run again.
_PASSED_FIRST_RUN: set[str] = set()


def providers() -> list[str]:
    """CUDA first when this onnxruntime build has it, then the CPU."""
    available = ort.get_available_providers()
    return [p for p in ("CUDAExecutionProvider", "CPUExecutionProvider") if p in available]


def session(model: ModelProto | bytes, label: str) -> ort.InferenceSession:
    """An onnxruntime session on a checked pair's graph (bytes), or on a graph not checked as a pair yet
    (an importer's source graph), which must first pass the static bounds at its declared input shapes."""
    if isinstance(model, ModelProto):
        onnx_bounds.check_bounds(model, label)
    graph = model if isinstance(model, bytes) else model.SerializeToString()
    # Threads follow PyTorch's setting (the app sets one thread per call; the CLI uses the cores).
    options = first_run.session_options(torch.get_num_threads())
    try:
        return ort.InferenceSession(graph, options, providers=providers())
    except Exception as exc:  # onnxruntime raises its own Fail/InvalidGraph/NotImplemented kinds
        raise GraphError(f"{label}: onnxruntime cannot load it ({_first_line(exc)})") from exc


def run_session(runner: ort.InferenceSession, names: list[str] | None, feed: dict[str, np.ndarray],
                label: str) -> list[np.ndarray]:
    """One onnxruntime run; a failure (a shape the graph rejects, say) becomes a one-line GraphError."""
    try:
        return runner.run(names, feed)
    except Exception as exc:  # onnxruntime's own Fail / InvalidArgument / RuntimeException kinds
        raise GraphError(f"{label}: running it failed ({_first_line(exc)})") from exc


def _first_line(exc: Exception) -> str:
    """onnxruntime's message on one line, without its C++ source location (the reason often follows it)."""
    text = " ".join(str(exc).split())
    text = re.sub(r"\S+\.(cc|h):\d+ \S+\(.*?\)( const)? ", "", text)
    return text[:300] or type(exc).__name__


def check_pair(encoder: ModelProto, decoder: ModelProto, config: PortableConfig) -> None:
    """Both graphs against the bundle contract (operators, checker, names, dims, bounds); raises GraphError."""
    c, h, w = config.input_shape
    onnx_check.check_graph(encoder, ENCODER_FILE)
    onnx_check.check_interface(encoder, ENCODER_FILE, {ENCODER_INPUT: [None, c, h, w]},
                               {name: [None, config.latent_dim] for name in ENCODER_OUTPUTS})
    onnx_bounds.check_bounds(encoder, ENCODER_FILE, {ENCODER_INPUT: (1, c, h, w)})
    onnx_check.check_graph(decoder, DECODER_FILE)
    onnx_check.check_interface(decoder, DECODER_FILE, {DECODER_INPUT: [None, config.latent_dim]},
                               {config.decoder_output: [None, c, h, w]})
    onnx_bounds.check_bounds(decoder, DECODER_FILE, {DECODER_INPUT: (1, config.latent_dim)})


class PortableVAE(VAE):
    """Two validated ONNX graphs as a VAE; holds no parameters and runs no Python from the bundle."""

    config: PortableConfig

    def __init__(self, config: PortableConfig, encoder: ModelProto, decoder: ModelProto) -> None:
        super().__init__(config)
        check_pair(encoder, decoder, config)
        self.encoder_graph, self.decoder_graph = encoder, decoder
        encoder_bytes, decoder_bytes = encoder.SerializeToString(), decoder.SerializeToString()
        self.smoke_test(encoder_bytes, decoder_bytes)
        self.encoder_session = session(encoder_bytes, ENCODER_FILE)
        self.decoder_session = session(decoder_bytes, DECODER_FILE)

    def smoke_test(self, encoder: bytes, decoder: bytes) -> None:
        """Run both graphs once on a small batch: shapes, finiteness and the declared output range.

        The run happens in a child process under a time and a memory limit (vae/portable/first_run.py),
        before this process starts a session: a graph that spins or allocates without end stops there.
        A pair that passed once in this process is not run again (the explorer reopens bundles often).
        """
        digest = hashlib.sha256(encoder)
        for part in (decoder, repr(self.config).encode()):
            digest.update(b"\0" + part)
        if digest.hexdigest() in _PASSED_FIRST_RUN:
            return
        c, h, w = self.config.input_shape
        images = torch.rand(SMOKE_BATCH, c, h, w, generator=torch.Generator().manual_seed(0))
        noise = torch.randn(SMOKE_BATCH, self.latent_dim, generator=torch.Generator().manual_seed(1))
        contract = first_run.Contract(ENCODER_FILE, ENCODER_INPUT, ENCODER_OUTPUTS, DECODER_FILE, DECODER_INPUT,
                                      self.config.decoder_output)
        try:
            mu, logvar, decoded = first_run.run_pair(encoder, decoder, images.numpy(), noise.numpy(), contract)
        except first_run.FirstRunError as exc:
            raise GraphError(str(exc)) from exc
        check_outputs(torch.from_numpy(mu), torch.from_numpy(logvar), torch.from_numpy(decoded), self.config)
        _PASSED_FIRST_RUN.add(digest.hexdigest())

    def _encode_params(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat(self.encode(x), dim=-1)

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Posterior parameters (mu, logvar) for images in [0, 1]."""
        feed = {ENCODER_INPUT: x.detach().float().cpu().numpy()}
        mu, logvar = run_session(self.encoder_session, list(ENCODER_OUTPUTS), feed, ENCODER_FILE)
        return torch.from_numpy(mu).to(x.device), torch.from_numpy(logvar).to(x.device)

    def run_decoder(self, z: torch.Tensor) -> torch.Tensor:
        feed = {DECODER_INPUT: z.detach().float().cpu().numpy().reshape(-1, self.latent_dim)}
        (out,) = run_session(self.decoder_session, [self.config.decoder_output], feed, DECODER_FILE)
        return torch.from_numpy(out).to(z.device)

    def decode_logits(self, z: torch.Tensor) -> torch.Tensor:
        out = self.run_decoder(z)
        if self.config.decoder_output == "logits":
            return out
        return torch.logit(out.clamp(PROB_EPS, 1 - PROB_EPS))

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        out = self.run_decoder(z)
        return torch.sigmoid(out) if self.config.decoder_output == "logits" else out.clamp(0, 1)

    def decoder_layers(self) -> list[torch.nn.Module]:
        raise UnsupportedLayer("a portable bundle's decoder is an ONNX graph, not PyTorch layers")

    def save_graphs(self, folder: Path) -> list[str]:
        """Write encoder.onnx and decoder.onnx (external data inlined) into `folder`; return the names."""
        for name, graph in ((ENCODER_FILE, self.encoder_graph), (DECODER_FILE, self.decoder_graph)):
            onnx.save_model(graph, folder / name)
            fd = os.open(folder / name, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
        return [ENCODER_FILE, DECODER_FILE]


def check_outputs(mu: torch.Tensor, logvar: torch.Tensor, decoded: torch.Tensor, config: PortableConfig) -> None:
    """Raise GraphError when outputs disagree with the declared shapes or range, or are not finite."""
    n_images, shape = mu.shape[0], (config.latent_dim,)
    for name, value in (("mu", mu), ("logvar", logvar)):
        if tuple(value.shape[1:]) != shape or value.shape[0] != n_images:
            raise GraphError(f"{ENCODER_FILE}: {name} has shape {list(value.shape)}, expected [N, {config.latent_dim}]")
        if not torch.isfinite(value).all():
            raise GraphError(f"{ENCODER_FILE}: {name} holds NaN or infinite values")
    if tuple(decoded.shape[1:]) != tuple(config.input_shape):
        raise GraphError(f"{DECODER_FILE}: output has shape {list(decoded.shape)}, "
                         f"expected [N, {', '.join(map(str, config.input_shape))}]")
    if not torch.isfinite(decoded).all():
        raise GraphError(f"{DECODER_FILE}: output holds NaN or infinite values")
    low, high = float(decoded.min()), float(decoded.max())
    if config.decoder_output == "probs" and (low < -RANGE_TOLERANCE or high > 1 + RANGE_TOLERANCE):
        raise GraphError(f"{DECODER_FILE}: outputs range over [{low:.3g}, {high:.3g}], "
                         f"outside the [0, 1] its declared 'probs' output must stay in")


def load_portable_model(path: Path, config: dict[str, Any], data: dict[str, bytes] | None = None) -> PortableVAE:
    """Validate and start a bundle's graphs (from `data`, bytes already read and verified, or from
    `path`); raises GraphError or ValueError with the reason."""
    model_config = PortableConfig.from_dict(config["model"])
    listed = {name: record for name, record in config.get("files", {}).items()
              if name not in (ENCODER_FILE, DECODER_FILE) and isinstance(record, dict)}
    graphs = []
    for name in (ENCODER_FILE, DECODER_FILE):
        graph = (onnx_check.parse_graph(data[name], name) if data and name in data
                 else onnx_check.read_graph(path / name, name))
        onnx_check.load_external_data(graph, path, name, listed)
        graphs.append(graph)
    return PortableVAE(model_config, *graphs)
