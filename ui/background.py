"""Work that runs while the page stays usable, and the one way a page follows it.

Processes (training jobs, imports) are started, tracked, locked and cancelled by their registries in
the library (vae/training/jobs.py, vae/portable/import_job.py); threads in this server (per-image
values, the IWAE estimate) are futures or runs shared by every session. A page follows either in a
fragment that reruns every POLL_S seconds while the work runs: `follow` or `@polled`.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import streamlit as st

from ui import bundles
from ui.text import md
from vae.training.jobs import JobRegistry

POLL_S = 1.0  # how often a page looks at work in the background: one interval for every kind

polled = st.fragment(run_every=POLL_S)  # a fragment that always polls (it stops by rerunning the page)


def follow(panel: Callable[..., None], running: bool, *args: object) -> None:
    """Draw `panel(*args)` in a fragment that reruns every POLL_S while `running`, not at all otherwise."""
    st.fragment(run_every=POLL_S if running else None)(panel)(*args)


def training_jobs() -> JobRegistry | None:
    """The job registry of the training folder (shared by every tab and user); None, said why, when
    that folder is one the app must not write."""
    folder = bundles.train_dir()
    problem = bundles.train_dir_problem(folder)
    if problem:
        st.error(md(problem))
        return None
    return JobRegistry(folder)


def umap_pending(path: Path) -> bool:
    """Whether the current training job is the one writing `path` and still runs (its UMAP map follows)."""
    job = training_jobs().current()
    return job is not None and job.running and Path(job.out).resolve() == path.resolve()
