"""The Explore page's filter: which test images the map, the image grid and the selection's downloads show.

Classes, one value range (a per-image value, a latent mean or a numeric metadata column), index text
such as "12, 40-45", tags, saved selections and a text metadata column: together they make one mask
(vae.diagnostics.filters). On the map, images that do not match stay as faint grey dots (where they
lie is part of the picture) that neither hover nor select. Widget keys carry the bundle's name: a
filter belongs to its model, and comes back when the user returns to it.
"""

from __future__ import annotations

import numpy as np
import streamlit as st

from pages.explore.per_image import per_image
from pages.explore.user_annotations import annotations as user_annotations
from ui.text import md
from vae.bundle import Bundle
from vae.diagnostics.annotations import Annotations
from vae.diagnostics.filters import (
    FilterError,
    FilterSpec,
    OneOf,
    ValueRange,
    filter_mask,
    value_label,
    value_options,
    values_of,
)
from vae.diagnostics.metadata import META_PREFIX, category_values
from vae.latent.selection import display_subset

NO_VALUE = ""
MAX_CHOICES = 200  # distinct texts of a metadata column offered as choices
RANGE_STEPS = 200


def key(bundle: Bundle, part: str) -> str:
    """The session key of one of the filter's widgets for this bundle."""
    return f"filter_{part}@{bundle.name}"


def _range(bundle: Bundle, annotations: Annotations) -> ValueRange | None:
    """The value range the slider asks for; None while it spans every value (a missing value then counts)."""
    name = st.session_state.get(key(bundle, "value"), NO_VALUE)
    values = values_of(name, bundle.mu, per_image(bundle), annotations) if name else None
    chosen = st.session_state.get(key(bundle, f"range_{name}"))
    if values is None or chosen is None:
        return None
    low, high = _bounds(values)
    if chosen[0] <= low and chosen[1] >= high:
        return None
    return ValueRange(name, float(chosen[0]), float(chosen[1]))


def _bounds(values: np.ndarray) -> tuple[float, float]:
    finite = values[np.isfinite(values)]
    if not finite.size:
        return 0.0, 1.0
    low, high = float(finite.min()), float(finite.max())
    return low, high if high > low else low + 1.0


def spec(bundle: Bundle, annotations: Annotations) -> FilterSpec:
    """The filter the widgets ask for (every field empty until the user sets one)."""
    get = st.session_state.get
    column = get(key(bundle, "column"), NO_VALUE)
    texts = tuple(get(key(bundle, f"texts_{column}"), ())) if column else ()
    value_range = _range(bundle, annotations)
    return FilterSpec(classes=tuple(get(key(bundle, "classes"), ())),
                      ranges=() if value_range is None else (value_range,),
                      indices=get(key(bundle, "indices"), "") or "",
                      tags=tuple(t for t in get(key(bundle, "tags"), ()) if t in annotations.tags),
                      selections=tuple(s for s in get(key(bundle, "selections"), ()) if s in annotations.selections),
                      categories=(OneOf(column, texts),) if texts else ())


def mask(bundle: Bundle) -> tuple[np.ndarray | None, str | None]:
    """(N,) bool of the images the filter keeps (None: no filter), and why the filter cannot apply (or None)."""
    annotations = user_annotations(bundle)
    wanted = spec(bundle, annotations)
    if wanted.is_empty():
        return None, None
    try:
        return filter_mask(wanted, bundle.labels, bundle.mu, per_image(bundle), annotations), None
    except FilterError as exc:
        return None, str(exc)


def map_points(n: int, limit: int, selected: int | None, matching: np.ndarray | None
               ) -> tuple[np.ndarray, np.ndarray | None]:
    """(drawn, muted): the points the map draws in colour (those the filter keeps, up to `limit`, the
    selected one among them when it matches) and in grey (those left out, up to what the limit leaves)."""
    if matching is None:
        return display_subset(n, limit, keep=selected), None
    kept, left_out = np.flatnonzero(matching), np.flatnonzero(~matching)
    keep = int(np.searchsorted(kept, selected)) if selected is not None and matching[selected] else None
    drawn = kept[display_subset(len(kept), limit, keep=keep)]
    return drawn, left_out[display_subset(len(left_out), max(limit - len(drawn), 0))]


def show_only(bundle: Bundle, kind: str, name: str) -> None:
    """Filter to one saved selection or tag (its 'show on map'), clearing the other group filters."""
    st.session_state[key(bundle, "selections")] = [name] if kind == "selections" else []
    st.session_state[key(bundle, "tags")] = [name] if kind == "tags" else []
    st.session_state[key(bundle, "open")] = True


def _clear(bundle: Bundle) -> None:
    for part in ("classes", "tags", "selections"):
        st.session_state[key(bundle, part)] = []
    for part in ("indices", "value", "column"):
        st.session_state[key(bundle, part)] = "" if part == "indices" else NO_VALUE


def _value_range(bundle: Bundle, annotations: Annotations) -> None:
    options = [NO_VALUE, *value_options(bundle.latent_dim, per_image(bundle), annotations)]
    if st.session_state.get(key(bundle, "value")) not in options:
        st.session_state[key(bundle, "value")] = NO_VALUE
    left, right = st.columns([1, 2], vertical_alignment="bottom")
    name = left.selectbox("Value range of", options, key=key(bundle, "value"),
                          format_func=lambda v: "no value range" if v == NO_VALUE else value_label(v))
    if name == NO_VALUE:
        return
    low, high = _bounds(values_of(name, bundle.mu, per_image(bundle), annotations))
    right.slider(md(value_label(name)), low, high, (low, high), step=(high - low) / RANGE_STEPS,
                 key=key(bundle, f"range_{name}"), format="%.3g",
                 help="Keeps images whose value lies between the two handles, both ends included")


def _metadata_text(bundle: Bundle, annotations: Annotations) -> None:
    metadata = annotations.metadata
    columns = [] if metadata is None else metadata.text_names()
    options = [NO_VALUE, *(META_PREFIX + name for name in columns)]
    if st.session_state.get(key(bundle, "column")) not in options:
        st.session_state[key(bundle, "column")] = NO_VALUE
    if not columns:
        return
    left, right = st.columns([1, 2], vertical_alignment="bottom")
    column = left.selectbox("Metadata text", options, key=key(bundle, "column"),
                            format_func=lambda v: "no metadata text" if v == NO_VALUE else v[len(META_PREFIX):])
    if column != NO_VALUE:
        texts = sorted(set(category_values(metadata, column[len(META_PREFIX):], len(bundle.mu))))[:MAX_CHOICES]
        right.multiselect("is one of", texts, key=key(bundle, f"texts_{column}"),
                          format_func=lambda t: t or "(no value)")


def panel(bundle: Bundle) -> np.ndarray | None:
    """The filter's controls in an expander, and 'N of M images match'; the mask (None: every image)."""
    annotations = user_annotations(bundle)
    matching, problem = mask(bundle)
    total = len(bundle.mu)
    # One title whatever the filter holds: a new title would be a new expander, closed under the user's hands.
    opened = matching is not None or problem is not None or bool(st.session_state.get(key(bundle, "open")))
    with st.expander("Filter", expanded=opened), \
            st.container(key="filter-panel"):
        names = bundle.class_names
        st.multiselect("Classes", range(len(names)), format_func=lambda c: names[c],
                       placeholder="every class", key=key(bundle, "classes"))
        _value_range(bundle, annotations)
        st.text_input("Test indices", key=key(bundle, "indices"), placeholder="e.g. 12, 40-45",
                      help="Numbers and ranges (both ends included), separated by commas or spaces")
        left, right = st.columns(2)
        left.multiselect("Tagged", list(annotations.tags), key=key(bundle, "tags"),
                         placeholder="any image", help="Images carrying any of these tags")
        right.multiselect("In saved selection", list(annotations.selections), key=key(bundle, "selections"),
                          placeholder="any image")
        _metadata_text(bundle, annotations)
        st.button("Clear the filter", on_click=_clear, args=(bundle,), disabled=matching is None)
    if problem:
        st.warning(f"The filter is not applied: {md(problem)}")
    elif matching is not None:
        with st.container(key="filter-count"):
            st.caption(f"**{int(matching.sum()):,} of {total:,} images match** the filter: the map greys the "
                       "others, and the image grid and the selection's downloads hold only those that match.")
    return matching
