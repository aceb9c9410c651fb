"""Data-parallel training under torchrun: two CPU workers (gloo) give one bundle, as good as one process."""

import shutil
import subprocess
import sys
from pathlib import Path

from vae.bundle import load_bundle
from vae.training import read_events

from .conftest import ROOT

ARGS = ["--dataset", "synthetic", "--arch", "mlp", "--latent-dim", "3", "--hidden", "32", "--batch-size", "64",
        "--epochs", "4", "--no-umap", "--live-map", "100"]
TORCHRUN = Path(sys.executable).with_name("torchrun")


def run(command: list[str]) -> subprocess.CompletedProcess:
    return subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=300)


def test_two_gloo_workers_write_one_bundle_as_good_as_a_single_process(tmp_path):
    ddp = run([str(TORCHRUN if TORCHRUN.exists() else shutil.which("torchrun")), "--standalone",
               "--nproc_per_node", "2", "-m", "vae.cli", "train", *ARGS, "--out", str(tmp_path / "ddp")])
    assert ddp.returncode == 0, ddp.stderr[-3000:]
    assert "rank 0 of 2" in ddp.stderr and "rank 1 of 2" in ddp.stderr
    assert ddp.stdout.count("bundle written") == 1
    bundle = load_bundle(tmp_path / "ddp")
    history = bundle.config["history"]
    assert bundle.config["world_size"] == 2 and len(history) == 4
    assert history[-1]["train_neg_elbo"] < history[0]["train_neg_elbo"] - 50
    starts = [e for e in read_events(tmp_path / "ddp" / "events.jsonl") if e["event"] == "train_start"]
    assert len(starts) == 1 and starts[0]["world_size"] == 2  # rank 0 alone writes events
    single = run([sys.executable, "-m", "vae.cli", "train", *ARGS, "--out", str(tmp_path / "single")])
    assert single.returncode == 0, single.stderr[-3000:]
    single_elbo = load_bundle(tmp_path / "single").config["metrics"]["test_neg_elbo"]
    assert abs(bundle.config["metrics"]["test_neg_elbo"] - single_elbo) < 2.0
