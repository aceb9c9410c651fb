"""A third reference for bench/ui_latency.py: the trivial app plus one WebGL Plotly chart of 10,000 points.

What a page with the explorer's map alone costs (the size of its drawn map) without PyTorch or the explorer.
"""

import runpy
from pathlib import Path

import numpy as np
import plotly.graph_objects as go
import streamlit as st

runpy.run_path(str(Path(__file__).with_name("trivial_app.py")))
xy = np.random.default_rng(0).normal(size=(10_000, 2))
st.plotly_chart(go.Figure(go.Scattergl(x=xy[:, 0], y=xy[:, 1], mode="markers", marker={"size": 3})), key="map")
