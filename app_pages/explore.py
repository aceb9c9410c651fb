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
    explorer.draw_map(bundle, projection)
with side_column:
    explorer.live_decoder(bundle, projection)
explorer.selection_panel(bundle)
