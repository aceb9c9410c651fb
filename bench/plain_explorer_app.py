"""The cold-start anchor for bench/ui_latency.py: the explorer a person writes in an afternoon.

Plain PyTorch, Plotly and `st.image` on the shipped z16 bundle: the model built and its weights
loaded (cached), the stored UMAP map of the 10,000 test codes drawn whole, and a slider per latent
dimension whose code the server decodes into an image. No browser decoder, no checks.
"""

import json
from pathlib import Path

import numpy as np
import plotly.graph_objects as go
import streamlit as st
import torch
from safetensors.torch import load_file

from vae.models import build_model, config_from_dict

BUNDLE = Path(__file__).resolve().parent.parent / "checkpoints" / "fashion-mnist-conv-z16"


@st.cache_resource
def load():
    config = json.loads((BUNDLE / "config.json").read_text())
    model = build_model(config_from_dict(config["model"]))
    model.load_state_dict(load_file(BUNDLE / "model.safetensors"))
    model.eval()
    latents = np.load(BUNDLE / "latents.npz")
    return model, latents["labels"], np.load(BUNDLE / "projection_umap.npz")["xy"]


model, labels, xy = load()
st.title("Plain explorer")
left, right = st.columns(2)
left.plotly_chart(go.Figure(go.Scattergl(x=xy[:, 0], y=xy[:, 1], mode="markers",
                                         marker={"size": 3, "color": labels, "colorscale": "Turbo"})), key="map")


@st.fragment
def sliders() -> None:
    code = [st.slider(f"z{d}", -3.0, 3.0, 0.0, step=0.05) for d in range(model.latent_dim)]
    with torch.no_grad():
        image = model.decode(torch.tensor([code])).numpy()[0, 0]
    st.image((image * 255).astype(np.uint8), width=224)


with right:
    sliders()
