"""The app's jobs on a real Ray head (issue #25): the Train page submits a Ray job (two DDP processes) whose progress,
live map and bundle appear; a restarted app finds a running job from the engine and cancels it through Ray; Open a
model's check and import and the model card's IWAE estimate are Ray jobs too, one per output folder; a worker lost
mid-training fails its job and keeps the last epoch; with its head stopped, the Train page says so in one line;
the local engine never imports Ray. One head for the file, tiny runs."""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys

import psutil
import pytest
from streamlit.testing.v1 import AppTest

from harness.ray_head import free_port, ray_head
from ui import bundles
from ui.text import visible
from vae.bundle import load_bundle, read_config
from vae.cli import serve
from vae.job_engine import RAY_ADDRESS_VAR, JobEngine, choose
from vae.training import read_events
from vae.training.backend import registry
from vae.training.jobs import JobRefused, TrainRequest

from .conftest import ROOT, page_script
from .test_jobs import wait_for
from .test_open_model import click_import, upload_pair
from .test_portable_import import mlp_pair, write_spec

pytest.importorskip("ray")
from vae.portable.import_job import new_workspace, start_import  # noqa: E402
from vae.portable.ray_import import RayImportJob  # noqa: E402
from vae.ray_cluster import KIND, OUT, RayCluster  # noqa: E402 (after the skip where Ray is missing)
from vae.training.ray_jobs import RayResources, engine_outcome  # noqa: E402


@pytest.fixture(scope="module")
def started_head():
    with ray_head() as started:
        yield started


@pytest.fixture()
def head(started_head):
    return started_head.address


@pytest.fixture()
def on_ray(head, tmp_path, monkeypatch):
    """The app's jobs on the head, into a fresh training folder (shared by the head's node: the same machine)."""
    monkeypatch.setenv(RAY_ADDRESS_VAR, head)
    monkeypatch.setenv("VAE_LAB_TRAIN_DIR", str(tmp_path / "runs"))
    return registry(tmp_path / "runs", choose())


def test_a_failed_job_says_the_runs_own_reason_where_it_gave_one():
    status, message, _ = engine_outcome("FAILED", "exit code 2", [], False, "error: the loss became NaN\n")
    assert (status, message) == ("failed", "the loss became NaN")


def test_a_jobs_resources_become_its_command_one_process_per_gpu_on_cuda(tmp_path):
    request = TrainRequest(name="gpu-run", dataset="synthetic", epochs=1)
    assert RayResources().entrypoint(request, tmp_path).startswith("python -m vae.cli train ")
    command = RayResources(workers=1, gpus=2).entrypoint(request, tmp_path)
    assert command.startswith("python -m torch.distributed.run --standalone --nproc_per_node 2 -m vae.cli train ")
    assert command.endswith(f"--out {tmp_path} --device cuda")


def train_page() -> AppTest:
    return AppTest.from_file(page_script("train"), default_timeout=60).run()


def test_the_train_page_submits_a_two_process_ray_job_whose_progress_map_and_bundle_appear(on_ray):
    at = train_page()
    assert not at.exception
    at.selectbox(key="train_dataset").set_value("synthetic")
    at.selectbox(key="train_arch").set_value("mlp")
    at.number_input(key="train_latent_dim").set_value(2)
    at.number_input(key="train_epochs").set_value(1)
    at.number_input(key="train_ray_workers").set_value(2)  # DDP, gloo on the CPU, inside the one Ray job
    at.text_input(key="train_name").set_value("on-ray")
    next(b for b in at.button if b.label == "Start training").click().run()
    assert not at.exception and not at.error
    job = on_ray.current()
    assert job.name == "on-ray" and job.id.startswith("vae-lab-train-on-ray-") and job.resources["workers"] == 2
    assert any(f"Ray job {job.id}" in visible(c.value) for c in at.caption)  # followed through the engine
    ended = on_ray.wait(180)
    assert (ended.status, ended.engine_status) == ("completed", "SUCCEEDED"), ended.message
    at = AppTest.from_file(str(ROOT / "ui" / "app.py"), default_timeout=60).run()  # with its navigation: the link
    at = at.switch_page(page_script("train")).run()
    assert not at.exception
    assert "completed · 1/1 epochs completed" in visible(at.get("progress")[0].proto.text)
    assert any("Live latent map" in c.value for c in at.caption) and len(at.get("plotly_chart")) == 3  # curves, map
    assert any(link.proto.label == "Open in the explorer" for link in at.get("page_link"))
    bundle = load_bundle(ended.bundle)
    assert bundle.config["world_size"] == 2 and bundle.config["status"] == "completed"
    starts = [e for e in read_events(ended.out_path / "events.jsonl") if e["event"] == "train_start"]
    assert len(starts) == 1  # rank 0 alone wrote the events: one bundle, as the torchrun path does


def test_a_restarted_app_finds_the_running_job_and_cancels_it_through_ray(on_ray):
    job = on_ray.start(TrainRequest(name="long-one", dataset="synthetic", arch="mlp", latent_dim=2, epochs=1000,
                                    batch_size=64))
    wait_for(lambda: any(e["event"] == "epoch_end" for e in read_events(job.out_path / "events.jsonl")))
    at = train_page()  # a fresh server process knows nothing but the engine's state
    assert not at.exception
    assert any("Ray job" in c.value and "(running)" in visible(c.value) for c in at.caption)
    with pytest.raises(Exception, match="already running on the Ray cluster"):
        on_ray.start(TrainRequest(name="second-one", dataset="synthetic"))
    next(b for b in at.button if b.label == "Cancel").click().run()
    ended = on_ray.wait(120)
    assert (ended.status, ended.engine_status) == ("cancelled", "STOPPED"), ended.message
    assert load_bundle(ended.bundle).config["status"] == "cancelled"  # the last completed epoch, kept
    at = train_page()
    assert any("long-one” cancelled" in visible(w.value) for w in at.warning)


def test_open_a_models_check_and_import_are_ray_jobs_one_per_output_folder(on_ray, tmp_path):
    mlp_pair(tmp_path)
    write_spec(tmp_path)
    at = upload_pair(AppTest.from_file(page_script("open_model"), default_timeout=120).run(), tmp_path, "imported")
    at = next(b for b in at.button if b.label == "Check the model").click().run()  # a Ray job, waited for
    assert not at.exception and not at.error and at.table
    job = click_import(at).session_state["open_job"]
    assert job.id.startswith("vae-lab-import-imported-")
    with pytest.raises(JobRefused, match="a job is already writing 'imported' on the Ray cluster \\(import: "):
        start_import(["onnx"], job.out, new_workspace(on_ray.root), choose())  # the engine's record decides
    job.wait(180)
    at.run()
    assert not at.exception
    assert any("bundle written: imported" in s.value for s in at.success), job.outcome()
    assert load_bundle(job.out).config["import"]["route"] == "onnx"
    at = click_import(upload_pair(at, tmp_path, "cancelled"))
    next(b for b in at.button if b.label == "Cancel").click().run()  # Ray's stop
    at.session_state["open_job"].wait(120)
    assert any("Cancelled: the import was cancelled" in w.value for w in at.run().warning)
    assert not (on_ray.root / "cancelled").exists()


def test_an_import_whose_head_stops_answering_says_so_and_keeps_its_uploads(tmp_path):
    workspace = new_workspace(tmp_path)
    job = RayImportJob(workspace, tmp_path / "out", RayCluster(f"http://127.0.0.1:{free_port()}"), "vae-lab-import-x")
    assert not job.running  # the page stops polling and draws the outcome
    status, message = job.outcome()
    assert status == "refused" and "does not answer" in message
    job.clean_up()
    assert workspace.is_dir()  # the job may still run on the cluster: its uploads stay


def test_the_model_cards_iwae_estimate_is_a_ray_job_recorded_in_the_bundle(on_ray, head, tiny_bundle):
    bundle = shutil.copytree(tiny_bundle, on_ray.root / "tiny-on-ray")
    at = AppTest.from_file(page_script("model_card"), default_timeout=60)
    at.session_state["bundle_choice"] = "tiny-on-ray"
    at.run()
    assert any("It runs as a Ray job." in c.value for c in at.caption)
    at.selectbox(key="iwae_k").set_value(100)
    at.selectbox(key="iwae_images").set_value(100)
    at.button(key="iwae-start").click().run()
    assert not at.exception and at.get("progress")  # followed
    (job,) = wait_for(lambda: RayCluster(head).jobs(**{OUT: str(bundle)}))
    assert job.metadata[KIND] == "evaluate"
    wait_for(lambda: RayCluster(head).details(job.submission_id).status == "SUCCEEDED")
    metrics = read_config(bundle)["metrics"]
    assert (metrics["iwae_k"], metrics["iwae_images"]) == (100, 100)
    wait_for(lambda: not at.run().get("progress"))  # the card's follower has seen it end
    assert not at.exception and not at.error
    assert [m.value for m in at.metric if m.label == "IWAE −log p(x)"] == [f"{metrics['iwae_nll']:.2f}"]


def test_a_worker_lost_mid_training_fails_the_job_with_the_engines_reason_and_keeps_the_last_epoch(on_ray):
    job = on_ray.start(TrainRequest(name="loses-one", dataset="synthetic", arch="mlp", latent_dim=2, epochs=1000,
                                    batch_size=64), resources=RayResources(workers=2))
    wait_for(lambda: any(e["event"] == "epoch_end" for e in read_events(job.out_path / "events.jsonl")))
    workers = [p for p in psutil.process_iter(["cmdline"]) if str(job.out_path) in (p.info["cmdline"] or [])]
    (rank_1,) = [p for p in workers if p.environ().get("RANK") == "1"]
    rank_1.kill()  # SIGKILL, as the kernel's OOM killer or a lost node takes a worker
    ended = on_ray.wait(120)
    assert (ended.status, ended.engine_status) == ("failed", "FAILED"), ended.message
    assert ended.message.startswith("Ray: Job entrypoint command failed with exit code ")
    assert "a worker was lost" in ended.message and ended.message.endswith("the last completed epoch's bundle was kept")
    bundle = load_bundle(ended.bundle)
    assert bundle.config["status"] == "failed" and len(bundle.config["history"]) >= 1
    assert "a worker was lost" in bundle.config["status_message"]


NO_RAY = """
import sys
from ui import preload
from vae.job_engine import choose
from vae.training.backend import registry
preload.start()  # every page's modules, as the server imports them
preload.wait()
registry(sys.argv[1], choose()).current()
print(sorted(m for m in sys.modules if m.split(".")[0] == "ray"))
"""


def test_the_local_engine_imports_no_ray(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != RAY_ADDRESS_VAR}
    env["VAE_LAB_TRAIN_DIR"] = str(tmp_path)
    done = subprocess.run([sys.executable, "-c", NO_RAY, str(tmp_path)], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip().splitlines()[-1] == "[]"


def test_the_engine_is_local_unless_ray_is_chosen_with_an_address(monkeypatch):
    monkeypatch.delenv(RAY_ADDRESS_VAR, raising=False)
    assert choose().kind == "local"
    with pytest.raises(ValueError, match="needs --ray-address"):
        choose("ray")
    monkeypatch.setenv(RAY_ADDRESS_VAR, "http://head:8265/")
    assert (choose().kind, choose().ray_address) == ("ray", "http://head:8265")
    assert choose("local").kind == "local"  # `vae-lab serve --jobs local` overrides the environment
    parser = argparse.ArgumentParser()
    serve.add_arguments(parser)
    argv = serve.command(parser.parse_args(["--jobs", "ray", "--ray-address", "http://other:8265"]), [])
    assert bundles.job_engine(argv[argv.index("--") + 1:]) == JobEngine("ray", "http://other:8265")  # as the app sees


def test_with_its_head_stopped_the_train_page_says_so_in_one_line_and_nothing_else_breaks(
        started_head, on_ray, tiny_bundle):
    """Last in this file: it stops the file's head. A bundle without its UMAP map asks the engine for its job."""
    shutil.copytree(tiny_bundle, on_ray.root / "tiny")
    assert [b for b in train_page().button if b.label == "Start training"]
    started_head.stop()
    at = train_page()
    assert not at.exception
    (error,) = at.error
    assert "does not answer" in visible(error.value) and "\n" not in error.value
    assert not [b for b in at.button if b.label == "Start training"]  # never a silent local job
    for name in ("explore", "model_card", "open_model"):
        at = AppTest.from_file(page_script(name), default_timeout=60)
        at.session_state["bundle_choice"] = "tiny"
        at.run()
        assert not at.exception and not at.error, name
