"""Every page runs headless (AppTest) without exceptions and shows its key elements."""

import base64
import json

import numpy as np
import onnx
import pytest
from streamlit.testing.v1 import AppTest

from ui.text import visible
from vae.bundle import BundleError, load_bundle
from vae.bundle.catalog import scan

from .conftest import ROOT, page_script, run_page, slider_data, slider_values


def test_catalog_lists_from_config_json_and_opening_checks_the_weights(checkpoints):
    entries = {e.path.name: e for e in scan([checkpoints])}
    assert entries["good"].valid and not entries["truncated"].valid
    assert any("model.safetensors" in p and "truncated" in p for p in entries["truncated"].problems)
    assert entries["broken"].valid  # same size: only the checksum, when it is opened, finds it
    with pytest.raises(BundleError, match="model.safetensors: checksum"):
        load_bundle(checkpoints / "broken")


def test_choosing_a_bundle_that_fails_its_checks_shows_why(checkpoints):
    at = AppTest.from_file(page_script("explore"), default_timeout=60)
    at.session_state["bundle_choice"] = "broken"
    at.run()
    assert not at.exception
    assert any("Cannot open broken" in e.value for e in at.sidebar.error)
    assert at.sidebar.expander[0].label.startswith("2 invalid bundle")
    assert any("checksum" in c.value for c in at.sidebar.caption)
    assert not at.get("plotly_chart")


def test_explore_page_shows_sliders_image_and_map(checkpoints):
    at = run_page("explore")
    assert not at.exception
    data = slider_data(at)
    assert sorted(row["dim"] for row in data["rows"]) == [0, 1, 2, 3] and data["values"] == [0, 0, 0, 0]
    kl = [row["kl"] for row in data["rows"] if not row["collapsed"]]
    assert kl == sorted(kl, reverse=True)  # most informative first
    assert at.sidebar.selectbox[0].value == "good"
    assert at.sidebar.expander[0].label.startswith("1 invalid bundle")
    assert any("model.safetensors" in visible(c.value) for c in at.sidebar.caption)
    layout = json.loads(at.get("plotly_chart")[0].proto.spec)["layout"]
    assert (layout["xaxis"]["title"]["text"], layout["yaxis"]["title"]["text"]) == ("PC 1", "PC 2")  # its only map


def test_the_selected_images_neighbours_k_of_them_by_the_distance_chosen(checkpoints):
    at = run_page("explore", {"idx": "7"})  # a link to test image #7
    at.slider(key="neighbours_k").set_value(5).run()
    at.button_group(key="neighbours_by").set_value("latent, cosine").run()
    assert not at.exception
    mu = load_bundle(checkpoints / "good").mu.astype(np.float64)
    cosine = 1 - mu @ mu[7] / (np.linalg.norm(mu, axis=1) * np.linalg.norm(mu[7]))
    cosine[7] = np.inf
    expected = np.argsort(cosine)[:5]
    (grid,) = [image for image in at.get("image") if "(" in image.captions[0]]
    assert grid.captions[0] == " · ".join(f"#{i} ({cosine[i]:.3g})" for i in expected)
    assert any("5 test images nearest #7 by latent, cosine distance" in c.value for c in at.caption)


def _apply_moves_script():
    import streamlit as st

    from pages.explore.live_decoder import take_move
    from ui import state

    moves = [{"seq": 1, "values": [0.5, -1, 2]}, {"seq": 1, "values": [1, 1, 1]}, {"seq": 2, "values": [1, "x", 0]},
             {"seq": 3, "values": [1.0, 2.0]}, {"seq": 4, "values": [True, 0, 0]}, "junk", {"seq": "5"},
             {"seq": 6, "values": [0, 0, 5]}]
    st.session_state["taken"] = [take_move(move, 3) for move in moves]
    st.session_state["final"] = state.current_code(3).tolist()


def test_slider_moves_apply_once_in_order_and_malformed_ones_are_dropped():
    at = AppTest.from_function(_apply_moves_script).run()
    assert not at.exception
    assert at.session_state["taken"] == [True, False, False, False, False, False, False, True]
    assert at.session_state["final"] == [0.0, 0.0, 3.0]  # clipped to the slider range


def _settled_move_script():
    import streamlit as st

    from pages.explore.live_decoder import take_move, url_due

    take_move({"seq": 1, "values": [0.5, 0, 0]}, 3)
    st.session_state["url_due_after_step"] = url_due()
    take_move({"seq": 2, "values": [1, 0, 0], "settled": True}, 3)
    st.session_state["url_due_after_settled_move"] = url_due()


def test_a_move_the_browser_decoded_reaches_the_url_at_once():
    at = AppTest.from_function(_settled_move_script).run()
    assert not at.exception
    assert at.session_state["url_due_after_step"] is False  # a server-decoded step waits for "settled"
    assert at.session_state["url_due_after_settled_move"] is True


def test_the_browser_decoder_is_sent_once_when_asked_for(checkpoints):
    at = run_page("explore")
    data = slider_data(at)
    assert isinstance(data["local_id"], str) and data["local"] is None
    at.session_state["local_decoder_wanted"] = data["local_id"]
    data = slider_data(at.run())
    assert data["local"]["id"] == data["local_id"] and data["ort"].endswith("/onnxruntime-web/ort.wasm.bundle.min.mjs")
    model = onnx.load_from_string(base64.b64decode(data["local"]["decoder"]["onnx"]))
    assert [i.name for i in model.graph.input] == ["z"] and data["local"]["decoder"]["output"] == "probs"
    assert slider_data(at.run())["local"] is None


def test_a_decoder_the_export_cannot_express_is_refused_once_asked_for(checkpoints, monkeypatch):
    from vae.models.decoder_export import UnsupportedLayer
    from vae.share import browser

    def refuse(model):
        raise UnsupportedLayer("the browser cannot run a Mystery layer")

    monkeypatch.setattr(browser, "export_decoder", refuse)
    at = run_page("explore")
    at.session_state["local_decoder_wanted"] = slider_data(at)["local_id"]
    local = slider_data(at.run())["local"]
    assert local == {"id": slider_data(at)["local_id"], "unusable": True}  # the browser asks no more
    assert not at.exception


def test_without_onnxruntime_web_the_browser_is_not_offered_a_decoder(checkpoints, monkeypatch, tmp_path):
    from pages.explore import live_decoder

    monkeypatch.setattr(live_decoder, "ORT_DIR", tmp_path / "missing")
    data = slider_data(run_page("explore"))
    assert data["local_id"] is None and data["ort"] is None


def test_zero_and_random_buttons_set_the_sliders(checkpoints):
    at = run_page("explore")
    random_button = next(b for b in at.button if b.label == "Random (prior)")
    random_button.click().run()
    assert any(v != 0 for v in slider_values(at))
    assert [float(v) for v in at.query_params["z"].split(",")] == slider_values(at)
    next(b for b in at.button if b.label == "Zero").click().run()
    assert slider_values(at) == [0, 0, 0, 0]


def test_a_shared_url_restores_the_selection_and_code(checkpoints):
    at = run_page("explore", {"bundle": "good", "idx": "7", "z": "0.5,-1,0.25,2"})
    assert not at.exception
    assert slider_values(at) == [0.5, -1.0, 0.25, 2.0]
    assert any("test #7" in h.value for h in at.subheader)


@pytest.mark.parametrize("query", [{"idx": "99999"}, {"idx": "abc"}, {"z": "1,2"}, {"z": "nan,0,0,0"}])
def test_malformed_url_values_are_ignored_with_a_notice(checkpoints, query):
    at = run_page("explore", {"bundle": "good", **query})
    assert not at.exception
    assert slider_values(at) == [0, 0, 0, 0]
    assert at.toast and "Ignored" in at.toast[0].value


def test_model_card_page(checkpoints):
    at = run_page("model_card")
    assert not at.exception
    labels = [m.label for m in at.metric]
    assert "test −ELBO" in labels and "active units" in labels
    assert len(at.get("plotly_chart")) == 3
    # The KL chart colours the active dimensions, as many as its caption counts.
    charts = [json.loads(chart.proto.spec) for chart in at.get("plotly_chart")]
    (bars,) = [c["data"] for c in charts if "KL per latent" in c["layout"]["title"]["text"]]
    assert [t["name"] for t in bars] == ["active", "inactive"]
    assert len(bars[0]["x"]) + len(bars[1]["x"]) == 4
    assert any(c.value.startswith(f"{len(bars[0]['x'])} of 4 dimensions active") for c in at.caption)
    # The settings in words, one per row, numbers as written by a person; no empty header.
    settings = at.table[0].value
    assert list(settings.columns) == ["setting", "value"]
    by_name = {visible(k): visible(v) for k, v in zip(settings["setting"], settings["value"], strict=True)}
    assert by_name["Learning rate"] == "0.001" and by_name["KL warm-up (epochs)"] == "0" and by_name["Epochs"] == "2"
    assert by_name["model"] == "input shape 1×28×28 · latent dim 4 · hidden 64"
    assert "=" not in "".join(settings["value"])


def test_the_model_card_offers_the_bundle_as_a_static_site(checkpoints):
    at = run_page("model_card")
    (button,) = [b for b in at.get("download_button") if "static site" in b.proto.label]
    assert button.proto.deferred_file_id and button.proto.ignore_rerun  # made when clicked (tests/test_share_export.py)


def test_the_static_site_waits_for_the_access_token(checkpoints, monkeypatch):
    """Making the site costs the server up to half a minute of CPU: not for anyone who can reach it."""
    monkeypatch.setenv("VAE_LAB_TOKEN", "a-long-random-operator-secret")
    at = run_page("model_card")
    assert not at.exception
    assert not [b for b in at.get("download_button") if "static site" in b.proto.label]
    assert any("access token" in c.value and "static site" in c.value for c in at.caption)


def test_no_valid_bundle_gives_a_guide_and_a_demo_model_not_a_crash(tmp_path, monkeypatch):
    from vae.training.jobs import JobRegistry

    empty, runs = tmp_path / "checkpoints", tmp_path / "runs"
    empty.mkdir()
    monkeypatch.setenv("VAE_LAB_CHECKPOINTS", str(empty))
    monkeypatch.setenv("VAE_LAB_TRAIN_DIR", str(runs))
    monkeypatch.setattr("ui.bundles.DEFAULT_DIR", empty)
    at = AppTest.from_file(str(ROOT / "ui" / "app.py"), default_timeout=60).run()  # with its navigation
    assert not at.exception and at.sidebar.error
    assert at.title[0].value == "Welcome to VAE Lab"
    assert "model bundles" in at.markdown[0].value and str(empty) in visible(at.markdown[0].value)
    links = [link.proto.label for link in at.get("page_link")]
    assert any(label.startswith("Train a model") for label in links) and any("Open a model" in x for x in links)
    next(b for b in at.button if b.label == "Make a demo model").click().run()
    jobs = JobRegistry(runs)
    try:
        job = jobs.current()
        assert job is not None, [e.value for e in at.error]
        assert job.name.startswith("demo-") and job.request["latent_dim"] == 2
    finally:
        jobs.cancel(force=True)
        jobs.wait(60)


def test_a_map_larger_than_the_draw_limit_draws_a_picture_of_every_point_under_a_sample(checkpoints, monkeypatch):
    monkeypatch.setattr("pages.explore.explorer.MAX_DRAWN", 50)
    monkeypatch.setattr("pages.explore.map_detail.VIEW_POINTS", 40)
    at = run_page("explore")
    assert not at.exception
    spec = json.loads(at.get("plotly_chart")[0].proto.spec)
    traces = [t for t in spec["data"] if "customdata" in t]
    indices = np.concatenate([np.frombuffer(base64.b64decode(t["customdata"]["bdata"]), t["customdata"]["dtype"])
                              for t in traces])
    assert len(indices) == 40 and len(set(indices.tolist())) == 40 and indices.max() < 128
    assert spec["layout"]["images"][0]["source"].startswith("data:image/jpeg;base64,")
    assert any("128 images" in c.value and "the dots up to 40 of them" in c.value for c in at.caption)
