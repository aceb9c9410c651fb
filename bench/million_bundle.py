"""Build a map of 1,000,000 real codes: Fashion-MNIST train + test, shifted and flipped, encoded
by the shipped z16 model (bench/million_map.py opens it; too large for git).

The first 70,000 images are the originals (train, then test); the rest are copies of random
originals shifted by up to 3 pixels each way and mirrored left-right half of the time. The first
map is PCA of every code (a second, and the same projection the slider's marker uses); the second
is UMAP of a 10,000-code sample with every code placed by its nearest sample codes
(`vae.latent.large_map`; `bench.million_umap` measures it against umap-learn). The images are
stored memory-mapped (docs/bundle.md).

    .venv/bin/python -m bench.million_bundle --out /tmp/maps/fashion-mnist-1m [--n 1000000]
"""

from __future__ import annotations

import argparse
import logging
import time
from pathlib import Path

import numpy as np
import torch

from vae.bundle import load_bundle
from vae.bundle.write import add_projection, write_bundle
from vae.data.datasets import load_idx_dataset
from vae.latent.large_map import SAMPLE_SIZE, sampled_umap_2d
from vae.models.inference import encode

ROOT = Path(__file__).resolve().parent.parent
SHIPPED = ROOT / "checkpoints" / "fashion-mnist-conv-z16"
MAX_SHIFT = 3

log = logging.getLogger(__name__)


def augmented(images: np.ndarray, labels: np.ndarray, n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """`n` images: the originals, then random ones shifted by -3..3 pixels each way, half of them mirrored."""
    rng = np.random.default_rng(seed)
    extra = max(n - len(images), 0)
    source = np.concatenate([np.arange(len(images)), rng.integers(0, len(images), extra)])[:n]
    shifts = np.concatenate([np.zeros((len(images), 2), np.int64),
                             rng.integers(-MAX_SHIFT, MAX_SHIFT + 1, (extra, 2))])[:n]
    flips = np.concatenate([np.zeros(len(images), bool), rng.random(extra) < 0.5])[:n]
    m = MAX_SHIFT
    padded = np.pad(images, ((0, 0), (0, 0), (m, m), (m, m)))  # (S, C, H + 2m, W + 2m)
    mirrored = padded[..., ::-1]
    h, w = images.shape[2:]
    out = np.empty((n, *images.shape[1:]), np.uint8)
    for dy in range(-m, m + 1):
        for dx in range(-m, m + 1):
            for flip, frames in ((False, padded), (True, mirrored)):
                rows = np.flatnonzero((shifts[:, 0] == dy) & (shifts[:, 1] == dx) & (flips == flip))
                out[rows] = frames[source[rows], :, m - dy : m - dy + h, m - dx : m - dx + w]
    return out, labels[source]


def build(out: Path, n: int) -> Path:
    shipped = load_bundle(SHIPPED)
    data = load_idx_dataset("fashion-mnist", download=False)
    originals = np.concatenate([data.train_images, data.test_images])
    images, labels = augmented(originals, np.concatenate([data.train_labels, data.test_labels]), n)
    started = time.perf_counter()
    torch.set_num_threads(2)
    codes = encode(shipped.model, images, batch_size=2000)
    log.info("encoded %d images in %.0f s", n, time.perf_counter() - started)
    config = shipped.config
    meta = {key: config[key] for key in ("status", "training", "history", "metrics", "device")}
    meta["name"] = f"{config['name']}-{n // 1000}k"
    meta["status_message"] = (f"{n:,} codes of Fashion-MNIST train + test, shifted and flipped, "
                              f"encoded by {config['name']}; PCA map, and UMAP of {SAMPLE_SIZE:,} with the rest placed")
    meta["dataset"] = {**config["dataset"], "n_test": n, "map_images": "test"}
    path = write_bundle(out, shipped.model, images, labels, meta, codes=codes, large=True)
    started = time.perf_counter()
    add_projection(path, "umap", sampled_umap_2d(codes[0]))
    log.info("UMAP map of %d codes in %.0f s", n, time.perf_counter() - started)
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--n", type=int, default=1_000_000)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    started = time.perf_counter()
    path = build(args.out, args.n)
    log.info("wrote %s in %.0f s", path, time.perf_counter() - started)


if __name__ == "__main__":
    main()
