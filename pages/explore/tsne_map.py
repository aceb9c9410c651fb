"""The Explore page's t-SNE map, computed on request: a queued background task (ui/background.py), one per
bundle for the whole server, with progress and Cancel; the map goes to the user cache (vae/latent/tsne.py)
and into the open bundle's maps, so the map chooser lists "t-SNE" beside UMAP and PCA from then on.
"""

from __future__ import annotations

from dataclasses import dataclass

import streamlit as st

from ui import access, background
from ui.text import md
from vae.bundle import Bundle
from vae.latent import tsne


@dataclass
class TsneRun(background.Task):
    """One t-SNE fit in progress or done (shared by every session through `_runs`)."""

    cancelled: bool = False
    kept: bool = False  # in the user cache (else for this server's lifetime only)


@st.cache_resource(show_spinner=False)
def _runs() -> background.BundleTasks:
    """The fits, one per version of a bundle."""
    return background.BundleTasks()


def _compute(run: TsneRun, bundle: Bundle) -> bool:
    def progress(done: int) -> None:
        run.done = done

    if run.cancelled:  # while it waited its turn
        raise tsne.Stopped("the t-SNE map was cancelled")
    arrays = tsne.tsne_2d(bundle.mu, progress=progress, stop=lambda: run.cancelled)
    run.kept = tsne.write_map(bundle.path, arrays) is not None
    # A new dict, not an item added to the old one: another session may be iterating over it.
    bundle.projections = {**bundle.projections, tsne.KIND: arrays}
    return True


def _start(bundle: Bundle) -> None:
    _runs().start(bundle, lambda: TsneRun(total=tsne.STEPS), lambda task: _compute(task, bundle),
                  f"tsne-{bundle.name}", queued=True)


def _cancel(run: TsneRun) -> None:
    if access.unlocked():
        run.cancelled = True


def offer(bundle: Bundle) -> None:
    """Nothing when the bundle has its t-SNE map (or a 2-D latent, its own map); else the button, or the
    running fit's progress and Cancel, polled until the map lands."""
    if tsne.KIND in bundle.projections or bundle.latent_dim <= 2:
        return
    run = _runs().get(bundle)
    if run is not None and run.running:
        background.follow(_progress, True, run)
        return
    if run is not None and run.error and not run.cancelled:
        st.error(md(f"The t-SNE map failed: {run.error}"))
    locked = not access.unlocked()  # the token is asked for where work is started: Train, the model card
    st.button("Compute t-SNE map", on_click=_start, args=(bundle,), key="tsne-start", disabled=locked,
              help="Starting work on this server needs its access token (the Train page asks for it)" if locked else
                   f"t-SNE of the {len(bundle.mu):,} codes (above {tsne.SAMPLE_SIZE:,}, of a sample, the rest placed "
                   "by their neighbours), in the background: one to two minutes for 10,000 codes here. Kept in "
                   "your cache for this model.")


def _progress(run: TsneRun) -> None:
    if not run.running:
        st.rerun(scope="app")  # done (or cancelled): the chooser lists the new map
    with st.container(horizontal=True, vertical_alignment="center"):
        doing = (f"{run.done}/{run.total} iterations" if run.done else
                 "finding each code's neighbours (or waiting for other background work to end)")
        st.progress(run.done / run.total, text=f"Computing the t-SNE map in the background: {doing}")
        st.button("Cancel", on_click=_cancel, args=(run,), key="tsne-cancel", disabled=run.cancelled)
