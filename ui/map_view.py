"""The Explore map's controls: colour by class or a value, find a test image, overlays to show."""

from __future__ import annotations

from dataclasses import dataclass

import streamlit as st

from ui import posterior_cloud, prior_holes, state
from ui.map_figure import ColourScale
from ui.per_image import per_image
from vae.bundle import Bundle
from vae.diagnostics.colour import CLASS, CLIP_PERCENTILES, clipped_range, colour_options, colour_values, option_label

COLOUR_KEY = "colour_by"
CLIP_KEY = "colour_clip"
FIND_KEY = "find_index"


@dataclass(frozen=True)
class MapView:
    """What the map shows besides its points."""

    scale: ColourScale | None
    show_prior: bool
    show_cloud: bool


def _find(bundle: Bundle) -> None:
    index = st.session_state.get(FIND_KEY)
    if index is None or not 0 <= int(index) < len(bundle.mu):
        return
    st.session_state["selected"] = int(index)
    state.set_code(bundle.mu[int(index)], bundle.image_label(int(index)))


def _scale(bundle: Bundle, option: str, clip: bool) -> ColourScale | None:
    values = colour_values(option, bundle.mu, per_image(bundle))
    if values is None:
        return None
    low, high = clipped_range(values, CLIP_PERCENTILES if clip else None)
    return ColourScale(values, low, high, option_label(option))


def controls(bundle: Bundle) -> MapView:
    """Colour by, clip, find a test index, prior samples and posterior cloud toggles (one row)."""
    options = colour_options(bundle.latent_dim, per_image(bundle) is not None)
    if st.session_state.get(COLOUR_KEY) not in options:
        st.session_state[COLOUR_KEY] = CLASS
    colour_column, find_column, toggles = st.columns([2, 1, 2], vertical_alignment="bottom")
    option = colour_column.selectbox("Colour by", options, format_func=option_label, key=COLOUR_KEY)
    find_column.number_input(f"Find test # (0–{len(bundle.mu) - 1})", min_value=0, max_value=len(bundle.mu) - 1,
                             value=None, step=1, key=FIND_KEY, on_change=_find, args=(bundle,))
    show_prior = toggles.toggle("Prior samples", key="show_prior",
                                help="Codes drawn from the prior N(0, I), placed on the map like the current code")
    show_cloud = toggles.toggle("Posterior cloud", value=True, key="show_cloud",
                                help="Samples of q(z|x) for the selected image")
    clip = option != CLASS and st.checkbox(
        f"Clip the colour range to the {CLIP_PERCENTILES[0]:g}–{CLIP_PERCENTILES[1]:g}th percentile", value=True,
        key=CLIP_KEY)
    return MapView(_scale(bundle, option, clip), show_prior, show_cloud)


def overlays(bundle: Bundle, projection: str, view: MapView) -> list:
    """The traces drawn over the map's points: prior samples, the selected image's posterior cloud."""
    traces = []
    if view.show_prior:
        traces += prior_holes.overlay(bundle, projection)
    selected = st.session_state.get("selected")
    if view.show_cloud and selected is not None:
        traces.append(posterior_cloud.overlay(bundle, projection, selected))
    return traces
