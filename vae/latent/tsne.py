"""A t-SNE map of latent codes: the third projection, beside PCA (instant) and UMAP (computed after training).

t-SNE keeps each code's near neighbours near, as UMAP does, but draws clusters of more even size and
spacing, which shows the same codes another way. It is computed on request (the Explore page's
"Compute t-SNE map"), never stored in a bundle (a shipped bundle is read-only, and its files are
checksummed): the map goes to the user cache (vae/diagnostics/cache.py), bound to the bundle's checksum.

openTSNE rather than scikit-learn's TSNE: on the shipped z16's 10,000 codes, one thread each, two runs
on a 2-core machine shared with other jobs (load 6-8), openTSNE's FFT-accelerated gradients fitted in
78 and 84 s (52 and 47 s of CPU) against 227 and 375 s (136 and 147 s of CPU) for scikit-learn's
Barnes-Hut, with the same share of each code's 10 nearest latent neighbours kept on the map (0.41).
openTSNE also calls back during the fit, which gives the page its progress and its Cancel. Its "auto"
gradient takes Barnes-Hut below 10,000 codes, where the FFT grid's fixed cost dominates (a minute for
400 codes here, a few seconds with Barnes-Hut).
Above SAMPLE_SIZE codes, t-SNE fits a sample and every other code is placed by its nearest sample
codes, as the large UMAP maps are (vae/latent/large_map.py).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from vae.diagnostics import cache
from vae.latent.large_map import SAMPLE_SIZE, place_by_neighbours, sample_indices

log = logging.getLogger(__name__)

KIND = "tsne"  # the projection's name, and the user cache's folder for these maps
PERPLEXITY = 30.0
EARLY_ITERATIONS = 250  # openTSNE's defaults: early exaggeration, then the plain optimisation
ITERATIONS = 500
CALLBACK_EVERY = 25  # iterations between progress reports (and chances to stop)
STEPS = EARLY_ITERATIONS + ITERATIONS


class Stopped(RuntimeError):
    """The fit was asked to stop before it ended."""


def tsne_2d(codes: np.ndarray, seed: int = 0, progress: Callable[[int], None] | None = None,
            stop: Callable[[], bool] | None = None, sample_size: int = SAMPLE_SIZE) -> dict[str, np.ndarray]:
    """t-SNE of (N, D) codes (a sample of `sample_size`, the rest placed, above it): {"xy": (N, 2) float32}.

    `progress(iterations done)` is called every CALLBACK_EVERY iterations (of STEPS); when `stop()`
    turns true, the fit ends by raising Stopped.
    """
    import openTSNE  # imported here: only the background task that computes a map needs it

    codes = np.asarray(codes, dtype=np.float32)
    fitted = sample_indices(len(codes), sample_size, seed) if len(codes) > sample_size else np.arange(len(codes))
    done = 0

    def report(iteration: int, error: float, embedding: np.ndarray) -> None:
        nonlocal done
        done += CALLBACK_EVERY
        if progress is not None:
            progress(min(done, STEPS))
        if stop is not None and stop():
            raise Stopped("the t-SNE map was cancelled")

    started = time.monotonic()
    fit = openTSNE.TSNE(
        n_components=2, perplexity=min(PERPLEXITY, (len(fitted) - 1) / 3), initialization="pca",
        early_exaggeration_iter=EARLY_ITERATIONS, n_iter=ITERATIONS, negative_gradient_method="auto",
        n_jobs=1, random_state=seed, callbacks=report, callbacks_every_iters=CALLBACK_EVERY,
    ).fit(codes[fitted])
    xy = np.asarray(fit, dtype=np.float32)  # (S, 2)
    if len(fitted) < len(codes):
        xy = place_by_neighbours(codes, codes[fitted], xy)  # the sample lands on its own positions
    log.info("t-SNE of %d codes (%d fitted) took %.1f s", len(codes), len(fitted), time.monotonic() - started)
    return {"xy": xy}


def read_map(bundle_path: str | Path, n: int) -> dict[str, np.ndarray] | None:
    """The bundle's t-SNE map from the user cache: {"xy": (n, 2) float32}, or None when there is none
    (or it is not this user's own, was written for another bundle, or is not n finite positions)."""
    arrays = cache.read_cached(bundle_path, KIND, max_bytes=n * 2 * 4 + 4096)
    xy = None if arrays is None else arrays.get("xy")
    if xy is None or xy.dtype != np.float32 or xy.shape != (n, 2) or not np.isfinite(xy).all():
        if arrays is not None:
            log.warning("ignoring the cached t-SNE map of %s: not %d finite float32 positions", bundle_path, n)
        return None
    return {"xy": xy}


def with_cached_map(bundle):
    """`bundle` (a vae.bundle.Bundle) with its t-SNE map from the user cache among its maps, where one was
    computed for it: the app's bundles and the exports see the same maps."""
    if KIND not in bundle.projections and (computed := read_map(bundle.path, len(bundle.mu))) is not None:
        bundle.projections = {**bundle.projections, KIND: computed}  # a new dict: others may be reading it
    return bundle


def write_map(bundle_path: str | Path, arrays: dict[str, np.ndarray]) -> Path | None:
    """Keep a t-SNE map in the user cache; the file, or None when the cache is not writable."""
    return cache.write_cached(bundle_path, KIND, {"xy": np.asarray(arrays["xy"], dtype=np.float32)})
