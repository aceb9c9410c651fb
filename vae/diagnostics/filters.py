"""Which test images a filter keeps: classes, value ranges, index text, tags, named selections and
metadata, turned into one boolean mask over the test set.

Conditions of different kinds all apply (AND); within one kind, an image passes when it meets any
(a class among the chosen, a tag among the chosen). A range keeps `low <= value <= high` (either end
open) and never a missing value (NaN: a metadata row the user's CSV did not give).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import numpy as np

from vae.diagnostics.annotations import Annotations
from vae.diagnostics.colour import colour_options, colour_values, option_label
from vae.diagnostics.metadata import META_PREFIX, category_values, numeric_values

MAX_INDEX_TEXT = 10_000  # characters of index text
_ITEM = re.compile(r"^(\d+)(?:\s*-\s*(\d+))?$")
_SEPARATORS = re.compile(r"[,;\s]+")


class FilterError(ValueError):
    """A filter that cannot be applied; the message is one line, for the page."""


def parse_indices(text: str, n: int) -> np.ndarray | None:
    """Sorted unique test indices from text such as "12, 40-45" (ranges inclusive; commas, semicolons or
    spaces between items); None for blank text. Raises FilterError for anything else."""
    text = text.strip()
    if not text:
        return None
    if len(text) > MAX_INDEX_TEXT:
        raise FilterError(f"the index text is longer than {MAX_INDEX_TEXT:,} characters")
    keep = np.zeros(n, dtype=bool)
    # A range's dash may have spaces around it: join "40 - 45" before splitting on spaces.
    for item in _SEPARATORS.split(re.sub(r"\s*-\s*", "-", text)):
        match = _ITEM.match(item)
        if item and not match:
            raise FilterError(f"'{item[:40]}' is not a test index or a range such as 40-45")
        if not item:
            continue
        first = int(match.group(1))
        last = int(match.group(2)) if match.group(2) is not None else first
        if last < first:
            raise FilterError(f"the range {first}-{last} runs backwards")
        if last >= n:
            raise FilterError(f"{last} is not a test index: they run from 0 to {n - 1}")
        keep[first:last + 1] = True
    return np.flatnonzero(keep)


@dataclass(frozen=True)
class ValueRange:
    """`low <= value <= high` (None: open) for a per-image value ('neg_elbo'), a latent mean ('z3') or a
    numeric metadata column ('meta:age')."""

    value: str
    low: float | None = None
    high: float | None = None


@dataclass(frozen=True)
class OneOf:
    """A categorical metadata column ('meta:site') whose text is one of `values`."""

    column: str
    values: tuple[str, ...]


@dataclass(frozen=True)
class FilterSpec:
    """What a filter keeps; an empty field does not narrow (a default spec keeps every image)."""

    classes: tuple[int, ...] = ()
    ranges: tuple[ValueRange, ...] = ()
    indices: str = ""
    tags: tuple[str, ...] = ()
    selections: tuple[str, ...] = ()
    categories: tuple[OneOf, ...] = field(default=())

    def is_empty(self) -> bool:
        return not (self.classes or self.ranges or self.indices.strip() or self.tags or self.selections
                    or self.categories)


def value_options(latent_dim: int, per_image: dict | None, annotations: Annotations) -> list[str]:
    """Every value a range (or a colour scale) can be over: per-image values, latent means, numeric metadata."""
    numeric = [] if annotations.metadata is None else annotations.metadata.numeric_names()
    # colour_options begins with 'class', which is no value.
    return [*colour_options(latent_dim, per_image is not None)[1:], *(META_PREFIX + name for name in numeric)]


def value_label(name: str) -> str:
    """A value's name as a person reads it."""
    return f"metadata: {name[len(META_PREFIX):]}" if name.startswith(META_PREFIX) else option_label(name)


def values_of(name: str, mu: np.ndarray, per_image: dict | None, annotations: Annotations) -> np.ndarray | None:
    """(N,) the values of `name` over the test set (NaN where metadata has no row), or None when not there."""
    if name.startswith(META_PREFIX):
        if annotations.metadata is None:
            return None
        return numeric_values(annotations.metadata, name[len(META_PREFIX):], len(mu))
    return colour_values(name, mu, per_image)


def _groups(chosen: tuple[str, ...], groups: dict[str, np.ndarray], kind: str, n: int) -> np.ndarray:
    keep = np.zeros(n, dtype=bool)
    for name in chosen:
        if name not in groups:
            raise FilterError(f"there is no {kind} named '{name[:80]}'")
        keep[groups[name]] = True
    return keep


def filter_mask(spec: FilterSpec, labels: np.ndarray, mu: np.ndarray, per_image: dict | None,
                annotations: Annotations) -> np.ndarray:
    """(N,) bool: the test images `spec` keeps. Raises FilterError when a condition names what is not there."""
    n = len(labels)
    keep = np.ones(n, dtype=bool)
    if spec.classes:
        keep &= np.isin(labels, np.asarray(spec.classes, dtype=np.int64))
    for condition in spec.ranges:
        values = values_of(condition.value, mu, per_image, annotations)
        if values is None:
            raise FilterError(f"{value_label(condition.value)} is not available for this model")
        with np.errstate(invalid="ignore"):  # NaN compares False: a missing value never matches
            if condition.low is not None:
                keep &= values >= condition.low
            if condition.high is not None:
                keep &= values <= condition.high
            if condition.low is None and condition.high is None:
                keep &= ~np.isnan(values)
    indices = parse_indices(spec.indices, n)
    if indices is not None:
        inside = np.zeros(n, dtype=bool)
        inside[indices] = True
        keep &= inside
    if spec.tags:
        keep &= _groups(spec.tags, annotations.tags, "tag", n)
    if spec.selections:
        keep &= _groups(spec.selections, annotations.selections, "saved selection", n)
    for condition in spec.categories:
        column = condition.column[len(META_PREFIX):]
        text = None if annotations.metadata is None else category_values(annotations.metadata, column, n)
        if text is None:
            raise FilterError(f"the metadata has no text column '{column[:80]}'")
        keep &= np.isin(text, np.asarray(condition.values, dtype=object))
    return keep
