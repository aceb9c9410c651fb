"""Writing bundles atomically: stage every file in a hidden directory, rename, config.json last.

Loading never unpickles, so writing never pickles: weights are safetensors, arrays `.npz`.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import platform
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors import SafetensorError
from safetensors.torch import save_file

from vae.bundle.format import (
    CONFIG,
    FORMAT,
    FORMAT_VERSION,
    IMAGES,
    IMAGES_MAPPED,
    LATENTS,
    PROJECTION_PREFIX,
    STATUSES,
    WEIGHTS,
    sha256_of,
)
from vae.bundle.mapped import save_mapped
from vae.bundle.read import read_config
from vae.diagnostics.per_image import FIELDS, PER_IMAGE, per_image_values
from vae.diagnostics.timelapse import TIMELAPSE
from vae.evaluation import likelihood_of
from vae.latent.projection import pca_2d
from vae.losses import kl_per_dim
from vae.models import VAE
from vae.models.inference import encode
from vae.portable.spec import PortableConfig


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _file_record(path: Path) -> dict[str, Any]:
    return {"bytes": path.stat().st_size, "sha256": sha256_of(path)}


def _write_json(path: Path, data: dict[str, Any]) -> None:
    path.write_text(json.dumps(data, indent=2, allow_nan=False) + "\n", encoding="utf-8")
    _fsync(path)


def _commit(out: Path, staging: Path, config: dict[str, Any], names: list[str]) -> None:
    """Move staged files into `out`, then config.json last; remove the staging directory.

    config.json is staged first, so every byte is on disk before anything moves: a disk that
    fills up fails the staging and leaves the bundle in `out` as it was.
    """
    _write_json(staging / CONFIG, config)
    current = out / CONFIG
    if current.exists() and any((out / name).exists() for name in names):
        current.unlink()  # the old record would otherwise vouch for half-replaced files
    for name in names:
        os.replace(staging / name, out / name)
    os.replace(staging / CONFIG, current)
    _fsync(out)
    shutil.rmtree(staging, ignore_errors=True)


@contextlib.contextmanager
def _staging(out: Path) -> Iterator[Path]:
    """A fresh hidden staging directory in `out`, removed again if anything fails."""
    out.mkdir(parents=True, exist_ok=True)
    for stale in out.glob(".staging-*"):
        shutil.rmtree(stale, ignore_errors=True)
    staging = out / f".staging-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    staging.mkdir()
    try:
        yield staging
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


def _save_npz(path: Path, compress: bool = False, **arrays: np.ndarray) -> None:
    (np.savez_compressed if compress else np.savez)(path, **arrays)
    _fsync(path)


def library_versions() -> dict[str, str]:
    """Versions that matter for reproducing a bundle."""
    import safetensors

    return {"python": platform.python_version(), "torch": torch.__version__,
            "numpy": np.__version__, "safetensors": safetensors.__version__}


def write_bundle(
    out: str | Path,
    model: VAE,
    test_images: np.ndarray,
    test_labels: np.ndarray,
    meta: dict[str, Any],
    codes: tuple[np.ndarray, np.ndarray] | None = None,
    timelapse: dict[str, np.ndarray] | None = None,
    large: bool = False,
) -> Path:
    """Encode the test set, project it, and write a complete bundle to `out` atomically.

    `meta` must hold `status`, `training`, `dataset` (name, class_names), `history`,
    `metrics` and `device`; the rest (model config, latents, per-image values, files) is filled in
    here. `codes` (mu, logvar) are the images' codes when the caller has them already. A
    `PortableVAE` makes a portable bundle. `timelapse` (vae/diagnostics/timelapse.py) keeps the live
    map of each epoch. A `large` map (a million images) keeps its images as a memory-mapped
    `.npy` and skips the per-image values (one decode per image).
    """
    out = Path(out)
    if meta.get("status") not in STATUSES:
        raise ValueError(f"status must be one of {STATUSES}")
    model = model.cpu().eval()
    mu, logvar = codes if codes is not None else encode(model, test_images)  # (N, D) each
    kl_dims = kl_per_dim(torch.from_numpy(mu), torch.from_numpy(logvar)).mean(dim=0).numpy()
    projection = "latent" if model.latent_dim == 2 else "pca"
    proj_file = f"{PROJECTION_PREFIX}{projection}.npz"
    per_image = None if large else per_image_values(model, test_images, *likelihood_of(meta["training"]))
    with _staging(out) as staging:
        names = [*_save_model(model, staging), LATENTS, IMAGES_MAPPED if large else IMAGES, proj_file,
                 *([PER_IMAGE] if per_image else []), *([TIMELAPSE] if timelapse else [])]
        _save_npz(staging / LATENTS, mu=mu, logvar=logvar,
                  labels=np.asarray(test_labels, dtype=np.int64), kl_per_dim=kl_dims.astype(np.float32))
        if large:
            save_mapped(staging / IMAGES_MAPPED, test_images)
            _fsync(staging / IMAGES_MAPPED)
        else:
            _save_npz(staging / IMAGES, compress=True, images=np.ascontiguousarray(test_images, dtype=np.uint8))
        _save_npz(staging / proj_file, **({"xy": mu.astype(np.float32)} if projection == "latent" else pca_2d(mu)))
        if per_image:
            _save_npz(staging / PER_IMAGE, **per_image)
        if timelapse:
            _save_npz(staging / TIMELAPSE, compress=True, **timelapse)
        config = {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "kind": "portable" if _portable(model) else "native",
            "created": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            "model": model.config.to_dict(),
            **meta,
            "versions": library_versions(),
            "projections": [projection],
            "files": {name: _file_record(staging / name) for name in names},
        }
        _commit(out, staging, config, names)
    return out


def _portable(model: VAE) -> bool:
    """A `PortableVAE` (two ONNX graphs), told by its config: importing onnx and onnxruntime to ask would add
    about a second to the start of every trainer, which writes only native bundles."""
    return isinstance(model.config, PortableConfig)


def _save_model(model: VAE, staging: Path) -> list[str]:
    """The model's files: two ONNX graphs for a portable model, safetensors weights otherwise."""
    if _portable(model):
        return model.save_graphs(staging)
    try:
        save_file({k: v.detach().contiguous() for k, v in model.state_dict().items()}, staging / WEIGHTS)
    except SafetensorError as exc:  # e.g. a full disk; callers handle OSError
        raise OSError(f"cannot write {WEIGHTS}: {exc}") from exc
    _fsync(staging / WEIGHTS)
    return [WEIGHTS]


def _add_file(path: Path, file: str, arrays: dict[str, np.ndarray], updates: dict[str, Any] | None = None) -> None:
    """Add (or replace) one .npz file of a valid bundle, committing a new config.json."""
    config = read_config(path)
    with _staging(path) as staging:
        _save_npz(staging / file, **arrays)
        config["files"][file] = _file_record(staging / file)
        config.update(updates or {})
        _commit(path, staging, config, [file])


def add_projection(path: str | Path, name: str, arrays: dict[str, np.ndarray]) -> None:
    """Add (or replace) a 2-D projection of a valid bundle, committing a new config.json."""
    path = Path(path)
    xy = arrays.get("xy")
    if xy is None or xy.ndim != 2 or xy.shape[1] != 2:
        raise ValueError("a projection needs an 'xy' array of shape (N, 2)")
    names = sorted(set(read_config(path).get("projections", [])) | {name})
    _add_file(path, f"{PROJECTION_PREFIX}{name}.npz", arrays, {"projections": names})


def add_per_image(path: str | Path, values: dict[str, np.ndarray]) -> None:
    """Store per-image values (vae/diagnostics/per_image.py) in a bundle built without them."""
    _add_file(Path(path), PER_IMAGE, {name: np.asarray(values[name], dtype=np.float32) for name in FIELDS})


def update_config(path: str | Path, updates: dict[str, Any]) -> dict[str, Any]:
    """Merge top-level keys into config.json (e.g. new metrics), replacing it atomically."""
    path = Path(path)
    config = read_config(path)
    for key in ("format", "format_version", "files", "model"):
        if key in updates:
            raise ValueError(f"{key} cannot be updated")
    config.update(updates)
    tmp = path / f".{CONFIG}.{uuid.uuid4().hex[:8]}.tmp"
    try:
        _write_json(tmp, config)
        os.replace(tmp, path / CONFIG)
    finally:
        tmp.unlink(missing_ok=True)
    return config

