"""The percentile every bench reports: the nearest measured value, so a p95 is a time that happened."""

from __future__ import annotations


def percentile(values: list[float], q: float) -> float:
    """The value at fraction `q` (0-1) of the sorted values, nearest rank; NaN for no values."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))] if ordered else float("nan")
