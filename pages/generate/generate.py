"""The Generate page's parts: prior samples, traversal grid, attribute directions."""

from __future__ import annotations

import numpy as np
import streamlit as st

from ui import figures, state
from ui.navigation import open_in_explorer
from ui.text import md
from vae.bundle import Bundle
from vae.latent.attributes import attribute_direction, order_dimensions
from vae.latent.paths import traversal_codes
from vae.models.inference import decode, prior_codes

N_SAMPLES, SAMPLE_COLUMNS = 16, 8


def _reseed() -> None:
    st.session_state["prior_seed"] = st.session_state.get("prior_seed", 0) + 1


def prior_samples(bundle: Bundle) -> None:
    """A grid of decoded draws from N(0, T^2 I); each can be loaded into the sliders."""
    left, right = st.columns([3, 1], vertical_alignment="bottom")
    temperature = left.slider("Temperature T", 0.1, 2.0, 1.0, step=0.05, key="prior_temperature",
                              help="z ~ N(0, T² I): below 1 stays near the prior's centre, above 1 ventures out")
    right.button("New samples", on_click=_reseed, width="stretch", icon=":material/casino:")
    seed = st.session_state.get("prior_seed", 0)
    codes = prior_codes(N_SAMPLES, bundle.latent_dim, temperature, seed)
    pixels = decode(bundle.model, codes, 4)
    for row in range(0, N_SAMPLES, SAMPLE_COLUMNS):
        columns = st.columns(SAMPLE_COLUMNS)
        for i, column in zip(range(row, row + SAMPLE_COLUMNS), columns, strict=True):
            column.image(pixels[i], width="stretch")
            if column.button("Load", key=f"load-sample-{i}", width="stretch", help="load into the sliders"):
                open_in_explorer(bundle.name, codes[i], f"prior sample {i + 1} (T = {temperature:.2f}, seed {seed})")
    st.caption(f"{N_SAMPLES} samples, seed {seed}. **Load** puts a sample's code into the Explore sliders.")


def traversals(bundle: Bundle) -> None:
    """Rows vary one informative dimension from -3 to +3; the others stay at the current code."""
    informative, _ = order_dimensions(bundle.kl_per_dim)
    if not informative:
        st.info("This model has no informative latent dimension (every KL ≈ 0).")
        return
    left, right = st.columns(2)
    if len(informative) > 1:
        k = left.slider("Dimensions (most informative first)", 1, len(informative), min(6, len(informative)),
                        key="traversal_k")
    else:  # a slider from 1 to 1 is an error in Streamlit
        k = 1
        left.caption("The model has one informative dimension.")
    steps = right.slider("Steps from −3 to +3", 3, 15, 9, step=2, key="traversal_steps")
    code = state.current_code(bundle.latent_dim)
    dims = informative[:k]
    grid = traversal_codes(code, dims, steps)  # (k, steps, D)
    pixels = decode(bundle.model, grid.reshape(-1, bundle.latent_dim), 3)
    pixels = pixels.reshape(k, steps, *pixels.shape[1:])  # (k, steps, H, W[, 3])
    st.caption(f"From the current code ({md(st.session_state.get('code_source') or 'sliders')}); "
               f"columns go from −3 to +3 in {steps} steps.")
    for row, dim in enumerate(dims):
        label, picture = st.columns([1, 9], vertical_alignment="center")
        label.markdown(f"**z{dim}**  \nKL {bundle.kl_per_dim[dim]:.2f}")
        picture.image(figures.image_grid(pixels[row], columns=steps), width="stretch")


def attributes(bundle: Bundle) -> None:
    """centroid(to) - centroid(from) as a slider that moves the current code along it."""
    groups = state.named_groups(bundle.labels, bundle.class_names)
    names = list(groups)
    left, right = st.columns(2)
    source = left.selectbox("From", names, index=0, key="attribute_from")
    target = right.selectbox("To", names, index=min(1, len(names) - 1), key="attribute_to")
    if source == target:
        st.info("Choose two different groups.")
        return
    direction = attribute_direction(bundle.mu, groups[source], groups[target])
    st.caption(f"Direction: mean code of *{md(target)}* minus mean code of *{md(source)}* (length "
               f"{np.linalg.norm(direction):.2f}). Box- or lasso-select points on the Explore map to add your "
               "own groups here.")
    _attribute_slider(bundle, direction, f"{source} → {target}")


@st.fragment
def _attribute_slider(bundle: Bundle, direction: np.ndarray, name: str) -> None:
    alpha = st.slider(f"Along {md(name)}", -2.0, 2.0, 1.0, step=0.05, key="attribute_alpha")
    code = state.current_code(bundle.latent_dim)
    moved = code + alpha * direction
    before, after = st.columns(2)
    before.image(decode(bundle.model, code, 6)[0], caption="current code", width=168)
    after.image(decode(bundle.model, moved, 6)[0], caption=f"current code + {alpha:.2f} × direction",
                width=168)
    if st.button("Load the moved code into the sliders", key="attribute-apply"):
        open_in_explorer(bundle.name, moved, f"current code + {alpha:.2f} × ({name})")
