"""A bundle's `.npz` files read member by member, each header checked before its data is inflated.

An `.npz` is a zip: a 1 MB member can declare, and inflate to, a gigabyte, and NumPy inflates a
member before anyone sees its shape. Here each member's header is read first (vae/data/npy.py: no
pickles, the declared size must be what the member holds), its dtype kind and shape compared with
what config.json and the images' header imply (the map's N images, the latent size, the input
shape), and its size counted against one budget for the whole bundle; only then is it read.
"""

from __future__ import annotations

import io
import zipfile
from typing import Any

import numpy as np

from vae.bundle.format import LATENTS, MAX_ARRAYS_BYTES, MAX_FILE_BYTES, PROJECTION_PREFIX
from vae.data.npy import NpyHeader, read_data, read_header
from vae.diagnostics.per_image import FIELDS, PER_IMAGE
from vae.diagnostics.timelapse import MAX_FRAMES, MAX_POINTS, TIMELAPSE

Dim = int | range  # an exact size, or the sizes allowed
Spec = dict[str, tuple[str, tuple[Dim, ...]]]  # array name -> (dtype kinds, shape)
ANY = range(2**63)  # a size bounded by the file's and the bundle's limits only


def array_specs(config: dict[str, Any], n: int) -> dict[str, tuple[str, Spec]]:
    """File name -> (how problems name it, its arrays) for a bundle whose map holds `n` images."""
    d = config["model"].get("latent_dim")
    frames, points = range(1, MAX_FRAMES + 1), range(1, MAX_POINTS + 1)
    specs = {
        LATENTS: (LATENTS, {"mu": ("f", (n, d)), "logvar": ("f", (n, d)), "labels": ("iu", (n,)),
                            "kl_per_dim": ("f", (d,))}),
        PER_IMAGE: (PER_IMAGE, {name: ("f", (n,)) for name in FIELDS}),
        TIMELAPSE: (TIMELAPSE, {"epochs": ("iu", (frames,)), "xy": ("f", (frames, points, 2)),
                                "labels": ("iu", (points,)), "indices": ("iu", (points,))}),
    }
    for name in config["projections"]:
        specs[f"{PROJECTION_PREFIX}{name}.npz"] = (f"projection {name}", {"xy": ("f", (n, 2))})
    return specs


def _fits(shape: tuple[int, ...], expected: tuple[Dim, ...]) -> bool:
    return len(shape) == len(expected) and all(
        size in want if isinstance(want, range) else size == want for size, want in zip(shape, expected, strict=True))


def _show(expected: tuple[Dim, ...]) -> str:
    sizes = ["any" if want is ANY else f"{want.start}..{want.stop - 1}" if isinstance(want, range) else str(want)
             for want in expected]
    return f"({', '.join(sizes)}{',' if len(sizes) == 1 else ''})"


class ArrayBudget:
    """The bytes a bundle's arrays may still take in memory, all `.npz` files together."""

    def __init__(self, max_bytes: int | None = None) -> None:
        self.max_bytes = self.left = MAX_ARRAYS_BYTES if max_bytes is None else max_bytes

    def take(self, n_bytes: int) -> bool:
        if n_bytes > self.left:
            return False
        self.left -= n_bytes
        return True


def _headers(archive: zipfile.ZipFile, label: str, spec: Spec, budget: ArrayBudget,
             problems: list[str]) -> dict[str, NpyHeader]:
    """Each array's header, once every one fits `spec` and the budget; {} (with problems) otherwise."""
    headers, names = {}, set(archive.namelist())
    for key, (kinds, expected) in spec.items():
        member = f"{key}.npy"
        if member not in names:
            problems.append(f"{label}: array '{key}' is missing")
            continue
        info = archive.getinfo(member)
        if info.file_size > MAX_FILE_BYTES:
            problems.append(f"{label}: array '{key}' is too large")
            continue
        with archive.open(info) as handle:
            header = read_header(handle, info.file_size, f"{label}:{key}")
        if header.dtype.kind not in kinds or not _fits(header.shape, expected):
            problems.append(f"{label}: {key} is {tuple(header.shape)} of {header.dtype}, "
                            f"expected {_show(expected)} of kind {kinds}")
        elif not budget.take(header.n_bytes):
            problems.append(f"{label}: array '{key}' takes the bundle's arrays past {budget.max_bytes:,} bytes")
        else:
            headers[key] = header
    return headers if len(headers) == len(spec) else {}


def read_npz(raw: bytes, label: str, spec: Spec, budget: ArrayBudget, problems: list[str]) -> dict[str, np.ndarray]:
    """The arrays `spec` names, read once all their headers are checked; {} (with problems) otherwise."""
    try:
        with zipfile.ZipFile(io.BytesIO(raw)) as archive:
            arrays = {}
            for key, header in _headers(archive, label, spec, budget, problems).items():
                with archive.open(f"{key}.npy") as handle:
                    handle.seek(header.offset)
                    arrays[key] = read_data(handle, header, f"{label}:{key}")
            return arrays
    except Exception as exc:
        # Damaged files make zipfile, zlib and numpy's header parser raise many kinds of error
        # (BadZipFile, zlib.error, SyntaxError, DataFileError...): each is a problem to report.
        problems.append(f"{label}: not a readable .npz without pickled objects ({exc})")
        return {}
