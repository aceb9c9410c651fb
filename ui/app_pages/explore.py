"""Explore: the latent map, selection, inverse projection and live-decoding sliders."""

import streamlit as st

from ui import bundles, explorer

bundle = bundles.select_bundle()
if bundle is None:
    st.stop()
st.title("Explore the latent space")
explorer.restore_from_url(bundle)
map_column, side_column = st.columns([3, 2], gap="medium")
with map_column:
    projection = explorer.choose_projection(bundle)
    explorer.follow_pending_umap(bundle)
explorer.apply_map_selection(bundle, projection)
# The decoder goes out before the map: it is usable while the browser still loads Plotly.
with side_column:
    explorer.code_buttons(bundle)
    explorer.live_decoder(bundle, projection)
with map_column:
    explorer.draw_map(bundle, projection)
explorer.selection_panel(bundle)
