"""Hostile data files and bundles: each is refused with a reason, in bounded time and memory, and the
server keeps answering (issue 20, defects 1, 4-6 and 8-10)."""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import subprocess
import sys
import tracemalloc
import zipfile
from pathlib import Path

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from ui import bundles
from ui.text import visible
from vae.bundle import CONFIG, LATENTS, BundleError, load_bundle, read_config, update_config
from vae.bundle.format import IMAGES_MAPPED
from vae.data.own import check_arrays
from vae.diagnostics import cache
from vae.portable.uploads import UploadRefused, extract_zip

from .conftest import ROOT, page_script, write_large_map
from .test_app_train_own_data import start_button, train_dir, upload  # noqa: F401 (train_dir: a fixture)
from .test_open_model import upload_zip


def npz_bytes(**arrays: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    return buffer.getvalue()


def zip_bytes(*members: tuple[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members:
            archive.writestr(name, data)
    return buffer.getvalue()


def npy_header(shape: tuple[int, ...], descr: str = "|u1") -> bytes:
    """A .npy header declaring `shape`, with no data after it."""
    buffer = io.BytesIO()
    np.lib.format.write_array_header_1_0(buffer, {"descr": descr, "fortran_order": False, "shape": shape})
    return buffer.getvalue()


def checked_with_peak(file) -> tuple[str | None, int]:
    """`check_arrays(file)`'s refusal, and the most memory Python and NumPy held while it ran."""
    tracemalloc.start()
    try:
        refusal = check_arrays(file).refusal
        return refusal, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_a_huge_label_value_is_refused_before_a_name_is_made_per_value(tmp_path):
    file = tmp_path / "labels.npz"
    labels = np.arange(20, dtype=np.int64)
    labels[7] = 2_000_000  # one name per value would be two million strings (about 130 MB)
    file.write_bytes(npz_bytes(images=np.zeros((20, 12, 12), np.uint8), labels=labels))
    refusal, peak = checked_with_peak(file)
    assert refusal == "labels.npz: labels go up to 2,000,000; at most 1,000 classes are allowed"
    assert peak < 5 * 2**20, f"{peak:,} bytes allocated to refuse it"


def test_labels_of_another_length_are_refused_before_they_are_read(tmp_path):
    file = tmp_path / "long-labels.npz"
    file.write_bytes(zip_bytes(("images.npy", npy_header((3, 9, 9)) + bytes(243)),
                               ("labels.npy", npy_header((2**21,), "<i8") + bytes(2**24))))  # 16 MB, packed to 16 kB
    refusal, peak = checked_with_peak(file)
    assert refusal == "long-labels.npz: labels must be 3 integers, got int64[2097152]"
    assert peak < 4 * 2**20, f"{peak:,} bytes allocated to refuse it"


def test_the_train_page_refuses_labels_of_2_to_the_62_and_still_answers(train_dir):  # noqa: F811
    labels = np.zeros(20, np.int64)
    labels[-1] = 2**62
    at = upload("arrays", "huge.npz", npz_bytes(images=np.zeros((20, 12, 12), np.uint8), labels=labels))
    assert not at.exception
    assert any("labels go up to 4,611,686,018,427,387,904" in visible(e.value) for e in at.error)
    assert start_button(at).disabled
    at.radio(key="own_kind").set_value("folder").run()
    assert not at.exception


@pytest.mark.parametrize("members", [
    [("model_config.json", b"{}"), ("net", b"file first"), ("net/weights.bin", b"then a folder")],
    [("net/deeper/weights.bin", b"folder first"), ("net/deeper", b"then a file")],
])
def test_a_name_both_file_and_folder_in_a_zip_is_refused_and_nothing_is_left(tmp_path, members):
    dest = tmp_path / "workspace" / "model"
    with pytest.raises(UploadRefused, match="holds '(net|net/deeper)' both as a file and as a folder"):
        extract_zip(zip_bytes(*members), dest)
    assert not dest.exists()


def test_open_a_model_refuses_that_zip_and_keeps_no_workspace(train_dir):  # noqa: F811
    at = upload_zip(zip_bytes(("model_config.json", b"{}"), ("a", b"x"), ("a/b", b"y")))
    assert not at.exception
    assert any("Refused: the zip holds 'a' both as a file and as a folder" in e.value for e in at.error)
    assert not list((train_dir / ".imports").iterdir())
    at.run()
    assert not at.exception


WRAPS = (4, 2**31, 2**31)  # 2^64 bytes: np.prod in int64 says 0


@pytest.mark.parametrize(("name", "data", "reason"), [
    ("wraps.npy", npy_header(WRAPS) + bytes(64),
     "wraps.npy: its header says uint8[4, 2147483648, 2147483648], which does not fit its 64 bytes of data"),
    ("short.npy", npy_header((20, 28, 28)) + bytes(100),
     "short.npy: its header says uint8[20, 28, 28], which does not fit its 100 bytes of data"),
    ("short.npz", zip_bytes(("images.npy", npy_header((20, 28, 28)) + bytes(20 * 784)),
                            ("labels.npy", npy_header((20,), "<i8") + bytes(8 * 19))),
     "short.npz:labels: its header says int64[20], which does not fit its 152 bytes of data"),
], ids=["wraps.npy", "short.npy", "short.npz"])  # the zip's bytes hold its time: not an id two workers agree on
def test_a_header_that_lies_about_its_size_is_refused_with_a_reason(tmp_path, name, data, reason):
    (tmp_path / name).write_bytes(data)
    assert check_arrays(tmp_path / name).refusal == reason


def test_the_train_page_refuses_a_header_whose_size_wraps_and_still_answers(train_dir):  # noqa: F811
    at = upload("arrays", "wraps.npy", npy_header(WRAPS) + bytes(64))
    assert not at.exception
    assert any("which does not fit its 64 bytes of data" in visible(e.value) for e in at.error)
    assert start_button(at).disabled


def replace_file(bundle: Path, name: str, data: bytes) -> None:
    """What an attacker would do: replace a bundle's file and make config.json vouch for it."""
    (bundle / name).write_bytes(data)
    config = json.loads((bundle / CONFIG).read_text())
    config["files"][name] = {"bytes": len(data), "sha256": hashlib.sha256(data).hexdigest()}
    (bundle / CONFIG).write_text(json.dumps(config))


def explore(checkpoints: Path, monkeypatch, name: str) -> AppTest:
    monkeypatch.setenv("VAE_LAB_CHECKPOINTS", str(checkpoints))
    at = AppTest.from_file(page_script("explore"), default_timeout=60)
    at.session_state["bundle_choice"] = at.session_state["bundle"] = name
    return at.run()


def shown(at: AppTest) -> str:
    return "\n".join(visible(e.value) for e in [*at.error, *at.caption, *at.markdown])


def test_a_mapped_image_header_whose_size_wraps_lists_the_bundle_as_invalid(tmp_path, monkeypatch):
    bundle = write_large_map(tmp_path / "maps" / "wraps", 64)
    replace_file(bundle, IMAGES_MAPPED, npy_header((2**32, 2**32, 1, 1)))  # 2^64 bytes, 0 in int64
    with pytest.raises(BundleError, match=r"test_images.npy: its header says uint8\[4294967296, 4294967296, 1, 1\], "
                                          "which does not fit its 0 bytes of data"):
        load_bundle(bundle)
    at = explore(tmp_path / "maps", monkeypatch, "wraps")
    assert not at.exception
    assert "Cannot open wraps: it failed its checks" in shown(at) and "which does not fit its 0 bytes" in shown(at)


def test_any_error_while_a_bundle_is_checked_lists_it_as_invalid_with_the_reason(tmp_path, monkeypatch):
    write_large_map(tmp_path / "maps" / "odd", 16)

    def fails(path):
        raise ValueError("a check nobody wrote")

    monkeypatch.setattr(bundles, "load_bundle", fails)
    at = explore(tmp_path / "maps", monkeypatch, "odd")
    assert not at.exception
    assert "Cannot open odd: it failed its checks" in shown(at)
    assert "unexpected error: ValueError: a check nobody wrote" in shown(at)


def test_latents_declaring_a_larger_shape_are_refused_before_they_are_inflated(tiny_bundle):
    with np.load(tiny_bundle / LATENTS) as npz:
        latents = {key: npz[key] for key in npz.files}
    latents["mu"] = np.zeros((128, 2**17), np.float32)  # 64 MB of zeros, 64 kB packed
    buffer = io.BytesIO()
    np.savez_compressed(buffer, **latents)
    assert len(buffer.getvalue()) < 2**20
    replace_file(tiny_bundle, LATENTS, buffer.getvalue())
    tracemalloc.start()
    try:
        with pytest.raises(BundleError, match=r"latents.npz: mu is \(128, 131072\) of float32, expected \(128, 4\)"):
            load_bundle(tiny_bundle)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 16 * 2**20, f"{peak:,} bytes allocated to refuse it"


def test_a_bundles_arrays_are_bounded_all_together(tiny_bundle, monkeypatch):
    monkeypatch.setattr("vae.bundle.npz.MAX_ARRAYS_BYTES", 100_000)  # the images alone are 100,352 bytes
    with pytest.raises(BundleError, match="test_images.npz: array .images. takes the bundle.s arrays past 100,000"):
        load_bundle(tiny_bundle)
    monkeypatch.setattr("vae.bundle.npz.MAX_ARRAYS_BYTES", 102_000)  # room for the images, not for the latents too
    with pytest.raises(BundleError, match="latents.npz: array '(mu|logvar)' takes the bundle's arrays past"):
        load_bundle(tiny_bundle)


def test_a_bundle_whose_files_add_up_past_the_limit_is_listed_as_invalid(tiny_bundle):
    config = json.loads((tiny_bundle / CONFIG).read_text())
    for i in range(3):  # each under the 1 GB a file may have
        config["files"][f"extra{i}.bin"] = {"bytes": 2**30 - 1, "sha256": "0" * 64}
    (tiny_bundle / CONFIG).write_text(json.dumps(config))
    with pytest.raises(BundleError, match=r"its files \(but test_images.npy\) are more than 2 GB in all"):
        read_config(tiny_bundle)


TRUNCATE_UNDER_A_READER = """
import os, sys
import numpy as np
from vae.bundle import load_bundle
bundle = load_bundle(sys.argv[1])
before = int(bundle.images[-1].sum())
os.truncate(os.path.join(sys.argv[1], "test_images.npy"), 128)  # what a `cp` over it does first
print(before, int(bundle.images[-1].sum()), int(np.asarray(bundle.images).sum(dtype=np.int64)))
"""


def test_a_mapped_image_file_truncated_under_a_reader_does_not_kill_it(tmp_path):
    bundle = write_large_map(tmp_path / "mapped", 4096)
    images = np.lib.format.open_memmap(bundle / IMAGES_MAPPED, mode="r+")
    images[:] = np.arange(images[0].size, dtype=np.uint8).reshape(images.shape[1:])  # no page of zeros
    total, last = int(images.sum(dtype=np.int64)), int(images[-1].sum())
    del images
    replace_file(bundle, IMAGES_MAPPED, (bundle / IMAGES_MAPPED).read_bytes())
    run = subprocess.run([sys.executable, "-c", TRUNCATE_UNDER_A_READER, str(bundle)], cwd=ROOT,
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, f"exit {run.returncode} (a negative one is a signal): {run.stderr[-2000:]}"
    assert run.stdout.split() == [str(last), str(last), str(total)]  # the old data, every page of it


@pytest.fixture()
def cached(tiny_bundle, tmp_path, monkeypatch) -> tuple[Path, dict[str, np.ndarray]]:
    """The tiny bundle, with values for it in a fresh cache (as the Explore page stores them)."""
    monkeypatch.setenv(cache.CACHE_VAR, str(tmp_path / "cache"))
    values = {"neg_elbo": np.linspace(3.0, 5.0, 128, dtype=np.float32)}
    cache.write_cached(tiny_bundle, "per_image", values)
    assert np.array_equal(cache.read_cached(tiny_bundle, "per_image", 10_000)["neg_elbo"], values["neg_elbo"])
    return tiny_bundle, values


def test_cached_values_that_others_may_write_are_not_trusted(cached):
    bundle, _ = cached
    os.chmod(cache.cache_file(bundle, "per_image"), 0o666)
    assert cache.read_cached(bundle, "per_image", 10_000) is None


def test_cached_values_of_another_user_are_not_trusted(cached, monkeypatch):
    bundle, _ = cached
    monkeypatch.setattr(cache.os, "getuid", lambda: os.getuid() + 1)  # the file is now someone else's
    assert cache.read_cached(bundle, "per_image", 10_000) is None


def test_cached_values_are_bound_to_the_bundle_they_were_computed_from(cached, tmp_path):
    bundle, values = cached
    other = shutil.copytree(bundle, tmp_path / "other")
    update_config(other, {"name": "another model"})
    file = cache.cache_file(other, "per_image")
    assert file != cache.cache_file(bundle, "per_image")
    shutil.copy(cache.cache_file(bundle, "per_image"), file)  # values planted under the other bundle's name
    assert cache.read_cached(other, "per_image", 10_000) is None
    np.savez(file, **values)  # or written without a checksum
    os.chmod(file, 0o600)
    assert cache.read_cached(other, "per_image", 10_000) is None
