"""Your image: encode an upload (or a test image), see it on the map, and let the VAE complete it."""

import streamlit as st

from pages.your_image import own_image
from ui import bundles, first_steps
from ui.projection import choose_projection

bundle = bundles.select_bundle()
if bundle is None:
    first_steps.stop_without_bundle()
st.title("Encode your own image")
pixels, name = own_image.image_source(bundle)
projection = choose_projection(bundle)
own_image.encode(bundle, pixels, name, projection)
st.subheader("Completion")
own_image.completion(bundle, pixels)
