"""The Explore page's map: a trace per class, coloured by class or by a value, with overlays.

A trace per class lets a legend click hide that class (Plotly then neither draws nor selects its
points). The legend's entries are traces of their own, one empty marker in the class's colour in the
class's legend group: a point trace coloured by a value would show its first value's colour there, or
black. Every point trace carries each point's global index in `customdata`; nothing else on the map
does, which is how a selection tells points from the click grid, the legend and the overlays. Class names
come from the bundle: `ui.text.plotly` escapes them before Plotly reads them as (a little) HTML.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import plotly.graph_objects as go

from ui import figures
from ui.text import plotly
from vae.share.site_data import class_colours

COLOUR_SCALE = "Viridis"
MUTED = "#c4c4c4"  # the points a filter leaves out


@dataclass(frozen=True)
class ColourScale:
    """Colour points by `values` (N,), clipped to [low, high], with a colour bar titled `title`; with
    `categories`, the values are their numbers (0, 1, ...) and each takes a colour of its own."""

    values: np.ndarray
    low: float
    high: float
    title: str
    categories: tuple[str, ...] = ()

    @property
    def key(self) -> str:
        """What the map is coloured by, as the figure's `layout.meta.colour` tells the browser."""
        return f"{self.title}|{self.low:.6g}|{self.high:.6g}"


CLASS_KEY = "class"


def colour_key(scale: ColourScale | None) -> str:
    return CLASS_KEY if scale is None else scale.key


def coloraxis(scale: ColourScale) -> dict:
    """The layout's colour axis (the scale, its clipped range and the colour bar; a step per category)."""
    colorbar = {"title": {"text": plotly(scale.title), "side": "right"}, "thickness": 14, "len": 0.75}
    if not scale.categories:
        return {"colorscale": COLOUR_SCALE, "cmin": scale.low, "cmax": scale.high, "colorbar": colorbar}
    k = len(scale.categories)
    colours = class_colours(k)
    steps = [[edge / k, colours[c]] for c in range(k) for edge in (c, c + 1)]
    colorbar.update(tickvals=list(range(k)), ticktext=[plotly(c) for c in scale.categories])
    return {"colorscale": steps, "cmin": -0.5, "cmax": k - 0.5, "colorbar": colorbar}


def hover_template(scale: ColourScale | None) -> str:
    value = "" if scale is None or scale.categories else f"<br>{plotly(scale.title)} %{{marker.color:.3f}}"
    return f"%{{fullData.name}}<br>#%{{customdata}}{value}<extra></extra>"


def class_traces(xy: np.ndarray, labels: np.ndarray, class_names: list[str], colours: list[str],
                 drawn: np.ndarray, scale: ColourScale | None, hidden: frozenset[int] = frozenset()
                 ) -> list[go.Scattergl]:
    """Per class a WebGL trace of its `drawn` points (`meta`: the class) and its legend entry; the
    `hidden` classes' in the legend only."""
    traces = []
    for c, name in enumerate(class_names):
        members = drawn[labels[drawn] == c]
        marker = {"size": 4, "opacity": 0.8}
        if scale is None:
            marker["color"] = colours[c]
        else:
            marker.update(color=scale.values[members], coloraxis="coloraxis")
        visible = "legendonly" if c in hidden else True
        traces.append(go.Scattergl(
            x=xy[members, 0], y=xy[members, 1], mode="markers", name=plotly(name), customdata=members, meta=c,
            legendgroup=str(c), showlegend=False, visible=visible,
            hovertemplate=hover_template(scale), marker=marker,
            unselected={"marker": {"opacity": 0.8}},  # a click must not fade the whole map
        ))
        traces.append(go.Scattergl(
            x=[None], y=[None], mode="markers", name=plotly(name), legendgroup=str(c), visible=visible,
            marker={"size": 9, "color": colours[c]}, hoverinfo="skip",
        ))
    return traces


def muted_trace(xy: np.ndarray, muted: np.ndarray) -> go.Scattergl:
    """The points a filter leaves out: faint grey, beneath the rest, with no index (so never hovered or selected)."""
    return go.Scattergl(x=xy[muted, 0], y=xy[muted, 1], mode="markers", name=f"not in the filter ({len(muted):,})",
                        hoverinfo="skip", marker={"size": 3, "color": MUTED, "opacity": 0.5},
                        unselected={"marker": {"opacity": 0.5}})


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
    muted: np.ndarray | None = None,
) -> go.Figure:
    """Trace 0 is the invisible click grid, then the points a filter leaves out (`muted`), per class its
    points and its legend entry (those in `hidden` shown in the legend only), the overlays, the selection
    and the current code."""
    fig = go.Figure([figures.click_grid(xy), *([] if muted is None else [muted_trace(xy, muted)]),
                     *class_traces(xy, labels, class_names, colours, drawn, scale, hidden), *overlays])
    figures.add_marks(fig, xy, selected, marker)
    figures.map_layout(fig, xy, height)
    fig.update_layout(meta={"colour": colour_key(scale)}, legend={"tracegroupgap": 0})
    if scale is not None:
        fig.update_layout(coloraxis=coloraxis(scale))
    return fig


def explore_map_3d(xyz: np.ndarray, labels: np.ndarray, class_names: list[str], colours: list[str],
                   drawn: np.ndarray, titles: Sequence[str], scale: ColourScale | None = None,
                   hidden: frozenset[int] = frozenset(), height: int = 620,
                   selected: Sequence[float] | None = None, current: Sequence[float] | None = None) -> go.Figure:
    """The map's `drawn` points in 3-D (`xyz` row i: point drawn[i]), a trace per class as `explore_map`
    draws them (`meta` the class, `customdata` the index: the browser companion hovers and recolours them),
    then the selected point and the current code where given (x, y, z), marked as on the 2-D map."""
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
    for name, where, marker in (
            ("selected", selected, {"size": 8, "symbol": "diamond", "color": "#ffd700", "line": {"color": "#000"}}),
            ("current code", current, {"size": 7, "symbol": "x", "color": "#e00"})):
        if where is not None:
            traces.append(go.Scatter3d(x=[where[0]], y=[where[1]], z=[where[2]], mode="markers", name=name,
                                       hoverinfo="skip", marker=marker))
    fig = go.Figure(traces)
    axes = {name: {"title": {"text": title}, "showticklabels": False}
            for name, title in zip(("xaxis", "yaxis", "zaxis"), titles, strict=True)}
    fig.update_layout(height=height, margin={"l": 0, "r": 0, "t": 0, "b": 0}, uirevision="map-3d",
                      legend={"itemsizing": "constant", "orientation": "h", "y": -0.02},
                      scene={**axes, "aspectmode": "cube"}, meta={"colour": colour_key(scale)})
    if scale is not None:
        fig.update_layout(coloraxis=coloraxis(scale))
    return fig
