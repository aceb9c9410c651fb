"""The "Your image" page's parts: upload -> model input -> code, reconstruction, map; completion."""

from __future__ import annotations

import numpy as np
import streamlit as st

from ui import bundles, figures
from ui.navigation import open_in_explorer
from ui.text import md
from vae.bundle import Bundle
from vae.data.images import IMAGE_SUFFIXES, MAX_FILE_BYTES, ImageInputError, load_image
from vae.media import to_pixels
from vae.models import inference
from vae.share.site_data import class_colours

UPLOAD_TYPES = [suffix.lstrip(".") for suffix in IMAGE_SUFFIXES]
SCALE = 6


def looks_dark_on_light(pixels: np.ndarray) -> bool:
    """True when the border is bright: most photos and drawings, unlike our light-on-black datasets."""
    border = np.concatenate([pixels[..., 0, :].ravel(), pixels[..., -1, :].ravel(),
                             pixels[..., :, 0].ravel(), pixels[..., :, -1].ravel()])
    return float(border.mean()) > 127


def image_source(bundle: Bundle) -> tuple[np.ndarray, str]:
    """The uploaded image as the model's input (uint8 C, H, W), else (none, or a bad file) a test image."""
    uploaded = st.file_uploader("An image of your own (PNG, JPG, BMP, GIF, WebP)", type=UPLOAD_TYPES, key="own_upload",
                                max_upload_size=MAX_FILE_BYTES // 2**20)
    pixels = None
    if uploaded is not None:
        try:
            pixels = load_image(uploaded.getvalue(), tuple(bundle.config["model"]["input_shape"]),
                                name=uploaded.name, fit="pad")
        except ImageInputError as exc:
            st.error(f"Cannot use this file: {md(exc)}. Below: an image of the bundle instead.",
                     icon=":material/broken_image:")
    if pixels is None:
        index = int(st.number_input("… or start from an image of the bundle", 0, len(bundle.images) - 1, 0,
                                    key="own_test_index"))
        return bundle.images[index], bundle.image_label(index)
    _, height, width = pixels.shape
    st.caption(f"Scaled to {width}×{height} with its shape kept: the short side is padded with the colour of "
               "the image's border.")
    invert = st.checkbox("Invert (the model saw light objects on a dark background)",
                         value=looks_dark_on_light(pixels), key=f"own_invert_{uploaded.file_id}")
    return (255 - pixels if invert else pixels), uploaded.name


def encode(bundle: Bundle, pixels: np.ndarray, name: str, projection: str) -> None:
    """What the model makes of the image: its code, reconstruction, and place on the map."""
    code = inference.encode(bundle.model, pixels[None])[0][0]
    shown, map_column = st.columns([2, 3])
    with shown:
        left, right = st.columns(2)
        left.image(to_pixels(pixels[None], SCALE)[0], caption="model input", width="stretch")
        right.image(inference.decode(bundle.model, code, SCALE)[0], caption="reconstruction", width="stretch")
        st.code("  ".join(f"z{d}={v:+.2f}" for d, v in enumerate(code)), language=None, wrap_lines=True)
        if st.button("Load this code into the sliders", type="primary", key="own-load"):
            open_in_explorer(bundle.name, code, f"your image {name}")
    with map_column:
        project = bundles.forward_projector(str(bundle.path), projection, bundles.stamp(bundle))
        fig = figures.latent_map(bundle.projections[projection]["xy"], bundle.labels, bundle.class_names,
                                 class_colours(len(bundle.class_names)), marker=project(code), height=420)
        figures.name_axes(fig, projection)
        st.plotly_chart(fig, key="own-map", config={"displaylogo": False})
        st.caption("The red cross is your image's code on the map.")


def completion(bundle: Bundle, pixels: np.ndarray) -> None:
    """Erase a rectangle and let the VAE fill it in (encode -> decode on the erased pixels, repeated)."""
    _, height, width = pixels.shape
    left, right = st.columns(2)
    rows = left.slider("Rows to erase", 0, height, (height // 2, height), key="mask_rows")
    cols = right.slider("Columns to erase", 0, width, (0, width), key="mask_cols")
    iterations = st.slider("Iterations", 1, 100, 30, key="mask_iterations")
    mask = np.zeros((height, width), dtype=bool)
    mask[rows[0]:rows[1], cols[0]:cols[1]] = True
    masked = np.where(mask, np.uint8(128), pixels)
    completed = inference.complete(bundle.model, pixels, mask, iterations)
    before, erased, after = st.columns(3)
    before.image(to_pixels(pixels[None], SCALE)[0], caption="before", width="stretch")
    erased.image(to_pixels(masked[None], SCALE)[0], caption=f"erased ({int(mask.sum())} pixels, grey)",
                 width="stretch")
    after.image(to_pixels(completed[None], SCALE)[0], caption=f"filled in by the VAE ({iterations} iterations)",
                width="stretch")
