"""Datasets held in memory as uint8 tensors."""

from vae.data.datasets import (
    DatasetNotFoundError,
    ImageDataset,
    dataset_names,
    is_available_offline,
    load_dataset,
    make_synthetic,
)
from vae.data.idx import DataFileError

__all__ = [
    "DataFileError", "DatasetNotFoundError", "ImageDataset", "dataset_names",
    "is_available_offline", "load_dataset", "make_synthetic",
]
