"""Files that are not what a bundle, a training run or an upload should hold: each is refused with a
reason, quickly, and never blocks (issue 12's reliability items 1-3, 6, 7, 9 and 10)."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest
import torch

from vae.bundle import CONFIG, BundleError, load_bundle, read_config
from vae.bundle.catalog import fingerprint, scan
from vae.bundle.schema import MAX_CLASS_NAME, MAX_CLASSES
from vae.bundle.write import _file_record
from vae.files import NotARegularFile, read_regular
from vae.models import REGISTRY, ConvConfig, MLPConfig, build_model, config_from_dict
from vae.models.size import MAX_PARAMETERS, model_size
from vae.training.events import read_events
from vae.training.jobs import JobRegistry, tail

from .conftest import ROOT

BUNDLE_FILES = ["config.json", "model.safetensors", "latents.npz", "test_images.npz", "projection_pca.npz"]
KINDS = ["fifo", "directory", "socket", "symlink"]


def within(seconds: float, fn, *args):
    """`fn(*args)`, or a failure if it has not returned after `seconds` (a blocked open never does)."""
    outcome: dict = {}

    def call():
        try:
            outcome["value"] = fn(*args)
        except BaseException as exc:  # handed to the test below
            outcome["error"] = exc

    worker = threading.Thread(target=call, daemon=True)
    worker.start()
    worker.join(seconds)
    assert not worker.is_alive(), f"{getattr(fn, '__name__', fn)} still running after {seconds} s"
    if "error" in outcome:
        raise outcome["error"]
    return outcome.get("value")


def replace_with(path: Path, kind: str, keep: list) -> None:
    """Put a FIFO, a directory, a listening socket or a symbolic link where the file `path` was."""
    path.unlink()
    if kind == "fifo":
        os.mkfifo(path)
    elif kind == "directory":
        path.mkdir()
    elif kind == "socket":
        server = socket.socket(socket.AF_UNIX)
        server.bind(str(path))
        server.listen()
        keep.append(server)
    else:
        path.symlink_to("/dev/zero")


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("name", BUNDLE_FILES)
def test_a_special_file_in_a_bundle_is_refused_within_2_s(tiny_bundle, name, kind):
    keep: list = []
    replace_with(tiny_bundle / name, kind, keep)
    try:
        (entry,) = within(2, scan, [tiny_bundle.parent])
        assert not entry.valid
        with pytest.raises(BundleError) as refused:
            within(2, load_bundle, tiny_bundle)
        # A socket cannot even be opened (ENXIO) where lstat is not asked first, as for config.json.
        expected = {"fifo": ["a named pipe"], "directory": ["a directory"], "symlink": ["a symbolic link"],
                    "socket": ["a socket", "not a regular file"]}[kind]
        assert any(f"{name} is {e}" in p for e in expected for p in refused.value.problems), refused.value.problems
        within(2, fingerprint, tiny_bundle)
    finally:
        for server in keep:
            server.close()


def test_loading_stops_at_the_first_stage_with_a_problem(tiny_bundle, monkeypatch):
    """A file with the wrong size: nothing is read or parsed, not even the files that are fine."""
    latents = tiny_bundle / "latents.npz"
    latents.write_bytes(latents.read_bytes() + b"\0")
    def only_the_config(path, limit):
        assert Path(path).name == CONFIG, f"{path} was opened"
        return read_regular(path, limit)

    monkeypatch.setattr("vae.bundle.read.read_regular", only_the_config)
    with pytest.raises(BundleError, match="latents.npz: .* bytes"):
        load_bundle(tiny_bundle)


def test_read_regular_refuses_what_is_not_a_regular_file(tmp_path):
    os.mkfifo(tmp_path / "pipe")
    (tmp_path / "big").write_bytes(b"x" * 11)
    (tmp_path / "link").symlink_to(tmp_path / "big")
    for name, message in (("pipe", "named pipe"), ("big", "larger than 10"), ("link", "symbolic link")):
        with pytest.raises(NotARegularFile, match=message):
            within(2, read_regular, tmp_path / name, 10)


def test_a_training_run_with_special_files_is_read_as_empty(tmp_path):
    os.mkfifo(tmp_path / "events.jsonl")
    os.mkfifo(tmp_path / "train.log")
    assert within(2, read_events, tmp_path / "events.jsonl") == []
    assert within(2, tail, tmp_path / "train.log") == ""
    (tmp_path / ".jobs").mkdir()
    os.mkfifo(tmp_path / ".jobs" / "current.json")
    assert within(2, JobRegistry(tmp_path).current) is None


def test_a_damaged_events_log_gives_the_events_that_are_sound(tmp_path):
    from vae.training.progress import summarize_events

    lines = [b'{"event": "train_start", "epochs": "many", "total_steps": 4, "steps_per_epoch": 2}',
             b"[1, 2]", b"\xff\xfe not utf-8", b"[" * 100_000,
             b'{"event": "step_end", "epoch": 1, "step": 1, "global_step": 1, "recon": "x", "kl": 1}',
             b'{"event": "epoch_end", "epoch": 1, "test_neg_elbo": 200.5}']
    (tmp_path / "events.jsonl").write_bytes(b"\n".join(lines) + b"\n")
    events = read_events(tmp_path / "events.jsonl")
    assert all(isinstance(e, dict) for e in events) and len(events) == 3
    progress = summarize_events(events)
    assert progress.epochs == 0 and progress.steps == [] and progress.epochs_completed == 1


# ---------------------------------------------------------------- config.json, sizes and counts

def rewrite_config(bundle: Path, change) -> None:
    config = json.loads((bundle / CONFIG).read_text())
    change(config)
    (bundle / CONFIG).write_text(json.dumps(config))


def test_a_model_too_big_is_refused_from_its_config_alone(tiny_bundle, monkeypatch):
    from vae.models.mlp import MLPVAE

    built_on = []
    real_init = MLPVAE.__init__

    def watched_init(self, config):  # where every construction of the model happens
        built_on.append(torch.get_default_device().type)
        real_init(self, config)

    rewrite_config(tiny_bundle, lambda c: c["model"].update(hidden=[4096] * 8))
    monkeypatch.setattr(MLPVAE, "__init__", watched_init)
    with pytest.raises(BundleError, match=r"too big: 241,[0-9,]+ parameters"):
        read_config(tiny_bundle)
    assert built_on == ["meta"]  # counted on the meta device; no 0.97 GB of weights were allocated
    (entry,) = scan([tiny_bundle.parent])  # the listing says so too, from config.json alone
    assert not entry.valid and "too big" in entry.problems[0]


def test_the_size_bound_counts_the_real_model(tiny_bundle):
    """Parameters from the meta device, activations from each config: both agree with a real model."""
    for config in (MLPConfig(hidden=(64, 32), latent_dim=4), ConvConfig(channels=(8, 16), hidden=32),
                   ConvConfig(input_shape=(3, 32, 32), channels=(4, 8), hidden=16, full_res_channels=4)):
        model = build_model(config)
        floats = []
        hooks = [m.register_forward_hook(lambda m, i, o, floats=floats: floats.append(o.numel()))
                 for m in model.modules() if not list(m.children()) and not isinstance(m, torch.nn.Flatten)]
        with torch.no_grad():
            model(torch.zeros(1, *config.input_shape))
        for hook in hooks:
            hook.remove()
        parameters, activations = model_size(REGISTRY[config.arch][1], config)
        assert parameters == sum(p.numel() for p in model.parameters())
        assert 0.9 * sum(floats) <= activations <= 1.1 * sum(floats) + 2 * config.latent_dim, (config, floats)
    config = config_from_dict({"arch": "mlp", "hidden": [8192] * 8})  # each size is allowed...
    with pytest.raises(ValueError, match="too big"):  # ...not their product
        build_model(config)
    assert model_size(REGISTRY["mlp"][1], MLPConfig(hidden=(8192,) * 8))[0] > MAX_PARAMETERS


@pytest.mark.parametrize("names, ok", [
    ([f"c{i}" for i in range(MAX_CLASSES)], True),
    ([f"c{i}" for i in range(20_000)], False),
    (["x" * (MAX_CLASS_NAME + 1)] + [str(i) for i in range(9)], False),
    ([], False),
])
def test_class_names_are_capped_in_number_and_length(tiny_bundle, names, ok):
    rewrite_config(tiny_bundle, lambda c: c["dataset"].update(class_names=names))
    if ok:
        read_config(tiny_bundle)
    else:
        with pytest.raises(BundleError, match="class name"):
            read_config(tiny_bundle)


def test_a_bundle_without_test_images_is_refused(tiny_bundle):
    config = json.loads((tiny_bundle / CONFIG).read_text())
    empty = {"latents.npz": {"mu": np.zeros((0, 4), np.float32), "logvar": np.zeros((0, 4), np.float32),
                             "labels": np.zeros(0, np.int64), "kl_per_dim": np.zeros(4, np.float32)},
             "test_images.npz": {"images": np.zeros((0, 1, 28, 28), np.uint8)},
             "projection_pca.npz": {"xy": np.zeros((0, 2), np.float32)}}
    for name, arrays in empty.items():
        np.savez(tiny_bundle / name, **arrays)
        config["files"][name] = _file_record(tiny_bundle / name)
    (tiny_bundle / CONFIG).write_text(json.dumps(config))
    with pytest.raises(BundleError, match="no test images"):
        load_bundle(tiny_bundle)


# ---------------------------------------------------------------- the evaluate command

def evaluate(bundle: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "vae.cli", "evaluate", str(bundle), "--iwae-k", "0"],
                          cwd=ROOT, capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("damage", ["unknown likelihood", "sigma 0", "deep nesting", "unreadable file"])
def test_evaluate_says_what_is_wrong_in_one_line(tiny_bundle, damage):
    if damage == "unknown likelihood":
        rewrite_config(tiny_bundle, lambda c: c["training"].update(likelihood="poisson"))
    elif damage == "sigma 0":
        rewrite_config(tiny_bundle, lambda c: c["training"].update(likelihood="gaussian", gaussian_sigma=0))
    elif damage == "deep nesting":
        (tiny_bundle / CONFIG).write_text('{"format": "vae-lab-bundle", "x": ' + "[" * 100_000 + "]" * 100_000 + "}")
    else:
        (tiny_bundle / "latents.npz").unlink()
        os.mkfifo(tiny_bundle / "latents.npz")
    result = evaluate(tiny_bundle)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr[-2000:]


# ---------------------------------------------------------------- a busy folder beside the bundles

_listed: list[list[str]] = []


def _audit(event: str, args: tuple) -> None:
    if _listed and event in ("os.listdir", "os.scandir"):
        _listed[-1].append(str(args[0]))


sys.addaudithook(_audit)  # records only inside `folders_listed`


def folders_listed(fn, *args) -> list[str]:
    _listed.append([])
    try:
        fn(*args)
    finally:
        listed = _listed.pop()
    return listed


def test_a_busy_folder_beside_the_bundles_is_never_listed(tiny_bundle):
    busy = tiny_bundle.parent / "photos"
    busy.mkdir()
    for i in range(2_000):
        (busy / f"{i}.jpg").write_bytes(b"")
    (busy / "old.safetensors").write_bytes(b"")  # once enough to be listed as a bundle
    listed = folders_listed(scan, [tiny_bundle.parent]) + folders_listed(fingerprint, busy)
    assert str(busy) not in listed and [e.path.name for e in scan([tiny_bundle.parent])] == ["tiny"]


def test_copy_of_a_shipped_bundle_still_loads(tmp_path):
    """The checks refuse none of the shipped bundles."""
    shutil.copytree(ROOT / "checkpoints" / "fashion-mnist-conv-z2", tmp_path / "z2")
    load_bundle(tmp_path / "z2")
    read_config(ROOT / "checkpoints" / "fashion-mnist-conv-z16")
