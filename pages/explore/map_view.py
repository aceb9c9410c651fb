"""The Explore map's controls: colour by class or a value, find a test image, overlays to show.

Colour by and its clip run in a fragment: changing them reruns that fragment alone, and the
browser recolours the map in place (map_events). As a full rerun they would re-send the map,
which Streamlit draws as a new chart (its element id hashes the figure): ~2 s against ~0.5 s here.
The next full rerun draws the figure in the same colours, so nothing changes on screen then.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import streamlit as st

from pages.explore import map_atlas, map_detail, map_events, posterior_cloud, prior_holes, user_annotations
from pages.explore.per_image import per_image
from ui import state
from ui.map_figure import ColourScale, coloraxis, hover_template
from vae.bundle import Bundle
from vae.diagnostics.colour import CLASS, CLIP_PERCENTILES, clipped_range, colour_options, colour_values, option_label
from vae.diagnostics.filters import value_label
from vae.diagnostics.metadata import META_PREFIX, category_values, numeric_values
from vae.share.components import base64_array
from vae.share.site_data import class_colours

COLOUR_KEY = "colour_by"
CLIP_KEY = "colour_clip"
FIND_KEY = "find_index"
MAX_CATEGORIES = 25  # distinct texts of a metadata column the map can colour by


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


def _options(bundle: Bundle) -> list[str]:
    """Class, the per-image values, the latent means, then the user's metadata columns: numbers, and
    texts of at most MAX_CATEGORIES distinct values."""
    metadata = user_annotations.annotations(bundle).metadata
    columns = [] if metadata is None else [*metadata.numeric_names(), *(
        name for name in metadata.text_names() if len(set(metadata.columns[name])) < MAX_CATEGORIES)]
    return [*colour_options(bundle.latent_dim, per_image(bundle) is not None), *(META_PREFIX + c for c in columns)]


def _metadata_scale(bundle: Bundle, option: str, clip: bool) -> ColourScale | None:
    """A metadata column's colours: a scale for numbers, a colour per text ('(no value)' where it has no row)."""
    metadata, column = user_annotations.annotations(bundle).metadata, option[len(META_PREFIX):]
    if metadata is None or column not in metadata.columns:
        return None
    numbers = numeric_values(metadata, column, len(bundle.mu))
    if numbers is not None:
        return ColourScale(numbers, *clipped_range(numbers, CLIP_PERCENTILES if clip else None), value_label(option))
    categories, codes = np.unique(category_values(metadata, column, len(bundle.mu)).astype(str), return_inverse=True)
    names = tuple(c or "(no value)" for c in categories)
    return ColourScale(codes.astype(np.float32), -0.5, len(names) - 0.5, value_label(option), names)


def scale(bundle: Bundle) -> ColourScale | None:
    """The colour scale the controls ask for (None: colour by class)."""
    option = st.session_state.get(COLOUR_KEY, CLASS)
    if option.startswith(META_PREFIX):
        return _metadata_scale(bundle, option, st.session_state.get(CLIP_KEY, True))
    values = colour_values(option, bundle.mu, per_image(bundle))
    if values is None:
        return None
    clip = st.session_state.get(CLIP_KEY, True)
    low, high = clipped_range(values, CLIP_PERCENTILES if clip else None)
    return ColourScale(values, low, high, option_label(option))


def _browser_colour(chosen: ColourScale | None, n_classes: int, layers: map_detail.Layers | None) -> dict:
    """What map_events.js needs to recolour the map in place, keyed as the figure's layout.meta: the
    value of every point, or of the points a large map draws in its view (`index`)."""
    colours = {"key": map_detail.colour_key_for(chosen, layers), "hovertemplate": hover_template(chosen),
               "class_colours": class_colours(n_classes)}
    if chosen is not None:
        values = chosen.values if layers is None else chosen.values[layers.drawn]
        colours.update(values=base64_array(values, "float32"), coloraxis=coloraxis(chosen))
        if layers is not None:
            colours["index"] = base64_array(layers.drawn, "int32")
    return colours


def large_map_layers(bundle: Bundle, projection: str, map_key: str, limit: int,
                     chosen: ColourScale | None) -> map_detail.Layers | None:
    """A large map's layers for the view its companion reported (None for a map drawn in full)."""
    xy = bundle.projections[projection]["xy"]
    if not map_detail.is_large(len(xy), limit):
        return None
    view = map_detail.current_view(bundle, projection, map_key, st.session_state.get(map_events.KEY))
    hidden = frozenset(map_events.hidden_classes(len(bundle.class_names)))
    return map_detail.layers(bundle, projection, view, map_detail.VIEW_POINTS, chosen, hidden)


@st.fragment
def colour_controls(bundle: Bundle, projection: str, map_key: str, limit: int, flat: bool = True) -> None:
    """Colour by and clip beside the decoded atlas (one row), and the map's browser companion, which applies
    them in place (and, on a large map, swaps in each view's picture and points); `flat`: a 2-D map (the
    atlas is for those)."""
    options = _options(bundle)
    if st.session_state.get(COLOUR_KEY) not in options:
        st.session_state[COLOUR_KEY] = CLASS
    # Wide enough at 1280 px for every label whole (tests/browser/test_hardening.py): the atlas's opacity goes
    # below its mode, not beside it.
    colour_column, clip_column, atlas_column = st.columns([3, 5, 5], vertical_alignment="bottom")
    option = colour_column.selectbox("Colour by", options, format_func=value_label, key=COLOUR_KEY)
    low, high = CLIP_PERCENTILES
    clip_column.checkbox(f"Clip to {low:g}–{high:g}th percentile", value=True, key=CLIP_KEY, disabled=option == CLASS,
                         help=f"Values below the {low:g}th or above the {high:g}th percentile take the end colours, "
                              "so a few outliers do not wash out the scale")
    mode, opacity = map_atlas.controls(atlas_column, flat)
    chosen = scale(bundle)
    layers = large_map_layers(bundle, projection, map_key, limit, chosen)
    detail = None if layers is None else map_detail.browser_payload(bundle, projection, layers)
    decoded = map_atlas.payload(bundle, projection, map_key, st.session_state.get(map_events.KEY), mode, opacity)
    colour = _browser_colour(chosen, len(bundle.class_names), layers)
    map_events.listen(bundle, projection, map_key, limit, colour, detail, decoded)


def controls(bundle: Bundle, find_column, toggles) -> MapView:
    """Find a test index and the prior samples and posterior cloud toggles (in the two columns given), and
    the colour scale."""
    find_column.number_input(f"Find test # (0–{len(bundle.mu) - 1})", min_value=0, max_value=len(bundle.mu) - 1,
                             value=None, step=1, key=FIND_KEY, on_change=_find, args=(bundle,))
    show_prior = toggles.toggle("Prior samples", key="show_prior",
                                help="Codes drawn from the prior N(0, I), placed on the map like the current code")
    show_cloud = toggles.toggle("Posterior cloud", value=True, key="show_cloud",
                                help="Samples of q(z|x) for the selected image")
    return MapView(scale(bundle), show_prior, show_cloud)


def overlays(bundle: Bundle, projection: str, view: MapView) -> list:
    """The traces drawn over the map's points: prior samples, the selected image's posterior cloud."""
    traces = []
    if view.show_prior:
        traces += prior_holes.overlay(bundle, projection)
    selected = st.session_state.get("selected")
    if view.show_cloud and selected is not None:
        traces.append(posterior_cloud.overlay(bundle, projection, selected))
    return traces
