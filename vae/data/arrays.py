"""Images from a NumPy file, read without pickles: shapes and dtypes checked before the data is read.

A `.npy` holds images (N, H, W) or (N, H, W, C), uint8 or floats in [0, 1]; a `.npz` holds
`images` and optionally `labels` (N,) integers and `class_names` (K,) strings.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np

from vae.data.idx import DataFileError

MAX_IMAGES = 200_000
MAX_BYTES = 2 * 2**30  # uncompressed, as float32 if the file holds floats
MAX_CLASSES = 1_000  # as many as a bundle lists (vae/bundle/schema.py)
NPZ_KEYS = ("images", "labels", "class_names")
ARRAY_SUFFIXES = (".npy", ".npz")


def _header(handle, label: str) -> tuple[tuple[int, ...], np.dtype]:
    """Shape and dtype from a .npy header, without reading the data (and refusing object arrays)."""
    try:
        version = np.lib.format.read_magic(handle)
        read = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
        shape, _, dtype = read(handle)
    except (ValueError, OSError, SyntaxError) as exc:
        raise DataFileError(f"{label}: not a NumPy array file ({exc})") from exc
    if dtype.hasobject:
        raise DataFileError(f"{label}: holds Python objects (refused: arrays are read without pickles)")
    return shape, dtype


def _check_images_header(shape: tuple[int, ...], dtype: np.dtype, label: str) -> None:
    if len(shape) not in (3, 4) or (len(shape) == 4 and shape[3] not in (1, 3)):
        raise DataFileError(f"{label}: images must be (N, H, W) or (N, H, W, C) with C 1 or 3, got {shape}")
    if dtype.kind not in "uf" or (dtype.kind == "u" and dtype.itemsize != 1):
        raise DataFileError(f"{label}: images must be uint8 or floats in [0, 1], got {dtype}")
    n_values = int(np.prod(shape, dtype=np.int64))
    if shape[0] > MAX_IMAGES or n_values * max(dtype.itemsize, 1) > MAX_BYTES:
        raise DataFileError(f"{label}: {shape[0]} images of {shape[1:]} is more than VAE Lab takes "
                            f"({MAX_IMAGES} images, {MAX_BYTES >> 30} GB)")


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
        shape, dtype = _header(handle, path.name)
    _check_images_header(shape, dtype, path.name)
    return np.load(path, allow_pickle=False)


def _read_npz(path: Path) -> dict[str, np.ndarray]:
    arrays = {}
    try:
        with zipfile.ZipFile(path) as archive, np.load(path, allow_pickle=False) as npz:
            if "images" not in npz.files:
                raise DataFileError(f"{path.name}: no 'images' array (found {', '.join(npz.files) or 'none'})")
            for key in NPZ_KEYS:
                if key not in npz.files:
                    continue
                info = archive.getinfo(f"{key}.npy")
                if info.file_size > MAX_BYTES:
                    raise DataFileError(f"{path.name}: array '{key}' is larger than {MAX_BYTES >> 30} GB")
                with archive.open(info) as handle:
                    shape, dtype = _header(handle, f"{path.name}:{key}")
                if key == "images":
                    _check_images_header(shape, dtype, f"{path.name}:images")
                arrays[key] = npz[key]
    except (zipfile.BadZipFile, KeyError, OSError) as exc:
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
    if labels.shape != (n,) or labels.dtype.kind not in "iu":
        raise DataFileError(f"{label}: labels must be {n} integers, got {labels.dtype}{list(labels.shape)}")
    labels = labels.astype(np.int64)
    if n and labels.min() < 0:
        raise DataFileError(f"{label}: labels must not be negative")
    count = int(labels.max()) + 1 if n else 0
    if count > MAX_CLASSES:  # checked before a name is made for each label value
        raise DataFileError(f"{label}: labels go up to {count - 1:,}; at most {MAX_CLASSES:,} classes are allowed")
    stored = arrays.get("class_names")
    if stored is not None and (stored.ndim != 1 or len(stored) > MAX_CLASSES):
        raise DataFileError(f"{label}: class_names must be at most {MAX_CLASSES:,} names, got {list(stored.shape)}")
    names = class_names or ([str(v) for v in stored.tolist()] if stored is not None else None)
    names = names or [str(k) for k in range(count)]
    if count > len(names):
        raise DataFileError(f"{label}: labels go up to {count - 1} but there are {len(names)} class names")
    return labels, names
