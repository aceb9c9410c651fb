"""The Explore page's parts: map with selection, live decoder fragment, selected-point panel."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import streamlit as st

from pages.explore import filter_panel, map_detail, map_events, map_selection, map_view
from pages.explore.live_decoder import live_decoder_panel, local_decoder, minimap, url_due
from pages.explore.map_view import MapView
from ui import background, bundles, figures, state
from ui.map_figure import explore_map
from ui.projection import PROJECTION_LABELS
from ui.text import md
from ui.threads import on_worker
from vae.bundle import Bundle
from vae.diagnostics.selection import without_classes
from vae.latent.attributes import slider_rows
from vae.latent.placement import neighbours_with_distances
from vae.latent.selection import points_in_box, points_in_polygon
from vae.media import to_pixels
from vae.models.inference import decode
from vae.share.site_data import class_colours

DISPLAY_SCALE = 4  # the selected point's original and reconstruction
DISPLAY_PX = 140
MAX_NEIGHBOURS = 50
# How the selected image's neighbours are found: in which space, by which distance.
NEIGHBOUR_SPACES = {"latent, Euclidean": ("latent", "euclidean"), "latent, cosine": ("latent", "cosine"),
                    "on the map": ("map", "euclidean")}
# Above this many points the map draws a fixed random sample; selection, neighbours and the
# inverse projection still use every point. bench/map_scale.py, headless Chromium rendering WebGL
# in software: a wheel zoom took ~100 ms with 10k points drawn, ~250 ms with 20k, ~500 ms with 70k.
# A browser with a GPU draws far more: raise VAE_LAB_MAX_DRAWN there.
MAX_DRAWN = int(os.environ.get("VAE_LAB_MAX_DRAWN", "10000"))


def restore_from_url(bundle: Bundle) -> None:
    """Once per bundle and session: take `idx` and `z` from the URL, ignoring malformed values.

    They belong to the URL's `bundle`: after a switch to another model they are not this one's,
    so they are dropped without a word (a 2-D code is no malformed 16-D one).
    """
    if st.session_state.get("restored_for") == bundle.name:
        return
    st.session_state["restored_for"] = bundle.name
    params = st.query_params
    if params.get("bundle") not in (None, bundle.name):
        return
    index = state.parse_index(params.get("idx"), len(bundle.mu))
    code = state.parse_code(params.get("z"), bundle.latent_dim)
    ignored = [k for k, v in (("idx", index), ("z", code)) if params.get(k) is not None and v is None]
    if ignored:
        st.toast(f"Ignored a malformed link parameter: {', '.join(ignored)}", icon="⚠️")
    st.session_state["selected"] = index
    if code is not None:
        state.set_code(code, "the link")
    elif index is not None:
        state.set_code(bundle.mu[index], bundle.image_label(index))


def follow_pending_umap(bundle: Bundle) -> None:
    """While this bundle's training job still computes its UMAP map, say so; redraw when it lands."""
    if "umap" in bundle.projections or bundle.latent_dim <= 2 or not background.umap_pending(bundle.path):
        return
    background.follow(_watch_umap, True, bundle.path)


def _watch_umap(path: Path) -> None:
    if not background.umap_pending(path):
        st.rerun()  # the whole page: the bundle now lists its UMAP map (or the job ended without one)
    st.caption("Computing the UMAP map in the background: it appears here when ready.")


def _handle_selection(bundle: Bundle, projection: str, selection: dict, matching: np.ndarray | None) -> None:
    """Turn a new map selection into a selected index or an inverse-projected code (of the images the
    filter keeps: `matching`, None for all)."""
    signature = json.dumps(selection, sort_keys=True, default=str)
    if signature == st.session_state.get("last_selection"):
        return
    st.session_state["last_selection"] = signature
    points = selection.get("points", [])
    # Only the map's points carry their index (map_figure.py); the click grid and overlays do not.
    data_points = [p for p in points if isinstance(p.get("customdata"), (int, float))]
    clicked = np.array([int(p["customdata"]) for p in data_points], dtype=np.int64)
    boxes, lassos = selection.get("box", []), selection.get("lasso", [])
    xy = bundle.projections[projection]["xy"]
    # A box or lasso takes every point inside it, drawn or not, of the classes the legend shows;
    # a click takes the point clicked.
    if boxes:
        indices = points_in_box(xy, boxes[0]["x"], boxes[0]["y"])
    elif lassos:
        indices = points_in_polygon(xy, lassos[0]["x"], lassos[0]["y"])
    else:
        indices = clicked
    indices = without_classes(indices, bundle.labels, map_events.hidden_classes(len(bundle.class_names)))
    if matching is not None:
        indices = indices[matching[indices]]
    if len(indices) and (boxes or lassos):
        # A group: the panel below the map shows it; the sliders keep the code being worked on.
        map_selection.remember(indices)
        state.remember_group(indices, f"map selection of {len(indices)} points")
        st.toast(f"{len(indices)} point(s) selected: see \"Selection\" below the map. The selection is kept "
                 "for attribute directions on the Generate page.")
        return
    if len(indices):
        map_selection.remember(None)
        chosen = int(indices[0])
        st.session_state["selected"] = chosen
        state.set_code(bundle.mu[chosen], bundle.image_label(chosen))
        return
    if boxes:
        box = boxes[0]
        target = (float(np.mean(box["x"])), float(np.mean(box["y"])))
    elif points:
        target = (float(points[0]["x"]), float(points[0]["y"]))
    else:
        return
    inverse = bundles.inverse_projector(str(bundle.path), projection, bundles.stamp(bundle))
    code, _ = inverse(target)
    state.set_code(code, f"map position ({target[0]:.2f}, {target[1]:.2f}), decoded from the nearby points",
                   place=(projection, *target))


def map_key(bundle: Bundle, projection: str) -> str:
    return f"map-{bundle.name}-{projection}"


def apply_map_selection(bundle: Bundle, projection: str, matching: np.ndarray | None = None) -> None:
    """Load the map's latest selection into the sliders; call before the sliders are drawn."""
    previous = st.session_state.get(map_key(bundle, projection))
    if previous is not None and previous.get("selection"):
        _handle_selection(bundle, projection, previous["selection"], matching)


def place_of(bundle: Bundle, projection: str, code: np.ndarray) -> tuple[float, float]:
    """Where the map marks `code`: the place a click decoded it from, while it is current (outside the
    map's hull no placement goes back there exactly), else where the forward projector puts it."""
    kept = state.code_place(projection, code)
    if kept is not None:
        return kept
    return tuple(bundles.forward_projector(str(bundle.path), projection, bundles.stamp(bundle))(code))


def draw_map(bundle: Bundle, projection: str, view: MapView | None = None, overlays: list | None = None,
             matching: np.ndarray | None = None) -> str:
    """The WebGL map, grey where the filter leaves images out (`matching`: those it keeps, None for all);
    selecting on it reruns the page, and `apply_map_selection` takes it from there (a clicked point's image
    is painted in the browser before that: map_events.py). Returns its caption (the page shows it below
    the map's area, which the map fills)."""
    xy = bundle.projections[projection]["xy"]
    key = map_key(bundle, projection)
    selected = st.session_state.get("selected")
    code = state.current_code(bundle.latent_dim)
    marker = place_of(bundle, projection, code) if code.any() else None
    scale = view.scale if view else None
    layers = map_view.large_map_layers(bundle, projection, key, MAX_DRAWN, scale)
    drawn, muted = (filter_panel.map_points(len(xy), MAX_DRAWN, selected, matching) if layers is None
                    else (layers.drawn, None))
    fig = explore_map(xy, bundle.labels, bundle.class_names, class_colours(len(bundle.class_names)), drawn,
                      selected, marker, scale, overlays or [],
                      frozenset(map_events.hidden_classes(len(bundle.class_names))), muted=muted)
    figures.name_axes(fig, projection)
    if layers is not None:
        map_detail.show(fig, layers, scale)
    st.plotly_chart(fig, key=key, on_select="rerun", selection_mode=("points", "box", "lasso"), height="stretch",
                    config={"scrollZoom": True, "displaylogo": False})
    if layers is not None:
        how = (f"PCA of all {len(xy):,} codes" if projection == "pca" else PROJECTION_LABELS[projection])
        return (f"{len(xy):,} images · {how} · the picture shows every point in view, the dots up to "
                f"{map_detail.VIEW_POINTS:,} of them (all once few enough are in view: zoom in); selections, "
                "neighbours, colours and decoding use every point. Click a point to select it; click empty "
                "space or drag a box to decode there (from the codes of the nearby points).")
    shown = len(drawn) + (0 if muted is None else len(muted))
    sampled = f" (a fixed sample of {shown:,} drawn; selections use all)" if shown < len(xy) else ""
    if matching is not None:
        sampled += f", {int(matching.sum()):,} matching the filter (the others grey)"
    return (f"{len(xy):,} images{sampled} · {PROJECTION_LABELS[projection]} · click a point to select it; "
            "click empty space or drag a box to decode there (from the codes of the nearby points).")


def _reset(bundle: Bundle, how: str) -> None:
    if how == "zero":
        state.set_code(np.zeros(bundle.latent_dim), "origin")
    elif how == "selected" and st.session_state.get("selected") is not None:
        state.set_code(bundle.mu[st.session_state["selected"]], bundle.image_label(st.session_state["selected"]))
    elif how == "random":
        state.set_code(np.random.default_rng().standard_normal(bundle.latent_dim), "a draw from the prior")


def code_buttons(bundle: Bundle) -> None:
    """Where the current code came from, and buttons that replace it (a full rerun: the map marks it)."""
    st.caption(f"Code from {md(st.session_state.get('code_source') or 'the sliders')}")
    # Each button as wide as its label: in a narrow column, a row of equal thirds cut them off.
    with st.container(horizontal=True, gap="small"):
        st.button("Zero", on_click=_reset, args=(bundle, "zero"))
        st.button("Selected point", on_click=_reset, args=(bundle, "selected"),
                  disabled=st.session_state.get("selected") is None)
        st.button("Random (prior)", on_click=_reset, args=(bundle, "random"))


@st.fragment
def live_decoder(bundle: Bundle, projection: str) -> None:
    """Sliders -> decode -> image and position, rerun alone (the map is not re-sent on a slider move).

    One component draws all of it (live_decoder.py), so a step re-renders one element; the
    picture of the map is made once per bundle and map, and only the marker moves. Once the
    browser has the decoder (it asks when the sliders are first touched), steps decode there and
    this runs once per settled gesture.
    """
    code = state.current_code(bundle.latent_dim)
    picture, bounds = minimap(bundle, projection)
    where = place_of(bundle, projection, code)
    image = figures.png_data_uri(on_worker(decode, bundle.model, code)[0])
    live_decoder_panel(slider_rows(bundle.kl_per_dim), bundle.latent_dim, image, picture,
                       figures.marker_position(bounds, where), *local_decoder(bundle, projection))
    st.caption("One slider per latent dimension, the most used first: beside each, its KL to the prior in "
               "nats, how much information the images put in it (hover a name for more).")
    if url_due():
        state.sync_url(bundle.name, st.session_state.get("selected"), code)


def selection_panel(bundle: Bundle, projection: str) -> None:
    """Original, reconstruction, code and nearest neighbours of the selected test image."""
    index = st.session_state.get("selected")
    if index is None:
        st.info("Select a point on the map to see its image, reconstruction, code and neighbours.")
        return
    st.subheader(f"Selected: {bundle.image_label(index)} · {md(bundle.class_names[bundle.labels[index]])}")
    original = to_pixels(bundle.images[index : index + 1], DISPLAY_SCALE)[0]
    reconstruction = decode(bundle.model, bundle.mu[index], DISPLAY_SCALE)[0]
    columns = st.columns([1, 1, 3])
    # The same width for both: an image grows to its caption's width otherwise.
    columns[0].image(original, caption="original", width=DISPLAY_PX)
    columns[1].image(reconstruction, caption="reconstruction", width=DISPLAY_PX)
    with columns[2]:
        st.caption("latent code (posterior mean ± std)")
        std = np.exp(0.5 * bundle.logvar[index])
        st.code("  ".join(f"z{d}={m:+.2f}±{s:.2f}" for d, (m, s) in enumerate(zip(bundle.mu[index], std, strict=True))),
                language=None, wrap_lines=True)
    neighbour_grid(bundle, index, projection)


def neighbour_grid(bundle: Bundle, index: int, projection: str) -> None:
    """The selected image's k nearest test images, in latent space (Euclidean or cosine) or on the map."""
    left, right = st.columns([2, 3])
    k = left.slider("Neighbours", 1, MAX_NEIGHBOURS, 10, key="neighbours_k")
    how = right.segmented_control("Nearest", list(NEIGHBOUR_SPACES), default="latent, Euclidean",
                                  key="neighbours_by") or "latent, Euclidean"
    space, distance = NEIGHBOUR_SPACES[how]
    codes = bundle.mu if space == "latent" else bundle.projections[projection]["xy"]
    neighbours, distances = neighbours_with_distances(codes, codes[index], k=k, exclude=index, distance=distance)
    st.image(figures.image_grid(to_pixels(bundle.images[neighbours], 3), columns=min(10, len(neighbours))),
             caption=" · ".join(f"#{i} ({d:.3g})" for i, d in zip(neighbours, distances, strict=True)))
    st.caption(f"The {len(neighbours)} test images nearest #{index} by {how} distance (in brackets), nearest first.")
