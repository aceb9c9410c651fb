"""The import, from what a person asks for to a written bundle: data -> importer -> checked model -> bundle.

`vae-lab import` parses its flags into an `ImportRequest` and prints what `run_import` returns; the
Open a model page starts that command in its own process (vae/portable/import_job.py), so a model's
code never runs in the server.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from vae.portable.build import Progress, write_portable_bundle
from vae.portable.data import load_map_data
from vae.portable.spec import ImportSpec, SpecError

ROUTES = ("torch", "pythae", "onnx")
# The conventions a flag (or the spec file) may name; each is found by running the model when not given.
CONVENTIONS = ("input_range", "input_layout", "posterior", "decoder_output", "likelihood", "gaussian_sigma",
               "latent_dim")
# IWAE-k on N images costs N*k decodes: k = 5 on 250 images keeps a 3x64x64 import of 10,000 images
# (AntixK's VanillaVAE at its default size) under two minutes on this 2-core CPU (bench/import_time.py:
# 107.5 s with no IWAE, 150.6 s with k = 20 on 500 images, 120.5 s with k = 5 on 500, 117.4 s with these).
DEFAULT_IWAE_K = 5
DEFAULT_IWAE_IMAGES = 250


@dataclass
class ImportRequest:
    """One import: the route's files, the images to map, the conventions given, and where the bundle goes."""

    route: str  # one of ROUTES
    dataset: str  # a dataset name or a .npy / .npz file
    out: Path | None = None  # None: detect the conventions only
    # torch: path/to/file.py:Class (or factory) and its weights; pythae: a saved folder; onnx: the pair.
    model: str | None = None
    weights: str | None = None
    factory_kwargs: str = "{}"  # JSON, as typed on the command line
    encode_method: str = "encode"
    decode_method: str = "decode"
    folder: Path | None = None
    encoder: Path | None = None
    decoder: Path | None = None
    spec_file: Path | None = None
    conventions: dict[str, Any] = field(default_factory=dict)  # given ones only (CONVENTIONS)
    data_dir: str | None = None
    labels: str | None = None
    class_names: list[str] | None = None
    limit: int | None = None
    channels: int | None = None
    name: str | None = None
    iwae_k: int = DEFAULT_IWAE_K
    iwae_images: int = DEFAULT_IWAE_IMAGES
    umap: bool = True

    @property
    def detect_only(self) -> bool:
        return self.out is None


@dataclass
class ImportOutcome:
    """What the import found (`source['findings']`: each convention, its value and how it was told) and
    the bundle written (None when only detecting)."""

    spec: ImportSpec
    source: dict[str, Any]
    bundle: Path | None


def run_import(request: ImportRequest, progress: Progress | None = None) -> ImportOutcome:
    """Load the images, import by route, write the bundle unless only detecting; raises the importers'
    refusals (ImportRefused, GraphError, SpecError, DataFileError, DatasetNotFoundError, ValueError)."""
    spec = ImportSpec.from_file(request.spec_file) if request.spec_file else ImportSpec()
    data = load_map_data(request.dataset, request.data_dir, request.labels, request.class_names or spec.class_names
                         or None, request.limit, tuple(spec.input_shape), request.channels)
    given = {k: v for k, v in request.conventions.items() if v is not None}
    if request.route == "torch":
        from vae.portable.importers.torch_module import import_torch

        model, spec, source = import_torch(request.model, request.weights, _with(spec, given, data.input_shape), data,
                                           request.encode_method, request.decode_method,
                                           _factory_kwargs(request.factory_kwargs), request.detect_only)
    elif request.route == "pythae":
        from vae.portable.importers.pythae_folder import import_pythae

        model, spec, source = import_pythae(request.folder, data, given.get("likelihood"),
                                            given.get("gaussian_sigma"), request.detect_only)
    elif request.route == "onnx":
        from vae.portable.importers.onnx_pair import import_onnx

        model, spec, source = import_onnx(request.encoder, request.decoder, _with(spec, given, data.input_shape),
                                          data, request.detect_only)
    else:
        raise SpecError(f"unknown import route {request.route!r} (one of {', '.join(ROUTES)})")
    if model is None:
        return ImportOutcome(spec, source, None)
    bundle = write_portable_bundle(request.out, model, data, spec, source, request.name, request.iwae_k,
                                   request.iwae_images, umap=request.umap, progress=progress)
    return ImportOutcome(spec, source, bundle)


def _with(spec: ImportSpec, given: dict[str, Any], input_shape: tuple[int, int, int]) -> ImportSpec:
    """The spec file's conventions (if any), each overridden by a given one, for images of `input_shape`."""
    for name in CONVENTIONS:
        if name in given:
            setattr(spec, name, given[name])
    spec.input_shape = input_shape
    spec.validate()
    return spec


def _factory_kwargs(text: str) -> dict:
    try:
        kwargs = json.loads(text)
    except json.JSONDecodeError as exc:
        raise SpecError(f"--factory-kwargs is not JSON ({exc})") from exc
    if not isinstance(kwargs, dict):
        raise SpecError("--factory-kwargs must be a JSON object")
    return kwargs
