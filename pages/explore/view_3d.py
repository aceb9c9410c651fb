"""The Explore map in 3-D, where the map has a third component (vae/latent/three_d.py: PCA's third axis,
a latent map's third dimension); a disabled toggle says why not elsewhere. It draws the points the 2-D
map would (at most MAX_DRAWN, or a large map's view points), coloured alike; clicking and selecting are
the 2-D map's, and the selected point and the current code are marked as there.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import streamlit as st

from pages.explore import map_detail, map_events, map_view
from pages.explore.explorer import MAX_DRAWN, place_of
from pages.explore.map_view import MapView
from ui import bundles, state
from ui.figures import AXIS_TITLES
from ui.map_figure import explore_map_3d
from vae.bundle import Bundle
from vae.latent.selection import display_subset
from vae.latent.three_d import has_third_component, points_3d, third_coordinate, third_principal_axis
from vae.share.site_data import PROJECTION_LABELS, class_colours

KEY = "map_3d"


def map_key(bundle: Bundle, projection: str) -> str:
    """The 3-D chart's key (its browser companion finds it by this, as the 2-D map's by explorer.map_key)."""
    return f"map3d-{bundle.name}-{projection}"


def toggle(bundle: Bundle, projection: str) -> bool:
    """Whether to draw the map in 3-D: a toggle, disabled (its help says why) where there is no third component."""
    if has_third_component(projection, bundle.latent_dim):
        return st.toggle("3-D view", key=KEY, help=f"The map with its third axis ({AXIS_TITLES[projection][2]})")
    if projection in ("pca", "latent"):
        why = f"a {bundle.latent_dim}-D latent has no third component"
    else:
        why = (f"the {PROJECTION_LABELS[projection]} map is fitted in two dimensions and no 3-component fit is "
               "stored; PCA has a 3-D view")
    st.toggle("3-D view", value=False, disabled=True, key=f"{KEY}-none", help=f"Not for this map: {why}.")
    return False


@st.cache_resource(show_spinner=False, max_entries=16)
def _pca_axis(path: str, stamp: tuple) -> tuple[np.ndarray, np.ndarray]:
    """The mean and third principal axis of a bundle's codes (a covariance of every code: once per bundle)."""
    return third_principal_axis(bundles.get_bundle(Path(path)).mu)


def draw(bundle: Bundle, projection: str, view: MapView) -> str:
    """The map's points in 3-D, coloured as the 2-D map (the colour controls recolour it in place); returns its
    caption, as `explorer.draw_map` does."""
    xy = bundle.projections[projection]["xy"]
    key = map_key(bundle, projection)
    layers = map_view.large_map_layers(bundle, projection, key, MAX_DRAWN, view.scale)
    drawn = (display_subset(len(xy), MAX_DRAWN, keep=st.session_state.get("selected")) if layers is None
             else layers.drawn)
    axis = _pca_axis(str(bundle.path), bundles.stamp(bundle)) if projection == "pca" else None
    xyz = points_3d(projection, xy, bundle.mu, drawn, axis)
    selected = st.session_state.get("selected")
    code = state.current_code(bundle.latent_dim)
    current = None
    if code.any():  # where the 2-D map marks it, and its own third coordinate
        third = third_coordinate(projection, code[None], np.array([0]), axis)[0]
        current = (*place_of(bundle, projection, code), third)
    n_classes = len(bundle.class_names)
    fig = explore_map_3d(xyz, bundle.labels, bundle.class_names, class_colours(n_classes), drawn,
                         AXIS_TITLES[projection], view.scale, frozenset(map_events.hidden_classes(n_classes)),
                         selected=None if selected is None else
                         points_3d(projection, xy, bundle.mu, np.array([selected]), axis)[0].tolist(),
                         current=current)
    if layers is not None:  # the companion's view points: it recolours these and swaps nothing in
        fig.update_layout(meta={"colour": map_detail.colour_key_for(view.scale, layers), "detail": layers.key})
    st.plotly_chart(fig, key=key, height="stretch", config={"displaylogo": False})
    return (f"{len(drawn):,} of {len(xy):,} images in 3-D · {PROJECTION_LABELS[projection]} · drag to turn, "
            "scroll to zoom. The selected point and the current code are marked; clicking and selecting work on "
            "the 2-D map only.")
