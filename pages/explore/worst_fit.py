"""The worst fit: the test images with the highest −ELBO beside their reconstructions, one click from selected."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import streamlit as st

from pages.explore.per_image import per_image
from ui import bundles, state
from vae.bundle import Bundle
from vae.diagnostics.selection import worst_fit
from vae.media import to_pixels
from vae.models.inference import reconstruct

N_WORST = 12
PICK_KEY = "worst_pick"


@st.cache_resource(show_spinner=False, max_entries=16)
def _tiles(path: str, stamp: tuple, indices: tuple[int, ...]) -> list[np.ndarray]:
    """Each image above its reconstruction, at twice the size."""
    bundle = bundles.get_bundle(Path(path))
    chosen = np.asarray(indices, dtype=np.int64)
    originals = to_pixels(bundle.images[chosen], 2)
    reconstructions = reconstruct(bundle.model, bundle.images[chosen], 2)
    gap = np.full((2, *originals.shape[2:]), 255, dtype=np.uint8)
    return [np.concatenate([o, gap, r]) for o, r in zip(originals, reconstructions, strict=True)]


def _pick(bundle: Bundle) -> None:
    index = st.session_state.get(PICK_KEY)
    if index is not None:
        st.session_state["selected"] = int(index)
        state.set_code(bundle.mu[int(index)], bundle.image_label(int(index)))


def strip(bundle: Bundle) -> None:
    """N_WORST images, worst first, each above its reconstruction; a pill selects one."""
    values = per_image(bundle)
    if values is None:
        return
    worst = worst_fit(values["neg_elbo"], N_WORST)
    with st.container(key="worst-fit"):
        st.subheader(f"Worst fit: the {len(worst)} test images with the highest −ELBO")
        st.image(_tiles(str(bundle.path), bundles.stamp(bundle), tuple(int(i) for i in worst)),
                 caption=[f"#{i} · {values['neg_elbo'][i]:.0f}" for i in worst], width=60)
        st.pills("Select one (original above, reconstruction below)", [int(i) for i in worst], key=PICK_KEY,
                 format_func=lambda i: f"#{i}", on_change=_pick, args=(bundle,))
