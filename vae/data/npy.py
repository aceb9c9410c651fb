""".npy headers read and checked against the bytes that hold the data, before any array is made.

NumPy's reader trusts the header: a shape whose size wraps int64 (`np.prod` of 2^32 x 2^32 is 0)
passes a bound computed with it, and a header that promises more data than the file holds makes
`np.load` allocate for it and then raise a ValueError. Here the size is computed in Python
integers, which do not wrap, and it must be exactly what follows the header.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import BinaryIO

import numpy as np

from vae.data.idx import DataFileError

_CHUNK = 1 << 20


@dataclass(frozen=True)
class NpyHeader:
    """What a .npy header declares, and where its data starts."""

    shape: tuple[int, ...]
    dtype: np.dtype
    fortran_order: bool
    offset: int  # bytes before the data

    @property
    def n_bytes(self) -> int:
        """The data's size as declared (Python integers: never wraps)."""
        return math.prod(self.shape) * self.dtype.itemsize


def read_header(handle: BinaryIO, size: int, label: str) -> NpyHeader:
    """The header of the `size`-byte .npy open at its start; DataFileError unless its data is exactly the rest.

    Object arrays are refused (they would need pickles).
    """
    try:
        version = np.lib.format.read_magic(handle)
        read = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
        shape, fortran_order, dtype = read(handle)
        offset = handle.tell()
    except (ValueError, OSError, SyntaxError, TypeError) as exc:
        raise DataFileError(f"{label}: not a NumPy array file ({exc})") from exc
    if dtype.hasobject:
        raise DataFileError(f"{label}: holds Python objects (refused: arrays are read without pickles)")
    header = NpyHeader(tuple(int(s) for s in shape), dtype, bool(fortran_order), offset)
    if offset + header.n_bytes != size:
        raise DataFileError(f"{label}: its header says {dtype}{list(shape)}, which does not fit its "
                            f"{max(size - offset, 0):,} bytes of data")
    return header


def read_data(handle: BinaryIO, header: NpyHeader, label: str) -> np.ndarray:
    """The array after `header`, read from `handle` positioned just past it (one allocation, of the declared size)."""
    array = np.empty(header.shape, header.dtype, order="F" if header.fortran_order else "C")
    if not header.n_bytes:
        return array
    view = memoryview(array.reshape(-1, order="A").view(np.uint8))
    filled = 0
    while filled < header.n_bytes:
        got = handle.readinto(view[filled:filled + _CHUNK])  # a zip member's readinto reads it all into a copy
        if not got:
            raise DataFileError(f"{label}: ends {header.n_bytes - filled:,} bytes before its header says")
        filled += got
    return array
