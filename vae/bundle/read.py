"""Reading bundles: `read_config` checks config.json alone; `load_bundle` checks every file and shape.

Loading never unpickles: weights are safetensors, arrays are `.npz` read with `allow_pickle=False`.
It opens only regular files (vae/files.py: a named pipe in place of a file would block for ever),
each once: the bytes whose size and checksum were verified are the bytes that are parsed. It stops
at the first stage that finds a problem: nothing is parsed from a bundle whose files do not match
its config.json.
"""

from __future__ import annotations

import hashlib
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
    WEIGHTS,
    Bundle,
    BundleError,
    bundle_kind,
)
from vae.bundle.mapped import load_mapped
from vae.bundle.npz import ANY, ArrayBudget, array_specs, read_npz
from vae.bundle.schema import brief, config_problems
from vae.diagnostics.per_image import PER_IMAGE, check_values
from vae.diagnostics.timelapse import TIMELAPSE, check_timelapse
from vae.files import NotARegularFile, describe, read_regular
from vae.models import VAE, build_model, config_from_dict


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


def _load_model(path: Path, data: dict[str, bytes], config: dict[str, Any], problems: list[str]) -> VAE | None:
    """The model from the verified bytes: ONNX graphs for a portable bundle, safetensors otherwise."""
    if bundle_kind(config) == "portable":
        # Imported here: onnx and onnxruntime take about a second of every process start (the trainer's, the
        # CLI's) that opens only native bundles.
        from vae.portable.onnx_check import GraphError
        from vae.portable.runtime import load_portable_model

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


def _images(path: Path, config: dict[str, Any], data: dict[str, bytes], budget: ArrayBudget,
            problems: list[str]) -> np.ndarray | None:
    """The map's images, mapped or read, once their header fits the model's input shape."""
    input_shape = tuple(config["model"].get("input_shape", ()))
    if IMAGES_MAPPED not in config["files"]:
        images = read_npz(data[IMAGES], IMAGES, {"images": ("u", (ANY, *input_shape))}, budget, problems).get("images")
        if images is not None and not len(images):
            problems.append(f"{IMAGES}: no test images (every page needs at least one)")
            return None
        return images
    images = load_mapped(path / IMAGES_MAPPED, config["files"][IMAGES_MAPPED], problems)
    if images is not None and images.shape[1:] != input_shape:
        problems.append(f"{IMAGES_MAPPED}: images {images.shape} do not match the input shape {input_shape}")
        return None
    return images


def _value_problems(config: dict[str, Any], latents: dict[str, np.ndarray],
                    projections: dict[str, dict[str, np.ndarray]]) -> list[str]:
    """What the shapes (checked from the headers) cannot tell: labels out of range, NaNs."""
    mu, logvar, labels = latents["mu"], latents["logvar"], latents["labels"]
    n_classes = len(config["dataset"]["class_names"])
    checks = [
        (bool(np.isfinite(mu).all() and np.isfinite(logvar).all()), f"{LATENTS}: NaN or infinite values"),
        (labels.min() >= 0 and labels.max() < n_classes, f"{LATENTS}: labels outside 0..{n_classes - 1}"),
    ]
    for name, arrays in projections.items():
        checks.append((bool(np.isfinite(arrays["xy"]).all()), f"projection {name}: NaN or infinite values"))
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
    budget = ArrayBudget()
    images = _images(path, config, data, budget, problems)
    if images is None:
        raise BundleError(path, problems)
    specs = array_specs(config, len(images))
    latents = read_npz(data[LATENTS], *specs[LATENTS], budget, problems)
    projections = {name: read_npz(data[f"{PROJECTION_PREFIX}{name}.npz"], *specs[f"{PROJECTION_PREFIX}{name}.npz"],
                                  budget, problems) for name in config["projections"]}
    per_image, timelapse = (read_npz(data[file], *specs[file], budget, problems) if file in data else None
                            for file in (PER_IMAGE, TIMELAPSE))
    if problems:
        raise BundleError(path, problems)
    problems = _value_problems(config, latents, projections)
    if per_image is not None:
        problems += check_values(per_image, len(images))
    if timelapse is not None:
        problems += check_timelapse(timelapse, len(images), len(config["dataset"]["class_names"]))
    if problems:
        raise BundleError(path, problems)
    assert model is not None
    return Bundle(
        path, config, model, latents["mu"].astype(np.float32, copy=False),
        latents["logvar"].astype(np.float32, copy=False), latents["labels"].astype(np.int64, copy=False),
        latents["kl_per_dim"].astype(np.float32, copy=False), images, projections,
        per_image, timelapse,
    )
