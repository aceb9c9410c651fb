"""A live latent map for watching training: a fixed test subset re-encoded after every epoch."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from scipy.linalg import orthogonal_procrustes

from vae.latent.projection import pca_2d
from vae.models.inference import encode
from vae.training.callbacks import Callback

if TYPE_CHECKING:
    from vae.training.trainer import Trainer

LIVE_MAP = "live_map.npz"


def align(previous: np.ndarray | None, current: np.ndarray) -> np.ndarray:
    """Rotate/reflect `current` (N, 2) onto `previous` so the picture does not jump between epochs."""
    if previous is None or previous.shape != current.shape:
        return current
    centre_prev, centre_cur = previous.mean(axis=0), current.mean(axis=0)
    rotation, _ = orthogonal_procrustes(current - centre_cur, previous - centre_prev)
    return (current - centre_cur) @ rotation + centre_prev


class LiveLatentMap(Callback):
    """Writes `<out>/live_map.npz` (xy, labels, epoch) atomically at each epoch end."""

    def __init__(self, out: str | Path, images: np.ndarray, labels: np.ndarray, n: int = 2000, seed: int = 0) -> None:
        rng = np.random.default_rng(seed)
        self.indices = np.sort(rng.choice(len(images), size=min(n, len(images)), replace=False))
        self.images, self.labels = images[self.indices], labels[self.indices]
        self.path = Path(out) / LIVE_MAP
        self.previous: np.ndarray | None = None

    def on_epoch_end(self, trainer: Trainer, metrics: dict[str, Any]) -> None:
        mu, _ = encode(trainer.model, self.images)
        trainer.model.train()
        xy = mu[:, :2] if mu.shape[1] <= 2 else pca_2d(mu)["xy"]
        xy = align(self.previous, np.asarray(xy, dtype=np.float64))
        self.previous = xy
        tmp = self.path.with_name(f".{LIVE_MAP}.{os.getpid()}.tmp.npz")
        np.savez(tmp, xy=xy.astype(np.float32), labels=self.labels, indices=self.indices,
                 epoch=np.int64(metrics["epoch"]))
        os.replace(tmp, self.path)


def read_live_map(out: str | Path) -> dict[str, np.ndarray] | None:
    """The latest live map of a run, or None when there is none (yet) or it is unreadable."""
    try:
        with np.load(Path(out) / LIVE_MAP, allow_pickle=False) as data:
            return {k: data[k] for k in data.files}
    except (OSError, ValueError, KeyError):
        return None
