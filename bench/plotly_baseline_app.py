"""A second reference for bench/ui_latency.py: the trivial app plus one Plotly chart of three points.

It shows what loading Plotly's JavaScript (~4.7 MB) costs before any data is drawn.
"""

import runpy
from pathlib import Path

import plotly.graph_objects as go
import streamlit as st

runpy.run_path(str(Path(__file__).with_name("trivial_app.py")))
st.plotly_chart(go.Figure(go.Scattergl(x=[0, 1, 2], y=[0, 1, 0], mode="markers")), key="map")
