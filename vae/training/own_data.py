"""Your own data for a training job started from the app: uploads kept beside the bundles, server folders.

An upload (a zip of class sub-folders, or a `.npy`/`.npz`) is stored under the training folder in
`.uploads/<digest>/` (hidden: never listed as a bundle, never in the shipped checkpoints/), named
by its content so that the same file uploaded again is not unpacked again. Only the few latest
uploads are kept. A zip is unpacked by vae/portable/uploads.py: no path traversal, no links, no
zip bombs, a bounded number of entries.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import uuid
from pathlib import Path

from vae.data.arrays import ARRAY_SUFFIXES, MAX_IMAGES
from vae.data.own import MAX_CLASSES, class_root
from vae.portable.uploads import UploadRefused, extract_zip
from vae.training.jobs import make_ignored

UPLOADS = ".uploads"
KEEP_UPLOADS = 4
UPLOAD_SUFFIXES = (".zip", *ARRAY_SUFFIXES)
ZIP_ENTRIES = MAX_IMAGES + MAX_CLASSES + 1_000  # the images, their folders, a few other files
DATA_DIRS_VAR = "VAE_LAB_DATA_DIRS"


def _safe_stem(filename: str) -> str:
    stem = re.sub(r"[^A-Za-z0-9_.-]", "_", Path(filename).stem).strip("._")
    return stem[:64] or "data"


def _prune(uploads: Path, keep: Path) -> None:
    """Remove all but the `KEEP_UPLOADS` most recently used uploads (never `keep`)."""
    folders = sorted((p for p in uploads.iterdir() if p.is_dir() and p != keep),
                     key=lambda p: p.stat().st_mtime, reverse=True)
    for old in folders[KEEP_UPLOADS - 1:]:
        shutil.rmtree(old, ignore_errors=True)


def _source(folder: Path) -> str:
    """The dataset source of a stored upload: the array file, or the folder of class sub-folders."""
    arrays = [p for p in folder.iterdir() if p.suffix in ARRAY_SUFFIXES]
    return str(arrays[0]) if arrays else f"folder:{class_root(folder / 'data')}"


def store_upload(root: Path, filename: str, data: bytes) -> str:
    """Keep an uploaded zip (unpacked) or `.npy`/`.npz` under `<root>/.uploads/`; the `--dataset` source
    that names it. UploadRefused, with nothing left behind, for anything else."""
    suffix = Path(filename).suffix.lower()
    if suffix not in UPLOAD_SUFFIXES:
        raise UploadRefused(f"{filename}: expected a .zip of class sub-folders, or a .npy or .npz of images")
    make_ignored(root)
    uploads = root / UPLOADS
    uploads.mkdir(exist_ok=True)
    folder = uploads / hashlib.sha256(data).hexdigest()[:16]
    if not folder.is_dir():
        staging = uploads / f".{folder.name}.{uuid.uuid4().hex[:8]}"
        staging.mkdir()
        try:
            if suffix == ".zip":
                (staging / "data").mkdir()
                extract_zip(data, staging / "data", max_members=ZIP_ENTRIES)
            else:
                (staging / f"{_safe_stem(filename)}{suffix}").write_bytes(data)
            try:
                os.replace(staging, folder)
            except OSError:  # another session stored the same upload meanwhile
                if not folder.is_dir():
                    raise
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    os.utime(folder)
    _prune(uploads, folder)
    return _source(folder)


def allowed_folder(text: str, roots: list[Path] | None) -> Path:
    """The folder `text` names, resolved, if the server may read it; ValueError saying why otherwise.

    `roots` None: any readable folder. That is the default of a server that listens on this machine
    only (no access token): whoever reaches it already works here, and the check shows them folder
    names and image counts, nothing they could not list themselves. A server open to a network
    (VAE_LAB_TOKEN set) reads only folders under the ones its operator lists in VAE_LAB_DATA_DIRS
    (none by default: then uploads only), so a token holder cannot survey the server's disks.
    """
    if not text.strip():
        raise ValueError("type the path of a folder on this server")
    path = Path(text.strip()).expanduser().resolve()
    if roots is not None:
        allowed = [Path(r).expanduser().resolve() for r in roots]
        if not any(path == r or r in path.parents for r in allowed):
            where = ", ".join(str(r) for r in allowed) or f"none: the operator can list some in {DATA_DIRS_VAR}"
            raise ValueError(f"this server reads folders only under: {where}")
    if not path.is_dir():
        raise ValueError(f"{path} is not a folder on this server")
    if not os.access(path, os.R_OK | os.X_OK):
        raise ValueError(f"{path} is not readable by the server")
    return path


def data_roots(token_set: bool, environ: dict[str, str] | None = None) -> list[Path] | None:
    """The folders a server may read data from (see `allowed_folder`): None means any."""
    listed = (os.environ if environ is None else environ).get(DATA_DIRS_VAR, "")
    roots = [Path(p) for p in listed.split(os.pathsep) if p]
    return roots if roots or token_set else None
