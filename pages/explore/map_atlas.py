"""The Explore map's decoded atlas: its controls, and each view's cells for the browser (components/map_atlas.js).

The view's cells (square on screen) and their codes are made here, because the map's inverse projection (Delaunay
triangles of the test codes) lives in Python; the browser decodes them in one batch with
onnxruntime-web once it has the decoder (the sliders' payload, shared by id), and until then draws
the same cells decoded here (`picture`). When a pan or zoom ends the companion reports the view
(map_events.js), the colour fragment reruns and the new view's cells go out.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import streamlit as st

from pages.explore import live_decoder, map_detail
from ui import bundles, figures
from ui.threads import on_worker
from vae.bundle import Bundle
from vae.latent.atlas import AtlasGrid, atlas_grid, data_spacing, grid_for
from vae.latent.plane import tile
from vae.models.inference import decode
from vae.share.components import base64_array

MODE_KEY = "atlas_mode"
OPACITY_KEY = "atlas_opacity"
# How the atlas lies on the map: off, under the points, or over them (instead of them at full opacity).
MODES = ("off", "under", "over")


def controls(column, flat: bool) -> tuple[str, float]:
    """The atlas's mode and, below it while the atlas is on, its opacity, in `column` (beside colour by, in the
    colour fragment: a change reruns it alone); off on a 3-D view (not `flat`)."""
    mode = column.segmented_control(
        "Decoded atlas", MODES, default="off", key=MODE_KEY, disabled=not flat,
        help="A grid of images decoded over the map's view, each cell from its centre's code (the map's inverse "
             "projection): zoom in for finer steps. Cells far from every test point are dimmed and outlined: "
             "the decoder extrapolates there. Under the points, or over them (instead of them at full opacity). "
             "Click a cell to load its code into the sliders (under the points, a click on a point still "
             "selects its image).") or "off"
    mode = mode if flat else "off"
    if mode == "off":  # no slider then: the page's first slider stays the live decoder's
        return mode, 0.0
    return mode, column.slider("Atlas opacity", 0.1, 1.0, 0.8, step=0.05, key=OPACITY_KEY)


@st.cache_resource(show_spinner=False, max_entries=16)
def _spacing(path: str, projection: str, stamp: tuple) -> float:
    return data_spacing(bundles.inverse_projector(path, projection, stamp).tree)


@st.cache_resource(show_spinner=False, max_entries=32)
def _grid(path: str, projection: str, stamp: tuple, view: tuple, shape: tuple[int, int]) -> AtlasGrid:
    inverse = bundles.inverse_projector(path, projection, stamp)
    return atlas_grid(inverse, view, *shape, _spacing(path, projection, stamp))


@st.cache_resource(show_spinner=False, max_entries=8)
def _picture(path: str, projection: str, stamp: tuple, view: tuple, shape: tuple[int, int]) -> str:
    """The cells decoded here, tiled row by row with no gaps (vae.latent.plane.tile), as a PNG data URI."""
    grid = _grid(path, projection, stamp, view, shape)
    pixels = on_worker(decode, bundles.get_bundle(Path(path)).model, grid.codes)
    return figures.png_data_uri(tile(pixels, grid.rows, grid.columns))


def reported(companion: dict | None, map_key: str) -> tuple[tuple[float, float], bool] | None:
    """The map's plot area in screen pixels and whether the browser decodes, as the companion last
    reported them for this map; None before it has."""
    view = (companion or {}).get(map_detail.STATE)
    if not isinstance(view, dict) or view.get("map") != map_key:
        return None
    size = view.get("size")
    if not (isinstance(size, list) and len(size) == 2 and all(isinstance(v, int | float) and v > 0 for v in size)):
        return None
    return (float(size[0]), float(size[1])), view.get("decoder") is True


def payload(bundle: Bundle, projection: str, map_key: str, companion: dict | None, mode: str,
            opacity: float) -> dict | None:
    """What map_atlas.js draws: the view's cells (centres, codes, far from data), and the server's decodes
    while the browser has no decoder (the companion's: map_events.decoder)."""
    if mode == "off":
        return None
    out = {"mode": mode, "opacity": opacity, "cells": None}
    seen = reported(companion, map_key)
    if seen is None:  # the browser reports the map's size first: a cell's size on screen sets the grid
        return out
    (width, height), browser_decodes = seen
    view = map_detail.current_view(bundle, projection, map_key, companion)
    key = (str(bundle.path), projection, bundles.stamp(bundle), view, grid_for(width, height))
    grid = _grid(*key)
    channels, rows, columns = bundle.model.config.input_shape
    out["cells"] = {
        "key": hashlib.sha256(repr(key).encode()).hexdigest()[:16], "view": list(grid.view),
        "columns": grid.columns, "rows": grid.rows,
        "dim": bundle.latent_dim,
        "x": grid.centres[:, 0].tolist(), "y": grid.centres[:, 1].tolist(),
        "codes": base64_array(grid.codes, "float32"), "far": grid.far.astype(np.int32).tolist(),
        "image_shape": [channels, rows, columns],
        "picture": None if browser_decodes and live_decoder.ort_url() else _picture(*key)}
    return out
