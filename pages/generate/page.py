"""Generate: samples from the prior, traversals of the most informative dimensions, attribute directions."""

import streamlit as st

from pages.generate import generate
from ui import bundles, first_steps

bundle = bundles.select_bundle()
if bundle is None:
    first_steps.stop_without_bundle()
st.title("Generate")
samples, traversal, attribute = st.tabs(["Samples from the prior", "Traversals", "Attribute directions"])
with samples:
    generate.prior_samples(bundle)
with traversal:
    generate.traversals(bundle)
with attribute:
    generate.attributes(bundle)
