"""Per-image values for the pages: stored in the bundle, else cached, else computed once in the background.

A bundle written before per-image values existed still opens at once: the values are computed in the
background (a queued ui/background.py task: one bundle at a time per server, ~15 s for 10,000
Fashion-MNIST images on one core) and kept in the user cache (vae/diagnostics/cache.py), so the next
server reads them.
Meanwhile the map is coloured by class, and `status_note` refreshes the page when they arrive.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import streamlit as st

from ui import background, bundles
from ui.text import md
from vae.bundle import Bundle
from vae.diagnostics import cache
from vae.diagnostics.per_image import FIELDS, check_values, per_image_values
from vae.evaluation import likelihood_of

log = logging.getLogger(__name__)

KIND = "per_image"
# A million images would keep a core busy for half an hour, beside every visitor: above this the
# values come only from the bundle (vae.bundle.add_per_image) or the cache.
MAX_BACKGROUND_IMAGES = 100_000


def _compute(path: Path) -> dict[str, np.ndarray]:
    bundle = bundles.get_bundle(path)
    values = per_image_values(bundle.model, bundle.images, *likelihood_of(bundle.config["training"]))
    cache.write_cached(path, KIND, values)
    return values


@st.cache_resource(show_spinner=False, max_entries=16)
def _values(path: str, stamp: tuple) -> background.Task:
    """The task of the bundle's values, one per bundle version for the server: done at once when the
    cache holds them, refused (its error says why) for a bundle too large to compute them here."""
    bundle = bundles.get_bundle(Path(path))
    n = len(bundle.mu)
    cached = cache.read_cached(path, KIND, max_bytes=n * 4 * len(FIELDS) + 4096)
    if cached is not None and not check_values(cached, n):
        return background.Task(total=n, done=n, result={name: cached[name] for name in FIELDS})
    if n > MAX_BACKGROUND_IMAGES:
        return background.Task(total=n, error=f"{n:,} images are more than the {MAX_BACKGROUND_IMAGES:,} whose "
                                              "values are computed in the background; `vae-lab evaluate` adds "
                                              "them to the bundle")
    log.info("computing per-image values of %s in the background", path)
    return background.start(background.Task(total=n), lambda task: _compute(Path(path)), f"per-image-{bundle.name}",
                            queued=True)


def per_image(bundle: Bundle) -> dict[str, np.ndarray] | None:
    """{field: (N,)} of the bundle, or None while they are still being computed (or failed)."""
    if bundle.per_image is not None:
        return bundle.per_image
    return _values(str(bundle.path), bundles.stamp(bundle)).result


def failure(bundle: Bundle) -> str | None:
    """Why the values could not be computed, or None."""
    if bundle.per_image is not None:
        return None
    return _values(str(bundle.path), bundles.stamp(bundle)).error


def status_note(bundle: Bundle) -> None:
    """Nothing when the values are there; else why they are missing, or a note that refreshes the
    page once they arrive (polled by a fragment, so the rest of the page stays usable)."""
    if per_image(bundle) is not None:
        return
    reason = failure(bundle)
    if reason:
        st.caption(f"Per-image −ELBO could not be computed ({md(reason)}); the map is coloured by class.")
    else:
        _wait_for_values(bundle)


@background.polled
def _wait_for_values(bundle: Bundle) -> None:
    if per_image(bundle) is not None or failure(bundle):
        st.rerun(scope="app")
    st.caption("Computing each test image's −ELBO in the background (once, then cached): more colour "
               "options and the worst-fit strip appear when it is done.")
