"""Dataset registry: every dataset is uint8 image tensors held in memory, labels and class names."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from vae.data.idx import DataFileError, read_idx_images, read_idx_labels

log = logging.getLogger(__name__)

SYSTEM_DATA_ROOT = Path("/usr/share/datasets")


class DatasetNotFoundError(FileNotFoundError):
    """The dataset is not on disk and could not be downloaded; the message says where to put it."""


@dataclass
class ImageDataset:
    """Train and test splits as uint8 (N, C, H, W) arrays with int64 labels."""

    name: str
    train_images: np.ndarray
    train_labels: np.ndarray
    test_images: np.ndarray
    test_labels: np.ndarray
    class_names: list[str]
    source: str

    @property
    def input_shape(self) -> tuple[int, int, int]:
        c, h, w = self.train_images.shape[1:]
        return (int(c), int(h), int(w))


@dataclass(frozen=True)
class IdxSpec:
    torchvision_class: str
    class_names: tuple[str, ...]


IDX_DATASETS: dict[str, IdxSpec] = {
    "fashion-mnist": IdxSpec(
        "FashionMNIST",
        ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
         "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"),
    ),
    "mnist": IdxSpec("MNIST", tuple(str(d) for d in range(10))),
    "kmnist": IdxSpec("KMNIST", ("o", "ki", "su", "tsu", "na", "ha", "ma", "ya", "re", "wo")),
}
IDX_FILES = {
    "train_images": "train-images-idx3-ubyte",
    "train_labels": "train-labels-idx1-ubyte",
    "test_images": "t10k-images-idx3-ubyte",
    "test_labels": "t10k-labels-idx1-ubyte",
}
CIFAR10_CLASSES = ["airplane", "automobile", "bird", "cat", "deer",
                   "dog", "frog", "horse", "ship", "truck"]


def _find_idx_file(directory: Path, stem: str) -> Path | None:
    for candidate in (directory / f"{stem}.gz", directory / stem):
        if candidate.is_file():
            return candidate
    return None


def idx_search_dirs(name: str, data_dir: str | Path | None = None) -> list[Path]:
    """Where IDX files are looked for, in order; each also in torchvision's <Class>/raw layout."""
    roots = [Path(data_dir)] if data_dir else []
    roots += [Path("data") / name, SYSTEM_DATA_ROOT / name]
    dirs: list[Path] = []
    for root in roots:
        dirs += [root, root / IDX_DATASETS[name].torchvision_class / "raw"]
    return dirs


def find_idx_files(name: str, data_dir: str | Path | None = None) -> dict[str, Path] | None:
    """The four IDX files of the first directory that has all of them, or None."""
    for directory in idx_search_dirs(name, data_dir):
        found = {key: _find_idx_file(directory, stem) for key, stem in IDX_FILES.items()}
        if all(found.values()):
            return found  # type: ignore[return-value]
    return None


def _download_idx(name: str, data_dir: str | Path | None) -> dict[str, Path]:
    import torchvision.datasets as tvd

    root = Path(data_dir) if data_dir else Path("data") / name
    dataset_class = getattr(tvd, IDX_DATASETS[name].torchvision_class)
    log.info("%s not found locally; downloading into %s", name, root)
    try:
        dataset_class(root=str(root), train=True, download=True)
        dataset_class(root=str(root), train=False, download=True)
    except Exception as exc:  # torchvision raises RuntimeError, URLError, OSError...
        places = "\n  ".join(str(d) for d in idx_search_dirs(name, data_dir)[::2])
        raise DatasetNotFoundError(
            f"dataset {name!r} is not on this machine and the download failed ({exc}).\n"
            f"Put the four IDX files ({', '.join(IDX_FILES.values())}, .gz or raw) in one of:\n"
            f"  {places}"
            + ("\n(On Debian: apt-get install dataset-fashion-mnist)" if name == "fashion-mnist" else "")
        ) from exc
    found = find_idx_files(name, data_dir)
    if found is None:
        raise DatasetNotFoundError(f"download of {name!r} finished but its files are not in {root}")
    return found


def load_idx_dataset(name: str, data_dir: str | Path | None = None, download: bool = True) -> ImageDataset:
    """Fashion-MNIST, MNIST or KMNIST from IDX files on disk, downloading only when none are found."""
    files = find_idx_files(name, data_dir)
    if files is None:
        if not download:
            raise DatasetNotFoundError(f"dataset {name!r} not found in {idx_search_dirs(name, data_dir)}")
        files = _download_idx(name, data_dir)
    train_images = read_idx_images(files["train_images"])
    train_labels = read_idx_labels(files["train_labels"])
    test_images = read_idx_images(files["test_images"])
    test_labels = read_idx_labels(files["test_labels"])
    for images, labels, key in ((train_images, train_labels, "train"), (test_images, test_labels, "test")):
        if len(images) != len(labels):
            raise DataFileError(
                f"{files[key + '_labels']}: {len(labels)} labels for {len(images)} images"
            )
    return ImageDataset(
        name, train_images, train_labels, test_images, test_labels,
        list(IDX_DATASETS[name].class_names), str(files["train_images"].parent),
    )


def load_cifar10(data_dir: str | Path | None = None, download: bool = True) -> ImageDataset:
    """CIFAR-10 through torchvision, whose loader checks each file's md5 before reading it."""
    import torchvision.datasets as tvd

    root = Path(data_dir) if data_dir else Path("data") / "cifar10"
    try:
        train = tvd.CIFAR10(root=str(root), train=True, download=download)
        test = tvd.CIFAR10(root=str(root), train=False, download=download)
    except Exception as exc:
        raise DatasetNotFoundError(
            f"CIFAR-10 is not in {root} and could not be downloaded ({exc}); "
            "it needs internet access once, or the extracted cifar-10-batches-py folder there."
        ) from exc
    return ImageDataset(
        "cifar10",
        np.ascontiguousarray(train.data.transpose(0, 3, 1, 2)), np.asarray(train.targets, np.int64),
        np.ascontiguousarray(test.data.transpose(0, 3, 1, 2)), np.asarray(test.targets, np.int64),
        list(CIFAR10_CLASSES), str(root),
    )


SYNTHETIC_TRAIN = 2000


def make_synthetic(n_train: int = SYNTHETIC_TRAIN, n_test: int = 500, size: int = 28, seed: int = 0) -> ImageDataset:
    """Ten classes of noisy bars (5 horizontal rows, 5 vertical columns): small, learnable, offline."""
    rng = np.random.default_rng(seed)

    def generate(n: int) -> tuple[np.ndarray, np.ndarray]:
        labels = rng.integers(0, 10, n)
        images = rng.uniform(0, 40, (n, 1, size, size))
        for i, label in enumerate(labels):
            position = (label % 5) * (size // 5) + 2 + rng.integers(-1, 2)
            thickness = rng.integers(2, 5)
            brightness = rng.uniform(180, 255)
            band = slice(max(position, 0), position + thickness)
            if label < 5:
                images[i, 0, band, 2:-2] = brightness
            else:
                images[i, 0, 2:-2, band] = brightness
        return images.astype(np.uint8), labels.astype(np.int64)

    names = [f"row {k}" for k in range(5)] + [f"column {k}" for k in range(5)]
    return ImageDataset("synthetic", *generate(n_train), *generate(n_test), names, "generated")


LOADERS: dict[str, Callable[..., ImageDataset]] = {
    "fashion-mnist": lambda data_dir=None, download=True: load_idx_dataset("fashion-mnist", data_dir, download),
    "mnist": lambda data_dir=None, download=True: load_idx_dataset("mnist", data_dir, download),
    "kmnist": lambda data_dir=None, download=True: load_idx_dataset("kmnist", data_dir, download),
    "cifar10": load_cifar10,
    "synthetic": lambda data_dir=None, download=True: make_synthetic(),
}


# Each registered dataset's training images and image shape, known before it is loaded (an estimate's inputs).
TRAIN_SIZES: dict[str, tuple[int, tuple[int, int, int]]] = {
    "fashion-mnist": (60_000, (1, 28, 28)), "mnist": (60_000, (1, 28, 28)), "kmnist": (60_000, (1, 28, 28)),
    "cifar10": (50_000, (3, 32, 32)), "synthetic": (SYNTHETIC_TRAIN, (1, 28, 28)),
}
OWN_DATA_FORMS = ("folder:<path>", "<path>.npy", "<path>.npz")


def dataset_names() -> list[str]:
    """Registered names, then the forms your own data takes (vae/data/own.py)."""
    return [*LOADERS, *OWN_DATA_FORMS]


def load_dataset(
    name: str, data_dir: str | Path | None = None, download: bool = True,
    shape: tuple[int, int, int] | None = None,
) -> ImageDataset:
    """Load a dataset by registry name, or your own data: `folder:<path>` (resized to `shape`, else at
    the images' own size) or a `.npy`/`.npz` path."""
    from vae.data import own  # it builds on this module's ImageDataset

    if own.is_own_source(name):
        return own.load_own(name, shape)
    if name not in LOADERS:
        raise ValueError(f"unknown dataset {name!r}; known: {', '.join(dataset_names())}")
    return LOADERS[name](data_dir=data_dir, download=download)


def is_available_offline(name: str, data_dir: str | Path | None = None) -> bool:
    """True when the dataset can be loaded without a network."""
    if name in IDX_DATASETS:
        return find_idx_files(name, data_dir) is not None
    if name == "cifar10":
        root = Path(data_dir) if data_dir else Path("data") / "cifar10"
        return (root / "cifar-10-batches-py").is_dir()
    from vae.data.own import is_own_source

    return name in LOADERS or is_own_source(name)
