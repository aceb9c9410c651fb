"""Reader for the IDX format used by MNIST-style datasets (raw or gzip-compressed)."""

from __future__ import annotations

import gzip
import struct
import zlib
from pathlib import Path

import numpy as np

IMAGES_MAGIC = 0x00000803
LABELS_MAGIC = 0x00000801


class DataFileError(ValueError):
    """A dataset file is missing, truncated or not in the expected format."""


def _read_bytes(path: Path) -> bytes:
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise DataFileError(f"{path}: cannot read file ({exc.strerror or exc})") from exc
    if raw[:2] == b"\x1f\x8b":
        try:
            return gzip.decompress(raw)
        except (OSError, EOFError, zlib.error) as exc:
            raise DataFileError(f"{path}: corrupt or truncated gzip data ({exc})") from exc
    return raw


def read_idx(path: str | Path, expected_magic: int | None = None) -> np.ndarray:
    """Parse one IDX file (uint8 payload only) into an array shaped by its header."""
    path = Path(path)
    data = _read_bytes(path)
    if len(data) < 4:
        raise DataFileError(f"{path}: file is too short to be an IDX file ({len(data)} bytes)")
    zero, dtype_code, ndim = struct.unpack(">HBB", data[:4])
    magic = (dtype_code << 8) | ndim
    if zero != 0 or dtype_code != 0x08 or ndim == 0:
        raise DataFileError(f"{path}: not an IDX file of unsigned bytes (magic 0x{data[:4].hex()})")
    if expected_magic is not None and magic != expected_magic:
        raise DataFileError(
            f"{path}: IDX magic 0x{magic:08x}, expected 0x{expected_magic:08x} "
            "(images and labels swapped?)"
        )
    header_len = 4 + 4 * ndim
    if len(data) < header_len:
        raise DataFileError(f"{path}: truncated IDX header")
    dims = struct.unpack(f">{ndim}I", data[4:header_len])
    expected = int(np.prod(dims, dtype=np.int64))
    payload = len(data) - header_len
    if payload != expected:
        raise DataFileError(
            f"{path}: header says {'x'.join(map(str, dims))} = {expected} bytes of data, "
            f"file holds {payload} (truncated or corrupt)"
        )
    return np.frombuffer(data, dtype=np.uint8, offset=header_len).reshape(dims).copy()


def read_idx_images(path: str | Path) -> np.ndarray:
    """Images as uint8 (N, 1, H, W)."""
    images = read_idx(path, IMAGES_MAGIC)
    return images[:, None, :, :]


def read_idx_labels(path: str | Path) -> np.ndarray:
    """Labels as int64 (N,)."""
    return read_idx(path, LABELS_MAGIC).astype(np.int64)


def write_idx(path: str | Path, array: np.ndarray, compress: bool | None = None) -> None:
    """Write a uint8 array as IDX (gzip when the name ends in .gz); used by tests and tools."""
    path = Path(path)
    array = np.ascontiguousarray(array, dtype=np.uint8)
    header = struct.pack(">HBB", 0, 0x08, array.ndim) + struct.pack(f">{array.ndim}I", *array.shape)
    blob = header + array.tobytes()
    if compress if compress is not None else path.suffix == ".gz":
        blob = gzip.compress(blob, compresslevel=6)
    path.write_bytes(blob)
