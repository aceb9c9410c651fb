"""The user's own metadata: a CSV of test index -> columns, read within bounds, never trusted.

The file comes from an upload, so its size is checked before a byte is decoded, then its rows, columns
and cells; every cell stays text (or becomes a float when a whole column is numbers). A bad file gets
one line saying why (MetadataError), never a traceback. The index column is `index` (else the first
column); its values must be distinct test indices.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass

import numpy as np

META_PREFIX = "meta:"  # a metadata column among the per-image values: 'meta:age'
MAX_BYTES = 20_000_000
MAX_ROWS = 1_000_000
MAX_COLUMNS = 50  # besides the index
MAX_CELL = 200  # characters of a cell or a column name
NUMBER = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$")  # no 'nan', 'inf' or '1_000'
NUMERIC, TEXT = "number", "text"


class MetadataError(ValueError):
    """A metadata file that cannot be used; the message is one line, for the page."""


@dataclass(frozen=True)
class Metadata:
    """Columns over the rows of `index` (distinct test indices): floats (NaN: empty) or text ('' : empty)."""

    file_name: str
    index: np.ndarray  # (R,) int64
    columns: dict[str, np.ndarray]  # name -> (R,) float64 or (R,) object of str

    def kind(self, name: str) -> str:
        return NUMERIC if self.columns[name].dtype.kind == "f" else TEXT

    def numeric_names(self) -> list[str]:
        return [name for name in self.columns if self.kind(name) == NUMERIC]

    def text_names(self) -> list[str]:
        return [name for name in self.columns if self.kind(name) == TEXT]


def _rows(data: bytes) -> list[list[str]]:
    if len(data) > MAX_BYTES:
        raise MetadataError(f"the file is {len(data):,} bytes, more than the {MAX_BYTES:,} allowed")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise MetadataError(f"the file is not UTF-8 text (byte {exc.start:,})") from None
    if "\x00" in text:
        raise MetadataError("the file holds NUL bytes: it is not a CSV")
    rows = []
    try:
        for row in csv.reader(io.StringIO(text, newline="")):
            if len(rows) > MAX_ROWS:
                raise MetadataError(f"the file has more than {MAX_ROWS:,} rows")
            if row:
                rows.append(row)
    except csv.Error as exc:
        raise MetadataError(f"the file is not a readable CSV: {str(exc)[:120]}") from None
    if len(rows) < 2:
        raise MetadataError("the file needs a header row and at least one row of values")
    return rows


def _header(row: list[str]) -> tuple[int, list[str]]:
    names = [name.strip() for name in row]
    if len(names) - 1 > MAX_COLUMNS:
        raise MetadataError(f"the file has {len(names) - 1} columns besides the index, more than {MAX_COLUMNS}")
    if len(names) < 2:
        raise MetadataError("the file needs an index column and at least one more column")
    for name in names:
        if not name or len(name) > MAX_CELL:
            raise MetadataError(f"every column needs a name of 1 to {MAX_CELL} characters")
    if len(set(names)) < len(names):
        raise MetadataError("two columns have the same name")
    lowered = [name.lower() for name in names]
    return (lowered.index("index") if "index" in lowered else 0), names


def _index(cells: list[str], n: int) -> np.ndarray:
    index = np.empty(len(cells), dtype=np.int64)
    for row, cell in enumerate(cells, start=2):
        cell = cell.strip()
        if not cell.isascii() or not cell.isdigit():
            raise MetadataError(f"row {row}: the index '{cell[:40]}' is not a whole number")
        if int(cell) >= n:
            raise MetadataError(f"row {row}: {cell[:20]} is not a test index (they run from 0 to {n - 1})")
        index[row - 2] = int(cell)
    unique, counts = np.unique(index, return_counts=True)
    if (counts > 1).any():
        raise MetadataError(f"the index {int(unique[counts > 1][0])} appears on more than one row")
    return index


def _column(cells: list[str]) -> np.ndarray:
    """Floats when every non-empty cell is a number (NaN for empty), else the text of every cell."""
    stripped = [cell.strip() for cell in cells]
    if any(stripped) and all(not cell or NUMBER.match(cell) for cell in stripped):
        values = np.array([float(cell) if cell else np.nan for cell in stripped], dtype=np.float64)
        if np.isfinite(values[~np.isnan(values)]).all():
            return values
    return np.array(stripped, dtype=object)


def read_metadata_csv(data: bytes, n: int, file_name: str = "metadata.csv") -> Metadata:
    """The metadata of a CSV upload for a test set of `n` images; MetadataError says why it cannot be used."""
    rows = _rows(data)
    at, names = _header(rows[0])
    for number, row in enumerate(rows[1:], start=2):
        if len(row) != len(names):
            raise MetadataError(f"row {number} has {len(row)} cells, the header {len(names)}")
        if any(len(cell) > MAX_CELL for cell in row):
            raise MetadataError(f"row {number} has a cell longer than {MAX_CELL} characters")
    index = _index([row[at] for row in rows[1:]], n)
    columns = {name: _column([row[c] for row in rows[1:]]) for c, name in enumerate(names) if c != at}
    return Metadata(file_name[:MAX_CELL], index, columns)


def numeric_values(metadata: Metadata, name: str, n: int) -> np.ndarray | None:
    """(n,) float64 of a numeric column over the test set (NaN where it has no row), or None."""
    if name not in metadata.columns or metadata.kind(name) != NUMERIC:
        return None
    values = np.full(n, np.nan)
    values[metadata.index] = metadata.columns[name]
    return values


def category_values(metadata: Metadata, name: str, n: int) -> np.ndarray | None:
    """(n,) object array of a text column's cells over the test set ('' where it has no row), or None."""
    if name not in metadata.columns or metadata.kind(name) != TEXT:
        return None
    values = np.full(n, "", dtype=object)
    values[metadata.index] = metadata.columns[name]
    return values
