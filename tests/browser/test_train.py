"""Train from the UI in a real browser: start, watch, open the result (before its UMAP map), kill -9."""

from __future__ import annotations

import json
import os
import re
import signal
import time
from pathlib import Path

import pytest
from playwright.sync_api import expect

from harness.browser import ROOT, click_until, free_port, start_app
from vae.bundle import BundleError, load_bundle
from vae.bundle.catalog import candidate_dirs
from vae.data import is_available_offline
from vae.training.jobs import JobRegistry, TrainRequest, process_alive

from ..test_map_after_training import umap_held_back
from ..test_shipped import SHIPPED
from .conftest import wait_ready


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    runs = tmp_path_factory.mktemp("runs")
    port = free_port()
    proc = start_app(port, env={"VAE_LAB_TRAIN_DIR": str(runs)})
    yield f"http://127.0.0.1:{port}", runs
    proc.terminate()
    proc.wait(timeout=20)


@pytest.fixture(autouse=True)
def no_job_left_running(server):
    """A test that fails mid-job leaves no job behind to refuse the next test's Start."""
    yield
    jobs = JobRegistry(server[1])
    job = jobs.current()
    if job is not None and job.running:
        jobs.cancel(force=True)
        jobs.wait(60)


@pytest.fixture()
def context(browser):
    context = browser.new_context(viewport={"width": 1500, "height": 1200})
    yield context
    context.close()


def open_train(context, url):
    page = context.new_page()
    page.goto(f"{url}/train")
    wait_ready(page)
    page.get_by_text("Train a new model").wait_for()
    return page


def choose(page, label: str, option: str) -> None:
    page.get_by_role("combobox", name=label).click()
    choice = page.get_by_role("option", name=option).first
    choice.wait_for(timeout=10_000)
    choice.click()


def fill(page, key: str, value: str) -> None:
    field = page.locator(f".st-key-{key} input")
    field.fill(value)
    field.press("Tab")


def start_job(page, name: str, dataset: str, arch: str, latent: int, epochs: int, batch_size: int = 128) -> None:
    choose(page, "Dataset", dataset)
    choose(page, "Architecture", arch)
    fill(page, "train_latent_dim", str(latent))
    fill(page, "train_epochs", str(epochs))
    fill(page, "train_batch_size", str(batch_size))
    fill(page, "train_name", name)
    page.get_by_role("button", name="Start training").click()


def job_state(runs: Path) -> dict:
    return json.loads((runs / ".jobs" / "current.json").read_text())


def progress_value(page) -> float:
    bar = page.locator("[data-testid=stProgress] [role=progressbar]")
    return float(bar.get_attribute("aria-valuenow") or 0) if bar.count() else 0.0


def test_start_watch_and_open_the_new_bundle(context, server, screenshots):
    url, runs = server
    dataset = "fashion-mnist" if is_available_offline("fashion-mnist") else "synthetic"
    page = open_train(context, url)
    # The MLP: a few seconds an epoch on Fashion-MNIST, slow enough to watch, quick enough for CI.
    start_job(page, "ui-fashion-z2", dataset, "mlp", 2, 2)
    page.get_by_text("Job · ui-fashion-z2").wait_for(timeout=30_000)
    # Watch until the job ends: the progress bar must take several values on the way, and the
    # live latent map and curves must show up while it runs.
    seen, watched_running = set(), False
    finished = page.get_by_role("link", name="Open in the explorer")
    deadline = time.monotonic() + 600  # a bound for a busy machine, not a timing
    while time.monotonic() < deadline and not finished.count():
        seen.add(progress_value(page))
        if not watched_running and page.get_by_text("latent map after epoch").count():
            watched_running = True
            page.screenshot(path=str(screenshots / "train-running.png"), full_page=True)
            # One chart each once the poll's rerun has settled (while Streamlit swaps a chart in, the
            # one it replaces can still be there for a moment).
            for chart in ("train-elbo", "train-terms", "live-map"):
                page.wait_for_function("(s) => document.querySelectorAll(s).length === 1",
                                       arg=f".st-key-{chart} .js-plotly-plot", timeout=30_000)
        time.sleep(0.2)
    finished.wait_for(timeout=30_000)
    assert watched_running, "the live latent map never showed while the job ran"
    assert len({v for v in seen if 0 < v < 100}) >= 2, f"the progress bar never moved: {sorted(seen)}"
    assert page.get_by_text("completed").count()
    page.screenshot(path=str(screenshots / "train-finished.png"), full_page=True)
    click_until(page, page.get_by_role("link", name="Open in the explorer"),
                lambda ms: page.get_by_text("Explore the latent space").wait_for(timeout=ms))
    wait_ready(page)
    assert "bundle=ui-fashion-z2" in page.url
    # The sidebar can come a rerun after the title while the map's follow-up lands: wait for it.
    expect(page.get_by_role("combobox", name="Model")).to_have_value(re.compile("^ui-fashion-z2"), timeout=60_000)
    assert page.locator("[data-testid=stException]").count() == 0
    page.screenshot(path=str(screenshots / "train-opened-in-explorer.png"), full_page=True)
    assert load_bundle(runs / "ui-fashion-z2").config["status"] == "completed"


def test_one_job_per_server_seen_from_every_tab_and_cancel_from_either(context, server, screenshots):
    url, runs = server
    first, second = open_train(context, url), open_train(context, url)
    start_job(first, "ui-long", "synthetic", "mlp", 2, 1000)
    first.get_by_text("Job · ui-long").wait_for(timeout=30_000)
    # .first: while Streamlit swaps the live map in, the one it replaces can still be there for a moment.
    first.get_by_text("latent map after epoch").first.wait_for(timeout=60_000)
    pid = job_state(runs)["pid"]
    fill(second, "train_name", "ui-second")
    second.get_by_role("button", name="Start training").click()
    second.get_by_text("already running: 'ui-long'").wait_for(timeout=15_000)
    second.get_by_text("Job · ui-long").wait_for(timeout=15_000)
    assert not (runs / "ui-second").exists()
    first.reload()
    wait_ready(first)
    first.get_by_text("Job · ui-long").wait_for(timeout=15_000)
    assert first.get_by_role("button", name="Start training").is_disabled()
    second.screenshot(path=str(screenshots / "train-second-tab-refused.png"), full_page=True)
    second.get_by_role("button", name="Cancel").click()
    first.get_by_text("Job “ui-long” cancelled").wait_for(timeout=60_000)
    assert not process_alive(pid)
    assert load_bundle(runs / "ui-long").config["status"] == "cancelled"
    first.screenshot(path=str(screenshots / "train-cancelled.png"), full_page=True)


def test_kill_9_is_reported_as_failed_and_nothing_new_loads(context, server, screenshots):
    url, runs = server
    page = open_train(context, url)
    before = {p.name for p in candidate_dirs(runs)}
    start_job(page, "ui-killed", "synthetic", "mlp", 2, 1000)
    page.get_by_text("Job · ui-killed").wait_for(timeout=30_000)
    page.get_by_text("step").first.wait_for(timeout=30_000)
    os.kill(job_state(runs)["pid"], signal.SIGKILL)
    killed = time.monotonic()
    page.get_by_text("Job “ui-killed” failed").wait_for(timeout=10_000)
    assert time.monotonic() - killed < 5
    page.screenshot(path=str(screenshots / "train-killed.png"), full_page=True)
    with pytest.raises(BundleError):
        load_bundle(runs / "ui-killed")
    assert {p.name for p in candidate_dirs(runs)} - before == {"ui-killed"}
    for shipped in SHIPPED:
        load_bundle(ROOT / "checkpoints" / shipped)


def test_open_before_the_umap_map_exists_and_watch_it_appear(context, server, screenshots):
    url, runs = server
    jobs = JobRegistry(runs)
    job = jobs.start(TrainRequest(name="ui-mapped", dataset="synthetic", arch="mlp", latent_dim=4, epochs=1,
                                  batch_size=64))
    page = open_train(context, url)
    with umap_held_back(job, jobs):  # the worker paused: the moment between bundle and UMAP map held open
        page.get_by_text("Saved (completed); computing the UMAP map").wait_for(timeout=120_000)
        page.screenshot(path=str(screenshots / "train-saved-computing-umap.png"), full_page=True)
        click_until(page, page.get_by_role("link", name="Open in the explorer"),
                    lambda ms: page.get_by_text("Computing the UMAP map in the background").wait_for(timeout=ms))
        wait_ready(page)
        assert page.get_by_role("radio", name="UMAP").count() == 0  # the PCA map alone, for now
        page.locator(".js-plotly-plot").first.wait_for(timeout=30_000)  # drawn a moment after the run ends
        page.screenshot(path=str(screenshots / "explore-before-umap.png"), full_page=True)
    # Nobody touches the page: it finds the new map by itself.
    page.get_by_role("radio", name="UMAP").wait_for(timeout=60_000)
    assert page.get_by_role("radio", name="UMAP").is_checked()
    assert page.get_by_text("Computing the UMAP map in the background").count() == 0
    assert page.locator("[data-testid=stException]").count() == 0
    page.screenshot(path=str(screenshots / "explore-umap-arrived.png"), full_page=True)
