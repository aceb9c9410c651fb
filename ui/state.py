"""Per-user state: the chosen bundle, the selected test index and the current latent code.

The same three live in the URL query parameters (`bundle`, `idx`, `z`), so a URL restores a view.
The current code is kept under its own key, not in a widget's: every page reads and sets it, and
the Explore page's sliders (pages/explore/live_decoder.py) only draw it and report moves.
"""

from __future__ import annotations

import numpy as np
import streamlit as st

from vae.share.site_data import SLIDER_LIMIT

MAX_QUERY_Z = 512
CODE_DECIMALS = 2  # a current code is kept (and shown) to two decimals
CODE_KEY = "code"
PLACE_KEY = "code_place"
# Per-bundle keys, dropped when the user switches bundle.
BUNDLE_KEYS = (CODE_KEY, PLACE_KEY, "selected", "code_source", "groups", "map_selection", "worst_pick", "find_index",
               "compare_selected")


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


def parse_values(values: object, latent_dim: int) -> np.ndarray | None:
    """A latent code sent by the browser (a list of numbers), or None when it is malformed."""
    if not isinstance(values, list) or len(values) != latent_dim:
        return None
    if not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values):
        return None
    code = np.array(values, dtype=np.float32)
    return code if np.isfinite(code).all() else None


def parse_index(text: str | None, n: int) -> int | None:
    """A test-set index from the URL, or None when it is not an integer in range."""
    try:
        index = int(text) if text is not None else None
    except ValueError:
        return None
    return index if index is not None and 0 <= index < n else None


def kept_code(code: np.ndarray) -> np.ndarray:
    """`code` (or codes, one a row) as the app keeps a current code: rounded to CODE_DECIMALS, clipped to
    what the sliders can show. The browser gets the map's codes kept so (map_events.py), and decodes a
    clicked point's code as the rerun will set it."""
    return np.clip(np.round(np.asarray(code, dtype=np.float64), CODE_DECIMALS), -SLIDER_LIMIT, SLIDER_LIMIT)


def set_code(code: np.ndarray, source: str | None = None, place: tuple[str, float, float] | None = None) -> None:
    """Make `code` the current code, rounded and clipped to what the sliders can show (`kept_code`); `place`
    (projection, x, y): the map position it was decoded from, where the map marks it while it is current."""
    values = [float(v) for v in kept_code(code).ravel()]
    st.session_state[CODE_KEY] = values
    st.session_state[PLACE_KEY] = None if place is None else (*place, values)
    if source is not None:
        st.session_state["code_source"] = source


def code_place(projection: str, code: np.ndarray) -> tuple[float, float] | None:
    """Where on the map `projection` the current code was decoded from, while it is still `code`."""
    kept = st.session_state.get(PLACE_KEY)
    if kept is None or kept[0] != projection or len(kept[3]) != np.size(code):
        return None
    if not np.array_equal(np.asarray(kept[3], dtype=np.float32), np.asarray(code, dtype=np.float32).ravel()):
        return None
    return kept[1], kept[2]


def current_code(latent_dim: int) -> np.ndarray:
    """The current latent code (zeros until something sets one)."""
    stored = st.session_state.get(CODE_KEY)
    if stored is None or len(stored) != latent_dim:
        return np.zeros(latent_dim, dtype=np.float32)
    return np.asarray(stored, dtype=np.float32)


def remember_group(indices: np.ndarray, label: str) -> None:
    """Keep the two latest multi-point map selections (for attribute directions)."""
    groups = [g for g in st.session_state.get("groups", []) if g["label"] != label][-1:]
    st.session_state["groups"] = [*groups, {"label": label, "indices": np.asarray(indices, dtype=np.int64)}]


def named_groups(labels: np.ndarray, class_names: list[str]) -> dict[str, np.ndarray]:
    """Named sets of test indices for attribute directions: every class that has test images, then the
    latest map selections (`remember_group`)."""
    members = {f"class: {name}": np.flatnonzero(labels == i) for i, name in enumerate(class_names)}
    groups = {name: indices for name, indices in members.items() if len(indices)}
    for group in st.session_state.get("groups", []):
        groups[group["label"]] = np.asarray(group["indices"])
    return groups


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
