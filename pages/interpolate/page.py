"""Interpolate: the decoded path between two codes, lerp or slerp, live t, PNG and GIF downloads."""

import streamlit as st

from pages.interpolate import interpolate
from ui import bundles, first_steps
from ui.projection import choose_projection
from vae.latent.paths import INTERPOLATIONS, path_codes

bundle = bundles.select_bundle()
if bundle is None:
    first_steps.stop_without_bundle()
st.title("Interpolate between two codes")
controls, map_column = st.columns([2, 3], gap="medium")
with map_column:
    projection = choose_projection(bundle)
interpolate.handle_map_click(bundle, projection)
with controls:
    a = interpolate.endpoint(bundle, "A", 0)
    b = interpolate.endpoint(bundle, "B", 1)
    method = st.radio("Path", INTERPOLATIONS, format_func=interpolate.METHOD_LABELS.get, horizontal=True,
                      key="interp_method", help=interpolate.METHOD_HELP)
    steps = st.slider("Frames", 2, 32, 10, key="interp_steps")
    interpolate.live_t(bundle, a.code, b.code, method)
codes = path_codes(a.code, b.code, steps, method)
with map_column:
    interpolate.path_map(bundle, projection, codes, a, b)
interpolate.strip(bundle, codes, method, (a.label, b.label))
