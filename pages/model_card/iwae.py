"""The model card's IWAE button: estimate −log p(x) in a background thread, with progress.

The estimate decodes k samples per image (a million decodes for k = 1000 on 1000 images): it runs
on a thread of its own (ui/background.py), one per bundle for the whole server, and the card polls it.
The result goes into the bundle's config.json (as `vae-lab evaluate --save` records it), except
for the shipped bundles, which the app never writes: those show it for this server's lifetime.

When the server's jobs run on Ray, the thread only follows: the estimate of a bundle in the training folder
(the folder the cluster's nodes share) is `vae-lab evaluate --save` as a Ray job (vae/iwae_on_ray.py). Any
other bundle (a shipped one, one in an extra folder) is not where a node can read it: it is estimated on this
server, as the card says.
"""

from __future__ import annotations

from dataclasses import dataclass

import streamlit as st

from ui import access, background, bundles
from ui.text import md
from vae.bundle import Bundle, update_config
from vae.evaluation import iwae_estimate, likelihood_of
from vae.job_engine import RAY

K_CHOICES = (100, 1000, 5000)
MAX_IMAGES = 1000


@dataclass
class IwaeRun(background.Task):
    """One estimate in progress or done (shared by every session through `_runs`)."""

    k: int = 0
    written: bool = False


@st.cache_resource(show_spinner=False)
def _runs() -> background.BundleTasks:
    """The estimates, one per version of a bundle (a rewritten bundle gets a fresh button)."""
    return background.BundleTasks()


def writable(bundle: Bundle) -> bool:
    """Whether the app may record metrics in this bundle (never in the shipped ones)."""
    return bundles.train_dir_problem(bundle.path) is None


def on_cluster(bundle: Bundle) -> bool:
    """Whether the estimate runs on the Ray cluster: the server's jobs go there and the nodes see the bundle."""
    return bundles.job_engine().kind == RAY and bundles.train_dir().resolve() in bundle.path.resolve().parents


def _compute(run: IwaeRun, bundle: Bundle) -> dict:
    def progress(done: int, total: int) -> None:
        run.done = done

    if on_cluster(bundle):
        from vae.iwae_on_ray import estimate  # Ray is imported only once it is chosen

        result = estimate(bundles.job_engine().ray_address, bundles.train_dir().resolve(), bundle.path.resolve(),
                          run.k, run.total, progress)
        run.written = True
        return result
    likelihood, sigma = likelihood_of(bundle.config["training"])
    result = iwae_estimate(bundle.model, bundle.images, run.k, run.total, likelihood, sigma, progress=progress)
    if writable(bundle):
        update_config(bundle.path, {"metrics": {**bundle.config.get("metrics", {}), **result}})
        run.written = True
    return result


def _start(bundle: Bundle) -> None:
    def run() -> IwaeRun:
        return IwaeRun(total=min(int(st.session_state["iwae_images"]), len(bundle.images)),
                       k=int(st.session_state["iwae_k"]))

    _runs().start(bundle, run, lambda task: _compute(task, bundle), f"iwae-{bundle.name}")


def section(bundle: Bundle) -> None:
    """Nothing when the card has an IWAE estimate; else the button, or the running estimate's progress."""
    if "iwae_nll" in bundle.config.get("metrics", {}):
        return
    run = _runs().get(bundle)
    if run is not None and run.running:
        _progress(bundle, run)
        return
    if run is not None and run.result is not None:
        where = "recorded in its config.json" if run.written else "not recorded: the shipped bundles are read-only"
        st.info(f"IWAE −log p(x) with k = {run.k} on {run.total} test images: {run.result['iwae_nll']:.2f} "
                f"± {run.result['iwae_nll_stderr']:.2f} ({where}).")
        return
    if run is not None and run.error:
        st.error(md(f"The IWAE estimate failed: {run.error}"))
    where = ""
    if bundles.job_engine().kind == RAY:
        where = (" It runs as a Ray job." if on_cluster(bundle) else " It runs on this server: the Ray cluster's "
                 "nodes see only the training folder, not this bundle's.")
    st.caption("IWAE −log p(x) is not estimated for this model yet: a tighter bound than the −ELBO, from k "
               f"importance samples per image.{where}")
    if not access.unlocked():
        access.token_form("estimates and records metrics")
        return
    with st.container(horizontal=True, vertical_alignment="bottom"):
        st.selectbox("k (samples per image)", K_CHOICES, index=1, key="iwae_k")
        most = min(len(bundle.images), MAX_IMAGES)
        choices = [n for n in (100,) if n < most] + [most]
        st.selectbox("test images", choices, index=len(choices) - 1, key="iwae_images")
        st.button("Estimate IWAE", on_click=_start, args=(bundle,), key="iwae-start")


@background.polled
def _progress(bundle: Bundle, run: IwaeRun) -> None:
    if not run.running:
        st.rerun()  # done: redraw the card with the new metric
    st.progress(run.done / max(run.total, 1),
                text=f"Estimating IWAE with k = {run.k}: {run.done}/{run.total} test images")
