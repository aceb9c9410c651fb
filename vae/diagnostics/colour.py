"""What the map can be coloured by, and a colour range that outliers do not wash out."""

from __future__ import annotations

import numpy as np

from vae.diagnostics.per_image import FIELDS, LABELS

CLASS = "class"
LATENT_PREFIX = "z"
CLIP_PERCENTILES = (1.0, 99.0)


def colour_options(latent_dim: int, per_image_ready: bool) -> list[str]:
    """'class', the per-image values when they are there, then the posterior mean of each latent dimension."""
    return [CLASS, *(FIELDS if per_image_ready else ()), *(f"{LATENT_PREFIX}{d}" for d in range(latent_dim))]


def option_label(option: str) -> str:
    if option == CLASS:
        return "class"
    if option in LABELS:
        return LABELS[option]
    return f"posterior mean of {option}"


def colour_values(option: str, mu: np.ndarray, per_image: dict[str, np.ndarray] | None) -> np.ndarray | None:
    """(N,) values to colour by, or None for 'class' (and for values that are not there)."""
    if option in FIELDS:
        return None if per_image is None else per_image[option]
    if option.startswith(LATENT_PREFIX) and option[1:].isdigit() and int(option[1:]) < mu.shape[1]:
        return mu[:, int(option[1:])]
    return None


def clipped_range(values: np.ndarray,
                  percentiles: tuple[float, float] | None = CLIP_PERCENTILES) -> tuple[float, float]:
    """(low, high) for the colour scale: the given percentiles, or the full range; never empty."""
    values = np.asarray(values, dtype=np.float64)
    finite = values[np.isfinite(values)]
    if finite.size == 0:
        return 0.0, 1.0
    low, high = (np.percentile(finite, percentiles) if percentiles else (finite.min(), finite.max()))
    if high <= low:
        high = low + max(abs(low) * 1e-6, 1e-6)
    return float(low), float(high)
