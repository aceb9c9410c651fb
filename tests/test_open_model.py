"""The "Open a model" page: uploads in, a bundle out (or a one-line refusal, with nothing listed)."""

import io
import json
import zipfile

import pytest
import torch
from streamlit.testing.v1 import AppTest

from vae.bundle import load_bundle
from vae.bundle.catalog import scan

from .conftest import page_script
from .published.training import keras_style_pair
from .test_portable_import import mlp_pair, write_spec


@pytest.fixture()
def train_dir(tmp_path, monkeypatch):
    folder = tmp_path / "checkpoints"
    folder.mkdir()
    monkeypatch.setenv("VAE_LAB_TRAIN_DIR", str(folder))
    return folder


def page() -> AppTest:
    return AppTest.from_file(page_script("open_model"), default_timeout=60).run()


def finish(at: AppTest) -> AppTest:
    """Wait for the import process, then rerun the page as its poll would."""
    at.session_state["open_job"].wait(300)
    return at.run()


def upload_pair(at: AppTest, folder, name: str) -> AppTest:
    for key, file in (("open_encoder", "enc.onnx"), ("open_decoder", "dec.onnx"), ("open_spec", "spec.json")):
        at.file_uploader(key=key).set_value((file, (folder / file).read_bytes(), "application/octet-stream"))
    at.selectbox(key="open_data").set_value("synthetic")
    at.text_input(key="open_name").set_value(name)
    return at.run()


def click_import(at: AppTest) -> AppTest:
    return next(b for b in at.button if b.label == "Import").click().run()


def test_an_uploaded_onnx_pair_becomes_a_bundle_to_open(tmp_path, train_dir):
    mlp_pair(tmp_path)
    write_spec(tmp_path)
    at = click_import(upload_pair(page(), tmp_path, "uploaded-pair"))
    assert not at.exception and not at.error
    at = finish(at)
    assert not at.exception
    assert any("bundle written: uploaded-pair" in s.value for s in at.success)
    assert any(b.label == "Open in the explorer" for b in at.button)
    assert load_bundle(train_dir / "uploaded-pair").config["import"]["route"] == "onnx"
    assert [e.path.name for e in scan([train_dir])] == ["uploaded-pair"]
    assert not list((train_dir / ".imports").iterdir())  # uploads removed once the outcome is shown


def test_a_refused_upload_shows_its_reason_and_lists_nothing(tmp_path, train_dir):
    mlp_pair(tmp_path, probs=False)  # logits declared as probabilities
    write_spec(tmp_path)
    at = finish(click_import(upload_pair(page(), tmp_path, "bad-pair")))
    assert not at.exception
    assert any("Refused:" in e.value and "outside the [0, 1]" in e.value for e in at.error)
    assert scan([train_dir]) == [] and not (train_dir / "bad-pair" / "config.json").exists()
    at.run()  # the app is still up
    assert not at.exception


def zip_bytes(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def upload_zip(data: bytes, name: str = "from-zip") -> AppTest:
    at = page()
    at.radio(key="open_route").set_value("pythae").run()
    at.file_uploader(key="open_zip").set_value(("model.zip", data, "application/zip"))
    at.selectbox(key="open_data").set_value("synthetic")
    at.text_input(key="open_name").set_value(name)
    return click_import(at.run())


def test_a_zip_with_path_traversal_is_refused(tmp_path, train_dir):
    at = upload_zip(zip_bytes({"model_config.json": b"{}", "../../escaped.txt": b"x"}))
    assert not at.exception
    assert any("unsafe path '../../escaped.txt'" in e.value for e in at.error)
    assert not (tmp_path / "escaped.txt").exists() and not (train_dir.parent / "escaped.txt").exists()
    assert "open_job" not in at.session_state and scan([train_dir]) == []
    assert not list((train_dir / ".imports").iterdir())


def test_a_zip_bomb_is_refused_before_it_fills_the_disk(train_dir):
    bomb = zip_bytes({"model_config.json": b"{}", "model.pt": bytes(150 * 2**20)})  # 150 MB of zeros, ~150 KB packed
    assert len(bomb) < 2**20
    at = upload_zip(bomb)
    assert not at.exception
    assert any("zip bomb" in e.value for e in at.error)
    assert scan([train_dir]) == [] and not list((train_dir / ".imports").iterdir())


def test_a_zipped_pythae_folder_with_pickled_nets_is_refused_with_the_torch_route(train_dir):
    config = {"name": "VAEConfig", "input_dim": [1, 28, 28], "latent_dim": 4, "uses_default_encoder": False,
              "uses_default_decoder": True, "reconstruction_loss": "bce"}
    weights = io.BytesIO()
    torch.save({"model_state_dict": {}}, weights)
    at = finish(upload_zip(zip_bytes({"final_model/model_config.json": json.dumps(config).encode(),
                                      "final_model/model.pt": weights.getvalue(),
                                      "final_model/encoder.pkl": b"\x80\x04K\x01."})))
    assert not at.exception
    assert any("cloudpickle" in e.value and "torch route" in e.value for e in at.error)
    assert scan([train_dir]) == []


def test_the_check_shows_what_the_import_finds_and_keeps_nothing(tmp_path, train_dir, synthetic):
    """A Keras-style pair, no spec: Check the model lists the conventions found before anything is
    imported, with a choice for each (the browser test changes one and imports)."""
    keras_style_pair(tmp_path, synthetic.train_images)
    at = page()
    for key, file in (("open_encoder", "encoder.onnx"), ("open_decoder", "decoder.onnx")):
        at.file_uploader(key=key).set_value((file, (tmp_path / file).read_bytes(), "application/octet-stream"))
    at.selectbox(key="open_data").set_value("synthetic")
    at = next(b for b in at.run().button if b.label == "Check the model").click().run()
    assert not at.exception and not at.error
    (table,) = at.table
    found = {k: v.replace("\\", "") for k, v in zip(table.value["convention"], table.value["value"], strict=True)}
    assert found["input layout"] == "nhwc" and found["decoder output"] == "probs" and found["latent shape"] == "(2,)"
    assert at.selectbox(key="open_change_decoder_output").value == "as found"
    assert scan([train_dir]) == [] and not list((train_dir / ".imports").iterdir())  # nothing kept by a check
