"""The Explore map's browser companion: hover thumbnails, the legend's hidden classes, colours in place.

A small Streamlit v2 component (plain DOM, no iframe; components/map_events.js) listens to the map:
- hover: Plotly's hover label holds text only, so the component draws the hovered image beside the
  pointer from an atlas: one JPEG of the drawn images (~3 MB for 10,000 28×28 images), sent once,
  when the pointer first enters the map;
- legend clicks: which classes are hidden. Streamlit draws a changed figure as a new chart, which
  would show every class again, so the figure carries this state (and selections skip those classes);
- colours: told how to colour the map (map_view.py), it recolours the chart in place when the
  figure's `layout.meta.colour` says otherwise;
- the map's height: it makes the map's container (`map_area`) as tall as the window leaves it, and
  Streamlit draws the chart, which fills its container, at that height;
- clicks: with the browser's decoder (sent once the pointer first enters the map, as the sliders'
  is) and the drawn points' codes (with the hover atlas; a large map's view's with its points), a
  click on a point paints the point's decoded image at once, while Streamlit's rerun for the
  selection updates the rest of the page.
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
from streamlit.delta_generator import DeltaGenerator

from pages.explore import live_decoder, map_detail
from ui import bundles, figures, state
from vae.bundle import Bundle
from vae.media import to_pixels
from vae.share.components import MAP_EVENTS_JS, base64_array, component_js

KEY = "map-events"
WANTED_KEY = "map_atlas_wanted"
DECODER_WANTED_KEY = "map_decoder_wanted"
JPEG_QUALITY = 85
# The map's container (`map_area`), which map_events.js makes as tall as the window leaves it.
AREA_KEY = "explore-map-area"
AREA_PX = 620
# The page's side margins on Explore (Streamlit's wide layout leaves 5rem a side): each rem is the map's.
PAGE_MARGIN = "2rem"

_component = st.components.v2.component(
    "vae_lab.map_events", js=component_js(MAP_EVENTS_JS), isolate_styles=False)


def atlas(images: np.ndarray, indices: np.ndarray, atlas_id: str) -> dict:
    """The images at `indices` tiled row by row into one JPEG data URI, with the tile layout."""
    pixels = to_pixels(images[indices])
    columns = max(1, int(np.ceil(np.sqrt(len(indices)))))
    grid = figures.image_grid(pixels, columns=columns, gap=0)
    buffer = io.BytesIO()
    Image.fromarray(grid).save(buffer, format="JPEG", quality=JPEG_QUALITY)
    jpeg = buffer.getvalue()
    return {"id": atlas_id, "columns": columns, "height": int(pixels.shape[1]),
            "width": int(pixels.shape[2]), "jpeg": "data:image/jpeg;base64," + base64.b64encode(jpeg).decode(),
            "indices": base64_array(indices, "int32")}


def _atlas_id(path: str, stamp: tuple, limit: int) -> str:
    return hashlib.sha256(repr((path, stamp, limit)).encode()).hexdigest()[:16]


@st.cache_resource(show_spinner=False, max_entries=8)
def _atlas(path: str, stamp: tuple, limit: int) -> dict:
    """Built when a browser first asks for it, not on the first page load (~0.3 s for 10,000 images),
    with the codes of its images (float32, in its order, as a click makes them current: `state.kept_code`):
    a click on a drawn point decodes it at once.

    A large map's atlas holds the points its whole view draws: every view draws those it shows.
    """
    bundle = bundles.get_bundle(Path(path))
    n = len(bundle.images)
    large = map_detail.is_large(n, limit)
    indices = map_detail.base_sample(path, stamp, map_detail.VIEW_POINTS) if large else np.arange(n)
    return {**atlas(bundle.images, indices, _atlas_id(path, stamp, limit)),
            "codes": base64_array(state.kept_code(bundle.mu[indices]), "float32"), "dim": int(bundle.latent_dim)}


def _on_want(key: str) -> None:
    st.session_state[WANTED_KEY] = (st.session_state.get(key) or {}).get("want_atlas")


def _on_want_decoder(key: str) -> None:
    st.session_state[DECODER_WANTED_KEY] = (st.session_state.get(key) or {}).get("want_decoder")


def decoder(bundle: Bundle, projection: str) -> dict:
    """The browser's decoder for the companion (the decoded atlas's batches, a clicked point's image): its
    id (the sliders' decoder's: the browser builds it once) and onnxruntime-web's URL, None where that is
    not served; the decoder itself (`decoder`) once the companion has asked for it (trigger want_decoder)."""
    url = live_decoder.ort_url()
    if url is None:
        return {"decoder_id": None, "ort": None, "decoder": None}
    local_id, local = live_decoder.local_decoder(bundle, projection)
    payload = None
    if st.session_state.pop(DECODER_WANTED_KEY, None) == local_id:
        payload = {"id": local_id, **(local() or {"unusable": True})}
    return {"decoder_id": local_id, "ort": url, "decoder": payload}


def hidden_classes(n_classes: int) -> set[int]:
    """The classes the map's legend hides (an empty set until the browser says otherwise)."""
    hidden = (st.session_state.get(KEY) or {}).get("hidden")
    if not isinstance(hidden, list):
        return set()
    return {c for c in hidden if isinstance(c, int) and not isinstance(c, bool) and 0 <= c < n_classes}


def map_area() -> DeltaGenerator:
    """The container the map is drawn in, which it fills (and nothing else: its caption goes below): AREA_PX
    tall until the component fits it to the window."""
    return st.container(height=AREA_PX, border=False, key=AREA_KEY)


def widen_page() -> None:
    """Narrow the page's side margins to PAGE_MARGIN while Explore shows, so the map gets the width."""
    st.html(f"<style>[data-testid=stMainBlockContainer] {{ padding-left: {PAGE_MARGIN}; "
            f"padding-right: {PAGE_MARGIN}; }}</style>")


def listen(bundle: Bundle, projection: str, map_key: str, limit: int, colour: dict, detail: dict | None = None,
           decoded: dict | None = None) -> None:
    """Mount the component for the map with Streamlit key `map_key` (the atlas and the decoder go out once
    asked); `colour` is how to colour the map (map_view.py), `detail` a large map's layers for its view
    (map_detail.py), `decoded` the decoded atlas of its view (map_atlas.py). Call it inside a fragment:
    a legend click or a new view then reruns that fragment alone, and the next full run draws the same.
    """
    path, stamp = str(bundle.path), bundles.stamp(bundle)
    atlas_id = _atlas_id(path, stamp, limit)
    send = st.session_state.pop(WANTED_KEY, None) == atlas_id
    hidden = sorted(hidden_classes(len(bundle.class_names)))
    _component(key=KEY, data={"map_key": map_key, "area": AREA_KEY, "atlas_id": atlas_id,
                              "atlas": _atlas(path, stamp, limit) if send else None, "hidden": hidden,
                              "colour": colour, "detail": detail, "decoded": decoded, **decoder(bundle, projection)},
               default={"hidden": []}, on_want_atlas_change=partial(_on_want, KEY), on_hidden_change=lambda: None,
               on_view_change=lambda: None, on_want_decoder_change=partial(_on_want_decoder, KEY))
