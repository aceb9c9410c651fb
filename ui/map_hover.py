"""A thumbnail of the hovered test image beside the pointer on the Explore map.

Plotly's hover label holds text only, so a small Streamlit v2 component (plain DOM, no iframe;
map_hover.js) listens to the map's hover events and draws the image from an atlas: one JPEG of
the drawn images (~3 MB for 10,000 28×28 images), sent once, when the pointer first enters the map.
"""

from __future__ import annotations

import base64
import hashlib
import io
from functools import partial
from pathlib import Path

import numpy as np
import streamlit as st
from PIL import Image

from ui import bundles, figures
from vae.bundle import Bundle
from vae.latent.selection import display_subset
from vae.media import to_pixels

KEY = "map-hover"
WANTED_KEY = "map_hover_wanted"
JPEG_QUALITY = 85

_component = st.components.v2.component(
    "vae_lab.map_hover", js=(Path(__file__).parent / "map_hover.js").read_text(), isolate_styles=False)


def atlas(images: np.ndarray, indices: np.ndarray) -> dict:
    """The images at `indices` tiled row by row into one JPEG data URI, with the tile layout."""
    pixels = to_pixels(images[indices])
    columns = max(1, int(np.ceil(np.sqrt(len(indices)))))
    grid = figures.image_grid(pixels, columns=columns, gap=0)
    buffer = io.BytesIO()
    Image.fromarray(grid).save(buffer, format="JPEG", quality=JPEG_QUALITY)
    jpeg = buffer.getvalue()
    return {"id": hashlib.sha256(jpeg).hexdigest()[:16], "columns": columns, "height": int(pixels.shape[1]),
            "width": int(pixels.shape[2]), "jpeg": "data:image/jpeg;base64," + base64.b64encode(jpeg).decode(),
            "indices": base64.b64encode(np.ascontiguousarray(indices, dtype="<i4").tobytes()).decode()}


@st.cache_resource(show_spinner=False, max_entries=8)
def _atlas(path: str, stamp: tuple, limit: int) -> dict:
    bundle = bundles.get_bundle(Path(path))
    return atlas(bundle.images, display_subset(len(bundle.images), limit))


def _on_want(key: str) -> None:
    st.session_state[WANTED_KEY] = (st.session_state.get(key) or {}).get("want_atlas")


@st.fragment
def thumbnails(bundle: Bundle, map_key: str, limit: int) -> None:
    """Mount the hover thumbnail for the map with Streamlit key `map_key` (the atlas goes out once asked)."""
    built = _atlas(str(bundle.path), bundles.stamp(bundle), limit)
    send = st.session_state.pop(WANTED_KEY, None) == built["id"]
    _component(key=KEY, data={"map_key": map_key, "atlas_id": built["id"], "atlas": built if send else None},
               default={}, on_want_atlas_change=partial(_on_want, KEY))
