"""Reading the Plotly figures a page sent (AppTest): typed arrays and the map's point traces."""

from __future__ import annotations

import base64

import numpy as np


def decode(array) -> np.ndarray:
    """A Plotly typed array ({'bdata', 'dtype'}) or a plain list as NumPy."""
    if isinstance(array, dict):
        return np.frombuffer(base64.b64decode(array["bdata"]), array["dtype"])
    return np.asarray(array)


def point_traces(fig: dict) -> list[dict]:
    """The traces whose points carry their test index (the map's points, not its grid or overlays)."""
    return [t for t in fig["data"] if "customdata" in t]
