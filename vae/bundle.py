"""The checkpoint bundle: one directory that holds everything the explorer needs.

Saving stages every file in a hidden temporary directory inside the bundle directory, renames
the data files into place, and renames `config.json` last. `config.json` carries the size and
SHA-256 of every file, so it is the commit record: a bundle without it, or whose files do not
match it, never loads. Loading never unpickles: weights are safetensors, arrays are `.npz`
read with `allow_pickle=False`. See docs/bundle.md.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import json
import os
import platform
import shutil
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from vae.evaluation import encode_images
from vae.losses import kl_per_dim
from vae.models import VAE, build_model, config_from_dict
from vae.projection import pca_2d

FORMAT = "vae-lab-bundle"
FORMAT_VERSION = 1
CONFIG = "config.json"
WEIGHTS = "model.safetensors"
LATENTS = "latents.npz"
IMAGES = "test_images.npz"
PROJECTION_PREFIX = "projection_"
MAX_CONFIG_BYTES = 16 * 2**20
MAX_FILE_BYTES = 1 * 2**30
STATUSES = ("completed", "cancelled")


class BundleError(ValueError):
    """A bundle that cannot be used; `problems` lists every reason, one per line."""

    def __init__(self, path: str | Path, problems: list[str]) -> None:
        self.path = Path(path)
        self.problems = problems
        super().__init__(f"{path}: " + "; ".join(problems))


@dataclass
class Bundle:
    """A loaded, validated bundle; arrays are NumPy, the model is on the CPU in eval mode."""

    path: Path
    config: dict[str, Any]
    model: VAE
    mu: np.ndarray  # (N, D) float32
    logvar: np.ndarray  # (N, D) float32
    labels: np.ndarray  # (N,) int64
    kl_per_dim: np.ndarray  # (D,) float32
    images: np.ndarray  # (N, C, H, W) uint8
    projections: dict[str, dict[str, np.ndarray]] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return self.path.name

    @property
    def class_names(self) -> list[str]:
        return list(self.config["dataset"]["class_names"])

    @property
    def latent_dim(self) -> int:
        return int(self.mu.shape[1])

    def image_label(self, index: int) -> str:
        """'test #i', or 'train #j' for the training images of a train + test map."""
        n_test = int(self.config["dataset"].get("n_test", len(self.mu)))
        if self.config["dataset"].get("map_images") == "train+test" and index >= n_test:
            return f"train #{index - n_test}"
        return f"test #{index}"


# ---------------------------------------------------------------- writing

def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _file_record(path: Path) -> dict[str, Any]:
    return {"bytes": path.stat().st_size, "sha256": _sha256(path)}


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
) -> Path:
    """Encode the test set, project it, and write a complete bundle to `out` atomically.

    `meta` must hold `status`, `training`, `dataset` (name, class_names), `history`,
    `metrics` and `device`; the rest (model config, latents, files) is filled in here.
    """
    out = Path(out)
    if meta.get("status") not in STATUSES:
        raise ValueError(f"status must be one of {STATUSES}")
    model = model.cpu().eval()
    mu, logvar = encode_images(model, test_images)  # (N, D) each
    kl_dims = kl_per_dim(torch.from_numpy(mu), torch.from_numpy(logvar)).mean(dim=0).numpy()
    projection = "latent" if model.latent_dim == 2 else "pca"
    proj_file = f"{PROJECTION_PREFIX}{projection}.npz"
    names = [WEIGHTS, LATENTS, IMAGES, proj_file]
    with _staging(out) as staging:
        try:
            save_file({k: v.detach().contiguous() for k, v in model.state_dict().items()}, staging / WEIGHTS)
        except SafetensorError as exc:  # e.g. a full disk; callers handle OSError
            raise OSError(f"cannot write {WEIGHTS}: {exc}") from exc
        _fsync(staging / WEIGHTS)
        _save_npz(staging / LATENTS, mu=mu, logvar=logvar,
                  labels=np.asarray(test_labels, dtype=np.int64), kl_per_dim=kl_dims.astype(np.float32))
        _save_npz(staging / IMAGES, compress=True, images=np.ascontiguousarray(test_images, dtype=np.uint8))
        _save_npz(staging / proj_file, **({"xy": mu.astype(np.float32)} if projection == "latent" else pca_2d(mu)))
        config = {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "created": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            "model": model.config.to_dict(),
            **meta,
            "versions": library_versions(),
            "projections": [projection],
            "files": {name: _file_record(staging / name) for name in names},
        }
        _commit(out, staging, config, names)
    return out


def add_projection(path: str | Path, name: str, arrays: dict[str, np.ndarray]) -> None:
    """Add (or replace) a 2-D projection of a valid bundle, committing a new config.json."""
    path = Path(path)
    config = read_config(path)
    xy = arrays.get("xy")
    if xy is None or xy.ndim != 2 or xy.shape[1] != 2:
        raise ValueError("a projection needs an 'xy' array of shape (N, 2)")
    file = f"{PROJECTION_PREFIX}{name}.npz"
    with _staging(path) as staging:
        _save_npz(staging / file, **arrays)
        config["files"][file] = _file_record(staging / file)
        config["projections"] = sorted(set(config.get("projections", [])) | {name})
        _commit(path, staging, config, [file])


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


# ---------------------------------------------------------------- reading

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
    if not problems:
        for name in (WEIGHTS, LATENTS, IMAGES):
            if name not in config["files"]:
                problems.append(f"config.json lists no {name}")
        names = config["dataset"].get("class_names")
        if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
            problems.append("config.json: dataset.class_names must be a list of strings")
    if problems:
        raise BundleError(path, problems)
    return config


def _check_files(path: Path, config: dict[str, Any]) -> list[str]:
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
        elif size > MAX_FILE_BYTES or _sha256(file) != record.get("sha256"):
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
    problems = _check_files(path, config)
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
