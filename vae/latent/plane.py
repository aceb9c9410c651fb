"""Latent planes: a K×K grid of codes on two axes through an origin, the test codes placed on it, its exports.

A plane is `origin + a·u + b·v`. Its grid has K offsets `a` along the first axis (columns, left to
right) and K offsets `b` along the second (rows, top to bottom from the highest `b`: the grid is read
as a figure with the second axis pointing up). The offsets are the prior's quantiles (Kingma and
Welling's manifold figure: the inverse normal CDF of evenly spaced probabilities, so each column
holds the same prior mass) or ±k σ of the test codes along the axis (the aggregate posterior's
spread, for a model whose codes do not fill the prior).
"""

from __future__ import annotations

import io
from dataclasses import dataclass

import numpy as np
from scipy.special import ndtri  # the standard normal's inverse CDF (scipy.stats.norm.ppf without its import)

from vae.latent.attributes import attribute_direction
from vae.models.base import VAE
from vae.models.inference import decode

MIN_SIDE, MAX_SIDE = 2, 32  # cells per side of the grid
QUANTILES = (0.05, 0.95)  # the prior range: the classic figure's 5-95 %
MAX_SCALE = 8
EXPORT_SCALES = (1, 2, 4, MAX_SCALE)
MAX_PICTURE_SIDE = 4096  # pixels: the exported PNG's side never exceeds this
PARALLEL = 0.999  # |cos| between the axes above which they span no plane


@dataclass(frozen=True)
class Axis:
    """A direction in latent space and the name a person reads for it."""

    name: str
    vector: np.ndarray  # (D,)


def latent_axis(dim: int, latent_dim: int) -> Axis:
    """The unit vector of latent dimension `dim`."""
    if not 0 <= dim < latent_dim:
        raise ValueError(f"no latent dimension {dim} in a {latent_dim}-D latent")
    vector = np.zeros(latent_dim, dtype=np.float64)
    vector[dim] = 1.0
    return Axis(f"z{dim}", vector)


def principal_axis(codes: np.ndarray, index: int) -> Axis:
    """Principal direction `index` (0: the most variance) of the codes, from the SVD of the centred codes.

    An SVD's signs are arbitrary: each direction's largest component is made positive, so it is the same
    on every run.
    """
    codes = np.asarray(codes, dtype=np.float64)
    if not 0 <= index < codes.shape[1]:
        raise ValueError(f"no principal direction {index + 1} in a {codes.shape[1]}-D latent")
    _, _, vt = np.linalg.svd(codes - codes.mean(axis=0), full_matrices=False)
    vector = vt[index]
    vector = vector * np.sign(vector[np.argmax(np.abs(vector))])
    return Axis(f"principal direction {index + 1}", vector)


def centroid_axis(codes: np.ndarray, source: np.ndarray, target: np.ndarray, name: str) -> Axis:
    """The unit vector from the mean code of test indices `source` (a class, a selection) to that of `target`."""
    difference = attribute_direction(codes, source, target).astype(np.float64)
    length = np.linalg.norm(difference)
    if length < 1e-12:
        raise ValueError(f"the two ends of {name} have the same mean code")
    return Axis(name, difference / length)


def check_side(side: int) -> int:
    if not MIN_SIDE <= side <= MAX_SIDE:
        raise ValueError(f"a plane's grid has {MIN_SIDE} to {MAX_SIDE} cells per side, not {side}")
    return side


def prior_offsets(side: int) -> np.ndarray:
    """(side,) the N(0, 1) quantiles of `side` evenly spaced probabilities from 5 % to 95 %."""
    return ndtri(np.linspace(*QUANTILES, check_side(side)))


def coefficient(codes: np.ndarray, vector: np.ndarray) -> np.ndarray:
    """(N,) each code's coefficient along one axis: its projection on it, in units of the axis' length."""
    vector = np.asarray(vector, dtype=np.float64)
    return np.asarray(codes, dtype=np.float64) @ vector / (vector @ vector)


def sigma_offsets(codes: np.ndarray, vector: np.ndarray, side: int, k: float) -> np.ndarray:
    """(side,) evenly spaced from -kσ to +kσ, σ the spread of the test codes' coefficients along the axis."""
    sigma = float(np.std(coefficient(codes, vector)))
    return np.linspace(-k * sigma, k * sigma, check_side(side))


@dataclass(frozen=True)
class Plane:
    """`origin + a·axes[0] + b·axes[1]` for the grid's offsets `a` in `across`, `b` in `up` (both increasing)."""

    origin: np.ndarray  # (D,)
    axes: np.ndarray  # (2, D)
    across: np.ndarray  # (K,) columns, left to right
    up: np.ndarray  # (K,) rows, bottom to top (so the first row drawn is up[-1])

    def __post_init__(self) -> None:
        u, v = np.asarray(self.axes, dtype=np.float64)
        if min(np.linalg.norm(u), np.linalg.norm(v)) < 1e-12:
            raise ValueError("an axis of a plane has length zero")
        if abs(u @ v) / (np.linalg.norm(u) * np.linalg.norm(v)) > PARALLEL:
            raise ValueError("the two axes are parallel: they span no plane")

    @property
    def side(self) -> int:
        return len(self.across)

    def codes(self) -> np.ndarray:
        """(K, K, D) float32: row r, column c is origin + across[c]·u + up[K-1-r]·v."""
        u, v = np.asarray(self.axes, dtype=np.float64)
        a = np.asarray(self.across, dtype=np.float64)[None, :, None]  # (1, K, 1)
        b = np.asarray(self.up, dtype=np.float64)[::-1, None, None]  # (K, 1, 1), top row first
        return (np.asarray(self.origin, dtype=np.float64) + a * u + b * v).astype(np.float32)

    def coordinates(self, codes: np.ndarray) -> np.ndarray:
        """(N, 2) where codes project onto the plane: the (a, b) of the plane's point nearest each code,
        relative to the origin (least squares, so the axes need not be orthogonal or of unit length)."""
        basis = np.asarray(self.axes, dtype=np.float64).T  # (D, 2)
        offsets = np.asarray(codes, dtype=np.float64) - np.asarray(self.origin, dtype=np.float64)
        solution, *_ = np.linalg.lstsq(basis, offsets.T, rcond=None)
        return solution.T


def export_scales(side: int, cell: int) -> list[int]:
    """The scales whose picture (side × cell × scale pixels a side) stays within MAX_PICTURE_SIDE; 1 always."""
    return [s for s in EXPORT_SCALES if s == 1 or side * cell * s <= MAX_PICTURE_SIDE]


def max_side(cell: int) -> int:
    """The largest grid whose picture at scale 1 stays within MAX_PICTURE_SIDE (for large images)."""
    return int(np.clip(MAX_PICTURE_SIDE // cell, MIN_SIDE, MAX_SIDE))


def tile(pixels: np.ndarray, rows: int, columns: int | None = None) -> np.ndarray:
    """(R*C, h, w[, 3]) uint8 cells, row by row, as one (R*h, C*w[, 3]) picture with no gaps (C = R unless given).

    No gaps, as the classic figure: cell (r, c) is exactly picture[r*h:(r+1)*h, c*w:(c+1)*w].
    """
    columns = rows if columns is None else columns
    pixels = np.asarray(pixels, dtype=np.uint8)
    if len(pixels) != rows * columns:
        raise ValueError(f"{len(pixels)} cells do not fill a {rows}×{columns} grid")
    h, w = pixels.shape[1:3]
    grid = pixels.reshape(rows, columns, h, w, *pixels.shape[3:])  # (R, C, h, w[, 3])
    order = (0, 2, 1, 3, *range(4, grid.ndim))
    return np.ascontiguousarray(grid.transpose(order)).reshape(rows * h, columns * w, *pixels.shape[3:])


def picture(model: VAE, codes: np.ndarray, scale: int = 1) -> np.ndarray:
    """The (K, K, D) grid's decodes as one picture, each cell at the model's pixel size × `scale`."""
    if not 1 <= scale <= MAX_SCALE:
        raise ValueError(f"a plane's picture is scaled 1 to {MAX_SCALE} times, not {scale}")
    side = check_side(len(codes))
    return tile(decode(model, np.asarray(codes).reshape(side * side, -1), scale), side)


def codes_npy(codes: np.ndarray) -> bytes:
    """The grid's (K, K, D) codes as an .npy file (float32, no pickles)."""
    buffer = io.BytesIO()
    np.save(buffer, np.asarray(codes, dtype=np.float32), allow_pickle=False)
    return buffer.getvalue()
