"""Reading bundles: `read_config` checks config.json alone; `load_bundle` checks every file and shape.

Loading never unpickles: weights are safetensors, arrays are `.npz` read with `allow_pickle=False`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors.torch import load_file

from vae.bundle.format import (
    CONFIG,
    FORMAT,
    FORMAT_VERSION,
    IMAGES,
    KINDS,
    LATENTS,
    MAX_CONFIG_BYTES,
    MAX_FILE_BYTES,
    PROJECTION_PREFIX,
    WEIGHTS,
    Bundle,
    BundleError,
    bundle_kind,
    sha256_of,
)
from vae.models import VAE, build_model, config_from_dict
from vae.portable.onnx_check import GraphError
from vae.portable.runtime import load_portable_model


def read_config(path: str | Path) -> dict[str, Any]:
    """Parse and sanity-check config.json alone (cheap: used to list bundles)."""
    path = Path(path)
    file = path / CONFIG
    if not path.is_dir():
        raise BundleError(path, ["not a directory"])
    if not file.is_file():
        raise BundleError(path, ["no config.json (not a bundle, or an unfinished one)"])
    if file.stat().st_size > MAX_CONFIG_BYTES:
        raise BundleError(path, [f"config.json is larger than {MAX_CONFIG_BYTES // 2**20} MB"])
    try:
        config = json.loads(file.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BundleError(path, [f"config.json is not valid JSON ({exc})"]) from exc
    problems = []
    if not isinstance(config, dict) or config.get("format") != FORMAT:
        raise BundleError(path, [f"config.json is not a {FORMAT} file"])
    if config.get("format_version") != FORMAT_VERSION:
        problems.append(f"format_version {config.get('format_version')!r} is not supported "
                        f"(this version reads {FORMAT_VERSION})")
    for key, kind in (("model", dict), ("dataset", dict), ("files", dict), ("training", dict),
                      ("projections", list), ("status", str)):
        if not isinstance(config.get(key), kind):
            problems.append(f"config.json: '{key}' is missing or not a {kind.__name__}")
    if bundle_kind(config) not in KINDS:
        problems.append(f"config.json: kind {config.get('kind')!r} is not one of {sorted(KINDS)}")
    if not problems:
        for name in (*KINDS[bundle_kind(config)], LATENTS, IMAGES):
            if name not in config["files"]:
                problems.append(f"config.json lists no {name}")
        names = config["dataset"].get("class_names")
        if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
            problems.append("config.json: dataset.class_names must be a list of strings")
    if problems:
        raise BundleError(path, problems)
    return config


def file_problems(path: Path, config: dict[str, Any], checksums: bool = True) -> list[str]:
    """Files config.json lists that are missing, of another size or (with `checksums`) corrupt.

    Without checksums only `stat` is called: no file but config.json is opened (cheap listing).
    """
    problems = []
    for name, record in config["files"].items():
        file = path / name
        if Path(name).name != name or name.startswith("."):
            problems.append(f"config.json lists an unsafe file name {name!r}")
            continue
        if not file.is_file():
            problems.append(f"{name} is missing")
            continue
        size = file.stat().st_size
        if not isinstance(record, dict) or size != record.get("bytes"):
            expected = record.get("bytes") if isinstance(record, dict) else "?"
            problems.append(f"{name}: {size} bytes, config.json says {expected} (truncated or replaced)")
        elif checksums and (size > MAX_FILE_BYTES or sha256_of(file) != record.get("sha256")):
            problems.append(f"{name}: checksum does not match config.json (corrupt or replaced)")
    return problems


def _load_npz(
    path: Path, name: str, spec: dict[str, tuple[str, int]], problems: list[str]
) -> dict[str, np.ndarray]:
    """Arrays named in `spec` (dtype kind, ndim); never unpickles; checks sizes before reading."""
    arrays: dict[str, np.ndarray] = {}
    try:
        with np.load(path / name, allow_pickle=False) as npz:
            for key, (kinds, ndim) in spec.items():
                member = f"{key}.npy"
                if key not in npz.files:
                    problems.append(f"{name}: array '{key}' is missing")
                    continue
                if npz.zip.getinfo(member).file_size > MAX_FILE_BYTES:
                    problems.append(f"{name}: array '{key}' is too large")
                    continue
                value = npz[key]
                if value.dtype.kind not in kinds or value.ndim != ndim:
                    problems.append(f"{name}: array '{key}' is {value.dtype}{list(value.shape)}, "
                                    f"expected {ndim}-D of kind {kinds}")
                    continue
                arrays[key] = value
    except Exception as exc:
        # Damaged files make zipfile, zlib and numpy's header parser raise many kinds of error
        # (BadZipFile, zlib.error, SyntaxError, TokenError...): each is a problem to report.
        problems.append(f"{name}: not a readable .npz without pickled objects ({exc})")
    return arrays


def _load_model(path: Path, config: dict[str, Any], problems: list[str]) -> VAE | None:
    if bundle_kind(config) == "portable":
        if problems:  # graphs that fail their checksums are not parsed, let alone run
            return None
        try:
            return load_portable_model(path, config)
        except (GraphError, ValueError, TypeError) as exc:
            problems.append(str(exc) if isinstance(exc, GraphError) else f"config.json: model config invalid ({exc})")
            return None
    try:
        model = build_model(config_from_dict(config["model"]))
    except (ValueError, TypeError) as exc:
        problems.append(f"config.json: model config invalid ({exc})")
        return None
    try:
        weights = load_file(path / WEIGHTS)
    except Exception as exc:  # SafetensorError, and whatever else a damaged file makes the parser raise
        problems.append(f"{WEIGHTS}: not a safetensors file ({exc})")
        return None
    expected = model.state_dict()
    missing = sorted(set(expected) - set(weights))
    extra = sorted(set(weights) - set(expected))
    wrong = [k for k in expected if k in weights and weights[k].shape != expected[k].shape]
    if missing or extra or wrong:
        problems.append(f"{WEIGHTS}: does not fit the model config (missing {missing[:3]}, "
                        f"unexpected {extra[:3]}, wrong shape {wrong[:3]})")
        return None
    if any(not torch.isfinite(v).all() for v in weights.values() if v.is_floating_point()):
        problems.append(f"{WEIGHTS}: contains NaN or infinite weights")
        return None
    model.load_state_dict({k: v.to(expected[k].dtype) for k, v in weights.items()})
    return model.eval()


def _shape_problems(
    config: dict[str, Any], latents: dict[str, np.ndarray], images: np.ndarray,
    projections: dict[str, dict[str, np.ndarray]],
) -> list[str]:
    """Cross-file consistency: every array agrees with the others and with the model config."""
    mu, logvar, labels, kl_dims = (latents[k] for k in ("mu", "logvar", "labels", "kl_per_dim"))
    n, latent_dim = len(mu), config["model"].get("latent_dim")
    input_shape = tuple(config["model"].get("input_shape", ()))
    n_classes = len(config["dataset"]["class_names"])
    checks = [
        (mu.shape == (n, latent_dim), f"{LATENTS}: mu is {mu.shape}, model latent_dim is {latent_dim}"),
        (logvar.shape == mu.shape, f"{LATENTS}: logvar is {logvar.shape}, mu is {mu.shape}"),
        (labels.shape == (n,), f"{LATENTS}: {len(labels)} labels for {n} codes"),
        (kl_dims.shape == (latent_dim,), f"{LATENTS}: kl_per_dim has shape {kl_dims.shape}"),
        (images.shape == (n, *input_shape),
         f"{IMAGES}: images {images.shape} do not match {n} codes of shape {input_shape}"),
        (bool(np.isfinite(mu).all() and np.isfinite(logvar).all()), f"{LATENTS}: NaN or infinite values"),
        (n == 0 or (labels.min() >= 0 and labels.max() < n_classes),
         f"{LATENTS}: labels outside 0..{n_classes - 1}"),
    ]
    for name, arrays in projections.items():
        xy = arrays["xy"]
        checks.append((xy.shape == (n, 2), f"projection {name}: xy is {xy.shape}, expected ({n}, 2)"))
        checks.append((bool(np.isfinite(xy).all()), f"projection {name}: NaN or infinite values"))
    return [message for ok, message in checks if not ok]


def load_bundle(path: str | Path) -> Bundle:
    """Load and validate every file and shape; raise BundleError listing every problem."""
    path = Path(path)
    config = read_config(path)
    problems = file_problems(path, config)
    model = _load_model(path, config, problems)
    latent_spec = {"mu": ("f", 2), "logvar": ("f", 2), "labels": ("iu", 1), "kl_per_dim": ("f", 1)}
    latents = _load_npz(path, LATENTS, latent_spec, problems)
    images = _load_npz(path, IMAGES, {"images": ("u", 4)}, problems).get("images")
    projections = {}
    for name in config["projections"]:
        file = f"{PROJECTION_PREFIX}{name}.npz"
        if not isinstance(name, str) or file not in config["files"]:
            problems.append(f"projection {name!r} has no file listed in config.json")
            continue
        projections[name] = _load_npz(path, file, {"xy": ("f", 2)}, problems)
    if problems:
        raise BundleError(path, problems)
    problems = _shape_problems(config, latents, images, projections)
    if problems:
        raise BundleError(path, problems)
    assert model is not None
    return Bundle(
        path, config, model, latents["mu"].astype(np.float32), latents["logvar"].astype(np.float32),
        latents["labels"].astype(np.int64), latents["kl_per_dim"].astype(np.float32), images, projections,
    )
