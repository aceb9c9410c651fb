"""The first page where no model bundle is found: what a bundle is, the ways to get one, a demo model.

A fresh `pip install` has no bundle of its own (the shipped ones live in the repository's checkpoints/):
instead of an empty page, this says what to do, and one click trains a small demo model.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import NoReturn

import streamlit as st

from ui import access, background, bundles
from ui.navigation import page
from ui.text import md
from vae.data import is_available_offline
from vae.training.jobs import JobRefused, TrainRequest

# A 2-D latent (its own map, no UMAP to wait for) MLP: about a minute on a laptop's CPU with Fashion-MNIST.
DEMO = {"arch": "mlp", "latent_dim": 2, "epochs": 3}


def demo_request() -> TrainRequest:
    """The demo model's job: Fashion-MNIST where it is on this machine, else the built-in synthetic images."""
    dataset = "fashion-mnist" if is_available_offline("fashion-mnist") else "synthetic"
    return TrainRequest(name=time.strftime(f"demo-{dataset}-z2-%Y%m%d-%H%M%S"), dataset=dataset, **DEMO)


def _start_demo() -> None:
    """Start the demo's job and show it on the Train page; a refusal (a job already runs) is said here."""
    jobs = background.training_jobs()
    if jobs is None:
        return
    try:
        jobs.start(demo_request())
    except JobRefused as exc:
        st.error(md(exc))
        return
    st.switch_page(page("train").script)


def stop_without_bundle() -> NoReturn:
    """For a page whose bundle did not open: the guide where no bundle is found anywhere (otherwise the
    sidebar has said why the chosen one failed), then stop."""
    if not any(entry.valid for entry in bundles.list_bundles()):
        welcome(bundles.search_dirs())
    st.stop()


def welcome(searched: list[Path]) -> None:
    """The main area's guide (the sidebar lists the folders searched and any invalid bundles)."""
    st.title("Welcome to VAE Lab")
    st.markdown(
        "VAE Lab shows what a variational autoencoder learned: its test images' codes on a map, the image "
        "each code decodes to, paths between them, samples. It opens **model bundles**: a folder with a VAE's "
        "weights, its model card (`config.json`), and its test images with their latent codes and maps. "
        f"No bundle was found in: {', '.join(md(d) for d in searched)}.")
    st.subheader("Get one", anchor=False)
    train, open_model = page("train"), page("open_model")
    st.page_link(train.script, label="Train a model here: your settings, watched as it learns",
                 icon=train.icon)
    st.page_link(open_model.script, label="Open a model trained elsewhere (PyTorch, pythae, ONNX, Keras)",
                 icon=open_model.icon)
    st.markdown("Or start the app on a folder of bundles: `vae-lab serve --checkpoints DIR` (several folders: "
                "`VAE_LAB_CHECKPOINTS=DIR1:DIR2`).")
    st.subheader("Or try a demo model", anchor=False)
    request = demo_request()
    st.caption(f"A {request.arch.upper()} with a 2-D latent, {request.epochs} epochs on {request.dataset}: about a "
               "minute on a CPU. It goes into your training folder and opens from the Train page when done.")
    if not access.unlocked():
        st.info("Starting a model needs the access token: enter it on the Train page.")
        return
    if st.button("Make a demo model", type="primary", icon=":material/play_arrow:", key="make-demo"):
        _start_demo()
