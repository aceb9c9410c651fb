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


def third_principal_axis(codes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The codes' mean (D,) and third principal axis (D,), its sign fixed as pca_2d fixes the first two
    (largest entry positive). A bundle keeps only its PCA map's positions, so the axis comes from the
    codes' covariance, summed by blocks (a million codes take no more memory than a block)."""
    mean = np.mean(codes, axis=0, dtype=np.float64)
    covariance = np.zeros((codes.shape[1],) * 2)
    for start in range(0, len(codes), COVARIANCE_BLOCK):
        centred = np.asarray(codes[start:start + COVARIANCE_BLOCK], dtype=np.float64) - mean  # (B, D)
        covariance += centred.T @ centred
    _, vectors = np.linalg.eigh(covariance)  # ascending: the third largest is third from the end
    axis = vectors[:, -3]
    return mean, axis * (np.sign(axis[np.abs(axis).argmax()]) or 1.0)


def third_coordinate(projection: str, codes: np.ndarray, indices: np.ndarray,
                     pca_axis: tuple[np.ndarray, np.ndarray] | None = None) -> np.ndarray:
    """(M,) the third coordinate of the codes at `indices` on the map `projection` (`pca_axis`:
    `third_principal_axis(codes)` when already known)."""
    chosen = np.asarray(codes[indices], dtype=np.float64)
    if projection == "latent":
        return chosen[:, 2]
    if projection != "pca":
        raise ValueError(f"a {projection} map has no third component")
    mean, axis = third_principal_axis(codes) if pca_axis is None else pca_axis
    return (chosen - mean) @ axis


def points_3d(projection: str, xy: np.ndarray, codes: np.ndarray, indices: np.ndarray,
              pca_axis: tuple[np.ndarray, np.ndarray] | None = None) -> np.ndarray:
    """(M, 3) float32: the map's own two coordinates `xy` (N, 2) of the codes at `indices`, then their third."""
    third = third_coordinate(projection, codes, indices, pca_axis)
    return np.column_stack([xy[indices], third]).astype(np.float32)
