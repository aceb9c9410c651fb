"""The Explore page's map: a trace per class, coloured by class or by a value, with overlays.

A trace per class lets a legend click hide that class (Plotly then neither draws nor selects its
points). Every point trace carries each point's global index in `customdata`; nothing else on the
map does, which is how a selection tells points from the click grid and the overlays. Class names
come from the bundle: `ui.text.plotly` escapes them before Plotly reads them as (a little) HTML.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import plotly.graph_objects as go

from ui import figures
from ui.text import plotly

COLOUR_SCALE = "Viridis"


@dataclass(frozen=True)
class ColourScale:
    """Colour points by `values` (N,), clipped to [low, high], with a colour bar titled `title`."""

    values: np.ndarray
    low: float
    high: float
    title: str

    @property
    def key(self) -> str:
        """What the map is coloured by, as the figure's `layout.meta.colour` tells the browser."""
        return f"{self.title}|{self.low:.6g}|{self.high:.6g}"


CLASS_KEY = "class"


def colour_key(scale: ColourScale | None) -> str:
    return CLASS_KEY if scale is None else scale.key


def coloraxis(scale: ColourScale) -> dict:
    """The layout's colour axis (the scale, its clipped range and the colour bar)."""
    return {"colorscale": COLOUR_SCALE, "cmin": scale.low, "cmax": scale.high,
            "colorbar": {"title": {"text": plotly(scale.title), "side": "right"}, "thickness": 14, "len": 0.75}}


def hover_template(scale: ColourScale | None) -> str:
    value = "" if scale is None else f"<br>{plotly(scale.title)} %{{marker.color:.3f}}"
    return f"%{{fullData.name}}<br>#%{{customdata}}{value}<extra></extra>"


def class_traces(xy: np.ndarray, labels: np.ndarray, class_names: list[str], colours: list[str],
                 drawn: np.ndarray, scale: ColourScale | None, hidden: frozenset[int] = frozenset()
                 ) -> list[go.Scattergl]:
    """One WebGL trace per class over the `drawn` points (`meta`: the class; `hidden` ones legend-only)."""
    traces = []
    for c, name in enumerate(class_names):
        members = drawn[labels[drawn] == c]
        marker = {"size": 4, "opacity": 0.8}
        if scale is None:
            marker["color"] = colours[c]
        else:
            marker.update(color=scale.values[members], coloraxis="coloraxis")
        traces.append(go.Scattergl(
            x=xy[members, 0], y=xy[members, 1], mode="markers", name=plotly(name), customdata=members, meta=c,
            visible="legendonly" if c in hidden else True,
            hovertemplate=hover_template(scale), marker=marker,
            unselected={"marker": {"opacity": 0.8}},  # a click must not fade the whole map
        ))
    return traces


def explore_map(
    xy: np.ndarray,
    labels: np.ndarray,
    class_names: list[str],
    colours: list[str],
    drawn: np.ndarray,
    selected: int | None = None,
    marker: tuple[float, float] | None = None,
    scale: ColourScale | None = None,
    overlays: Sequence[go.Scattergl] = (),
    hidden: frozenset[int] = frozenset(),
    height: int = 620,
) -> go.Figure:
    """Trace 0 is the invisible click grid, then a trace per class (those in `hidden` shown in the
    legend only), the overlays, the selection and the current code."""
    fig = go.Figure([figures.click_grid(xy),
                     *class_traces(xy, labels, class_names, colours, drawn, scale, hidden), *overlays])
    figures.add_marks(fig, xy, selected, marker)
    figures.map_layout(fig, xy, height)
    fig.update_layout(meta={"colour": colour_key(scale)})
    if scale is not None:
        fig.update_layout(coloraxis=coloraxis(scale))
    return fig


def explore_map_3d(xyz: np.ndarray, labels: np.ndarray, class_names: list[str], colours: list[str],
                   drawn: np.ndarray, titles: Sequence[str], scale: ColourScale | None = None,
                   hidden: frozenset[int] = frozenset(), height: int = 620) -> go.Figure:
    """The map's `drawn` points in 3-D (`xyz` row i: point drawn[i]), a trace per class as `explore_map`
    draws them (`meta` the class, `customdata` the index: the browser companion hovers and recolours them)."""
    traces = []
    for c, name in enumerate(class_names):
        rows = np.flatnonzero(labels[drawn] == c)
        members = drawn[rows]
        marker = {"size": 2, "opacity": 0.8}
        if scale is None:
            marker["color"] = colours[c]
        else:
            marker.update(color=scale.values[members], coloraxis="coloraxis")
        traces.append(go.Scatter3d(
            x=xyz[rows, 0], y=xyz[rows, 1], z=xyz[rows, 2], mode="markers", name=plotly(name), customdata=members,
            meta=c, visible="legendonly" if c in hidden else True, hovertemplate=hover_template(scale), marker=marker,
        ))
    fig = go.Figure(traces)
    axes = {name: {"title": {"text": title}, "showticklabels": False}
            for name, title in zip(("xaxis", "yaxis", "zaxis"), titles, strict=True)}
    fig.update_layout(height=height, margin={"l": 0, "r": 0, "t": 0, "b": 0}, uirevision="map-3d",
                      legend={"itemsizing": "constant", "orientation": "h", "y": -0.02},
                      scene={**axes, "aspectmode": "cube"}, meta={"colour": colour_key(scale)})
    if scale is not None:
        fig.update_layout(coloraxis=coloraxis(scale))
    return fig
