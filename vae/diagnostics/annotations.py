"""A bundle's annotations, kept in the user's data folder: named selections, tags and metadata.

Named selections (name -> test indices) are sets of images saved to come back to; tags (tag -> test
indices) label images, an image may carry several. Metadata are the columns of the user's own CSV
(vae.diagnostics.metadata). Bundles are never written on open, and shipped ones sit in the checkout,
so the annotations of a bundle live in `$VAE_LAB_DATA/annotations/<key>.json` (else under
`$XDG_DATA_HOME/vae-lab`, else `~/.local/share/vae-lab`), named and bound by the bundle's checksum like
the user cache (vae.diagnostics.cache): read only when this user owns the file and no one else may
write it, written to a temporary file then renamed. JSON only, never a pickle.
"""

from __future__ import annotations

import csv
import io
import json
import logging
import math
import os
import time
import uuid
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from vae.diagnostics.cache import BUNDLE_CHECKSUM, bundle_checksum, distrust
from vae.diagnostics.metadata import MAX_CELL, NUMERIC, Metadata
from vae.diagnostics.selection import safe_cell
from vae.files import open_regular
from vae.user_dirs import data_home

log = logging.getLogger(__name__)

DATA_VAR = "VAE_LAB_DATA"
FORMAT = 1
MAX_STORE_BYTES = 64_000_000
MAX_NAME = 80
MAX_GROUPS = 200  # named selections, and tags, per bundle
SELECTIONS, TAGS = "selections", "tags"


class AnnotationError(ValueError):
    """A name or a store that cannot be used; the message is one line, for the page."""


@dataclass(frozen=True)
class Annotations:
    """Named selections and tags (name -> sorted unique test indices) and the user's metadata."""

    selections: dict[str, np.ndarray] = field(default_factory=dict)
    tags: dict[str, np.ndarray] = field(default_factory=dict)
    metadata: Metadata | None = None


def data_dir() -> Path:
    """The user's VAE Lab data folder."""
    if os.environ.get(DATA_VAR):
        return Path(os.environ[DATA_VAR])
    return data_home()


def store_file(bundle_path: str | Path) -> Path:
    return data_dir() / "annotations" / f"{bundle_checksum(bundle_path)[:32]}.json"


def clean_name(text: str) -> str:
    """A selection's or tag's name: trimmed, 1 to MAX_NAME printable characters; AnnotationError otherwise."""
    name = " ".join(str(text).split())
    if not name:
        raise AnnotationError("give it a name")
    if len(name) > MAX_NAME:
        raise AnnotationError(f"a name has at most {MAX_NAME} characters")
    if not name.isprintable():
        raise AnnotationError("a name holds only printable characters")
    return name


def _indices(indices, n: int) -> np.ndarray:
    values = np.unique(np.asarray(indices, dtype=np.int64))
    if len(values) and (values[0] < 0 or values[-1] >= n):
        raise AnnotationError(f"indices must be test indices, 0 to {n - 1}")
    return values


def _stored_indices(raw: object, n: int) -> np.ndarray:
    """Indices as a JSON file holds them: a list of whole numbers, each a test index."""
    if not isinstance(raw, list) or not all(isinstance(i, int) and not isinstance(i, bool) for i in raw):
        raise AnnotationError("it holds indices that are not a list of whole numbers")
    return _indices(raw, n)


def with_group(annotations: Annotations, kind: str, name: str, indices, n: int) -> Annotations:
    """A selection saved under `name` (replacing one of that name), or `indices` tagged `name` (added to it)."""
    name = clean_name(name)
    groups = dict(getattr(annotations, kind))
    if name not in groups and len(groups) >= MAX_GROUPS:
        raise AnnotationError(f"a model keeps at most {MAX_GROUPS} {kind}")
    indices = _indices(indices, n)
    groups[name] = np.union1d(groups[name], indices) if kind == TAGS and name in groups else indices
    return replace(annotations, **{kind: groups})


def without_group(annotations: Annotations, kind: str, name: str) -> Annotations:
    groups = {key: value for key, value in getattr(annotations, kind).items() if key != name}
    return replace(annotations, **{kind: groups})


def _metadata_json(metadata: Metadata) -> dict:
    columns = {}
    for name, values in metadata.columns.items():
        cells = ([None if math.isnan(v) else float(v) for v in values] if metadata.kind(name) == NUMERIC
                 else [str(v) for v in values])
        columns[name] = {"kind": metadata.kind(name), "values": cells}
    return {"file_name": metadata.file_name, "index": metadata.index.tolist(), "columns": columns}


def _metadata_from(raw: object, n: int) -> Metadata | None:
    if raw is None:
        return None
    if not isinstance(raw, dict) or not isinstance(raw.get("columns"), dict):
        raise AnnotationError("its metadata is not an object of columns")
    index = _stored_indices(raw.get("index"), n)
    if len(index) != len(raw["index"]):
        raise AnnotationError("its metadata repeats an index")
    columns = {}
    for name, column in raw["columns"].items():
        values = column.get("values") if isinstance(column, dict) else None
        if not isinstance(values, list) or len(values) != len(index) or len(name) > MAX_CELL:
            raise AnnotationError(f"its metadata column '{name[:40]}' does not fit its index")
        if column.get("kind") == NUMERIC:
            if not all(v is None or isinstance(v, (int, float)) and not isinstance(v, bool) for v in values):
                raise AnnotationError(f"its metadata column '{name[:40]}' holds other than numbers")
            columns[name] = np.array([np.nan if v is None else v for v in values], dtype=np.float64)
        elif all(isinstance(v, str) and len(v) <= MAX_CELL for v in values):
            columns[name] = np.array(values, dtype=object)
        else:
            raise AnnotationError(f"its metadata column '{name[:40]}' holds other than text")
    return Metadata(str(raw.get("file_name", "metadata.csv"))[:MAX_CELL], np.asarray(raw["index"], np.int64), columns)


def _from_json(raw: object, checksum: str, n: int) -> Annotations:
    if not isinstance(raw, dict) or raw.get("format") != FORMAT:
        raise AnnotationError(f"it is not an annotations file of format {FORMAT}")
    if raw.get(BUNDLE_CHECKSUM) != checksum:
        raise AnnotationError("it was written for another bundle")
    groups = {}
    for kind in (SELECTIONS, TAGS):
        stored = raw.get(kind, {})
        if not isinstance(stored, dict) or len(stored) > MAX_GROUPS:
            raise AnnotationError(f"its {kind} are not a bounded object of names")
        groups[kind] = {clean_name(name): _stored_indices(indices, n) for name, indices in stored.items()}
    return Annotations(groups[SELECTIONS], groups[TAGS], _metadata_from(raw.get("metadata"), n))


def load(bundle_path: str | Path, n: int) -> tuple[Annotations, str | None]:
    """The bundle's annotations and, when its file was there but not used, why (it is then left alone)."""
    try:
        checksum = bundle_checksum(bundle_path)
        with open_regular(data_dir() / "annotations" / f"{checksum[:32]}.json", MAX_STORE_BYTES) as handle:
            if reason := distrust(os.fstat(handle.fileno())):
                return Annotations(), f"the annotations file is {reason}"
            return _from_json(json.loads(handle.read()), checksum, n), None
    except FileNotFoundError:
        return Annotations(), None
    except (OSError, ValueError, TypeError, AttributeError) as exc:  # ValueError: JSON's and AnnotationError
        log.warning("ignoring the annotations of %s: %s", bundle_path, exc)
        return Annotations(), f"the annotations file could not be read ({str(exc)[:120]})"


def save(bundle_path: str | Path, annotations: Annotations, n: int) -> Path:
    """Write the annotations for this user alone, atomically; a file that would not load is kept beside it
    (`.damaged-<time>.json`) rather than lost. Raises OSError when the folder is not writable."""
    file = store_file(bundle_path)
    file.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    if file.exists() and load(bundle_path, n)[1] is not None:
        file.rename(file.with_name(f"{file.stem}.damaged-{time.strftime('%Y%m%d-%H%M%S')}.json"))
    record = {"format": FORMAT, BUNDLE_CHECKSUM: bundle_checksum(bundle_path),
              SELECTIONS: {k: v.tolist() for k, v in annotations.selections.items()},
              TAGS: {k: v.tolist() for k, v in annotations.tags.items()},
              "metadata": None if annotations.metadata is None else _metadata_json(annotations.metadata)}
    tmp = file.with_name(f".{file.stem}.{uuid.uuid4().hex[:8]}.tmp")
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(record, handle, allow_nan=False)
        os.replace(tmp, file)
    finally:
        tmp.unlink(missing_ok=True)
    return file


def annotations_csv(annotations: Annotations) -> bytes:
    """CSV, one row per image of each named selection and tag: kind, name, index (names safe in a spreadsheet)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["kind", "name", "index"])
    for kind, groups in (("selection", annotations.selections), ("tag", annotations.tags)):
        for name, indices in groups.items():
            writer.writerows([kind, safe_cell(name), int(i)] for i in indices)
    return buffer.getvalue().encode("utf-8")


def metadata_csv(metadata: Metadata) -> bytes:
    """The metadata back as CSV (index first), every text cell safe in a spreadsheet."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    names = list(metadata.columns)
    writer.writerow(["index", *(safe_cell(name) for name in names)])
    for row, index in enumerate(metadata.index):
        cells = [metadata.columns[name][row] for name in names]
        writer.writerow([int(index), *("" if isinstance(c, float) and math.isnan(c) else
                                       repr(float(c)) if isinstance(c, float) else safe_cell(c) for c in cells)])
    return buffer.getvalue().encode("utf-8")
