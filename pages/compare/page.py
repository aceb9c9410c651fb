"""Compare: two models on the same test set, side by side."""

import streamlit as st

from pages.compare import side_by_side
from ui import bundles, first_steps

a = bundles.select_bundle()
if a is None:
    first_steps.stop_without_bundle()
st.title("Compare two models")
b = side_by_side.choose_other(a)
if b is None:
    st.stop()
problem = side_by_side.test_set_problem(a, b)
if problem:
    st.error(f"Cannot compare these two models: {problem}.")
    st.stop()
side_by_side.maps(a, b)
st.subheader("Metrics")
side_by_side.metrics(a, b)
st.plotly_chart(side_by_side.kl_figure(a, b), key="compare-kl")
st.subheader("The same images, reconstructed by both")
side_by_side.reconstructions(a, b)
