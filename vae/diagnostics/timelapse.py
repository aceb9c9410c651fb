"""The training time-lapse: the live map of each epoch (a fixed test subset), kept in the bundle.

Bounded: at most MAX_FRAMES epochs (evenly spaced, first and last kept) of at most MAX_POINTS
points, stored as float16: 100 epochs of 2,000 points take 800 kB.
"""

from __future__ import annotations

import numpy as np

TIMELAPSE = "timelapse.npz"
MAX_FRAMES = 100
MAX_POINTS = 5000


def frames_to_keep(n_frames: int, max_frames: int = MAX_FRAMES) -> np.ndarray:
    """Indices of the frames to keep: all up to `max_frames`, else evenly spaced with both ends."""
    if n_frames <= max_frames:
        return np.arange(n_frames)
    return np.unique(np.round(np.linspace(0, n_frames - 1, max_frames)).astype(np.int64))


def timelapse_arrays(epochs: list[int], maps: list[np.ndarray], labels: np.ndarray,
                     indices: np.ndarray) -> dict[str, np.ndarray]:
    """The arrays of `timelapse.npz`: epochs (E,), xy (E, n, 2) float16, labels and test indices (n,)."""
    keep, points = frames_to_keep(len(maps)), slice(0, MAX_POINTS)
    return {"epochs": np.asarray(epochs, dtype=np.int64)[keep],
            "xy": np.stack([maps[i][points] for i in keep]).astype(np.float16),
            "labels": np.asarray(labels, dtype=np.int64)[points],
            "indices": np.asarray(indices, dtype=np.int64)[points]}


def check_timelapse(arrays: dict[str, np.ndarray], n_images: int, n_classes: int) -> list[str]:
    """Why `arrays` cannot be a time-lapse of a bundle with n images and n classes (empty if it can)."""
    epochs, xy, labels, indices = (arrays.get(k) for k in ("epochs", "xy", "labels", "indices"))
    if epochs is None or xy is None or labels is None or indices is None:
        return [f"{TIMELAPSE}: needs arrays epochs, xy, labels and indices"]
    n = len(labels)
    checks = [
        (epochs.ndim == 1 and 0 < len(epochs) <= MAX_FRAMES, f"{TIMELAPSE}: 1 to {MAX_FRAMES} epochs expected"),
        (xy.shape == (len(epochs), n, 2), f"{TIMELAPSE}: xy is {list(xy.shape)}, expected [{len(epochs)}, {n}, 2]"),
        (labels.ndim == 1 and 0 < n <= MAX_POINTS and indices.shape == (n,),
         f"{TIMELAPSE}: 1 to {MAX_POINTS} labels and as many indices expected"),
        (bool(np.isfinite(xy).all()), f"{TIMELAPSE}: NaN or infinite positions"),
        (n == 0 or (labels.min() >= 0 and labels.max() < n_classes), f"{TIMELAPSE}: labels outside the classes"),
        (n == 0 or (indices.min() >= 0 and indices.max() < n_images), f"{TIMELAPSE}: indices outside the test set"),
    ]
    return [message for ok, message in checks if not ok]
