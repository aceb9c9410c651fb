"""The posterior cloud of the selected image: samples of q(z|x) on the map and decoded."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import plotly.graph_objects as go
import streamlit as st

from ui import bundles, figures
from vae.bundle import Bundle
from vae.diagnostics.posterior import posterior_samples
from vae.models.inference import decode

K = 64
STRIP = 16
CLOUD_COLOUR = "#ff7f0e"


def _codes(bundle: Bundle, index: int) -> np.ndarray:
    return posterior_samples(bundle.mu[index], bundle.logvar[index], K, seed=index)


@st.cache_resource(show_spinner=False, max_entries=64)
def _placed(path: str, projection: str, stamp: tuple, index: int) -> np.ndarray:
    bundle = bundles.get_bundle(Path(path))
    return bundles.forward_projector(path, projection, stamp).place_many(_codes(bundle, index))


def overlay(bundle: Bundle, projection: str, index: int) -> go.Scattergl:
    """K samples of q(z|x) for test image `index`, placed like the current code."""
    xy = _placed(str(bundle.path), projection, bundles.stamp(bundle), index)
    return go.Scattergl(x=xy[:, 0], y=xy[:, 1], mode="markers", name=f"posterior cloud of #{index}",
                        hovertemplate=f"sample of q(z|x) for #{index}<extra></extra>",
                        marker={"size": 6, "symbol": "diamond", "color": CLOUD_COLOUR,
                                "line": {"width": 0.5, "color": "#000"}})


@st.cache_resource(show_spinner=False, max_entries=64)
def _strip(path: str, stamp: tuple, index: int) -> np.ndarray:
    bundle = bundles.get_bundle(Path(path))
    return figures.image_grid(decode(bundle.model, _codes(bundle, index)[:STRIP], 2), columns=STRIP)


def strip(bundle: Bundle, index: int) -> None:
    """Decodings of the first samples of the cloud: what the model is unsure about for this image."""
    sigma = np.exp(0.5 * bundle.logvar[index])
    with st.container(key="posterior-cloud"):
        st.caption(f"posterior cloud: {STRIP} of {K} samples of q(z|x), decoded (mean σ {sigma.mean():.2f}; "
                   "the orange diamonds on the map)")
        st.image(_strip(str(bundle.path), bundles.stamp(bundle), index))
