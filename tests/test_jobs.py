"""The job registry: one job at a time, stale and killed jobs, cancel, safe names, event summaries."""

import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import asdict
from pathlib import Path

import pytest

from vae.bundle import BundleError, load_bundle
from vae.training import read_events
from vae.training.jobs import Job, JobRefused, JobRegistry, TrainRequest, outcome, process_alive, run_directory
from vae.training.progress import summarize_events


def request(name: str, epochs: int = 1000) -> TrainRequest:
    return TrainRequest(name=name, dataset="synthetic", arch="mlp", latent_dim=2, epochs=epochs, batch_size=64)


def wait_for(predicate, timeout: float = 120.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    pytest.fail("condition not reached in time")


def epochs_done(job: Job) -> int:
    return sum(e["event"] == "epoch_end" for e in read_events(job.out_path / "events.jsonl"))


@pytest.mark.parametrize("name", ["../../etc/x", "../x", "a/b", "/etc/passwd", "", ".hidden", "-rf",
                                  "x" * 65, "naïve", "a b", "..", "."])
def test_unsafe_names_are_refused(tmp_path, name):
    with pytest.raises(ValueError):
        run_directory(tmp_path, name)
    assert TrainRequest(name=name).validate(tmp_path)["name"]


def test_existing_folder_is_refused_and_left_alone(tmp_path):
    (tmp_path / "taken").mkdir()
    (tmp_path / "taken" / "keep.txt").write_text("mine")
    assert "already exists" in TrainRequest(name="taken").validate(tmp_path)["name"]
    with pytest.raises(JobRefused, match="already exists"):
        JobRegistry(tmp_path).start(request("taken"))
    assert (tmp_path / "taken" / "keep.txt").read_text() == "mine"


def test_validation_names_each_bad_field(tmp_path):
    bad = TrainRequest(name="ok", latent_dim=0, beta=-1, epochs=2, kl_warmup_epochs=5, batch_size=10**6, lr=5.0,
                       seed=-3, device="tpu", arch="rnn", dataset="imagenet")
    errors = bad.validate(tmp_path)
    assert set(errors) == {"latent_dim", "beta", "kl_warmup_epochs", "batch_size", "lr", "seed", "device", "arch",
                           "dataset"}
    assert "longer than training" in errors["kl_warmup_epochs"]
    assert TrainRequest(name="fine").validate(tmp_path) == {}
    assert "whole number" in TrainRequest(name="f", epochs=2.5).validate(tmp_path)["epochs"]


def test_one_job_at_a_time_and_cancel_keeps_the_last_epoch(tmp_path):
    jobs = JobRegistry(tmp_path)
    job = jobs.start(request("first"))
    assert job.running and process_alive(job.pid, job.pid_start)
    with pytest.raises(JobRefused, match="'first'"):
        JobRegistry(tmp_path).start(request("second"))  # another tab, same folder
    assert not (tmp_path / "second").exists()
    wait_for(lambda: epochs_done(job) >= 1)
    assert JobRegistry(tmp_path).current().running  # what a reloaded page sees
    jobs.cancel()
    ended = jobs.wait(60)
    assert ended.status == "cancelled" and not process_alive(job.pid)
    wait_for(lambda: not Path(f"/proc/{job.pid}").exists(), timeout=10)  # reaped, not a zombie
    bundle = load_bundle(ended.bundle)
    assert bundle.config["status"] == "cancelled" and len(bundle.config["history"]) >= 1
    second = jobs.start(request("second", epochs=1))  # the slot is free again
    assert jobs.wait(120).status == "completed"
    assert load_bundle(second.out).config["status"] == "completed"


def test_kill_9_is_reported_as_failed_and_leaves_no_bundle(tmp_path):
    jobs = JobRegistry(tmp_path)
    job = jobs.start(request("doomed"))
    wait_for(lambda: any(e["event"] == "step_end" for e in read_events(job.out_path / "events.jsonl")))
    os.kill(job.pid, signal.SIGKILL)
    ended = wait_for(lambda: (j := jobs.current()) and not j.running and j, timeout=10)
    assert ended.status == "failed" and "without finishing" in ended.message
    with pytest.raises(BundleError):
        load_bundle(job.out)


def test_a_job_whose_process_is_gone_is_marked_failed(tmp_path):
    """What a restarted server finds: the state file says running, the process no longer exists."""
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    out = tmp_path / "ghost"
    out.mkdir()
    jobs = JobRegistry(tmp_path)
    jobs.dir.mkdir()
    stale = Job(id="abc", name="ghost", out=str(out), pid=proc.pid, pid_start="", argv=[], request={},
                started=time.time() - 60)
    jobs.state_path.write_text(json.dumps(asdict(stale)))
    job = jobs.current()
    assert job.status == "failed" and job.ended
    assert json.loads(jobs.state_path.read_text())["status"] == "failed"


def test_a_reused_pid_is_not_mistaken_for_the_job():
    assert process_alive(os.getpid())
    assert not process_alive(os.getpid(), start="1")


def test_a_missing_dataset_fails_with_the_clis_message(tmp_path):
    jobs = JobRegistry(tmp_path)
    jobs.start(TrainRequest(name="nodata", dataset=f"folder:{tmp_path}/absent", arch="mlp", epochs=1))
    ended = jobs.wait(120)
    assert ended.status == "failed" and "is not a folder" in ended.message and ended.bundle is None


def test_outcome_of_each_ending():
    assert outcome([{"event": "run_end", "status": "completed", "message": "ok", "bundle": "/b"}], False, "") == \
        ("completed", "ok", "/b")
    status, message, bundle = outcome([{"event": "bundle_saved", "status": "completed", "path": "/b"}], False, "")
    assert status == "completed" and "UMAP" in message and bundle == "/b"
    assert outcome([{"event": "train_end", "status": "failed", "message": "CUDA out of memory"}], False, "")[:2] == \
        ("failed", "CUDA out of memory")
    assert outcome([], True, "")[0] == "cancelled"
    assert outcome([], False, "error: dataset 'x' is missing\n")[1] == "dataset 'x' is missing"


def test_events_summarise_into_progress(tmp_path):
    events = [
        {"event": "run_start", "dataset": {"class_names": ["a", "b"]}},
        {"event": "train_start", "epochs": 2, "total_steps": 20, "steps_per_epoch": 10, "device": "cpu"},
        {"event": "step_end", "epoch": 1, "step": 5, "global_step": 5, "loss": 3.0, "recon": 2.0, "kl": 1.0,
         "images_per_s": 100.0, "eta_s": 3.0},
        {"event": "epoch_end", "epoch": 1, "test_neg_elbo": 2.5},
        {"event": "step_end", "epoch": 2, "step": 5, "global_step": 15, "loss": 2.0, "recon": 1.5, "kl": 0.5,
         "images_per_s": 120.0, "eta_s": 1.0},
        {"event": "future_event_kind"},
    ]
    progress = summarize_events(events)
    assert progress.fraction == 0.75 and progress.epoch == 2 and progress.epochs_completed == 1
    assert progress.class_names == ["a", "b"] and progress.phase == "training" and progress.eta_s == 1.0
    assert summarize_events([*events, {"event": "run_end"}]).phase == "finished"
    assert summarize_events([]).fraction == 0.0


def test_the_state_file_survives_garbage(tmp_path):
    jobs = JobRegistry(tmp_path)
    jobs.dir.mkdir()
    jobs.state_path.write_text("{not json")
    assert jobs.current() is None
    assert Path(jobs.start(request("after-garbage", epochs=1)).out).is_dir()
    assert jobs.wait(120).status == "completed"
