"""The app's pages, named once: their files (relative to ui/app.py), titles and icons, and moving between them."""

from __future__ import annotations

import numpy as np
import streamlit as st

from ui import state

EXPLORE = "app_pages/explore.py"
# (file, title, icon); the first page is the default one.
PAGES = [
    (EXPLORE, "Explore", ":material/map:"),
    ("app_pages/interpolate.py", "Interpolate", ":material/timeline:"),
    ("app_pages/generate.py", "Generate", ":material/auto_awesome:"),
    ("app_pages/own_image.py", "Your image", ":material/upload:"),
    ("app_pages/model.py", "Model card", ":material/badge:"),
    ("app_pages/compare.py", "Compare", ":material/compare:"),
    ("app_pages/train.py", "Train", ":material/model_training:"),
    ("app_pages/open_model.py", "Open a model", ":material/file_open:"),
]


def open_in_explorer(bundle_name: str, code: np.ndarray | None = None, source: str | None = None) -> None:
    """Switch to the Explore page on `bundle_name`, with `code` (when given) in its sliders."""
    if code is not None:
        state.set_code(code, source)
    st.switch_page(EXPLORE, query_params={"bundle": bundle_name})
