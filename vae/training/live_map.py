"""A live latent map for watching training: a fixed test subset re-encoded after every epoch."""

from __future__ import annotations

import io
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from scipy.linalg import orthogonal_procrustes

from vae.diagnostics.timelapse import timelapse_arrays
from vae.files import read_regular
from vae.latent.projection import pca_2d
from vae.models.inference import encode
from vae.training.callbacks import Callback

if TYPE_CHECKING:
    from vae.training.trainer import Trainer

LIVE_MAP = "live_map.npz"
MAX_LIVE_POINTS = 10_000
MAX_LIVE_CLASSES = 1_000
MAX_LIVE_MAP_BYTES = 16 * 2**20


def align(previous: np.ndarray | None, current: np.ndarray) -> np.ndarray:
    """Rotate/reflect `current` (N, 2) onto `previous` so the picture does not jump between epochs."""
    if previous is None or previous.shape != current.shape:
        return current
    centre_prev, centre_cur = previous.mean(axis=0), current.mean(axis=0)
    rotation, _ = orthogonal_procrustes(current - centre_cur, previous - centre_prev)
    return (current - centre_cur) @ rotation + centre_prev


class LiveLatentMap(Callback):
    """Writes `<out>/live_map.npz` (xy, labels, epoch) atomically at each epoch end, and keeps every
    epoch's map for the bundle's time-lapse (`timelapse()`)."""

    def __init__(self, out: str | Path, images: np.ndarray, labels: np.ndarray, n: int = 2000, seed: int = 0) -> None:
        rng = np.random.default_rng(seed)
        self.indices = np.sort(rng.choice(len(images), size=min(n, len(images)), replace=False))
        self.images, self.labels = images[self.indices], labels[self.indices]
        self.path = Path(out) / LIVE_MAP
        self.previous: np.ndarray | None = None
        self.epochs: list[int] = []
        self.maps: list[np.ndarray] = []

    def on_epoch_end(self, trainer: Trainer, metrics: dict[str, Any]) -> None:
        mu, _ = encode(trainer.model, self.images)
        trainer.model.train()
        xy = mu[:, :2] if mu.shape[1] <= 2 else pca_2d(mu)["xy"]
        xy = align(self.previous, np.asarray(xy, dtype=np.float64))
        self.previous = xy
        self.epochs.append(int(metrics["epoch"]))
        self.maps.append(xy.astype(np.float16))
        tmp = self.path.with_name(f".{LIVE_MAP}.{os.getpid()}.tmp.npz")
        np.savez(tmp, xy=xy.astype(np.float32), labels=self.labels, indices=self.indices,
                 epoch=np.int64(metrics["epoch"]))
        os.replace(tmp, self.path)

    def timelapse(self) -> dict[str, np.ndarray] | None:
        """The arrays of the bundle's `timelapse.npz` (bounded), or None before the first epoch."""
        return timelapse_arrays(self.epochs, self.maps, self.labels, self.indices) if self.maps else None


def read_live_map(out: str | Path) -> dict[str, np.ndarray] | None:
    """The latest live map of a run, or None when there is none (yet) or it is not a sound one.

    The Train page reads it every second, so a damaged file (empty, truncated, not a zip, a pipe)
    must come back as None, never as an exception.
    """
    try:
        data = read_regular(Path(out) / LIVE_MAP, MAX_LIVE_MAP_BYTES)
        with np.load(io.BytesIO(data), allow_pickle=False) as npz:
            xy, labels, epoch = npz["xy"], npz["labels"], npz["epoch"]
    except Exception:  # zipfile, zlib and numpy's header parser raise many kinds of error
        return None
    sound = (xy.ndim == 2 and xy.shape[1] == 2 and xy.dtype.kind == "f" and labels.shape == (len(xy),)
             and labels.dtype.kind in "iu" and epoch.shape == () and epoch.dtype.kind in "iu"
             and len(xy) <= MAX_LIVE_POINTS and bool(np.isfinite(xy).all()))
    if not sound or (len(labels) and not 0 <= labels.min() <= labels.max() < MAX_LIVE_CLASSES):
        return None
    return {"xy": xy, "labels": labels.astype(np.int64), "epoch": epoch}
