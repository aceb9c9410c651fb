"""A large map's images as one plain `.npy`, copied privately while it is verified, then memory-mapped.

A million 28x28 images are 784 MB: read into memory (and inflated from an `.npz`) they would
double the server's size. This file is opened once as a regular file (vae/files.py) and streamed,
1 MB at a time, through SHA-256 into a private copy: an unlinked temporary file (in the temporary
folder, `$TMPDIR`) that no other process can name, let alone truncate. Its header is parsed from
the copy (vae/data/npy.py: no pickles, the dtype must be uint8, the shape must fill the file), and
the copy is mapped read-only: pages read only the images they show, from the page cache rather
than the server's own memory. Mapping the bundle's file itself was cheaper, but a `cp` over it
while the server ran truncated it, and the next read of a mapped page killed the server (SIGBUS);
the copy is also exactly the bytes that were verified.
"""

from __future__ import annotations

import hashlib
import tempfile
from pathlib import Path
from typing import BinaryIO

import numpy as np

from vae.bundle.format import MAX_MAPPED_BYTES
from vae.data.idx import DataFileError
from vae.data.npy import read_header
from vae.files import NotARegularFile, open_regular

_CHUNK = 1 << 20


def save_mapped(path: Path, images: np.ndarray) -> None:
    """Write (N, C, H, W) uint8 images as a plain `.npy` (C order, no compression)."""
    np.save(path, np.ascontiguousarray(images, dtype=np.uint8), allow_pickle=False)


def _verified_copy(source: BinaryIO, record: dict, name: str, problems: list[str]) -> BinaryIO | None:
    """A private, unlinked copy of `source` if its size and SHA-256 are the record's; None (and a problem) if not."""
    digest, size, copy = hashlib.sha256(), 0, None
    try:
        copy = tempfile.TemporaryFile(prefix="vae-lab-mapped-")
        while size <= record["bytes"] and (chunk := source.read(_CHUNK)):
            digest.update(chunk)
            size += len(chunk)
            copy.write(chunk)
        copy.flush()
    except OSError as exc:  # a full temporary folder, most likely
        if copy is not None:
            copy.close()
        problems.append(f"{name}: cannot be copied for reading ({exc})")
        return None
    if size != record["bytes"] or digest.hexdigest() != record["sha256"]:
        copy.close()
        problems.append(f"{name}: checksum does not match config.json (corrupt or replaced)")
        return None
    copy.seek(0)
    return copy


def load_mapped(path: Path, record: dict, problems: list[str]) -> np.ndarray | None:
    """The verified images as a read-only (N, C, H, W) uint8 memmap of a private copy; None (and a problem) if not."""
    name = path.name
    try:
        handle = open_regular(path, min(record["bytes"], MAX_MAPPED_BYTES))
    except (NotARegularFile, OSError) as exc:
        problems.append(f"{name}: cannot be read ({exc})")
        return None
    with handle:
        copy = _verified_copy(handle, record, name, problems)
    if copy is None:
        return None
    with copy:  # the mapping keeps the unlinked copy alive; the file object is not needed past here
        try:
            header = read_header(copy, record["bytes"], name)
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
        return np.memmap(copy, dtype=np.uint8, mode="r", offset=header.offset, shape=shape)
