"""A large map's images as one plain `.npy`, verified as a stream, then memory-mapped read-only.

A million 28x28 images are 784 MB: read into memory (and inflated from an `.npz`) they would
double the server's size. This file is opened once as a regular file (vae/files.py), its size
and SHA-256 are checked against config.json by reading it in 1 MB chunks, its header is parsed
by NumPy's header reader (no pickles: the dtype must be uint8), and the same open file is mapped.
Pages then read only the images they show. Any bytes are valid uint8 pixels, so a file changed on
disk after the check can show other pictures, never run code or allocate beyond the mapped size.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np

from vae.bundle.format import MAX_MAPPED_BYTES
from vae.data.idx import DataFileError
from vae.data.npy import read_header
from vae.files import NotARegularFile, open_regular

_CHUNK = 1 << 20


def save_mapped(path: Path, images: np.ndarray) -> None:
    """Write (N, C, H, W) uint8 images as a plain `.npy` (C order, no compression)."""
    np.save(path, np.ascontiguousarray(images, dtype=np.uint8), allow_pickle=False)


def load_mapped(path: Path, record: dict, problems: list[str]) -> np.ndarray | None:
    """The verified images as a read-only (N, C, H, W) uint8 memmap; None (with a problem) otherwise."""
    name = path.name
    try:
        handle = open_regular(path, min(record["bytes"], MAX_MAPPED_BYTES))
    except (NotARegularFile, OSError) as exc:
        problems.append(f"{name}: cannot be read ({exc})")
        return None
    with handle:
        digest, size = hashlib.sha256(), 0
        for chunk in iter(lambda: handle.read(_CHUNK), b""):
            digest.update(chunk)
            size += len(chunk)
        if size != record["bytes"] or digest.hexdigest() != record["sha256"]:
            problems.append(f"{name}: checksum does not match config.json (corrupt or replaced)")
            return None
        handle.seek(0)
        try:
            header = read_header(handle, size, name)
        except DataFileError as exc:
            problems.append(str(exc))
            return None
        shape = header.shape
        if header.dtype != np.uint8 or header.fortran_order or len(shape) != 4:
            problems.append(f"{name}: images are {header.dtype}{list(shape)}, expected 4-D uint8 in C order")
            return None
        if not all(shape):
            problems.append(f"{name}: no images")
            return None
        return np.memmap(handle, dtype=np.uint8, mode="r", offset=header.offset, shape=shape)
