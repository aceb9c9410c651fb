"""Which of a bundle's 2-D maps a page draws: the chooser every page with a map shows."""

from __future__ import annotations

import streamlit as st

from vae.bundle import Bundle
from vae.share.site_data import PROJECTION_LABELS, PROJECTIONS


def choose_projection(bundle: Bundle) -> str:
    """Radio over the bundle's maps (UMAP first when it has one)."""
    available = [p for p in PROJECTIONS if p in bundle.projections]
    if len(available) == 1:
        return available[0]
    return st.radio("Map", available, format_func=PROJECTION_LABELS.get, horizontal=True, key="projection")
