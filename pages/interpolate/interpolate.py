"""The Interpolate page's parts: endpoints, the path on the map, the frame strip, live t, downloads."""

from __future__ import annotations

import json
from dataclasses import dataclass

import numpy as np
import streamlit as st

from ui import bundles, figures, state
from ui.text import md
from ui.threads import on_worker
from vae.bundle import Bundle
from vae.latent.attributes import class_centroid
from vae.latent.paths import lerp, slerp
from vae.media import interpolation_gif, png_bytes
from vae.models.inference import decode
from vae.share.site_data import class_colours

SOURCES = ("test index", "class centroid", "selected point", "current code")
METHOD_LABELS = {"lerp": "straight line (lerp)", "slerp": "along the sphere (slerp)"}
METHOD_HELP = ("Straight line: each frame's code is a weighted mean of A and B. Along the sphere: the path "
               "turns from A to B keeping the codes' length. Most codes of a Gaussian prior lie near one "
               "length, and a straight line between two of them passes through shorter, less typical codes.")
FRAME_SCALE = 3
DOWNLOAD_SCALES = (4, 8, 16)  # screen pixels per image pixel in the downloads: 112 to 448 px for 28×28


@dataclass
class Endpoint:
    label: str
    code: np.ndarray  # (D,)
    index: int | None = None  # a test index, when the endpoint is one


def map_key(bundle: Bundle, projection: str) -> str:
    return f"interp-map-{bundle.name}-{projection}"


def waiting_endpoint() -> str | None:
    """The endpoint a map click fills: one set to a test index (A and B in turn when both are), or
    None when neither is: a click never replaces a centroid or a code the user chose."""
    waiting = [name for name in ("A", "B") if st.session_state.get(f"interp_{name}_source", SOURCES[0]) == SOURCES[0]]
    turn = st.session_state.get("interp_click_target", "A")
    return turn if turn in waiting else (waiting[0] if waiting else None)


def handle_map_click(bundle: Bundle, projection: str) -> None:
    """A click on a test point fills the endpoint waiting for one; call before the endpoints."""
    selection = (st.session_state.get(map_key(bundle, projection)) or {}).get("selection") or {}
    points = [p for p in selection.get("points", []) if p.get("curve_number") == 1]
    signature = json.dumps(selection, sort_keys=True, default=str)
    if not points or signature == st.session_state.get("interp_last_click"):
        return
    st.session_state["interp_last_click"] = signature
    target = waiting_endpoint()
    if target is None:
        st.toast("Neither endpoint takes a map click: set one to “test index” first.")
        return
    st.session_state[f"interp_{target}_index"] = int(points[0]["customdata"])
    st.session_state["interp_click_target"] = "B" if target == "A" else "A"


def endpoint(bundle: Bundle, name: str, default_index: int) -> Endpoint:
    """Widgets for one endpoint and the code they pick."""
    source = st.radio(f"Endpoint {name}", SOURCES, key=f"interp_{name}_source", horizontal=True)
    if source == "test index":
        key = f"interp_{name}_index"
        # Set here, not as the widget's default (a map click sets it too), and kept in range when
        # another bundle has fewer test images.
        st.session_state[key] = min(int(st.session_state.get(key, default_index)), len(bundle.mu) - 1)
        index = int(st.number_input(f"{name}: image index", 0, len(bundle.mu) - 1, key=key))
        label = f"{bundle.image_label(index)} · {bundle.class_names[bundle.labels[index]]}"
        return Endpoint(label, bundle.mu[index], index)
    if source == "class centroid":
        present = [int(c) for c in np.unique(bundle.labels)]  # a class without test images has no centroid
        label = st.selectbox(f"{name}: class", present, key=f"interp_{name}_class",
                             format_func=lambda i: bundle.class_names[i])
        return Endpoint(f"centroid of {bundle.class_names[label]}", class_centroid(bundle.mu, bundle.labels, label))
    if source == "selected point":
        index = st.session_state.get("selected")
        if index is None:
            st.caption("No point is selected on the Explore map yet; using the origin.")
            return Endpoint("origin (nothing selected)", np.zeros(bundle.latent_dim, dtype=np.float32))
        return Endpoint(f"selected {bundle.image_label(index)}", bundle.mu[index], index)
    return Endpoint(f"current code ({st.session_state.get('code_source') or 'sliders'})",
                    state.current_code(bundle.latent_dim))


def path_map(bundle: Bundle, projection: str, codes: np.ndarray, a: Endpoint, b: Endpoint) -> None:
    """The latent map with the path through the projected intermediate codes."""
    project = bundles.forward_projector(str(bundle.path), projection, bundles.stamp(bundle))
    path = np.array([project(c) for c in codes])  # (steps, 2)
    fig = figures.latent_map(bundle.projections[projection]["xy"], bundle.labels, bundle.class_names,
                             class_colours(len(bundle.class_names)), height=520)
    figures.name_axes(fig, projection)
    figures.add_path(fig, path, (a.label, b.label))
    st.plotly_chart(fig, key=map_key(bundle, projection), on_select="rerun", selection_mode=("points",),
                    config={"scrollZoom": True, "displaylogo": False})
    target = waiting_endpoint()
    click = (f"Click a test point to make it endpoint {target}." if target else
             "Set an endpoint to “test index” to pick it by clicking a point.")
    st.caption(f"{click} The line joins the {len(codes)} frames' codes projected onto the map.")


def strip(bundle: Bundle, codes: np.ndarray, method: str, names: tuple[str, str]) -> None:
    """Every frame of the path, and PNG/GIF downloads of it."""
    frames = decode(bundle.model, codes, FRAME_SCALE)
    ts = np.linspace(0, 1, len(codes))
    with st.container(key="interp-strip", horizontal=True, gap="small"):
        for frame, t in zip(frames, ts, strict=True):
            st.image(frame, caption=f"t={t:.2f}", width=frame.shape[1])
    height, width = frames.shape[1] // FRAME_SCALE, frames.shape[2] // FRAME_SCALE
    scale = st.segmented_control("Download size", DOWNLOAD_SCALES, default=DOWNLOAD_SCALES[0],
                                 format_func=lambda s: f"{width * s}×{height * s} px", key="interp_download_scale")
    big = decode(bundle.model, codes, scale or DOWNLOAD_SCALES[0])
    stem = f"{bundle.name}-{method}-{len(codes)}"
    left, right = st.columns(2)
    left.download_button("Download the strip (PNG)", png_bytes(figures.image_grid(big, columns=len(big))),
                         file_name=f"{stem}.png", mime="image/png", on_click="ignore", key="download-png",
                         width="stretch")
    size = f"{big.shape[2]}×{big.shape[1]} px"
    right.download_button(f"Download the animation (GIF, {2 * len(big) - 2} frames, {size}, there and back)",
                          interpolation_gif(big), file_name=f"{stem}.gif", mime="image/gif", on_click="ignore",
                          key="download-gif", width="stretch")
    st.caption(f"{METHOD_LABELS[method]} from {md(names[0])} to {md(names[1])}")


@st.fragment
def live_t(bundle: Bundle, a: np.ndarray, b: np.ndarray, method: str) -> None:
    """A t slider that decodes between the endpoints as it moves (reruns alone)."""
    t = st.slider("t (0 = A, 1 = B)", 0.0, 1.0, 0.5, step=0.01, key="interp_t")
    code = (slerp if method == "slerp" else lerp)(a, b, t)
    st.image(on_worker(decode, bundle.model, code, 8)[0], caption=f"{method} at t = {t:.2f}", width=224)
