"""The Compare page's parts: a second model on the same test set, maps with a linked selection,
metrics and their differences, KL per dimension, and the same images reconstructed by both."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import plotly.graph_objects as go
import streamlit as st

from ui import bundles, figures
from ui.map_figure import explore_map
from ui.text import md, plotly
from vae.bundle import Bundle, BundleError
from vae.diagnostics.compare import (
    kl_by_rank,
    metric_rows,
    procrustes_align,
    same_test_set_problem,
    test_set_fingerprint,
)
from vae.evaluation import METRIC_NAMES
from vae.latent.selection import display_subset
from vae.media import to_pixels
from vae.models.inference import reconstruct
from vae.share.site_data import PROJECTIONS, class_colours

SELECTED_KEY = "compare_selected"
N_SHOWN = 10
MAX_DRAWN = 10_000


@st.cache_resource(show_spinner=False, max_entries=16)
def _fingerprint(path: str, stamp: tuple) -> str:
    return test_set_fingerprint(bundles.get_bundle(Path(path)).images)


def choose_other(a: Bundle) -> Bundle | None:
    """A selector over the other valid bundles (B); None, with the reason shown, when there is none."""
    names = [e.path.name for e in bundles.list_bundles() if e.valid and e.path != a.path]
    paths = {e.path.name: e.path for e in bundles.list_bundles() if e.valid}
    if not names:
        st.info("Compare needs a second model bundle: train one on the Train page or add a checkpoints folder.")
        return None
    choice = st.selectbox("Compare with (B)", names, key="compare_b")
    opened = bundles.open_bundle(paths[choice])
    if isinstance(opened, BundleError):
        st.error(f"Cannot open {md(choice)}: {md(opened.problems[0])}")
        return None
    return opened


def test_set_problem(a: Bundle, b: Bundle) -> str | None:
    """None when A and B hold the same test images (by fingerprint), else why they cannot be compared."""
    if _fingerprint(str(a.path), bundles.stamp(a)) == _fingerprint(str(b.path), bundles.stamp(b)):
        return None
    return same_test_set_problem(a.images, b.images)


def _projection(bundle: Bundle) -> str:
    return next(p for p in PROJECTIONS if p in bundle.projections)


def _take_click(key: str) -> None:
    """A click on either map selects that test image in both."""
    points = ((st.session_state.get(key) or {}).get("selection") or {}).get("points", [])
    indices = [int(p["customdata"]) for p in points if isinstance(p.get("customdata"), (int, float))]
    if indices:
        st.session_state[SELECTED_KEY] = indices[0]


def _map(bundle: Bundle, xy: np.ndarray, key: str, selected: int | None) -> None:
    drawn = display_subset(len(xy), MAX_DRAWN, keep=selected)
    fig = explore_map(xy, bundle.labels, bundle.class_names, class_colours(len(bundle.class_names)), drawn,
                      selected, height=480)
    st.plotly_chart(fig, key=key, on_select=lambda: _take_click(key), selection_mode=("points",),
                    config={"scrollZoom": True, "displaylogo": False})


def maps(a: Bundle, b: Bundle) -> None:
    """A's and B's maps side by side; a point clicked in either is starred in both."""
    align = st.toggle("Align B's map to A's (Procrustes: rotation, reflection, scale, shift)", key="compare_align")
    xy_a, xy_b = a.projections[_projection(a)]["xy"], b.projections[_projection(b)]["xy"]
    if align:
        xy_b = procrustes_align(xy_b, xy_a).astype(np.float32)
    selected = st.session_state.get(SELECTED_KEY)
    left, right = st.columns(2)
    with left:
        st.text(f"A · {a.name} · {_projection(a)}")  # names from the file system: shown as plain text
        _map(a, xy_a, "compare-map-a", selected)
    with right:
        st.text(f"B · {b.name} · {_projection(b)}{' (aligned to A)' if align else ''}")
        _map(b, xy_b, "compare-map-b", selected)
    st.caption("Click a point in either map: the same test image is starred in both and reconstructed below.")


def _number(value: float | None) -> str:
    if value is None:
        return "—"
    return f"{value:,.0f}" if float(value).is_integer() else f"{value:,.3f}"


def _metric_name(key: str) -> str:
    """A metric key in words, with its unit (a key no list knows, as written)."""
    if key not in METRIC_NAMES:
        return md(key)
    name, unit = METRIC_NAMES[key]
    return f"{name} ({unit})" if unit else name


def metrics(a: Bundle, b: Bundle) -> None:
    """The model cards' numbers side by side, with B − A; a word where the IWAE figures differ in k or images."""
    card_a, card_b = a.config.get("metrics", {}), b.config.get("metrics", {})
    rows = metric_rows(card_a, card_b)
    st.table({"metric": [_metric_name(r[0]) for r in rows], f"A · {md(a.name)}": [_number(r[1]) for r in rows],
              f"B · {md(b.name)}": [_number(r[2]) for r in rows], "B − A": [_number(r[3]) for r in rows]})
    setups = [(card.get("iwae_k"), card.get("iwae_images")) for card in (card_a, card_b)]
    if all(k is not None for k, _ in setups) and setups[0] != setups[1]:
        (k_a, n_a), (k_b, n_b) = setups
        st.warning(f"The IWAE figures are not estimated alike: A with k = {_number(k_a)} samples on {_number(n_a)} "
                   f"images, B with k = {_number(k_b)} on {_number(n_b)}. A larger k gives a tighter (lower) "
                   "estimate: compare them with `vae-lab evaluate --iwae-k` the same for both.")


def kl_figure(a: Bundle, b: Bundle) -> go.Figure:
    fig = go.Figure()
    for label, bundle in (("A", a), ("B", b)):
        kl, dims = kl_by_rank(bundle.kl_per_dim)
        fig.add_trace(go.Bar(x=np.arange(1, len(kl) + 1), y=kl, name=plotly(f"{label} · {bundle.name}"),
                             hovertext=[f"z{d}" for d in dims], hovertemplate="%{hovertext}: %{y:.3f} nats"))
    fig.update_layout(barmode="group", height=300, margin={"l": 10, "r": 10, "t": 40, "b": 10},
                      title="KL per latent dimension, most informative first (nats)", xaxis_title="rank")
    return fig


def reconstructions(a: Bundle, b: Bundle) -> None:
    """The selected image and a fixed sample: originals, A's and B's reconstructions."""
    selected = st.session_state.get(SELECTED_KEY)
    rest = np.random.default_rng(0).choice(len(a.images), N_SHOWN, replace=False)
    indices = np.array(([selected] if selected is not None else []) + [i for i in rest if i != selected])[:N_SHOWN]
    rows = [to_pixels(a.images[indices], 2), reconstruct(a.model, a.images[indices], 2),
            reconstruct(b.model, b.images[indices], 2)]
    st.image(figures.image_grid(np.concatenate(rows), columns=len(indices)),
             caption="top: test images " + " · ".join(f"#{i}" for i in indices) + " · middle: A · bottom: B")
