"""The Latent plane page's parts: the plane chosen (axes, range, origin), its grid of decodes, the test codes
placed on it, and its downloads."""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from pathlib import Path

import numpy as np
import plotly.graph_objects as go
import streamlit as st

from ui import bundles, state
from ui.navigation import open_in_explorer
from ui.text import md, plotly
from ui.threads import on_worker
from vae.bundle import Bundle
from vae.latent.attributes import class_centroid, order_dimensions
from vae.latent.plane import (
    MAX_SCALE,
    MIN_SIDE,
    QUANTILES,
    Axis,
    Plane,
    centroid_axis,
    codes_npy,
    export_scales,
    latent_axis,
    max_side,
    picture,
    principal_axis,
    prior_offsets,
    sigma_offsets,
)
from vae.latent.selection import display_subset
from vae.media import png_bytes
from vae.share.site_data import class_colours

DEFAULT_SIDE = 15
DISPLAY_PX = 840  # the shown picture's width: cells scaled by a whole number up to it, so they stay sharp
PRINCIPAL = 4  # principal directions offered (at most the latent's dimension)
DRAWN = 10_000  # test codes drawn on the plane at most (a fixed sample beyond)
RANGES = {"prior": f"prior {QUANTILES[0]:.0%}–{QUANTILES[1]:.0%} quantiles", "sigma": "± k σ of the test codes"}
ORIGINS = ("zero", "current code", "class centroid")


@dataclass(frozen=True)
class Chosen:
    """A plane and the words that describe it."""

    plane: Plane
    axes: tuple[str, str]
    spread: str
    origin: str


def axis_choices(bundle: Bundle) -> dict[str, partial[Axis]]:
    """Every axis offered, by its label: each latent dimension, the first principal directions, and the
    direction from each class centroid (or map selection's mean code) to each other one."""
    dim = bundle.latent_dim
    choices = {f"latent dimension z{d}": partial(latent_axis, d, dim) for d in range(dim)}
    choices |= {f"principal direction {i + 1}": partial(principal_axis, bundle.mu, i)
                for i in range(min(dim, PRINCIPAL))}
    groups = state.named_groups(bundle.labels, bundle.class_names)
    choices |= {f"{a} → {b}": partial(centroid_axis, bundle.mu, groups[a], groups[b], f"{a} → {b}")
                for a in groups for b in groups if a != b}
    return choices


def _default_axes(bundle: Bundle) -> tuple[int, int]:
    """The two most informative latent dimensions, in order: z0 and z1 for a 2-D latent (the classic figure)."""
    informative, collapsed = order_dimensions(bundle.kl_per_dim)
    first, second = sorted((informative + collapsed)[:2])
    return first, second


def _origin(bundle: Bundle) -> tuple[np.ndarray, str]:
    """The code the dimensions off the plane stay at, and its name."""
    # A 2-D latent's plane is the whole latent: the classic figure is centred on zero.
    source = st.radio("Other dimensions at", ORIGINS, index=0 if bundle.latent_dim == 2 else 1, horizontal=True,
                      key="plane_origin", help="The code the plane goes through: the dimensions off the plane keep "
                                               "its values")
    if source == "zero":
        return np.zeros(bundle.latent_dim), "zero"
    if source == "current code":
        named = st.session_state.get("code_source") or "sliders"
        return state.current_code(bundle.latent_dim), f"the current code ({named})"
    present = [i for i, _ in enumerate(bundle.class_names) if np.any(bundle.labels == i)]
    label = st.selectbox("Class", present, format_func=lambda i: bundle.class_names[i], key="plane_origin_class")
    return class_centroid(bundle.mu, bundle.labels, label), f"the centroid of {bundle.class_names[label]}"


def choose(bundle: Bundle) -> Chosen | None:
    """The plane's controls; None (and why, shown) when the two axes span no plane."""
    if bundle.latent_dim < 2:
        st.info("A plane needs two latent dimensions: this model has one.")
        return None
    choices = axis_choices(bundle)
    labels = list(choices)
    first, second = _default_axes(bundle)
    across = st.selectbox("Across (columns)", labels, index=first, key="plane_axis_across")
    up = st.selectbox("Up (rows)", labels, index=second, key="plane_axis_up")
    kind = st.radio("Range", list(RANGES), format_func=RANGES.get, horizontal=True, key="plane_range",
                    help="The prior's quantiles space the cells by equal prior mass, as Kingma and Welling's "
                         "figure; ± k σ spans the test codes' own spread along each axis")
    k = st.slider("k", 0.5, 4.0, 2.0, step=0.25, key="plane_k") if kind == "sigma" else None
    largest = max_side(max(bundle.images.shape[-2:]))
    side = st.slider("Cells per side", MIN_SIDE, largest, min(DEFAULT_SIDE, largest), key="plane_side")
    origin, origin_name = _origin(bundle)
    try:
        axes = (choices[across](), choices[up]())
    except ValueError as exc:
        st.info(md(exc))
        return None
    if kind == "sigma":
        offsets = [sigma_offsets(bundle.mu, axis.vector, side, k) for axis in axes]
        range_name = f"± {k:g} σ of the test codes"
    else:
        offsets = [prior_offsets(side)] * 2
        range_name = RANGES["prior"]
    try:
        plane = Plane(origin, np.stack([axes[0].vector, axes[1].vector]), offsets[0], offsets[1])
    except ValueError as exc:
        st.info(f"Choose two different directions: {md(exc)}.")
        return None
    return Chosen(plane, (axes[0].name, axes[1].name), range_name, origin_name)


@st.cache_data(show_spinner=False, max_entries=8)
def plane_png(path: str, stamp: tuple, codes: np.ndarray, scale: int) -> bytes:
    """The grid's decodes as one PNG, each cell at the model's pixel size × scale."""
    model = bundles.get_bundle(Path(path)).model
    return png_bytes(on_worker(picture, model, codes, scale))


def display_scale(side: int, cell: int) -> int:
    return int(np.clip(DISPLAY_PX // (side * cell), 1, MAX_SCALE))


def grid(bundle: Bundle, chosen: Chosen) -> None:
    """The grid of decodes, its axes and ranges in the caption."""
    plane, (across, up) = chosen.plane, chosen.axes
    scale = display_scale(plane.side, max(bundle.images.shape[-2:]))
    st.image(plane_png(str(bundle.path), bundles.stamp(bundle), plane.codes(), scale), output_format="PNG",
             width="stretch")
    st.caption(f"Columns: {md(across)} from {plane.across[0]:+.2f} to {plane.across[-1]:+.2f}. Rows: {md(up)} from "
               f"{plane.up[-1]:+.2f} (top) to {plane.up[0]:+.2f} (bottom). Range: {md(chosen.spread)}; "
               f"{plane.side} × {plane.side} cells, every other dimension at {md(chosen.origin)}.")


def placed_codes(bundle: Bundle, chosen: Chosen) -> None:
    """The test codes projected on the plane, faint, with the grid's extent as a rectangle."""
    plane, (across, up) = chosen.plane, chosen.axes
    drawn = display_subset(len(bundle.mu), DRAWN)
    xy = plane.coordinates(bundle.mu[drawn])
    labels = bundle.labels[drawn]
    colours = class_colours(len(bundle.class_names))
    fig = go.Figure()
    for i, name in enumerate(bundle.class_names):
        members = labels == i
        if members.any():
            fig.add_trace(go.Scattergl(x=xy[members, 0], y=xy[members, 1], mode="markers", name=plotly(name),
                                       marker={"size": 3, "color": colours[i], "opacity": 0.25}, hoverinfo="name"))
    fig.add_shape(type="rect", x0=plane.across[0], x1=plane.across[-1], y0=plane.up[0], y1=plane.up[-1],
                  line={"color": "black", "width": 2})
    # One unit is as long across as up, so the plane's geometry (and the prior range's square) shows as it is.
    fig.update_layout(height=480, margin={"l": 10, "r": 10, "t": 30, "b": 10},
                      legend={"itemsizing": "constant", "orientation": "h", "y": -0.15},
                      title={"text": "Test codes on the plane; the grid's extent boxed", "font": {"size": 13}},
                      xaxis_title=plotly(across), yaxis={"title": plotly(up), "scaleanchor": "x"})
    st.plotly_chart(fig, key="plane_codes_map", width="stretch")


def downloads(bundle: Bundle, chosen: Chosen) -> None:
    """The picture as a PNG at a chosen scale and the grid's codes as NPY."""
    plane = chosen.plane
    codes = plane.codes()
    height, width = bundle.images.shape[-2:]
    scales = export_scales(plane.side, max(height, width))
    scale = st.radio("PNG scale", scales, index=min(1, len(scales) - 1), format_func=lambda s: f"{s}×",
                     horizontal=True, key="plane_png_scale")
    png = plane_png(str(bundle.path), bundles.stamp(bundle), codes, scale)
    st.download_button(f"PNG, {plane.side * width * scale} × {plane.side * height * scale} px", png,
                       file_name=f"{bundle.name}-plane-{plane.side}x{plane.side}-{scale}x.png", mime="image/png",
                       on_click="ignore", icon=":material/download:", width="stretch")
    st.download_button(f"Codes (NPY, {plane.side}×{plane.side}×{bundle.latent_dim})", codes_npy(codes),
                       file_name=f"{bundle.name}-plane-codes.npy", mime="application/octet-stream",
                       on_click="ignore", icon=":material/download:", width="stretch")


def load_cell(bundle: Bundle, chosen: Chosen) -> None:
    """Row and column of a cell, and a button that puts its code into the Explore sliders."""
    side = chosen.plane.side
    row_column, column_column = st.columns(2)
    row = row_column.number_input("Row (from the top)", 1, side, (side + 1) // 2, key="plane_cell_row")
    column = column_column.number_input("Column (from the left)", 1, side, (side + 1) // 2, key="plane_cell_column")
    if st.button("Load the cell into the sliders", key="plane-load-cell", width="stretch",
                 icon=":material/input:"):
        code = chosen.plane.codes()[row - 1, column - 1]
        open_in_explorer(bundle.name, code, f"latent plane, row {row}, column {column}")
