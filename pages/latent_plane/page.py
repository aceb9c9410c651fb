"""Latent plane: a grid of decodes over two directions in latent space, the test codes on the plane, PNG and NPY."""

import streamlit as st

from pages.latent_plane import latent_plane
from ui import bundles, first_steps

bundle = bundles.select_bundle()
if bundle is None:
    first_steps.stop_without_bundle()
st.title("Latent plane")
controls, shown = st.columns([1, 2], gap="medium")
with controls:
    chosen = latent_plane.choose(bundle)
if chosen is None:
    st.stop()
with shown:
    latent_plane.grid(bundle, chosen)
    latent_plane.placed_codes(bundle, chosen)
with controls:
    latent_plane.downloads(bundle, chosen)
    latent_plane.load_cell(bundle, chosen)
