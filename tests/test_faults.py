"""Faults and bad input: fuzzed bundles and uploads, and a disk that fills up while saving.

Each test asserts that nothing is lost and that the only outcome of bad input is a clear error.
"""

from __future__ import annotations

import json
import pickle
import shutil
import struct
import subprocess
import sys
import zlib
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from vae.bundle import CONFIG, BundleError, load_bundle, write_bundle
from vae.bundle.write import _file_record
from vae.data import make_synthetic
from vae.data.images import MAX_PIXELS, ImageInputError, load_image
from vae.training import read_events

from .conftest import ROOT, bundle_meta, train_tiny

BUNDLE_FILES = ["config.json", "model.safetensors", "latents.npz", "test_images.npz", "projection_pca.npz"]
FUZZ = settings(max_examples=500, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)


@pytest.fixture(scope="module")
def pristine(tmp_path_factory) -> Path:
    dataset = make_synthetic(n_train=256, n_test=64, seed=2)
    model, result = train_tiny(dataset, epochs=1)
    return write_bundle(tmp_path_factory.mktemp("fuzz") / "bundle", model, dataset.test_images,
                        dataset.test_labels, bundle_meta(dataset, result))


@pytest.fixture()
def no_unpickling(monkeypatch):
    """Any attempt to unpickle fails the test (np.load and torch.load both go through these)."""
    def refuse(*args, **kwargs):
        raise AssertionError("something tried to unpickle")

    class RefusingUnpickler(pickle.Unpickler):  # a class still, so modules may subclass it
        def __init__(self, *args, **kwargs):
            refuse()

    monkeypatch.setattr(pickle, "load", refuse)
    monkeypatch.setattr(pickle, "loads", refuse)
    monkeypatch.setattr(pickle, "Unpickler", RefusingUnpickler)


def test_the_guard_catches_unpickling(no_unpickling, tmp_path):
    np.save(tmp_path / "objects.npy", np.array([{"a": 1}], dtype=object), allow_pickle=True)
    with pytest.raises(AssertionError, match="unpickle"):
        np.load(tmp_path / "objects.npy", allow_pickle=True)


def mutate(data: bytes, draw_positions: list[tuple[int, int]], truncate_at: int | None) -> bytes:
    out = bytearray(data)
    for position, value in draw_positions:
        out[position % len(out)] = value
    return bytes(out[:truncate_at] if truncate_at is not None else out)


@pytest.mark.usefixtures("no_unpickling")
@pytest.mark.parametrize("name", BUNDLE_FILES)
def test_fuzzed_bundle_files_are_refused_cleanly(pristine, tmp_path_factory, name):
    work = tmp_path_factory.mktemp(f"work-{name}") / "bundle"
    shutil.copytree(pristine, work)
    original = (pristine / name).read_bytes()
    config = json.loads((pristine / CONFIG).read_text())
    outcomes = {"refused": 0, "loaded": 0}

    @FUZZ
    @given(positions=st.lists(st.tuples(st.integers(0, 2**31), st.integers(0, 255)), max_size=16),
           truncate=st.one_of(st.none(), st.integers(0, len(original))),
           vouch=st.booleans())
    def check(positions, truncate, vouch):
        damaged = mutate(original, positions, truncate)
        (work / name).write_bytes(damaged)
        if vouch and name != CONFIG:  # an attacker who also rewrites the checksums in config.json
            record = dict(config, files={**config["files"], name: _file_record(work / name)})
            (work / CONFIG).write_text(json.dumps(record))
        try:
            load_bundle(work)
            outcomes["loaded"] += 1
        except BundleError as exc:
            assert exc.problems and all(isinstance(p, str) and p for p in exc.problems)
            outcomes["refused"] += 1
        finally:
            shutil.copy2(pristine / name, work / name)
            shutil.copy2(pristine / CONFIG, work / CONFIG)

    check()
    assert outcomes["refused"] >= 250, outcomes  # most damage is caught, none of it crashes
    load_bundle(pristine)


def png_header(width: int, height: int, body: bytes) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0))
            + chunk(b"IDAT", body) + chunk(b"IEND", b""))


@pytest.mark.usefixtures("no_unpickling")
@FUZZ
@given(data=st.binary(max_size=4096))
def test_random_bytes_as_an_upload_give_a_message_or_an_image(data):
    try:
        pixels = load_image(data, (1, 28, 28), name="upload")
    except ImageInputError as exc:
        assert str(exc).startswith("upload: ")
    else:
        assert pixels.shape == (1, 28, 28) and pixels.dtype == np.uint8


@FUZZ
@given(width=st.integers(1, 2**31 - 1), height=st.integers(1, 2**31 - 1), body=st.binary(max_size=256))
def test_huge_or_broken_image_headers_are_refused_before_decoding(width, height, body):
    data = png_header(width, height, zlib.compress(body))
    try:
        load_image(data, (1, 28, 28), name="big.png")
    except ImageInputError as exc:
        if width * height > MAX_PIXELS:
            assert "too large" in str(exc) or "not a supported image" in str(exc)


# ---------------------------------------------------------------- a disk that fills up

@pytest.fixture()
def small_disk(tmp_path):
    """A 3 MB tmpfs: a real file system that runs out of space."""
    mount = tmp_path / "disk"
    mount.mkdir()
    result = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=3m", "tmpfs", str(mount)], capture_output=True)
    if result.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here (needs root): {result.stderr.decode().strip()}")
    yield mount
    subprocess.run(["umount", "-l", str(mount)], check=False)


def fill(disk: Path, leave_bytes: int) -> None:
    stat = shutil.disk_usage(disk)
    with (disk / "filler").open("wb") as handle:
        handle.write(b"\0" * max(0, stat.free - leave_bytes))


def snapshot(path: Path) -> dict[str, bytes]:
    return {f.name: f.read_bytes() for f in sorted(path.iterdir()) if f.is_file()}


def test_a_full_disk_while_saving_keeps_the_previous_bundle(small_disk, synthetic):
    model, result = train_tiny(synthetic)
    meta = bundle_meta(synthetic, result)
    out = write_bundle(small_disk / "b", model, synthetic.test_images, synthetic.test_labels, meta)
    before = snapshot(out)
    fill(small_disk, leave_bytes=64 * 1024)
    retrained, _ = train_tiny(synthetic, epochs=1)
    with pytest.raises(OSError, match="No space left"):
        write_bundle(out, retrained, synthetic.test_images, synthetic.test_labels, meta)
    assert snapshot(out) == before and not list(out.glob(".staging-*"))
    load_bundle(out)


def test_the_cli_reports_a_full_disk_and_leaves_the_old_bundle(small_disk, synthetic):
    model, result = train_tiny(synthetic)
    out = write_bundle(small_disk / "b", model, synthetic.test_images, synthetic.test_labels,
                       bundle_meta(synthetic, result))
    before = snapshot(out)
    fill(small_disk, leave_bytes=96 * 1024)
    run = subprocess.run([sys.executable, "-m", "vae.cli", "train", "--dataset", "synthetic", "--arch", "mlp",
                          "--latent-dim", "4", "--hidden", "64", "--epochs", "1", "--no-umap", "--live-map", "0",
                          "--overwrite", "--out", str(out)], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert run.returncode == 1, run.stderr[-2000:]
    assert "could not save the bundle" in run.stderr and "No space left" in run.stderr
    assert "Traceback" not in run.stderr
    assert {k: v for k, v in snapshot(out).items() if k != "events.jsonl"} == before
    end = read_events(out / "events.jsonl")[-1]
    assert end["event"] == "run_end" and end["status"] == "failed" and end["bundle"] is None
    load_bundle(out)
