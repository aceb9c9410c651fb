"""The bundle format: file names, limits, the error type and the loaded bundle. See docs/bundle.md.

A bundle is one directory that holds everything the explorer needs. It is `native` (a VAE Lab
model, safetensors weights) or `portable` (an imported model as two ONNX graphs, see
vae/portable/). `config.json` carries the size and SHA-256 of every other file and is written
last, so it is the commit record: a bundle without it, or whose files do not match it, never loads.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from vae.models import VAE
from vae.portable.spec import DECODER_FILE, ENCODER_FILE

FORMAT = "vae-lab-bundle"
FORMAT_VERSION = 1
CONFIG = "config.json"
WEIGHTS = "model.safetensors"
LATENTS = "latents.npz"
IMAGES = "test_images.npz"
# A large map's images (1M Fashion-MNIST images are 784 MB): one plain .npy, hashed as a stream and
# then memory-mapped, so only the images a page shows are read (vae/bundle/mapped.py).
IMAGES_MAPPED = "test_images.npy"
PROJECTION_PREFIX = "projection_"
# Listing parses every bundle's config.json: a hostile 1.4 MB of nested lists takes ~1.5 s to parse
# here. The shipped ones are under 30 kB; 10,000 epochs of history are ~3.5 MB.
MAX_CONFIG_BYTES = 4 * 2**20
MAX_FILE_BYTES = 1 * 2**30  # a file read into memory
MAX_READ_BYTES = 2 * 2**30  # the files read into memory, all together (all but the mapped images)
MAX_ARRAYS_BYTES = 2 * 2**30  # the arrays inflated from a bundle's .npz files, all together
MAX_MAPPED_BYTES = 4 * 2**30  # a memory-mapped image file: 5M images of 28x28
STATUSES = ("completed", "cancelled", "failed")  # failed: a distributed run lost a worker; its last epoch kept
# The model files each kind of bundle must list (besides the latents and the test images).
KINDS: dict[str, tuple[str, ...]] = {"native": (WEIGHTS,), "portable": (ENCODER_FILE, DECODER_FILE)}


def bundle_kind(config: dict[str, Any]) -> str:
    """`native` (also for bundles written before kinds existed) or `portable`."""
    return str(config.get("kind", "native"))


class BundleError(ValueError):
    """A bundle that cannot be used; `problems` lists every reason, one per line."""

    def __init__(self, path: str | Path, problems: list[str]) -> None:
        self.path = Path(path)
        self.problems = problems
        super().__init__(f"{path}: " + "; ".join(problems))

    @classmethod
    def unexpected(cls, path: str | Path, exc: Exception) -> BundleError:
        """An error no check foresaw, as one problem: the bundle is then listed as invalid, with this reason."""
        return cls(path, [f"unexpected error: {type(exc).__name__}: {exc}"])


@dataclass
class Bundle:
    """A loaded, validated bundle; arrays are NumPy, the model is on the CPU in eval mode."""

    path: Path
    config: dict[str, Any]
    model: VAE
    mu: np.ndarray  # (N, D) float32
    logvar: np.ndarray  # (N, D) float32
    labels: np.ndarray  # (N,) int64
    kl_per_dim: np.ndarray  # (D,) float32
    images: np.ndarray  # (N, C, H, W) uint8 (a read-only np.memmap for a bundle with IMAGES_MAPPED)
    projections: dict[str, dict[str, np.ndarray]] = field(default_factory=dict)
    per_image: dict[str, np.ndarray] | None = None  # (N,) each, see vae/diagnostics/per_image.py
    timelapse: dict[str, np.ndarray] | None = None  # the live map of each epoch, see vae/diagnostics/timelapse.py

    @property
    def name(self) -> str:
        return self.path.name

    @property
    def class_names(self) -> list[str]:
        return list(self.config["dataset"]["class_names"])

    @property
    def latent_dim(self) -> int:
        return int(self.mu.shape[1])

    def image_label(self, index: int) -> str:
        """'test #i', or 'train #j' for the training images of a train + test map."""
        n_test = int(self.config["dataset"].get("n_test", len(self.mu)))
        if self.config["dataset"].get("map_images") == "train+test" and index >= n_test:
            return f"train #{index - n_test}"
        return f"test #{index}"



def sha256_of(path: Path) -> str:
    """Hex SHA-256 of a file, read in 1 MB chunks."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()
