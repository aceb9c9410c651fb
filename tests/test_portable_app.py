"""Every page on a portable bundle (ONNX graphs run by onnxruntime), as on a native one."""

import json
import shutil

import numpy as np
import pytest

from .conftest import app_at, run_page, slider_data, slider_values


@pytest.fixture()
def checkpoints(tmp_path, portable_bundle, monkeypatch):
    """A checkpoints folder whose one bundle, 'good', is portable."""
    folder = tmp_path / "extra"
    folder.mkdir()
    shutil.copytree(portable_bundle, folder / "good")
    monkeypatch.setenv("VAE_LAB_CHECKPOINTS", str(folder))
    return folder


def test_explore_shows_the_map_sliders_by_kl_and_a_selected_point(checkpoints):
    at = run_page("explore", {"bundle": "good", "idx": "7", "z": "0.5,-1,0.25,2"})
    assert not at.exception
    data = slider_data(at)
    assert sorted(row["dim"] for row in data["rows"]) == [0, 1, 2, 3]
    kl = [row["kl"] for row in data["rows"] if not row["collapsed"]]
    assert kl == sorted(kl, reverse=True)
    assert slider_values(at) == [0.5, -1.0, 0.25, 2.0]
    assert data["image"].startswith("data:image/png;base64,")
    assert any("test #7" in h.value for h in at.subheader)
    assert len(at.get("plotly_chart")) >= 1 and at.get("image")  # map; the point, reconstruction, neighbours
    assert data["local_id"]  # the browser may ask for the decoder: the bundle's own decoder.onnx
    next(b for b in at.button if b.label == "Random (prior)").click().run()
    assert not at.exception and any(v != 0 for v in slider_values(at))


def test_the_browser_is_sent_the_bundles_own_decoder(checkpoints):
    import base64

    at = run_page("explore")
    at.session_state["local_decoder_wanted"] = slider_data(at)["local_id"]
    decoder = slider_data(at.run())["local"]["decoder"]
    assert base64.b64decode(decoder["onnx"]) == (checkpoints / "good" / "decoder.onnx").read_bytes()
    config = json.loads((checkpoints / "good" / "config.json").read_text())
    assert decoder["output"] == config["model"]["decoder_output"] and decoder["image_shape"] == [1, 28, 28]


def test_interpolate_renders_every_frame(checkpoints):
    at = run_page("interpolate")
    assert not at.exception
    at.slider(key="interp_steps").set_value(5).run()
    captions = [c for image in at.get("image") for c in image.captions if c.startswith("t=")]
    assert captions == [f"t={t:.2f}" for t in np.linspace(0, 1, 5)]
    at.radio(key="interp_method").set_value("slerp").run()
    at.radio(key="interp_A_source").set_value("class centroid").run()
    assert not at.exception and any("PNG" in b.proto.label for b in at.get("download_button"))


def test_generate_samples_traversals_and_directions(checkpoints):
    at = app_at("generate")
    assert not at.exception
    assert sum(b.label == "Load" for b in at.button) == 16
    at.selectbox(key="attribute_to").set_value(at.selectbox(key="attribute_to").options[2]).run()
    assert not at.exception
    next(b for b in at.button if b.label == "Load").click().run()
    assert not at.exception and any(v != 0 for v in slider_values(at))


def test_your_image_encodes_an_upload_and_completes_it(checkpoints, tmp_path):
    at = run_page("your_image")
    assert not at.exception
    at.number_input(key="own_test_index").set_value(5).run()
    at.slider(key="mask_rows").set_value((0, 10)).run()
    assert not at.exception
    assert any(c.startswith("erased (280 pixels") for image in at.get("image") for c in image.captions)
    assert any(c == "reconstruction" for image in at.get("image") for c in image.captions)


def test_model_card_shows_metrics_computed_with_the_declared_likelihood_and_the_import(checkpoints):
    at = run_page("model_card")
    assert not at.exception
    metrics = {m.label: m.value for m in at.metric}
    config = json.loads((checkpoints / "good" / "config.json").read_text())
    assert metrics["test −ELBO"] == f"{config['metrics']['test_neg_elbo']:.2f}"
    assert metrics["IWAE −log p(x)"] == f"{config['metrics']['iwae_nll']:.2f}"
    assert metrics["active units"] == str(config["metrics"]["active_units"])
    rows = at.table[0].value
    assert "ONNX vs original" in rows.index.tolist() or "ONNX vs original" in rows.iloc[:, 0].tolist()
    assert at.get("image")


