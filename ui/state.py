"""Per-user state: the chosen bundle, the selected test index and the current latent code.

The same three live in the URL query parameters (`bundle`, `idx`, `z`), so a URL restores a view.
"""

from __future__ import annotations

import numpy as np
import streamlit as st

MAX_QUERY_Z = 512


def parse_code(text: str | None, latent_dim: int) -> np.ndarray | None:
    """A comma-separated latent code from the URL, or None when it is malformed."""
    if not text:
        return None
    try:
        values = np.array([float(v) for v in text.split(",")[:MAX_QUERY_Z + 1]], dtype=np.float32)
    except ValueError:
        return None
    if values.shape != (latent_dim,) or not np.isfinite(values).all():
        return None
    return np.clip(values, -10, 10)


def format_code(code: np.ndarray) -> str:
    return ",".join(f"{v:.3f}" for v in np.asarray(code, dtype=float))


def parse_index(text: str | None, n: int) -> int | None:
    """A test-set index from the URL, or None when it is not an integer in range."""
    try:
        index = int(text) if text is not None else None
    except ValueError:
        return None
    return index if index is not None and 0 <= index < n else None


def slider_key(dim: int) -> str:
    return f"z_{dim}"


def set_code(code: np.ndarray) -> None:
    """Load a latent code into the sliders (call before they are drawn, or from a callback)."""
    for dim, value in enumerate(np.asarray(code, dtype=float)):
        st.session_state[slider_key(dim)] = float(np.clip(round(value, 2), -3.0, 3.0))
    st.session_state["code_source"] = st.session_state.get("code_source", "")


def current_code(latent_dim: int) -> np.ndarray:
    return np.array([st.session_state.get(slider_key(d), 0.0) for d in range(latent_dim)], dtype=np.float32)


def sync_url(bundle_name: str, index: int | None, code: np.ndarray | None) -> None:
    """Write the shareable state into the query string (only what changed)."""
    wanted = {"bundle": bundle_name}
    if index is not None:
        wanted["idx"] = str(index)
    if code is not None:
        wanted["z"] = format_code(code)
    for key in ("idx", "z"):
        if key not in wanted and key in st.query_params:
            del st.query_params[key]
    for key, value in wanted.items():
        if st.query_params.get(key) != value:
            st.query_params[key] = value
