"""A large map's view: a picture of every point under a bounded sample of WebGL points, per view.

Above the draw limit (`explorer.MAX_DRAWN` points) the Explore map shows two layers, both made for
the part of the map in view:
- the density picture (a Plotly layout image): every point, binned to pixels, coloured by the mix
  of classes or the mean of the chosen value (vae/latent/density.py);
- up to VIEW_POINTS points (WebGL, for hover and click): every point in view once few enough are, else
  those of lowest fixed random rank, so zooming in only adds points (`view_subset`).
Pan and zoom stay in the browser (Plotly moves the picture and the points at once); when a gesture
ends, the map's companion (components/map_events.js) sends the new view, its fragment makes the
view's layers (tens of milliseconds for a million points) and the companion swaps them in place.
"""

from __future__ import annotations

import base64
import hashlib
import io
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import streamlit as st
from PIL import Image
from plotly.colors import hex_to_rgb, sample_colorscale, unlabel_rgb

from ui import bundles, figures, state
from ui.map_figure import COLOUR_SCALE, ColourScale, colour_key
from vae.bundle import Bundle
from vae.latent.density import class_density, value_density
from vae.latent.selection import draw_priority, view_subset
from vae.share.components import base64_array
from vae.share.site_data import class_colours

# The points a large map draws over its picture: fewer than a map drawn in full (explorer.MAX_DRAWN),
# as the picture shows the rest and each pan or zoom redraws them all (WebGL in software, headless).
VIEW_POINTS = int(os.environ.get("VAE_LAB_VIEW_POINTS", "5000"))
PICTURE_PX = (640, 480)  # the density picture's width and height: about the map's size on screen
LUT_SIZE = 256
JPEG_QUALITY = 80
STATE = "view"  # the companion's state value: {"map": map key, "range": [x0, x1, y0, y1]}


@dataclass(frozen=True)
class Layers:
    """What a large map draws for one view: the points, the picture and its key."""

    key: str
    view: tuple[float, float, float, float]
    drawn: np.ndarray  # (M,) sorted point indices
    picture: str  # PNG data URI


def is_large(n: int, limit: int) -> bool:
    return n > limit


@st.cache_resource(show_spinner=False, max_entries=8)
def priority(path: str, stamp: tuple) -> np.ndarray:
    """Each point's fixed random rank (N,) int32: which points a view draws first."""
    return draw_priority(len(bundles.get_bundle(Path(path)).mu))


def base_sample(path: str, stamp: tuple, limit: int) -> np.ndarray:
    """The points drawn in the whole map's view, hence in every view that shows them (hover atlas)."""
    return np.flatnonzero(priority(path, stamp) < limit)


def current_view(bundle: Bundle, projection: str, map_key: str, companion: dict | None) -> tuple:
    """The view the companion reported for this map (finite, non-empty), else the whole map."""
    full = tuple(float(v) for v in figures.map_bounds(bundle.projections[projection]["xy"]))
    reported = (companion or {}).get(STATE)
    if not isinstance(reported, dict) or reported.get("map") != map_key:
        return full
    bounds = reported.get("range")
    if not (isinstance(bounds, list) and len(bounds) == 4 and all(isinstance(v, int | float) for v in bounds)):
        return full
    x0, x1, y0, y1 = (float(v) for v in bounds)
    if not np.isfinite([x0, x1, y0, y1]).all() or x1 <= x0 or y1 <= y0:
        return full
    return (x0, x1, y0, y1)


def _lut() -> np.ndarray:
    """The colour scale as a (LUT_SIZE, 3) table, as Plotly draws the points' colours."""
    colours = sample_colorscale(COLOUR_SCALE, list(np.linspace(0, 1, LUT_SIZE)))
    return np.array([unlabel_rgb(c) for c in colours], dtype=np.float64)


@st.cache_resource(show_spinner=False, max_entries=16)
def _layers(path: str, projection: str, stamp: tuple, view: tuple, limit: int, colour: str,
            hidden: tuple[int, ...], _scale: ColourScale | None) -> Layers:
    bundle = bundles.get_bundle(Path(path))
    xy, labels = bundle.projections[projection]["xy"], bundle.labels
    # The points keep the hidden classes (their traces are in the legend only: an empty trace would leave it).
    drawn = view_subset(xy, priority(path, stamp), view, limit)
    values = None if _scale is None else _scale.values
    if hidden:  # the picture shows the legend's visible classes
        shown = np.flatnonzero(~np.isin(labels, hidden))
        xy, labels, values = xy[shown], labels[shown], None if values is None else values[shown]
    width, height = PICTURE_PX
    if _scale is None:
        palette = np.array([hex_to_rgb(c) for c in class_colours(len(bundle.class_names))], dtype=np.float64)
        rgba = class_density(xy, labels, palette, view, width, height)
    else:
        rgba = value_density(xy, values, _scale.low, _scale.high, _lut(), view, width, height)
    key = hashlib.sha256(repr((path, projection, stamp, view, limit, colour, hidden)).encode()).hexdigest()[:16]
    return Layers(key, view, drawn, jpeg_data_uri(rgba))


def jpeg_data_uri(rgba: np.ndarray) -> str:
    """The picture over the map's white background as a JPEG data URI: ~50 kB where a PNG with its
    alpha is ~400 kB, sent with every view and every full rerun."""
    alpha = rgba[..., 3:4].astype(np.float32) / 255
    rgb = (rgba[..., :3] * alpha + 255 * (1 - alpha)).round().astype(np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(rgb).save(buffer, format="JPEG", quality=JPEG_QUALITY)
    return "data:image/jpeg;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def layers(bundle: Bundle, projection: str, view: tuple, limit: int, scale: ColourScale | None,
           hidden: frozenset[int] = frozenset()) -> Layers:
    """The picture and the points of a large map in `view`, without the classes the legend hides
    (made once per view, colouring and hidden classes)."""
    return _layers(str(bundle.path), projection, bundles.stamp(bundle), view, limit, colour_key(scale),
                   tuple(sorted(hidden)), scale)


def picture_image(layers: Layers) -> dict:
    """The density picture as a Plotly layout image, stretched over its view under the points."""
    x0, x1, y0, y1 = layers.view
    return {"source": layers.picture, "xref": "x", "yref": "y", "x": x0, "y": y1, "sizex": x1 - x0,
            "sizey": y1 - y0, "sizing": "stretch", "layer": "below", "xanchor": "left", "yanchor": "top"}


def browser_payload(bundle: Bundle, projection: str, layers: Layers) -> dict:
    """What the companion needs to swap a view's layers in place: points by class (with their codes as a click
    makes them current, float32: the browser decodes a clicked one at once), picture, click grid."""
    xy = bundle.projections[projection]["xy"]
    x0, x1, y0, y1 = layers.view
    grid = figures.click_grid(np.array([[x0, y0], [x1, y1]]))
    return {"key": layers.key, "image": picture_image(layers),
            "x": base64_array(xy[layers.drawn, 0], "float32"), "y": base64_array(xy[layers.drawn, 1], "float32"),
            "index": base64_array(layers.drawn, "int32"), "label": base64_array(bundle.labels[layers.drawn], "int32"),
            "codes": base64_array(state.kept_code(bundle.mu[layers.drawn]), "float32"),
            "grid_x": list(map(float, grid.x)), "grid_y": list(map(float, grid.y))}


def colour_key_for(scale: ColourScale | None, layers: Layers | None) -> str:
    """The map's `layout.meta.colour`: a large map's colours belong to one view's points too."""
    return colour_key(scale) if layers is None else f"{colour_key(scale)}@{layers.key}"


def show(fig, layers: Layers, scale: ColourScale | None) -> None:
    """Put a view's layers on a map figure from `map_figure.explore_map`: picture, ranges, click grid."""
    x0, x1, y0, y1 = layers.view
    grid = figures.click_grid(np.array([[x0, y0], [x1, y1]]))
    fig.data[0].update(x=grid.x, y=grid.y)
    for trace in fig.data:  # a class with no point in view: one empty point keeps it in the legend
        if trace.customdata is not None and len(trace.customdata) == 0:
            trace.update(x=[None], y=[None], customdata=[None])
    # No grid lines: over the picture they read as white streaks through the points.
    fig.update_layout(images=[picture_image(layers)], xaxis={"range": [x0, x1], "showgrid": False},
                      yaxis={"range": [y0, y1], "showgrid": False},
                      meta={"colour": colour_key_for(scale, layers), "detail": layers.key})
