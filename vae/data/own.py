"""Your own images: a folder of class sub-folders, or a NumPy `.npy`/`.npz`, checked and then loaded.

`check_folder` and `check_arrays` say what a source holds (image count, sizes, channels, formats,
class balance) and why it cannot be used, bounding counts and bytes before reading anything big;
the Train page shows that summary before it lets a job start, and the trainer refuses by the
same rules (`load_own`). A model takes one image size: a source whose images come in several is
refused rather than silently stretched. A fixed fraction of each class is held out as the test
images, which the bundle's map shows.
"""

from __future__ import annotations

import io
import os
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image

from vae.data.arrays import (
    ARRAY_SUFFIXES,
    MAX_CLASS_NAME,
    MAX_CLASSES,
    MAX_IMAGES,
    labels_and_names,
    read_arrays,
    to_uint8_nchw,
)
from vae.data.datasets import DatasetNotFoundError, ImageDataset
from vae.data.idx import DataFileError
from vae.data.images import IMAGE_FORMATS, IMAGE_SUFFIXES, MAX_FILE_BYTES, MAX_PIXELS, ImageInputError, load_image
from vae.files import NotARegularFile, read_regular

TEST_FRACTION = 0.1  # of each class, held out as the test images (the map's)
MAX_FOLDER_BYTES = 2 * 2**30  # image files of one folder, all together
SIDE_BOUNDS = (8, 256)  # pixels, as the models take (vae/models/base.py)
SKIPPED = ("__MACOSX",)  # the resource-fork folder macOS puts in zips
GREY_MODES = ("1", "L", "LA", "I", "I;16", "F")
SHOWN_PROBLEMS = 5


@dataclass
class DataCheck:
    """What a source of images holds, and why it cannot be trained on (`refusal`), if so."""

    source: str  # what `vae-lab train --dataset` takes: folder:<path>, or the .npy/.npz path
    n_images: int = 0
    sizes: Counter = field(default_factory=Counter)  # (height, width) -> images
    channels: int = 1
    formats: Counter = field(default_factory=Counter)  # "PNG", "uint8 array", ... -> images
    class_names: list[str] = field(default_factory=list)
    class_counts: list[int] = field(default_factory=list)
    unreadable: list[str] = field(default_factory=list)  # the first few reasons
    n_unreadable: int = 0
    ignored: Counter = field(default_factory=Counter)  # files that are not images, by suffix
    refusal: str | None = None

    @property
    def ok(self) -> bool:
        return self.refusal is None

    @property
    def shape(self) -> tuple[int, int, int]:
        """(C, H, W) of the model input: the images' one size."""
        (height, width), = self.sizes
        return (self.channels, height, width)

    @property
    def n_test(self) -> int:
        """Images held out for the map (per class: a tenth, rounded, at least one of two or more)."""
        return sum(_n_test(n) for n in self.class_counts)


def _n_test(n: int, fraction: float = TEST_FRACTION) -> int:
    return max(int(round(n * fraction)), 1) if n > 1 else 0


def held_out(labels: np.ndarray, n_classes: int, fraction: float = TEST_FRACTION, seed: int = 0) -> np.ndarray:
    """A boolean mask of the test images: a seeded `fraction` of each class (see `_n_test`)."""
    rng = np.random.default_rng(seed)
    test = np.zeros(len(labels), dtype=bool)
    for label in range(n_classes):
        members = np.flatnonzero(labels == label)
        test[members[rng.permutation(len(members))[:_n_test(len(members), fraction)]]] = True
    return test


def class_root(root: Path) -> Path:
    """The folder holding the class sub-folders: `root`, or the one folder a zip wrapped them in."""
    while True:
        entries = [p for p in root.iterdir() if not p.name.startswith(".") and p.name not in SKIPPED]
        if len(entries) == 1 and entries[0].is_dir() and any(p.is_dir() for p in entries[0].iterdir()):
            root = entries[0]
        else:
            return root


def list_classes(root: Path) -> tuple[list[str], list[list[Path]], Counter]:
    """Class names (sorted sub-folders), each one's image files, and the other files by suffix.

    Counts files and their sizes (from the directory, not their contents) before anything is read.
    """
    if not root.is_dir():
        raise DatasetNotFoundError(f"{root} is not a folder (expected one sub-folder per class)")
    classes = sorted(p.name for p in root.iterdir()  # a linked folder is not followed out of `root`
                     if p.is_dir() and not p.is_symlink() and not p.name.startswith(".") and p.name not in SKIPPED)
    if not classes:
        raise DatasetNotFoundError(f"{root} has no class sub-folders")
    if len(classes) > MAX_CLASSES:
        raise DataFileError(f"{len(classes):,} class sub-folders, more than {MAX_CLASSES:,}")
    if any(len(name) > MAX_CLASS_NAME for name in classes):
        raise DataFileError(f"a class folder name is longer than {MAX_CLASS_NAME} characters")
    files, ignored, n_files, n_bytes = [], Counter(), 0, 0
    for name in classes:
        images = []
        with os.scandir(root / name) as entries:
            for entry in entries:
                if entry.name.startswith("."):
                    continue
                suffix = Path(entry.name).suffix.lower()
                if suffix not in IMAGE_SUFFIXES:
                    ignored[suffix or "(no suffix)"] += 1
                    continue
                n_files += 1
                n_bytes += entry.stat(follow_symlinks=False).st_size
                if n_files > MAX_IMAGES or n_bytes > MAX_FOLDER_BYTES:
                    raise DataFileError(f"more than {MAX_IMAGES:,} images or {MAX_FOLDER_BYTES >> 30} GB of image "
                                        "files (refused before reading them)")
                images.append(Path(entry.path))
        files.append(sorted(images))
    return classes, files, ignored


def _header(path: Path) -> tuple[tuple[int, int], str, str]:
    """((height, width), mode, format) of an image file, from its header; ImageInputError otherwise."""
    try:
        data = read_regular(path, MAX_FILE_BYTES)
    except OSError as exc:  # a link, a pipe, a file over the limit: its message names the file
        raise ImageInputError(str(exc) if isinstance(exc, NotARegularFile) else f"{path.name}: {exc}") from exc
    try:
        with Image.open(io.BytesIO(data), formats=IMAGE_FORMATS) as image:
            if image.width * image.height > MAX_PIXELS:
                raise ImageInputError(f"{path.name}: {image.width}x{image.height} is too large")
            image.verify()
            return (image.height, image.width), image.mode, str(image.format)
    except ImageInputError:
        raise
    except Exception as exc:  # Pillow raises many kinds for a damaged file; each is one unreadable file
        raise ImageInputError(f"{path.name}: not a readable image ({type(exc).__name__})") from exc


def _refusal(check: DataCheck, what: str) -> str | None:
    """Why `check`'s images cannot be trained on, or None."""
    if check.n_images == 0:
        return f"no images found ({what})"
    if len(check.sizes) > 1:
        common = ", ".join(f"{h}×{w}: {n:,}" for (h, w), n in check.sizes.most_common(3))
        return (f"the images come in {len(check.sizes)} sizes ({common}{', …' if len(check.sizes) > 3 else ''}); "
                "a model takes one size: resize them to one first")
    (height, width), = check.sizes
    low, high = SIDE_BOUNDS
    if not (low <= height <= high and low <= width <= high):
        return f"the images are {height}×{width}; a model takes sides of {low} to {high} pixels: resize them first"
    if check.n_test == 0:
        return "at least two images of one class are needed (one is held out for the map)"
    return None


def check_folder(path: str | Path) -> DataCheck:
    """Read every image's header under `path` (class sub-folders) and summarise; never raises."""
    root = Path(path)
    check = DataCheck(f"folder:{root}")
    try:
        classes, files, check.ignored = list_classes(root)
    except (DataFileError, OSError) as exc:
        check.refusal = str(exc)
        return check
    modes = set()
    check.class_names = classes
    for class_files in files:
        readable = 0
        for file in class_files:
            try:
                size, mode, kind = _header(file)
            except ImageInputError as exc:
                check.n_unreadable += 1
                if len(check.unreadable) < SHOWN_PROBLEMS:
                    check.unreadable.append(f"{file.parent.name}/{exc}")
                continue
            readable += 1
            check.sizes[size] += 1
            check.formats[kind] += 1
            modes.add(mode)
        check.class_counts.append(readable)
    check.n_images = sum(check.class_counts)
    check.channels = 1 if modes <= set(GREY_MODES) else 3
    check.refusal = _refusal(check, "PNG, JPEG, BMP, GIF or WebP files in class sub-folders")
    return check


def _arrays(path: Path) -> tuple[np.ndarray, np.ndarray, list[str], str]:
    """uint8 (N, C, H, W) images, labels, class names and the stored dtype of a .npy/.npz."""
    arrays = read_arrays(path)
    dtype = str(arrays["images"].dtype)
    images = to_uint8_nchw(arrays["images"], path.name)
    labels, names = labels_and_names(arrays, len(images), None, path.name)
    if len(names) > MAX_CLASSES or any(len(name) > MAX_CLASS_NAME for name in names):
        raise DataFileError(f"{path.name}: at most {MAX_CLASSES:,} class names of {MAX_CLASS_NAME} characters")
    return images, labels, names, dtype


def _array_check(file: Path, images: np.ndarray, labels: np.ndarray, names: list[str], dtype: str) -> DataCheck:
    check = DataCheck(str(file), n_images=len(images), channels=int(images.shape[1]), class_names=names)
    if len(images):
        check.sizes[tuple(int(s) for s in images.shape[2:])] = len(images)
    check.formats[f"{file.suffix} of {dtype}"] = len(images)
    check.class_counts = np.bincount(labels, minlength=len(names)).tolist()
    check.refusal = _refusal(check, f"{file.name} holds no images")
    return check


def check_arrays(path: str | Path) -> DataCheck:
    """Read a `.npy`/`.npz` of images (headers first: no pickles, bounded sizes) and summarise; never raises."""
    file = Path(path)
    try:
        return _array_check(file, *_arrays(file))
    except (ValueError, OSError) as exc:  # DataFileError, and whatever a damaged file makes NumPy raise
        return DataCheck(str(file), refusal=str(exc))


def check_source(source: str) -> DataCheck:
    """The check of `folder:<path>` or of a `.npy`/`.npz` path."""
    if source.startswith("folder:"):
        return check_folder(source.removeprefix("folder:"))
    return check_arrays(source)


def is_own_source(source: str) -> bool:
    """Whether `source` names your own data (`folder:<path>`, or a .npy/.npz path) rather than a dataset."""
    return source.startswith("folder:") or Path(source).suffix in ARRAY_SUFFIXES


def _split(name: str, images: np.ndarray, labels: np.ndarray, names: list[str], source: str,
           seed: int) -> ImageDataset:
    test = held_out(labels, len(names), seed=seed)
    if test.all() or not test.any():
        raise DataFileError(f"{name}: at least two readable images of one class are needed")
    return ImageDataset(name, images[~test], labels[~test], images[test], labels[test], names, source)


def load_folder(path: str | Path, shape: tuple[int, int, int] | None = None, seed: int = 0) -> ImageDataset:
    """A folder of class sub-folders: at the images' own size when `shape` is None (refused as the
    check refuses), else every image resized to `shape`; unreadable files are skipped."""
    root = Path(path)
    classes, files, _ = list_classes(root)
    if shape is None:
        check = check_folder(root)
        if check.refusal:
            raise DataFileError(f"{root.name}: {check.refusal}")
        shape = check.shape
    images, labels = [], []
    for label, class_files in enumerate(files):
        for file in class_files:
            try:
                images.append(load_image(file, shape))
            except ImageInputError:
                continue
            labels.append(label)
    stacked = np.stack(images) if images else np.zeros((0, *shape), np.uint8)
    return _split(f"folder:{root.name}", stacked, np.asarray(labels, np.int64), classes, str(root), seed)


def load_arrays(path: str | Path, seed: int = 0) -> ImageDataset:
    """A `.npy`/`.npz` of images (and labels, class names), refused as `check_arrays` refuses."""
    file = Path(path)
    arrays = _arrays(file)
    check = _array_check(file, *arrays)
    if check.refusal:
        raise DataFileError(f"{file.name}: {check.refusal}")
    images, labels, names, _ = arrays
    return _split(file.name, images, labels, names, str(file), seed)


def load_own(source: str, shape: tuple[int, int, int] | None = None, seed: int = 0) -> ImageDataset:
    """Your own data by its source string (see `is_own_source`)."""
    if source.startswith("folder:"):
        return load_folder(source.removeprefix("folder:"), shape, seed)
    return load_arrays(source, seed)
