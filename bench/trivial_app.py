"""The reference for bench/ui_latency.py: a slider in a fragment rendering a fixed-size image."""

import numpy as np
import streamlit as st


@st.fragment
def slider_to_image() -> None:
    value = st.slider("value", -3.0, 3.0, 0.0, step=0.05)
    grey = int((value + 3) / 6 * 255)
    st.image(np.full((224, 224), grey, dtype=np.uint8))


slider_to_image()
