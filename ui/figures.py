"""Plotly figures and small raster images for the pages (pure functions, no Streamlit)."""

from __future__ import annotations

import base64

import numpy as np
import plotly.graph_objects as go

from ui.text import plotly
from vae.media import png_bytes

GRID_SIDE = 48  # invisible click targets per side: clicking empty map space hits one of them


def map_bounds(xy: np.ndarray, pad: float = 0.05) -> tuple[float, float, float, float]:
    lo, hi = xy.min(axis=0), xy.max(axis=0)
    span = np.maximum(hi - lo, 1e-6)
    return lo[0] - pad * span[0], hi[0] + pad * span[0], lo[1] - pad * span[1], hi[1] + pad * span[1]


def latent_map(
    xy: np.ndarray,
    labels: np.ndarray,
    class_names: list[str],
    colours: list[str],
    selected: int | None = None,
    marker: tuple[float, float] | None = None,
    height: int = 620,
    drawn: np.ndarray | None = None,
) -> go.Figure:
    """The map: trace 0 is an invisible click grid, trace 1 holds the points (WebGL, global index
    in customdata; `drawn` limits which), then legend-only traces per class, the selection and the
    current code."""
    n_classes = len(class_names)
    fig = go.Figure()
    fig.add_trace(click_grid(xy))
    scale = [[pos, colours[i]] for i in range(n_classes) for pos in (i / n_classes, (i + 1) / n_classes)]
    drawn = np.arange(len(xy)) if drawn is None else drawn
    safe_names = [plotly(name) for name in class_names]
    names = np.asarray(safe_names, dtype=object)[labels[drawn]]
    fig.add_trace(go.Scattergl(
        x=xy[drawn, 0], y=xy[drawn, 1], mode="markers", name="test set", showlegend=False,
        customdata=drawn, hovertext=names,
        hovertemplate="%{hovertext}<br>#%{customdata}<extra></extra>",
        marker={"size": 4, "color": labels[drawn], "colorscale": scale, "cmin": -0.5, "cmax": n_classes - 0.5,
                "opacity": 0.8},
        unselected={"marker": {"opacity": 0.8}},  # a click must not fade the whole map
    ))
    for i, name in enumerate(safe_names):
        fig.add_trace(go.Scattergl(x=[None], y=[None], mode="markers", name=name,
                                   marker={"size": 9, "color": colours[i]}, hoverinfo="skip"))
    add_marks(fig, xy, selected, marker)
    map_layout(fig, xy, height)
    return fig


def click_grid(xy: np.ndarray) -> go.Scattergl:
    """Invisible points over the whole map (no customdata): a click on empty space hits one."""
    x0, x1, y0, y1 = map_bounds(xy)
    gx, gy = np.meshgrid(np.linspace(x0, x1, GRID_SIDE), np.linspace(y0, y1, GRID_SIDE))
    hidden = {"opacity": 0}
    return go.Scattergl(
        x=gx.ravel(), y=gy.ravel(), mode="markers", name="empty space", showlegend=False,
        marker={"size": 14, "opacity": 0, "color": "#000"}, hoverinfo="none",
        selected={"marker": hidden}, unselected={"marker": hidden},
    )


def add_marks(fig: go.Figure, xy: np.ndarray, selected: int | None, marker: tuple[float, float] | None) -> None:
    """The selected point (a star) and the current code (a cross), drawn over everything else."""
    if selected is not None:
        fig.add_trace(go.Scattergl(
            x=[xy[selected, 0]], y=[xy[selected, 1]], mode="markers", name="selected", hoverinfo="skip",
            marker={"size": 16, "symbol": "star", "color": "#ffd700", "line": {"width": 1.5, "color": "#000"}},
        ))
    if marker is not None:
        fig.add_trace(go.Scattergl(
            x=[marker[0]], y=[marker[1]], mode="markers", name="current code", hoverinfo="skip",
            marker={"size": 14, "symbol": "x", "color": "#e00", "line": {"width": 1, "color": "#fff"}},
        ))


def map_layout(fig: go.Figure, xy: np.ndarray, height: int) -> None:
    """A map's axes (no ticks, fixed to the points' bounds), legend and pan/zoom behaviour."""
    x0, x1, y0, y1 = map_bounds(xy)
    fig.update_layout(
        height=height, margin={"l": 10, "r": 10, "t": 10, "b": 10}, dragmode="pan",
        legend={"itemsizing": "constant", "orientation": "h", "y": -0.02}, uirevision="map",
        xaxis={"showticklabels": False, "zeroline": False, "range": [x0, x1]},
        yaxis={"showticklabels": False, "zeroline": False, "range": [y0, y1]},
        hovermode="closest",
    )


# What a map's axes are: UMAP's, t-SNE's and PCA's components, or the latent's own dimensions; a third
# where the map has one (its 3-D view, vae/latent/three_d.py).
AXIS_TITLES = {"umap": ("UMAP 1", "UMAP 2"), "tsne": ("t-SNE 1", "t-SNE 2"), "pca": ("PC 1", "PC 2", "PC 3"),
               "latent": ("z0", "z1", "z2")}


def name_axes(fig: go.Figure, projection: str) -> None:
    """Title a map's axes by its projection (a map without ticks still says what its directions are)."""
    x_title, y_title = AXIS_TITLES[projection][:2]
    grey = {"size": 12, "color": "#808495"}
    fig.update_layout(margin={"l": 28, "b": 28}, xaxis_title={"text": x_title, "font": grey, "standoff": 4},
                      yaxis_title={"text": y_title, "font": grey, "standoff": 4})


def density_raster(xy: np.ndarray, side: int = 160) -> tuple[np.ndarray, tuple[float, float, float, float]]:
    """A grey (side, side, 3) uint8 picture of where the map's points lie, and its bounds."""
    bounds = map_bounds(xy)
    x0, x1, y0, y1 = bounds
    counts, _, _ = np.histogram2d(xy[:, 1], xy[:, 0], bins=side, range=[[y0, y1], [x0, x1]])
    shade = 1 - np.log1p(counts) / max(np.log1p(counts).max(), 1e-9)
    grey = (150 + 105 * shade[::-1]).astype(np.uint8)  # row 0 is the top of the picture
    return np.repeat(grey[:, :, None], 3, axis=2), bounds


def png_data_uri(pixels: np.ndarray) -> str:
    """A picture as an inline `data:image/png;base64,...` URI."""
    return "data:image/png;base64," + base64.b64encode(png_bytes(pixels)).decode("ascii")


def marker_position(bounds: tuple[float, float, float, float], point: np.ndarray) -> tuple[float, float]:
    """Where `point` lies on the density picture, in percent from its left and top (clamped to the edge)."""
    x0, x1, y0, y1 = bounds
    left = float(np.clip((point[0] - x0) / (x1 - x0), 0, 1)) * 100
    top = float(np.clip((y1 - point[1]) / (y1 - y0), 0, 1)) * 100
    return round(left, 2), round(top, 2)


def image_grid(pixels: np.ndarray, columns: int, gap: int = 2) -> np.ndarray:
    """Tile (N, H, W[, 3]) uint8 images into one picture with white gaps."""
    n, h, w = pixels.shape[:3]
    rows = -(-n // columns)
    shape = (rows * (h + gap) - gap, columns * (w + gap) - gap, *pixels.shape[3:])
    grid = np.full(shape, 255, dtype=np.uint8)
    for i, image in enumerate(pixels):
        r, c = divmod(i, columns)
        grid[r * (h + gap): r * (h + gap) + h, c * (w + gap): c * (w + gap) + w] = image
    return grid


def history_figure(history: list[dict], keys: list[tuple[str, str]], title: str) -> go.Figure:
    """Line chart of per-epoch values."""
    fig = go.Figure()
    epochs = [h["epoch"] for h in history]
    for key, name in keys:
        fig.add_trace(go.Scatter(x=epochs, y=[h.get(key) for h in history], mode="lines+markers", name=name))
    fig.update_layout(title=title, height=300, margin={"l": 10, "r": 10, "t": 40, "b": 10},
                      xaxis_title="epoch", yaxis_title="nats per image")
    return fig


def kl_bar_figure(kl_per_dim: np.ndarray, active: np.ndarray) -> go.Figure:
    """KL per dimension, largest first, the active dimensions (vae.evaluation.active_dimensions) in colour."""
    order = np.argsort(-kl_per_dim)
    fig = go.Figure()
    for is_active, name, colour in ((True, "active", "#1f77b4"), (False, "inactive", "#b0b4bf")):
        dims = [d for d in order if bool(active[d]) == is_active]
        fig.add_trace(go.Bar(x=[f"z{d}" for d in dims], y=kl_per_dim[dims], name=name, marker_color=colour,
                             hovertemplate="%{x}: KL %{y:.3f} nats<extra>" + name + "</extra>"))
    fig.update_layout(title="KL per latent dimension (nats)", height=300, barmode="overlay",
                      xaxis={"categoryorder": "array", "categoryarray": [f"z{d}" for d in order]},
                      legend={"orientation": "h", "y": -0.2}, margin={"l": 10, "r": 10, "t": 40, "b": 10})
    return fig


def _epoch_axis(progress) -> list[float]:
    """Each step record's position in epochs (1.5 = half-way through epoch 2)."""
    per_epoch = max(progress.steps_per_epoch, 1)
    return [s["global_step"] / per_epoch for s in progress.steps]


def training_elbo_figure(progress) -> go.Figure:
    """Train −ELBO as training goes (steps) and test −ELBO after each epoch."""
    fig = go.Figure()
    fig.add_trace(go.Scatter(x=_epoch_axis(progress), y=[s["recon"] + s["kl"] for s in progress.steps],
                             mode="lines", name="train −ELBO (running mean)"))
    fig.add_trace(go.Scatter(x=[h["epoch"] for h in progress.history], y=[h["test_neg_elbo"] for h in progress.history],
                             mode="lines+markers", name="test −ELBO"))
    fig.update_layout(title="−ELBO", height=300, margin={"l": 10, "r": 10, "t": 40, "b": 10},
                      xaxis_title="epoch", yaxis_title="nats per image", legend={"orientation": "h", "y": -0.3})
    return fig


def training_terms_figure(progress) -> go.Figure:
    """Reconstruction and KL terms as training goes."""
    fig = go.Figure()
    x = _epoch_axis(progress)
    fig.add_trace(go.Scatter(x=x, y=[s["recon"] for s in progress.steps], mode="lines", name="reconstruction"))
    fig.add_trace(go.Scatter(x=x, y=[s["kl"] for s in progress.steps], mode="lines", name="KL", yaxis="y2"))
    fig.update_layout(title="terms (train)", height=300, margin={"l": 10, "r": 10, "t": 40, "b": 10},
                      xaxis_title="epoch", yaxis={"title": "reconstruction"},
                      yaxis2={"title": "KL", "overlaying": "y", "side": "right"},
                      legend={"orientation": "h", "y": -0.3})
    return fig


def live_map_figure(live: dict[str, np.ndarray], class_names: list[str], colours: list[str]) -> go.Figure:
    """The live latent map of a run, one WebGL trace per class."""
    fig = go.Figure()
    xy, labels = live["xy"], live["labels"]
    for i, name in enumerate(class_names):
        mask = labels == i
        fig.add_trace(go.Scattergl(x=xy[mask, 0], y=xy[mask, 1], mode="markers", name=plotly(name),
                                   marker={"size": 4, "color": colours[i]}, hoverinfo="name"))
    fig.update_layout(title=f"latent map after epoch {int(live['epoch'])}", height=420, uirevision="live",
                      margin={"l": 10, "r": 10, "t": 40, "b": 10}, legend={"itemsizing": "constant"},
                      xaxis={"showticklabels": False}, yaxis={"showticklabels": False})
    return fig


def add_path(fig: go.Figure, path: np.ndarray, names: tuple[str, str]) -> None:
    """Draw a path (steps, 2) on a map, its ends labelled."""
    # WebGL traces are drawn above SVG ones: the path must be WebGL too to stay visible.
    fig.add_trace(go.Scattergl(
        x=path[:, 0], y=path[:, 1], mode="lines+markers", name="path", hoverinfo="skip",
        line={"color": "#111", "width": 2}, marker={"size": 6, "color": "#111"},
    ))
    fig.add_trace(go.Scattergl(
        x=path[[0, -1], 0], y=path[[0, -1], 1], mode="markers+text", name="endpoints", hoverinfo="skip",
        text=["A", "B"], textposition="top center", textfont={"size": 16, "color": "#111"},
        hovertext=[plotly(n) for n in names],
        marker={"size": 14, "color": "#ffd700", "line": {"width": 1.5, "color": "#000"}},
    ))
