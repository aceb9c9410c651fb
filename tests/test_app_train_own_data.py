"""The Train page with your own data: checked before Start is enabled, refused with a reason, trained on."""

from __future__ import annotations

import io
import zipfile

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from ui.text import visible
from vae.bundle import load_bundle
from vae.training.jobs import JobRegistry

from .conftest import page_script
from .test_own_data import write_folder, zip_of


@pytest.fixture()
def train_dir(tmp_path, monkeypatch):
    folder = tmp_path / "runs"
    folder.mkdir()
    monkeypatch.setenv("VAE_LAB_TRAIN_DIR", str(folder))
    monkeypatch.delenv("VAE_LAB_TOKEN", raising=False)
    monkeypatch.delenv("VAE_LAB_DATA_DIRS", raising=False)
    return folder


def own_data_page(kind: str) -> AppTest:
    at = AppTest.from_file(page_script("train"), default_timeout=60).run()
    at.selectbox(key="train_dataset").set_value("your own data").run()
    return at.radio(key="own_kind").set_value(kind).run()


def upload(kind: str, name: str, data: bytes) -> AppTest:
    at = own_data_page(kind)
    at.file_uploader(key=f"own_upload_{kind}").set_value((name, data, "application/octet-stream"))
    return at.run()


def start_button(at: AppTest):
    return next(b for b in at.button if b.label == "Start training")


def texts(at: AppTest) -> str:
    return "\n".join(visible(e.value) for e in [*at.markdown, *at.caption, *at.error, *at.warning])


def balance(at: AppTest) -> dict[str, int]:
    table = at.dataframe[0].value
    return dict(zip(table["class"], table["images"], strict=True))


def test_start_waits_for_a_checked_source(train_dir):
    at = own_data_page("folder")
    assert not at.exception and start_button(at).disabled
    assert [visible(o) for o in at.radio(key="own_kind").options] == [
        "a folder on this server", "a zip of class sub-folders", "a .npy or .npz file"]


def test_a_server_folder_is_checked_and_its_balance_shown(train_dir, tmp_path):
    folder = write_folder(tmp_path / "shapes")
    at = own_data_page("folder")
    at.text_input(key="own_folder").set_value(str(folder)).run()
    assert not at.exception and not at.error
    assert "15 images · 28×28 · grey, 1 channel · PNG 12, JPEG 3" in texts(at)
    assert balance(at) == {"circles": 7, "squares": 5, "zigzags": 3}
    assert "One image in 10 of each class (3 images) is held out" in texts(at)
    assert not start_button(at).disabled


def test_a_folder_of_mixed_sizes_is_refused_and_start_stays_off(train_dir, tmp_path):
    write_folder(tmp_path / "mixed", {"a": 3}, size=(28, 28))
    write_folder(tmp_path / "mixed", {"b": 2}, size=(32, 32))
    at = own_data_page("folder")
    at.text_input(key="own_folder").set_value(str(tmp_path / "mixed")).run()
    assert any("Cannot train on this: the images come in 2 sizes" in visible(e.value) for e in at.error)
    assert start_button(at).disabled


def test_a_network_server_reads_only_listed_folders(train_dir, tmp_path, monkeypatch):
    monkeypatch.setenv("VAE_LAB_TOKEN", "secret")
    at = AppTest.from_file(page_script("train"), default_timeout=60)
    at.session_state["access_unlocked"] = True
    at.run().selectbox(key="train_dataset").set_value("your own data").run()
    at.text_input(key="own_folder").set_value(str(write_folder(tmp_path / "shapes"))).run()
    assert any("reads folders only under: none" in visible(e.value) for e in at.error)
    assert start_button(at).disabled


def test_an_uploaded_zip_is_checked_then_trained_on(train_dir, tmp_path):
    folder = write_folder(tmp_path / "shapes", {"left": 30, "right": 20}, size=(16, 16))
    at = upload("zip", "shapes.zip", zip_of(folder))
    assert not at.exception and not at.error
    assert balance(at) == {"left": 30, "right": 20}
    assert "50 images · 16×16" in texts(at) and "(5 images) is held out" in texts(at)
    for key, value in (("train_latent_dim", 2), ("train_epochs", 1), ("train_batch_size", 16)):
        at.number_input(key=key).set_value(value)
    at.selectbox(key="train_arch").set_value("mlp")
    at.text_input(key="train_name").set_value("own-zip")
    start_button(at).click().run()
    assert not at.exception and not at.error
    job = JobRegistry(train_dir).wait(300)
    assert job.status == "completed", job.message
    assert job.request["dataset"].startswith(f"folder:{train_dir.resolve()}/.uploads/")
    bundle = load_bundle(train_dir / "own-zip")
    assert bundle.config["dataset"]["class_names"] == ["left", "right"]
    assert bundle.config["dataset"]["n_test"] == 5 and len(bundle.images) == 5


def zip_bytes(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()


@pytest.mark.parametrize(("members", "reason"), [
    ({}, "Cannot train on this:"),
    ({"cats/../../../escaped.png": b"x"}, "Refused: the zip holds an unsafe path"),
])
def test_a_bad_zip_is_refused_with_one_line(train_dir, tmp_path, members, reason):
    at = upload("zip", "bad.zip", zip_bytes(members))
    assert not at.exception
    assert any(reason in visible(e.value) for e in at.error)
    assert start_button(at).disabled and not (tmp_path / "escaped.png").exists()


def test_an_uploaded_npz_shows_its_classes(train_dir, tmp_path):
    buffer = io.BytesIO()
    np.savez(buffer, images=np.zeros((30, 12, 12, 3), np.float32), labels=np.repeat([0, 1, 2], 10),
             class_names=np.array(["[a](http://x)", "b", "c"]))
    at = upload("arrays", "mine.npz", buffer.getvalue())
    assert not at.exception and not at.error
    assert balance(at) == {"[a](http://x)": 10, "b": 10, "c": 10}
    assert "30 images · 12×12 · colour, 3 channels · .npz of float32 30" in texts(at)
    assert "sides divisible by 4" not in texts(at)


@pytest.mark.parametrize(("array", "reason"), [
    (np.array([{"a": 1}], dtype=object), "holds Python objects"),
    (np.full((4, 16, 16), 2.0, np.float32), "must be in [0, 1]"),
])
def test_a_bad_npy_is_refused_with_its_reason(train_dir, array, reason):
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=True)
    at = upload("arrays", "bad.npy", buffer.getvalue())
    assert not at.exception
    assert any(reason in visible(e.value) for e in at.error)
    assert start_button(at).disabled
