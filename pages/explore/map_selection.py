"""A box or lasso selection on the map: its images, classes, mean −ELBO and downloads."""

from __future__ import annotations

import hashlib
from functools import partial

import numpy as np
import plotly.graph_objects as go
import streamlit as st

from pages.explore.per_image import per_image
from ui import figures
from ui.text import plotly
from vae.bundle import Bundle
from vae.diagnostics.selection import (
    GRID_LIMIT,
    class_counts,
    mean_value,
    selection_csv,
    selection_npy,
)
from vae.media import to_pixels
from vae.models.inference import reconstruct
from vae.share.components import SELECTION_GRID_JS, component_js
from vae.share.site_data import class_colours

SELECTION_KEY = "map_selection"
TILE_PX = 56
GRID_COLUMNS = 10  # of the one picture the tiles travel in; the page lays them out to its width

# The tiles as one picture in the page's data, cut into captioned tiles in the browser (selection_grid.js).
_grid = st.components.v2.component("vae_lab.selection_grid", js=component_js(SELECTION_GRID_JS), isolate_styles=False)


def remember(indices: np.ndarray | None) -> None:
    """Keep a multi-point selection for the panel (None forgets it)."""
    # An array: a box over a million-point map holds hundreds of thousands (a list of ints is 4x larger).
    st.session_state[SELECTION_KEY] = None if indices is None else np.asarray(indices, dtype=np.int64)


def current(matching: np.ndarray | None = None) -> np.ndarray | None:
    """The map's latest multi-point selection, of the images the filter keeps (`matching`; None for all)."""
    stored = st.session_state.get(SELECTION_KEY)
    if stored is None or len(stored) == 0:
        return None
    indices = np.asarray(stored, dtype=np.int64)
    indices = indices if matching is None else indices[matching[indices]]
    return indices if len(indices) else None


def _histogram(bundle: Bundle, counts: np.ndarray) -> go.Figure:
    colours = class_colours(len(bundle.class_names))
    fig = go.Figure(go.Bar(x=[plotly(n) for n in bundle.class_names], y=counts, marker_color=colours))
    fig.update_layout(height=220, margin={"l": 10, "r": 10, "t": 30, "b": 10}, title="classes in the selection")
    return fig


def _tiles(bundle: Bundle, shown: np.ndarray, with_reconstructions: bool) -> np.ndarray:
    """(N, H, W[, 3]) uint8: each image, or each image, a white column and its reconstruction."""
    originals = to_pixels(bundle.images[shown])
    if not with_reconstructions:
        return originals
    reconstructions = reconstruct(bundle.model, bundle.images[shown])
    gap = np.full((*originals.shape[:2], 1, *originals.shape[3:]), 255, dtype=np.uint8)
    return np.concatenate([originals, gap, reconstructions], axis=2)


def _show_grid(tiles: np.ndarray, captions: list[str], width: int) -> None:
    """The tiles, `width` px wide each, captioned, as one component (one picture sent with the page)."""
    sprite = figures.png_data_uri(figures.image_grid(tiles, columns=GRID_COLUMNS, gap=0))
    grid_id = hashlib.sha256("\n".join([sprite, *captions]).encode()).hexdigest()[:16]
    _grid(key="selection-grid", data={"id": grid_id, "sprite": sprite,
                                      "columns": GRID_COLUMNS, "height": int(tiles.shape[1]),
                                      "width": int(tiles.shape[2]), "display_width": width, "captions": captions})


def panel(bundle: Bundle, matching: np.ndarray | None = None) -> None:
    """The latest box or lasso selection (as the filter leaves it): up to GRID_LIMIT images, class histogram,
    mean −ELBO, downloads."""
    indices = current(matching)
    if indices is None:
        return
    with st.container(key="selection-panel"):
        of_filter = "" if matching is None else " matching the filter"
        st.subheader(f"Selection: {len(indices):,} images{of_filter}")
        values = per_image(bundle)
        left, right = st.columns([1, 2])
        mean = mean_value(indices, None if values is None else values["neg_elbo"])
        left.metric("mean −ELBO (nats)", "…" if mean is None else f"{mean:.2f}")
        if values is not None:
            left.caption(f"whole test set: {values['neg_elbo'].mean():.2f}")
        # Made when clicked: a selection of a million codes is ~150 MB of CSV, kept per session if made eagerly.
        left.download_button("Indices and codes (CSV)", partial(selection_csv, indices, bundle.labels,
                                                                bundle.class_names, bundle.mu),
                             file_name="selection.csv", mime="text/csv", key="selection_csv")
        left.download_button("Indices and codes (NPY)", partial(selection_npy, indices, bundle.labels, bundle.mu),
                             file_name="selection.npy", mime="application/octet-stream", key="selection_npy")
        right.plotly_chart(_histogram(bundle, class_counts(indices, bundle.labels, len(bundle.class_names))),
                           key="selection-classes")
        with_reconstructions = st.toggle("Reconstructions beside the images", key="selection_recon")
        shown = indices[:GRID_LIMIT]
        more = f" (the first {GRID_LIMIT} by test index)" if len(indices) > GRID_LIMIT else ""
        st.caption(f"{len(shown)} of {len(indices):,} selected images{more}")
        width = TILE_PX * (2 if with_reconstructions else 1)
        _show_grid(_tiles(bundle, shown, with_reconstructions), [f"#{i}" for i in shown], width)
