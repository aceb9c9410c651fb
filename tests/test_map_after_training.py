"""A real training job: its bundle is offered the moment it is saved, and gains the UMAP map afterwards.

The job's UMAP worker is paused (SIGSTOP) to hold the moment between the two open long enough to
look at the pages, then resumed; everything else runs as it does for a user.
"""

import contextlib
import os
import signal
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from vae.bundle import load_bundle
from vae.training import events as ev
from vae.training import read_events
from vae.training.jobs import Job, JobRegistry, TrainRequest

from .conftest import ROOT, page_script
from .test_jobs import epochs_done, wait_for


@pytest.fixture()
def jobs(tmp_path, monkeypatch) -> JobRegistry:
    folder = tmp_path / "runs"
    folder.mkdir()
    monkeypatch.setenv("VAE_LAB_TRAIN_DIR", str(folder))
    return JobRegistry(folder)


def request(name: str, epochs: int) -> TrainRequest:
    return TrainRequest(name=name, dataset="synthetic", arch="mlp", latent_dim=4, epochs=epochs, batch_size=64)


def umap_worker_pid(job: Job) -> int | None:
    """The job's UMAP worker: the child of its training process running vae.latent.projection_worker."""
    for proc in Path("/proc").iterdir():
        with contextlib.suppress(OSError, IndexError):
            parent = int((proc / "stat").read_text().rsplit(")", 1)[1].split()[1])
            if parent == job.pid and b"vae.latent.projection_worker" in (proc / "cmdline").read_bytes():
                return int(proc.name)
    return None


@contextlib.contextmanager
def umap_held_back(job: Job, jobs: JobRegistry):
    """Pause the job's UMAP worker for the block; resume it, and never leave the job behind."""
    worker = wait_for(lambda: umap_worker_pid(job), timeout=60)
    os.kill(worker, signal.SIGSTOP)
    try:
        yield
    finally:
        os.kill(worker, signal.SIGCONT)
        if jobs.wait(120).running:
            jobs.cancel(force=True)


def events(job: Job) -> list[str]:
    return [e["event"] for e in read_events(job.out_path / ev.EVENTS_FILE)]


def page(name: str, query: dict | None = None) -> AppTest:
    """A page as the app's entry script runs it (the Train page's link needs the app's navigation)."""
    at = AppTest.from_file(str(ROOT / "ui" / "app.py"), default_timeout=60)
    for key, value in (query or {}).items():
        at.query_params[key] = value
    at.run()  # the first page, Explore
    return at if name == "explore" else at.switch_page(page_script(name)).run()


def buttons(at: AppTest) -> list[str]:
    """The labels of the page's buttons and page links ("Open in the explorer" is a link)."""
    return [b.label for b in at.button] + [link.proto.label for link in at.get("page_link")]


def test_open_is_offered_before_the_umap_map_which_the_bundle_and_explorer_gain_after(jobs):
    job = jobs.start(request("mapped", epochs=1))
    with umap_held_back(job, jobs):
        wait_for(lambda: ev.PROJECTION_START in events(job))
        assert jobs.current().running  # the job still owes the UMAP map...
        assert load_bundle(job.out).projections.keys() == {"pca"}  # ...and its bundle opens already
        train = page("train")
        assert not train.exception
        assert "Open in the explorer" in buttons(train) and "Cancel" not in buttons(train)
        assert any("Saved (completed); computing the UMAP map" in i.value for i in train.info)
        explore = page("explore", {"bundle": "mapped"})
        assert not explore.exception and explore.session_state["bundle"] == "mapped"
        assert not explore.radio  # one map: PCA
        assert any("Computing the UMAP map" in c.value for c in explore.caption)
    ended = jobs.current()
    assert ended.status == "completed" and ended.bundle == job.out
    assert load_bundle(job.out).projections.keys() == {"pca", "umap"}
    assert events(job)[-2:] == [ev.PROJECTION_SAVED, ev.RUN_END]
    explore.run()  # the open explorer, on its next run, finds the new map (bundles are keyed by file times)
    assert not explore.exception
    assert explore.radio(key="projection").value == "umap"
    assert not any("Computing the UMAP map" in c.value for c in explore.caption)


def test_a_cancelled_jobs_bundle_opens_at_once_and_still_gains_its_umap_map(jobs):
    job = jobs.start(request("stopped", epochs=1000))
    wait_for(lambda: epochs_done(job) >= 1)
    with umap_held_back(job, jobs):
        jobs.cancel()
        wait_for(lambda: ev.BUNDLE_SAVED in events(job), timeout=60)
        assert load_bundle(job.out).config["status"] == "cancelled"
        train = page("train")
        assert "Open in the explorer" in buttons(train)
        assert not any("Stopping after the current step" in w.value for w in train.warning)
    ended = jobs.current()
    assert ended.status == "cancelled"
    assert load_bundle(job.out).projections.keys() == {"pca", "umap"}
