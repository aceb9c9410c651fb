"""The images an imported model's map is made of: a dataset the trainer knows, or a NumPy file.

A `.npy` holds images (N, H, W) or (N, H, W, C), uint8 or floats in [0, 1]; a `.npz` holds
`images` and optionally `labels` (N,) integers and `class_names` (K,) strings. Read without
pickles, shapes checked before the data is read (vae/data/arrays.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from vae.data import load_dataset
from vae.data.arrays import ARRAY_SUFFIXES, labels_and_names, read_arrays, to_uint8_nchw
from vae.data.idx import DataFileError


@dataclass
class MapData:
    """uint8 (N, C, H, W) images with int64 labels and the class names, and where they came from."""

    name: str
    images: np.ndarray
    labels: np.ndarray
    class_names: list[str]

    @property
    def input_shape(self) -> tuple[int, int, int]:
        c, h, w = self.images.shape[1:]
        return (int(c), int(h), int(w))


def with_channels(images: np.ndarray, channels: int | None) -> np.ndarray:
    """uint8 (N, C, H, W) as grey (1) or RGB (3) images: channels repeated, or averaged (Rec. 601 weights)."""
    if channels is None or images.shape[1] == channels:
        return images
    if channels == 3 and images.shape[1] == 1:
        return np.repeat(images, 3, axis=1)
    if channels == 1 and images.shape[1] == 3:
        weights = np.array([0.299, 0.587, 0.114], np.float32).reshape(1, 3, 1, 1)
        return np.rint((images * weights).sum(1, keepdims=True)).clip(0, 255).astype(np.uint8)
    raise DataFileError(f"cannot turn {images.shape[1]}-channel images into {channels}-channel ones")


def load_map_data(source: str, data_dir: str | None = None, labels_file: str | None = None,
                  class_names: list[str] | None = None, limit: int | None = None,
                  shape: tuple[int, int, int] = (1, 28, 28), channels: int | None = None) -> MapData:
    """A dataset's test split by name, or the images of a `.npy` / `.npz` file (first `limit` images),
    as `channels`-channel images when given."""
    data = _load(source, data_dir, labels_file, class_names, limit, shape)
    data.images = with_channels(data.images, channels)
    return data


def _load(source: str, data_dir: str | None, labels_file: str | None, class_names: list[str] | None,
          limit: int | None, shape: tuple[int, int, int]) -> MapData:
    path = Path(source)
    if path.suffix in ARRAY_SUFFIXES:
        arrays = read_arrays(path)
        if labels_file:
            labels_path = Path(labels_file)
            if not labels_path.is_file() or labels_path.suffix != ".npy":
                raise DataFileError(f"{labels_file}: labels must be a .npy file")
            arrays["labels"] = np.load(labels_path, allow_pickle=False)
        images = to_uint8_nchw(arrays["images"][:limit], path.name)
        labels, names = labels_and_names({k: (v[:limit] if k == "labels" else v) for k, v in arrays.items()},
                                         len(images), class_names, path.name)
        return MapData(path.name, images, labels, names)
    dataset = load_dataset(source, data_dir, shape=shape)
    names = class_names or dataset.class_names
    return MapData(dataset.name, dataset.test_images[:limit], dataset.test_labels[:limit], names)
