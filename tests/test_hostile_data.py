"""Hostile data files and bundles: each is refused with a reason, in bounded time and memory, and the
server keeps answering (issue 20, defects 1, 4-6 and 8-10)."""

from __future__ import annotations

import io
import tracemalloc
import zipfile

import numpy as np
import pytest

from ui.text import visible
from vae.data.own import check_arrays
from vae.portable.uploads import UploadRefused, extract_zip

from .test_app_train_own_data import start_button, train_dir, upload  # noqa: F401 (train_dir: a fixture)
from .test_open_model import upload_zip


def npz_bytes(**arrays: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    return buffer.getvalue()


def test_a_huge_label_value_is_refused_before_a_name_is_made_per_value(tmp_path):
    file = tmp_path / "labels.npz"
    labels = np.arange(20, dtype=np.int64)
    labels[7] = 2_000_000  # one name per value would be two million strings (about 130 MB)
    file.write_bytes(npz_bytes(images=np.zeros((20, 12, 12), np.uint8), labels=labels))
    tracemalloc.start()
    try:
        check = check_arrays(file)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert check.refusal == "labels.npz: labels go up to 2,000,000; at most 1,000 classes are allowed"
    assert peak < 5 * 2**20, f"{peak:,} bytes allocated to refuse it"


def test_the_train_page_refuses_labels_of_2_to_the_62_and_still_answers(train_dir):  # noqa: F811
    labels = np.zeros(20, np.int64)
    labels[-1] = 2**62
    at = upload("arrays", "huge.npz", npz_bytes(images=np.zeros((20, 12, 12), np.uint8), labels=labels))
    assert not at.exception
    assert any("labels go up to 4,611,686,018,427,387,904" in visible(e.value) for e in at.error)
    assert start_button(at).disabled
    at.radio(key="own_kind").set_value("folder").run()
    assert not at.exception


def zip_bytes(*members: tuple[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in members:
            archive.writestr(name, data)
    return buffer.getvalue()


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
