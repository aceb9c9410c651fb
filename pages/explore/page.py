"""Explore: the latent map, selection, inverse projection and live-decoding sliders; what the model fits badly."""

import streamlit as st

from pages.explore import (
    annotations_panel,
    explorer,
    filter_panel,
    image_grid,
    map_events,
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
# The map is the page's main object: most of the width, as tall as the window leaves it (map_events.map_area), its
# controls in two rows above it and the filter below; the decoded image and the sliders beside it, in a quarter
# of the width (at 1400 px as wide as the sliders need, with the page's side margins narrowed for the map).
map_events.widen_page()
map_column, side_column = st.columns([3, 1], gap="medium")
with map_column:
    # Three columns, each two controls high, so that every label shows whole at 1280 px (four were too narrow).
    choice, more, toggles = st.columns(3, vertical_alignment="bottom")
    with choice:
        projection = choose_projection(bundle)
    with more:
        tsne_map.offer(bundle)
        in_3d = view_3d.toggle(bundle, projection)
    view = map_view.controls(bundle, choice, toggles)
    explorer.follow_pending_umap(bundle)
    map_key = (view_3d.map_key if in_3d else explorer.map_key)(bundle, projection)
    map_view.colour_controls(bundle, projection, map_key, explorer.MAX_DRAWN, not in_3d)
    map_area = map_events.map_area()
    map_caption = st.empty()
    matching = filter_panel.panel(bundle)
    per_image.status_note(bundle)
explorer.apply_map_selection(bundle, projection, matching)
# The decoder goes out before the map: it is usable while the browser still loads Plotly.
with side_column:
    explorer.code_buttons(bundle)
    explorer.live_decoder(bundle, projection)
with map_area:
    caption = (view_3d.draw(bundle, projection, view) if in_3d else
               explorer.draw_map(bundle, projection, view, map_view.overlays(bundle, projection, view), matching))
map_caption.caption(caption)
explorer.selection_panel(bundle, projection)
if view.show_cloud and st.session_state.get("selected") is not None:
    posterior_cloud.strip(bundle, st.session_state["selected"])
map_selection.panel(bundle, matching)
annotations_panel.panel(bundle, map_selection.current(matching))
worst_fit.strip(bundle)
if view.show_prior:
    prior_holes.panel(bundle)
image_grid.grid(bundle, matching)
