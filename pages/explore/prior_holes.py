"""Prior holes: prior samples placed on the map, and each dimension's aggregate posterior against N(0, 1)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import plotly.graph_objects as go
import streamlit as st

from ui import bundles, figures
from vae.bundle import Bundle
from vae.diagnostics.prior import HOLE_QUANTILE, aggregate_posterior, hole_reference, hole_scores, prior_samples
from vae.latent.attributes import order_dimensions
from vae.models.inference import decode

N_SAMPLES = 500
N_WORST = 10
IN_HOLE, NEAR_DATA = "#d62728", "#111111"


@st.cache_resource(show_spinner="Looking for holes in the aggregate posterior…", max_entries=16)
def _prior(path: str, stamp: tuple) -> dict[str, np.ndarray]:
    """The prior samples (fixed seed) and their hole scores (~2 s for 10,000 test codes)."""
    bundle = bundles.get_bundle(Path(path))
    codes = prior_samples(N_SAMPLES, bundle.latent_dim, seed=0)
    reference = hole_reference(bundle.mu, bundle.logvar)
    return {"codes": codes, "scores": hole_scores(codes, bundle.mu, bundle.logvar, reference)}


@st.cache_resource(show_spinner=False, max_entries=16)
def _placed(path: str, projection: str, stamp: tuple) -> np.ndarray:
    return bundles.forward_projector(path, projection, stamp).place_many(_prior(path, stamp)["codes"])


def _samples(bundle: Bundle, projection: str | None = None) -> dict[str, np.ndarray]:
    path, stamp = str(bundle.path), bundles.stamp(bundle)
    prior = _prior(path, stamp)
    return prior if projection is None else {**prior, "xy": _placed(path, projection, stamp)}


def overlay(bundle: Bundle, projection: str) -> list[go.Scattergl]:
    """Where the prior samples land: open circles, large red ones where they lie in a hole."""
    prior = _samples(bundle, projection)
    in_hole = prior["scores"] < HOLE_QUANTILE
    hover = "prior sample<br>q(z) here beats %{text}% of the encoder's own codes<extra></extra>"
    return [go.Scattergl(
        x=prior["xy"][mask, 0], y=prior["xy"][mask, 1], mode="markers", name=name, hovertemplate=hover,
        text=[f"{100 * s:.1f}" for s in prior["scores"][mask]],
        marker={"size": size, "symbol": "circle-open", "line": {"width": width}, "color": colour},
    ) for mask, name, size, width, colour in (
        (~in_hole, "prior samples", 7, 1.5, NEAR_DATA),
        (in_hole, "prior samples in holes", 12, 3, IN_HOLE),
    )]


def aggregate_figure(curve: dict[str, np.ndarray], dim: int) -> go.Figure:
    centres = (curve["edges"][:-1] + curve["edges"][1:]) / 2
    fig = go.Figure([
        go.Bar(x=centres, y=curve["density"], name="posterior means (histogram)", marker_color="#9ecae1",
               width=np.diff(curve["edges"])),
        go.Scatter(x=curve["grid"], y=curve["aggregate"], name="aggregate posterior q(z)", line={"color": "#08519c"}),
        go.Scatter(x=curve["grid"], y=curve["prior"], name="prior N(0, 1)", line={"color": "#d62728", "dash": "dash"}),
    ])
    fig.update_layout(height=300, margin={"l": 10, "r": 10, "t": 30, "b": 10}, bargap=0,
                      title=f"z{dim}: where the test images' codes lie against the prior",
                      legend={"orientation": "h", "y": -0.2}, xaxis_title=f"z{dim}", yaxis_title="density")
    return fig


def panel(bundle: Bundle) -> None:
    """Per-dimension aggregate posterior against the prior, and the prior samples deepest in holes."""
    with st.container(key="prior-holes"):
        st.subheader("Prior holes: where the prior puts mass that no test image uses")
        informative, collapsed = order_dimensions(bundle.kl_per_dim)
        dim = st.selectbox("Latent dimension (most informative first)", informative + collapsed, key="prior_dim",
                           format_func=lambda d: f"z{d} · KL {bundle.kl_per_dim[d]:.2f}")
        st.plotly_chart(aggregate_figure(aggregate_posterior(bundle.mu, bundle.logvar, dim), dim),
                        key="prior-aggregate")
        prior = _samples(bundle)
        in_hole = prior["scores"] < HOLE_QUANTILE
        st.caption(f"{in_hole.sum()} of {N_SAMPLES} prior samples lie in holes: the aggregate posterior is lower "
                   f"there than at {100 * (1 - HOLE_QUANTILE):g}% of the codes the encoder produces (a matching "
                   f"prior would put {100 * HOLE_QUANTILE:g}% there; red circles on the map with 'Prior samples' "
                   f"on). The {N_WORST} prior samples deepest in holes, decoded, and {N_WORST} typical ones:")
        order = np.argsort(prior["scores"], kind="stable")
        deepest, typical = order[:N_WORST], order[len(order) // 2:][:N_WORST]
        codes = prior["codes"][np.concatenate([deepest, typical])]
        st.image(figures.image_grid(decode(bundle.model, codes, 2), columns=N_WORST))
