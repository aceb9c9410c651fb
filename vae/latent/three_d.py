"""A map in three dimensions, where the map has a third component: PCA's third principal axis, or a
latent map's third dimension. UMAP and t-SNE maps are fitted in two dimensions (a bundle stores
(N, 2) positions), so they have none: a third would need a fit of its own.
"""

from __future__ import annotations

import numpy as np

COVARIANCE_BLOCK = 100_000  # codes summed into the covariance at once (a million 16-D codes in ten steps)


def has_third_component(projection: str, latent_dim: int) -> bool:
    """Whether the map `projection` of codes with `latent_dim` dimensions has a third component."""
    return projection in ("pca", "latent") and latent_dim >= 3


def third_principal_axis(codes: np.ndarray, mean: np.ndarray, components: np.ndarray) -> np.ndarray:
    """(D,) the direction of most variance that the map's two axes `components` (2, D) leave: PCA's third
    axis, its sign fixed as pca_2d fixes the first two (largest entry positive)."""
    mean = np.asarray(mean, dtype=np.float64)
    covariance = np.zeros((codes.shape[1],) * 2)
    for start in range(0, len(codes), COVARIANCE_BLOCK):
        centred = np.asarray(codes[start:start + COVARIANCE_BLOCK], dtype=np.float64) - mean  # (B, D)
        covariance += centred.T @ centred
    basis = np.asarray(components, dtype=np.float64)
    basis = np.linalg.qr(basis.T)[0]  # (D, 2) orthonormal, for the part of each code off the map's plane
    rest = np.eye(len(covariance)) - basis @ basis.T
    _, vectors = np.linalg.eigh(rest @ covariance @ rest)
    axis = vectors[:, -1]  # eigh sorts ascending: the last is the largest
    return axis * (np.sign(axis[np.abs(axis).argmax()]) or 1.0)


def third_coordinate(projection: str, arrays: dict[str, np.ndarray], codes: np.ndarray,
                     indices: np.ndarray, axis: np.ndarray | None = None) -> np.ndarray:
    """(M,) the third coordinate of the codes at `indices` on the map `projection` (`arrays` its
    stored arrays; `axis` PCA's third axis when already known)."""
    chosen = np.asarray(codes[indices], dtype=np.float64)
    if projection == "latent":
        return chosen[:, 2]
    if projection != "pca":
        raise ValueError(f"a {projection} map has no third component")
    if axis is None:
        axis = third_principal_axis(codes, arrays["mean"], arrays["components"])
    return (chosen - np.asarray(arrays["mean"], dtype=np.float64)) @ axis


def points_3d(projection: str, arrays: dict[str, np.ndarray], codes: np.ndarray, indices: np.ndarray,
              axis: np.ndarray | None = None) -> np.ndarray:
    """(M, 3) float32: the map's own two coordinates of the codes at `indices`, then their third."""
    third = third_coordinate(projection, arrays, codes, indices, axis)
    return np.column_stack([arrays["xy"][indices], third]).astype(np.float32)
