"""Every test image in a grid, like a data explorer's table: sorted by a per-image value, filtered by
class or by the map's selection, a page at a time."""

from __future__ import annotations

import numpy as np
import streamlit as st

from pages.explore import map_selection
from pages.explore.per_image import per_image
from ui.text import md
from vae.bundle import Bundle
from vae.diagnostics.per_image import LABELS
from vae.diagnostics.selection import browse
from vae.media import to_pixels

PAGE_SIZE = 60
TILE_PX = 56
BY_INDEX = "test index"


def grid(bundle: Bundle, matching: np.ndarray | None = None) -> None:
    """A switch, then the grid's controls and one page of it (nothing is drawn while it is off), of the
    images the filter keeps (`matching`; None for all)."""
    if not st.toggle("All test images: sort, filter, page through", key="grid_on"):
        return
    with st.container(key="image-grid"):
        values = per_image(bundle) or {}
        keys = [BY_INDEX, *[name for name in LABELS if name in values]]
        top = st.columns([2, 1, 3])
        sort_by = top[0].selectbox("Sort by", keys, format_func=lambda k: LABELS.get(k, k), key="grid_sort")
        descending = top[1].toggle("Highest first", value=sort_by != BY_INDEX, key=f"grid_descending_{sort_by}")
        names = bundle.class_names
        chosen = top[2].multiselect("Classes", range(len(names)), format_func=lambda c: names[c],
                                    placeholder="every class", key="grid_classes")
        selection = map_selection.current(matching)
        within = selection if selection is not None and st.toggle(
            f"Only the map's selection ({len(selection):,} images)", key="grid_within") else None
        if within is None and matching is not None:
            within = np.flatnonzero(matching)
        indices = browse(bundle.labels, values.get(sort_by), descending, set(chosen) or None, within)
        if not len(indices):
            st.info("No test image matches.")
            return
        pages = (len(indices) + PAGE_SIZE - 1) // PAGE_SIZE
        if st.session_state.get("grid_page", 1) > pages:  # a narrower filter has fewer pages
            st.session_state["grid_page"] = 1
        page = st.number_input(f"Page (of {pages:,})", 1, pages, 1, key="grid_page") if pages > 1 else 1
        shown = indices[(page - 1) * PAGE_SIZE:page * PAGE_SIZE]
        st.caption(f"{len(indices):,} images · {len(shown)} on this page")
        value = values.get(sort_by)
        captions = [f"#{i}" + ("" if value is None else f" · {value[i]:.1f}") for i in shown]
        st.image(list(to_pixels(bundle.images[shown])), width=TILE_PX, caption=captions)
        st.caption(f"Classes on this page: {md(', '.join(sorted({names[c] for c in bundle.labels[shown]})))}")
