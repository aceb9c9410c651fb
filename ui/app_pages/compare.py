"""Compare: two models on the same test set, side by side."""

import streamlit as st

from ui import bundles, compare

a = bundles.select_bundle()
if a is None:
    st.stop()
st.title("Compare two models")
b = compare.choose_other(a)
if b is None:
    st.stop()
problem = compare.test_set_problem(a, b)
if problem:
    st.error(f"Cannot compare these two models: {problem}.")
    st.stop()
compare.maps(a, b)
st.subheader("Metrics")
compare.metrics(a, b)
st.plotly_chart(compare.kl_figure(a, b), key="compare-kl")
st.subheader("The same images, reconstructed by both")
compare.reconstructions(a, b)
