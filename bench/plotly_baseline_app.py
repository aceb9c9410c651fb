"""A second reference for bench/ui_latency.py: the trivial app plus one Plotly chart of three points.

It shows what loading Plotly's JavaScript (~4.7 MB) costs before any data is drawn.
"""

import numpy as np
import plotly.graph_objects as go
import streamlit as st


@st.fragment
def slider_to_image() -> None:
    value = st.slider("value", -3.0, 3.0, 0.0, step=0.05)
    grey = int((value + 3) / 6 * 255)
    st.image(np.full((224, 224), grey, dtype=np.uint8))


slider_to_image()
st.plotly_chart(go.Figure(go.Scattergl(x=[0, 1, 2], y=[0, 1, 0], mode="markers")), key="map")
