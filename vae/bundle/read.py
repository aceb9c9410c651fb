"""Reading bundles: `read_config` checks config.json alone; `load_bundle` checks every file and shape.

Loading never unpickles: weights are safetensors, arrays are `.npz` read with `allow_pickle=False`.
It opens only regular files (vae/files.py: a named pipe in place of a file would block for ever),
each once: the bytes whose size and checksum were verified are the bytes that are parsed. It stops
at the first stage that finds a problem: nothing is parsed from a bundle whose files do not match
its config.json.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import stat
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors.torch import load as load_safetensors

from vae.bundle.format import (
    CONFIG,
    FORMAT,
    FORMAT_VERSION,
    IMAGES,
    IMAGES_MAPPED,
    KINDS,
    LATENTS,
    MAX_CONFIG_BYTES,
    MAX_FILE_BYTES,
    PROJECTION_PREFIX,
    TIMELAPSE_SPEC,
    WEIGHTS,
    Bundle,
    BundleError,
    bundle_kind,
)
from vae.bundle.mapped import load_mapped
from vae.bundle.schema import brief, config_problems
from vae.diagnostics.per_image import FIELDS, PER_IMAGE, check_values
from vae.diagnostics.timelapse import TIMELAPSE, check_timelapse
from vae.files import NotARegularFile, describe, read_regular
from vae.models import VAE, build_model, config_from_dict
from vae.portable.onnx_check import GraphError
from vae.portable.runtime import load_portable_model


def read_config(path: str | Path) -> dict[str, Any]:
    """Parse and sanity-check config.json alone (cheap: used to list bundles)."""
    path = Path(path)
    if not path.is_dir():
        raise BundleError(path, ["not a directory"])
    try:
        raw = read_regular(path / CONFIG, MAX_CONFIG_BYTES)
    except FileNotFoundError as exc:
        raise BundleError(path, ["no config.json (not a bundle, or an unfinished one)"]) from exc
    except OSError as exc:
        raise BundleError(path, [f"config.json cannot be read ({exc})"]) from exc
    try:
        config = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BundleError(path, [f"config.json is not valid JSON ({exc})"]) from exc
    except RecursionError as exc:
        raise BundleError(path, ["config.json is nested too deeply"]) from exc
    problems = []
    if not isinstance(config, dict) or config.get("format") != FORMAT:
        raise BundleError(path, [f"config.json is not a {FORMAT} file"])
    if config.get("format_version") != FORMAT_VERSION:
        problems.append(f"format_version {brief(config.get('format_version'))} is not supported "
                        f"(this version reads {FORMAT_VERSION})")
    for key, kind in (("model", dict), ("dataset", dict), ("files", dict), ("training", dict),
                      ("projections", list), ("status", str)):
        if not isinstance(config.get(key), kind):
            problems.append(f"config.json: '{key}' is missing or not a {kind.__name__}")
    if bundle_kind(config) not in KINDS:
        problems.append(f"config.json: kind {brief(config.get('kind'))} is not one of {sorted(KINDS)}")
    if not problems:
        for name in (*KINDS[bundle_kind(config)], LATENTS):
            if name not in config["files"]:
                problems.append(f"config.json lists no {name}")
        if (IMAGES in config["files"]) == (IMAGES_MAPPED in config["files"]):
            problems.append(f"config.json must list one of {IMAGES} and {IMAGES_MAPPED}")
        problems += config_problems(config)
    if problems:
        raise BundleError(path, problems)
    return config


def file_problems(path: Path, config: dict[str, Any]) -> list[str]:
    """Files config.json lists that are unsafely named, missing, not regular files, or of another size.

    `lstat` only: no file is opened (cheap enough for listing; a pipe or socket is named, not read).
    """
    problems = []
    for name, record in config["files"].items():
        if not isinstance(name, str) or Path(name).name != name or name.startswith(".") or "\x00" in name:
            problems.append(f"config.json lists an unsafe file name {brief(name)}")
            continue
        try:
            info = os.lstat(path / name)
        except OSError:
            problems.append(f"{name} is missing")
            continue
        if not stat.S_ISREG(info.st_mode):
            kind = "a symbolic link" if stat.S_ISLNK(info.st_mode) else describe(info.st_mode)
            problems.append(f"{name} is {kind}, not a regular file")
        elif info.st_size != record["bytes"]:
            problems.append(f"{name}: {info.st_size} bytes, config.json says {record['bytes']} (truncated or replaced)")
    return problems


def _read_verified(path: Path, config: dict[str, Any], problems: list[str]) -> dict[str, bytes]:
    """Each listed file's bytes (but the mapped images'), read once as a regular file and checked."""
    data = {}
    for name, record in config["files"].items():
        if name == IMAGES_MAPPED:
            continue
        try:
            raw = read_regular(path / name, min(record["bytes"], MAX_FILE_BYTES))
        except (NotARegularFile, OSError) as exc:
            problems.append(f"{name}: cannot be read ({exc})")
            continue
        if len(raw) != record["bytes"] or hashlib.sha256(raw).hexdigest() != record["sha256"]:
            problems.append(f"{name}: checksum does not match config.json (corrupt or replaced)")
            continue
        data[name] = raw
    return data


def _load_npz(
    raw: bytes, name: str, spec: dict[str, tuple[str, int]], problems: list[str]
) -> dict[str, np.ndarray]:
    """Arrays named in `spec` (dtype kind, ndim); never unpickles; checks sizes before reading."""
    arrays: dict[str, np.ndarray] = {}
    try:
        with np.load(io.BytesIO(raw), allow_pickle=False) as npz:
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


def _load_model(path: Path, data: dict[str, bytes], config: dict[str, Any], problems: list[str]) -> VAE | None:
    """The model from the verified bytes: ONNX graphs for a portable bundle, safetensors otherwise."""
    if bundle_kind(config) == "portable":
        try:
            return load_portable_model(path, config, {name: data[name] for name in KINDS["portable"]})
        except (GraphError, ValueError, TypeError) as exc:
            problems.append(str(exc) if isinstance(exc, GraphError) else f"config.json: model config invalid ({exc})")
            return None
    raw = data[WEIGHTS]
    try:
        model = build_model(config_from_dict(config["model"]))
    except (ValueError, TypeError) as exc:
        problems.append(f"config.json: model config invalid ({exc})")
        return None
    try:
        weights = load_safetensors(raw)
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
        (n > 0, f"{LATENTS}: no test images (every page needs at least one)"),
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
    if problems:
        raise BundleError(path, problems)
    data = _read_verified(path, config, problems)
    if problems:
        raise BundleError(path, problems)
    model = _load_model(path, data, config, problems)
    latent_spec = {"mu": ("f", 2), "logvar": ("f", 2), "labels": ("iu", 1), "kl_per_dim": ("f", 1)}
    latents = _load_npz(data[LATENTS], LATENTS, latent_spec, problems)
    if IMAGES_MAPPED in config["files"]:
        images = load_mapped(path / IMAGES_MAPPED, config["files"][IMAGES_MAPPED], problems)
    else:
        images = _load_npz(data[IMAGES], IMAGES, {"images": ("u", 4)}, problems).get("images")
    files = {name: f"{PROJECTION_PREFIX}{name}.npz" for name in config["projections"]}
    projections = {name: _load_npz(data[file], file, {"xy": ("f", 2)}, problems) for name, file in files.items()}
    per_image = (_load_npz(data[PER_IMAGE], PER_IMAGE, {name: ("f", 1) for name in FIELDS}, problems)
                 if PER_IMAGE in data else None)
    timelapse = _load_npz(data[TIMELAPSE], TIMELAPSE, TIMELAPSE_SPEC, problems) if TIMELAPSE in data else None
    if problems:
        raise BundleError(path, problems)
    problems = _shape_problems(config, latents, images, projections)
    n = len(latents["mu"])
    if per_image is not None:
        problems += check_values(per_image, n)
    if timelapse is not None:
        problems += check_timelapse(timelapse, n, len(config["dataset"]["class_names"]))
    if problems:
        raise BundleError(path, problems)
    assert model is not None
    return Bundle(
        path, config, model, latents["mu"].astype(np.float32, copy=False),
        latents["logvar"].astype(np.float32, copy=False), latents["labels"].astype(np.int64, copy=False),
        latents["kl_per_dim"].astype(np.float32, copy=False), images, projections,
        per_image, timelapse,
    )
