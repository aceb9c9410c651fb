"""The steps every importer shares: PyTorch callables -> a checked PortableVAE -> a written bundle.

Exported graphs are compared with the PyTorch model they came from on real images (the map's
first images, decoded from their codes and from prior samples): a difference above
`PARITY_TOLERANCE` refuses the import. The metrics the model card shows are computed here with
the declared likelihood, through onnxruntime, as the app will compute everything else.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from vae.bundle import add_projection, write_bundle
from vae.evaluation import evaluate, iwae_estimate
from vae.latent.projection import umap_2d
from vae.models.inference import encode
from vae.portable.conventions import Ambiguous, detect
from vae.portable.data import MapData
from vae.portable.export import DecoderAdapter, EncoderAdapter, export_pair
from vae.portable.onnx_check import GraphError, raised
from vae.portable.runtime import PortableVAE, check_outputs
from vae.portable.spec import ImportSpec

log = logging.getLogger(__name__)

PARITY_TOLERANCE = 1e-4
PARITY_IMAGES = 256
# (stage, done, total): "encoding" per image, then "metrics" and "projection" per step.
Progress = Callable[[str, int, int], None]


class ImportRefused(ValueError):
    """An import that cannot go on; the message is one line for the user."""


def call_user_code(what: str, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """Call into the user's code, turning whatever it raises (a script's sys.exit too) into a one-line refusal."""
    try:
        return fn(*args, **kwargs)
    except GraphError:
        raise
    except SystemExit as exc:  # argparse's parse_args on arguments meant for VAE Lab, or an explicit exit
        raise ImportRefused(f"{what} called sys.exit({exc.code!r}): it is a script that parses arguments or "
                            f"exits when run; point --model at the file that defines the model") from exc
    except Exception as exc:
        raise ImportRefused(f"{what} raised {raised(exc)}") from exc


def check_data_shape(data: MapData, spec: ImportSpec) -> None:
    if data.input_shape != tuple(spec.input_shape):
        raise ImportRefused(f"the data's images are {list(data.input_shape)} (C, H, W) but the model takes "
                            f"{list(spec.input_shape)}")


@torch.no_grad()
def portable_from_torch(module: nn.Module, encode: Callable, decode: Callable, spec: ImportSpec,
                        data: MapData, detect_only: bool = False
                        ) -> tuple[PortableVAE | None, ImportSpec, dict[str, Any]]:
    """Find the conventions `spec` leaves open, export the encoder/decoder pair and check it against
    PyTorch on `data`; (model, the spec found, the card's record: findings and parity). With
    `detect_only`, stop once the conventions are found (no model)."""
    check_data_shape(data, spec)
    module.eval()
    try:
        detection = detect(encode, decode, data.images, spec)
    except Exception as exc:
        if isinstance(exc, Ambiguous | GraphError | ImportRefused):
            raise
        raise ImportRefused(f"running the model on the data's images raised {type(exc).__name__}: "
                            f"{(str(exc).strip().splitlines() or [''])[0][:200]}") from exc
    spec = detection.spec
    if detect_only:
        return None, spec, detection.record()
    encoder, decoder = EncoderAdapter(module, encode, spec), DecoderAdapter(module, decode, spec)
    x = torch.from_numpy(data.images[:PARITY_IMAGES]).float() / 255
    mu_ref, logvar_ref = call_user_code("encoding the data in PyTorch", encoder, x)
    latent_dim = int(mu_ref.shape[1])
    config = spec.model_config(latent_dim)
    z = torch.cat([mu_ref, torch.randn(len(mu_ref), latent_dim, generator=torch.Generator().manual_seed(0))])
    decoded_ref = call_user_code("decoding in PyTorch", decoder, z)
    check_outputs(mu_ref, logvar_ref, decoded_ref, config)
    encoder_graph, decoder_graph = export_pair(encoder, decoder, latent_dim, config.decoder_output)
    model = PortableVAE(config, encoder_graph, decoder_graph)
    mu, logvar = model.encode(x)
    decoded = model.run_decoder(z)
    diffs = {name: float((a - b).abs().max()) for name, a, b in
             (("mu", mu, mu_ref), ("logvar", logvar, logvar_ref), (config.decoder_output, decoded, decoded_ref))}
    worst = max(diffs, key=diffs.get)
    if diffs[worst] > PARITY_TOLERANCE:
        raise ImportRefused(f"the ONNX export differs from PyTorch on real images: {worst} by {diffs[worst]:.2g} "
                            f"(more than {PARITY_TOLERANCE:g})")
    parity = {"images": len(x), "codes": len(z), "max_abs_diff": diffs, "tolerance": PARITY_TOLERANCE}
    return model, spec, {**detection.record(), "parity": parity}


def import_metrics(model: PortableVAE, data: MapData, spec: ImportSpec, iwae_k: int, iwae_images: int,
                   progress: Progress | None = None) -> dict[str, Any]:
    """Test -ELBO, its terms, active units and (k > 0) an IWAE-k estimate, with the declared likelihood."""
    steps = 2 if iwae_k else 1
    if progress:
        progress("metrics", 0, steps)
    result = evaluate(model, data.images, likelihood=spec.likelihood, sigma=spec.gaussian_sigma)
    metrics = {f"test_{k}" if k in ("neg_elbo", "recon", "kl") else k: v for k, v in result.items()}
    if progress:
        progress("metrics", 1, steps)
    if iwae_k:
        metrics.update(iwae_estimate(model, data.images, iwae_k, iwae_images, spec.likelihood, spec.gaussian_sigma))
        if progress:
            progress("metrics", 2, steps)
    return metrics


def encode_with_progress(model: PortableVAE, images: np.ndarray, progress: Progress | None,
                         chunk: int = 1000) -> tuple[np.ndarray, np.ndarray]:
    """The images' codes (mu, logvar), a chunk at a time so `progress` hears how far it got."""
    mus, logvars = [], []
    for start in range(0, len(images), chunk):
        mu, logvar = encode(model, images[start : start + chunk])
        mus.append(mu)
        logvars.append(logvar)
        if progress:
            progress("encoding", start + len(mu), len(images))
    return np.concatenate(mus), np.concatenate(logvars)


def write_portable_bundle(out: Path, model: PortableVAE, data: MapData, spec: ImportSpec, source: dict[str, Any],
                          name: str | None = None, iwae_k: int = 0, iwae_images: int = 500, umap: bool = True,
                          progress: Progress | None = None) -> Path:
    """Metrics, then the bundle (atomically, with its PCA map), then the UMAP map when D > 2."""
    metrics = import_metrics(model, data, spec, iwae_k, iwae_images, progress)
    meta = {
        "name": name or out.name,
        "status": "completed",
        "status_message": "imported",
        "training": {"likelihood": spec.likelihood, "gaussian_sigma": spec.gaussian_sigma},
        "dataset": {"name": data.name, "class_names": list(data.class_names), "n_test": len(data.images),
                    "map_images": "test"},
        "history": [],
        "metrics": metrics,
        "import": {**source, "spec": spec.to_dict(),
                   "imported": dt.datetime.now(dt.UTC).isoformat(timespec="seconds")},
    }
    mu, logvar = encode_with_progress(model, data.images, progress)
    write_bundle(out, model, data.images, data.labels, meta, codes=(mu, logvar))
    if umap and model.latent_dim > 2:
        if progress:
            progress("projection", 0, 1)
        add_projection(out, "umap", umap_2d(mu))
        if progress:
            progress("projection", 1, 1)
    return out
