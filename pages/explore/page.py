"""Explore: the latent map, selection, inverse projection and live-decoding sliders; what the model fits badly."""

import streamlit as st

from pages.explore import (
    annotations_panel,
    explorer,
    filter_panel,
    image_grid,
    map_selection,
    map_view,
    per_image,
    posterior_cloud,
    prior_holes,
    tsne_map,
    view_3d,
    worst_fit,
)
from ui import bundles, first_steps
from ui.projection import choose_projection

bundle = bundles.select_bundle()
if bundle is None:
    first_steps.stop_without_bundle()
st.title("Explore the latent space")
explorer.restore_from_url(bundle)
map_column, side_column = st.columns([3, 2], gap="medium")
with map_column:
    # The map's choice beside its t-SNE button and the 3-D switch: the map stays high on the page.
    choice, more = st.columns([3, 2], vertical_alignment="bottom")
    with choice:
        projection = choose_projection(bundle)
    with more:
        tsne_map.offer(bundle)
        in_3d = view_3d.toggle(bundle, projection)
    explorer.follow_pending_umap(bundle)
    map_key = (view_3d.map_key if in_3d else explorer.map_key)(bundle, projection)
    map_view.colour_controls(bundle, projection, map_key, explorer.MAX_DRAWN)
    view = map_view.controls(bundle)
    matching = filter_panel.panel(bundle)
    per_image.status_note(bundle)
explorer.apply_map_selection(bundle, projection, matching)
# The decoder goes out before the map: it is usable while the browser still loads Plotly.
with side_column:
    explorer.code_buttons(bundle)
    explorer.live_decoder(bundle, projection)
with map_column:
    if in_3d:
        view_3d.draw(bundle, projection, view)
    else:
        explorer.draw_map(bundle, projection, view, map_view.overlays(bundle, projection, view), matching)
explorer.selection_panel(bundle, projection)
if view.show_cloud and st.session_state.get("selected") is not None:
    posterior_cloud.strip(bundle, st.session_state["selected"])
map_selection.panel(bundle, matching)
annotations_panel.panel(bundle, map_selection.current(matching))
worst_fit.strip(bundle)
if view.show_prior:
    prior_holes.panel(bundle)
image_grid.grid(bundle, matching)
