"""The training and evaluation commands as a user runs them, signals included."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from vae.bundle import BundleError, load_bundle
from vae.training import read_events

from .conftest import ROOT

TRAIN = [sys.executable, "-m", "vae.cli", "train", "--dataset", "synthetic", "--arch", "mlp",
         "--latent-dim", "3", "--hidden", "32", "--batch-size", "64", "--no-umap"]


def run(args, **kwargs):
    return subprocess.run(args, cwd=ROOT, capture_output=True, text=True, timeout=300, **kwargs)


def start_and_wait(out: Path, until, epochs=500):
    proc = subprocess.Popen([*TRAIN, "--epochs", str(epochs), "--out", str(out)], cwd=ROOT,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if until(read_events(out / "events.jsonl")):
            return proc
        assert proc.poll() is None, proc.stderr.read()
        time.sleep(0.05)
    proc.kill()
    pytest.fail("training never reached the expected point")


def in_epoch_after_first(events):
    return any(e["event"] == "epoch_end" for e in events) and events[-1]["event"] == "step_end" \
        and events[-1]["epoch"] >= 2


def test_train_cli_writes_a_bundle_and_a_summary(tmp_path):
    result = run([*TRAIN, "--epochs", "2", "--out", str(tmp_path / "b")])
    assert result.returncode == 0, result.stderr
    assert "test -ELBO" in result.stdout and "bundle written" in result.stdout
    bundle = load_bundle(tmp_path / "b")
    assert bundle.config["status"] == "completed" and len(bundle.config["history"]) == 2
    events = [e["event"] for e in read_events(tmp_path / "b" / "events.jsonl")]
    assert events[:2] == ["run_start", "train_start"] and events[-1] == "run_end" and "bundle_saved" in events


def test_sigterm_saves_the_last_completed_epoch_as_a_cancelled_bundle(tmp_path):
    out = tmp_path / "run"
    proc = start_and_wait(out, in_epoch_after_first)
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=60) == 130
    bundle = load_bundle(out)
    assert bundle.config["status"] == "cancelled" and "SIGTERM" in bundle.config["status_message"]
    completed = [e for e in read_events(out / "events.jsonl") if e["event"] == "epoch_end"]
    assert len(bundle.config["history"]) == len(completed) >= 1


def test_sigkill_mid_epoch_leaves_nothing_that_loads(tmp_path):
    out = tmp_path / "run"
    proc = start_and_wait(out, in_epoch_after_first)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    with pytest.raises(BundleError):
        load_bundle(out)
    assert not (out / "config.json").exists()


def test_existing_bundle_is_not_overwritten_by_default(tiny_bundle):
    before = (tiny_bundle / "config.json").read_bytes()
    result = run([*TRAIN, "--epochs", "1", "--out", str(tiny_bundle)])
    assert result.returncode == 2 and "already holds a bundle" in result.stderr
    assert (tiny_bundle / "config.json").read_bytes() == before


def test_missing_dataset_is_a_clear_error_not_a_traceback(tmp_path):
    result = run([sys.executable, "-m", "vae.cli", "train", "--dataset", f"folder:{tmp_path}/none",
                  "--out", str(tmp_path / "x")])
    assert result.returncode == 2 and "is not a folder" in result.stderr
    assert "Traceback" not in result.stderr


def test_bad_hyperparameter_is_a_clear_error(tmp_path):
    result = run([*TRAIN, "--lr", "-1", "--out", str(tmp_path / "x")])
    assert result.returncode == 2 and "lr must be" in result.stderr


def test_evaluate_cli_writes_nothing_unless_asked(tiny_bundle):
    before = {f.name: f.read_bytes() for f in tiny_bundle.iterdir()}
    result = run([sys.executable, "-m", "vae.cli", "evaluate", str(tiny_bundle), "--iwae-k", "20",
                  "--iwae-images", "10"])
    assert result.returncode == 0, result.stderr
    assert "iwae_nll" in result.stdout and "recorded" not in result.stdout
    assert {f.name: f.read_bytes() for f in tiny_bundle.iterdir()} == before


def test_evaluate_cli_records_iwae_in_the_model_card(tiny_bundle):
    result = run([sys.executable, "-m", "vae.cli", "evaluate", str(tiny_bundle), "--iwae-k", "50",
                  "--iwae-images", "20", "--save"])
    assert result.returncode == 0, result.stderr
    metrics = json.loads((tiny_bundle / "config.json").read_text())["metrics"]
    assert metrics["iwae_k"] == 50 and metrics["iwae_images"] == 20
    assert metrics["iwae_nll"] <= metrics["iwae_neg_elbo_same_images"] + 1.0
    load_bundle(tiny_bundle)


def test_evaluate_cli_stores_per_image_values_in_a_bundle_built_without_them(old_bundle):
    assert load_bundle(old_bundle).per_image is None
    result = run([sys.executable, "-m", "vae.cli", "evaluate", str(old_bundle), "--iwae-k", "0", "--save"])
    assert result.returncode == 0, result.stderr
    bundle = load_bundle(old_bundle)
    assert bundle.per_image["neg_elbo"].mean() == pytest.approx(bundle.config["metrics"]["test_neg_elbo"], rel=1e-5)


def test_evaluate_cli_reports_a_broken_bundle_clearly(tiny_bundle):
    (tiny_bundle / "latents.npz").write_bytes(b"junk")
    result = run([sys.executable, "-m", "vae.cli", "evaluate", str(tiny_bundle)])
    assert result.returncode == 2 and "latents.npz" in result.stderr
    assert "Traceback" not in result.stderr


def test_train_cli_writes_a_live_map_each_epoch(tmp_path):
    from vae.training.live_map import read_live_map

    result = run([*TRAIN, "--epochs", "2", "--live-map", "100", "--out", str(tmp_path / "b")])
    assert result.returncode == 0, result.stderr
    live = read_live_map(tmp_path / "b")
    assert live["xy"].shape == (100, 2) and int(live["epoch"]) == 2 and len(live["labels"]) == 100
    timelapse = load_bundle(tmp_path / "b").timelapse  # every epoch's map is kept in the bundle
    assert timelapse["epochs"].tolist() == [1, 2] and timelapse["xy"].shape == (2, 100, 2)
    assert np.allclose(timelapse["xy"][-1], live["xy"], atol=0.01)
    assert np.array_equal(timelapse["labels"], live["labels"])
