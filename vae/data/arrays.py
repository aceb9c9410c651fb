"""Images from a NumPy file, read without pickles: shapes and dtypes checked before the data is read.

A `.npy` holds images (N, H, W) or (N, H, W, C), uint8 or floats in [0, 1]; a `.npz` holds
`images` and optionally `labels` (N,) integers and `class_names` (K,) strings.
"""

from __future__ import annotations

import os
import zipfile
import zlib
from pathlib import Path

import numpy as np

from vae.data.idx import DataFileError
from vae.data.npy import NpyHeader, read_data, read_header

MAX_IMAGES = 200_000
MAX_BYTES = 2 * 2**30  # uncompressed, as float32 if the file holds floats
MAX_HEADER_BYTES = 10_000  # NumPy's own limit on a .npy header
MAX_CLASSES = 1_000  # as many as a bundle lists (vae/bundle/schema.py checks its config.json by these)
MAX_CLASS_NAME = 100  # characters
NPZ_KEYS = ("images", "labels", "class_names")
ARRAY_SUFFIXES = (".npy", ".npz")


def _check_images_header(header: NpyHeader, label: str) -> None:
    shape, dtype = header.shape, header.dtype
    if len(shape) not in (3, 4) or (len(shape) == 4 and shape[3] not in (1, 3)):
        raise DataFileError(f"{label}: images must be (N, H, W) or (N, H, W, C) with C 1 or 3, got {shape}")
    if dtype.kind not in "uf" or (dtype.kind == "u" and dtype.itemsize != 1):
        raise DataFileError(f"{label}: images must be uint8 or floats in [0, 1], got {dtype}")
    if shape[0] > MAX_IMAGES or header.n_bytes > MAX_BYTES:
        raise DataFileError(f"{label}: {shape[0]} images of {shape[1:]} is more than VAE Lab takes "
                            f"({MAX_IMAGES} images, {MAX_BYTES >> 30} GB)")


def _labels_problem(key: str, shape: tuple[int, ...], dtype: np.dtype, n: int) -> str | None:
    """Why a `labels` or `class_names` array of `shape` and `dtype` cannot go with `n` images, or None."""
    if key == "labels" and (shape != (n,) or dtype.kind not in "iu"):
        return f"labels must be {n} integers, got {dtype}{list(shape)}"
    if key == "class_names" and (len(shape) != 1 or shape[0] > MAX_CLASSES or dtype.itemsize > 4 * MAX_CLASS_NAME):
        return (f"class_names must be at most {MAX_CLASSES:,} names of {MAX_CLASS_NAME} characters, "
                f"got {dtype}{list(shape)}")
    return None


def to_uint8_nchw(images: np.ndarray, label: str) -> np.ndarray:
    """(N, H, W[, C]) uint8 or [0, 1] floats -> uint8 (N, C, H, W)."""
    if images.dtype.kind == "f":
        if not np.isfinite(images).all():
            raise DataFileError(f"{label}: images hold NaN or infinite values")
        low, high = (float(images.min()), float(images.max())) if images.size else (0.0, 0.0)
        if low < 0 or high > 1:
            raise DataFileError(f"{label}: float images must be in [0, 1], found [{low:.3g}, {high:.3g}]")
        images = (images * 255 + 0.5).astype(np.uint8)
    if images.ndim == 3:
        images = images[..., None]
    return np.ascontiguousarray(images.transpose(0, 3, 1, 2))


def _read_npy(path: Path) -> np.ndarray:
    with path.open("rb") as handle:
        header = read_header(handle, os.fstat(handle.fileno()).st_size, path.name)
        _check_images_header(header, path.name)
        return read_data(handle, header, path.name)


def _read_npz(path: Path) -> dict[str, np.ndarray]:
    arrays = {}
    try:
        with zipfile.ZipFile(path) as archive:
            names = archive.namelist()
            if "images.npy" not in names:
                found = ", ".join(name.removesuffix(".npy") for name in names)
                raise DataFileError(f"{path.name}: no 'images' array (found {found or 'none'})")
            for key in NPZ_KEYS:
                if f"{key}.npy" not in names:
                    continue
                info, label = archive.getinfo(f"{key}.npy"), f"{path.name}:{key}"
                if info.file_size > MAX_BYTES + MAX_HEADER_BYTES:
                    raise DataFileError(f"{path.name}: array '{key}' is larger than {MAX_BYTES >> 30} GB")
                with archive.open(info) as handle:
                    header = read_header(handle, info.file_size, label)
                    if key == "images":
                        _check_images_header(header, label)
                    elif problem := _labels_problem(key, header.shape, header.dtype, len(arrays["images"])):
                        raise DataFileError(f"{path.name}: {problem}")
                    arrays[key] = read_data(handle, header, label)
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError) as exc:
        raise DataFileError(f"{path.name}: not a readable .npz ({exc})") from exc
    return arrays


def read_arrays(path: Path) -> dict[str, np.ndarray]:
    """The arrays of a `.npy` (as `images`) or a `.npz` (`images`, maybe `labels`, `class_names`)."""
    if not path.is_file():
        raise DataFileError(f"{path}: no such file")
    return _read_npz(path) if path.suffix == ".npz" else {"images": _read_npy(path)}


def labels_and_names(arrays: dict[str, np.ndarray], n: int, class_names: list[str] | None,
                     label: str) -> tuple[np.ndarray, list[str]]:
    """int64 labels (all 0 without any) and one name per class, checked against each other."""
    labels = arrays.get("labels")
    if labels is None:
        names = class_names or ["all images"]
        return np.zeros(n, dtype=np.int64), names
    if problem := _labels_problem("labels", labels.shape, labels.dtype, n):
        raise DataFileError(f"{label}: {problem}")
    labels = labels.astype(np.int64)
    if n and labels.min() < 0:
        raise DataFileError(f"{label}: labels must not be negative")
    count = int(labels.max()) + 1 if n else 0
    if count > MAX_CLASSES:  # checked before a name is made for each label value
        raise DataFileError(f"{label}: labels go up to {count - 1:,}; at most {MAX_CLASSES:,} classes are allowed")
    stored = arrays.get("class_names")
    if stored is not None and (problem := _labels_problem("class_names", stored.shape, stored.dtype, n)):
        raise DataFileError(f"{label}: {problem}")
    names = class_names or ([str(v) for v in stored.tolist()] if stored is not None else None)
    names = names or [str(k) for k in range(count)]
    if count > len(names):
        raise DataFileError(f"{label}: labels go up to {count - 1} but there are {len(names)} class names")
    return labels, names
