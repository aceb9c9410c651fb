"""Every page runs headless (AppTest) without exceptions and shows its key elements."""

import base64
import json
import shutil

import numpy as np
import onnx
import pytest
from streamlit.testing.v1 import AppTest

from ui.text import visible
from vae.bundle import BundleError, load_bundle
from vae.bundle.catalog import scan

from .conftest import ROOT, page_script


@pytest.fixture()
def checkpoints(tmp_path, tiny_bundle, monkeypatch):
    """A checkpoints folder with one good bundle, one whose weights are corrupt (same size) and one
    whose weights are truncated."""
    folder = tmp_path / "extra"
    folder.mkdir()
    for name in ("good", "broken", "truncated"):
        shutil.copytree(tiny_bundle, folder / name)
    weights = folder / "broken" / "model.safetensors"
    weights.write_bytes(b"\x00" * weights.stat().st_size)
    weights = folder / "truncated" / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:100])
    monkeypatch.setenv("VAE_LAB_CHECKPOINTS", str(folder))
    return folder


def run_page(name: str, query: dict | None = None) -> AppTest:
    at = AppTest.from_file(page_script(name), default_timeout=60)
    for key, value in (query or {}).items():
        at.query_params[key] = value
    at.session_state["bundle_choice"] = "good"
    return at.run()


def slider_data(at: AppTest) -> dict:
    """What the Explore page sent its slider component: the rows and the code they show."""
    (data,) = [d for d in (json.loads(c.proto.json) for c in at.get("bidi_component")) if "rows" in d]
    return data


def slider_values(at: AppTest) -> list[float]:
    return slider_data(at)["values"]


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
    kl = [float(row["label"].split("KL ")[1]) for row in data["rows"] if not row["collapsed"]]
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


@pytest.fixture()
def train_dir(tmp_path, monkeypatch):
    folder = tmp_path / "runs"
    folder.mkdir()
    monkeypatch.setenv("VAE_LAB_TRAIN_DIR", str(folder))
    return folder


def train_page() -> AppTest:
    return AppTest.from_file(page_script("train"), default_timeout=60).run()


def start_button(at: AppTest):
    return next(b for b in at.button if b.label == "Start training")


def test_train_page_shows_the_form_and_which_datasets_are_offline(train_dir):
    at = train_page()
    assert not at.exception
    options = at.selectbox(key="train_dataset").options
    assert any("synthetic · on this machine" == o for o in options)
    assert any("cifar10 · needs a download" == o for o in options)
    assert at.info and "No training job yet" in at.info[0].value


def test_a_path_traversal_name_is_refused_next_to_the_field(train_dir):
    at = train_page()
    at.text_input(key="train_name").set_value("../../etc/x")
    start_button(at).click().run()
    assert not at.exception
    assert any("letters, digits" in visible(e.value) for e in at.error)
    assert list(train_dir.iterdir()) == [] and not (train_dir.parent.parent / "etc").exists()


def test_out_of_bounds_values_are_refused_next_to_their_fields(train_dir):
    at = train_page()
    at.number_input(key="train_kl_warmup_epochs").set_value(50.0)
    at.number_input(key="train_epochs").set_value(5)
    start_button(at).click().run()
    assert any("longer than training" in visible(e.value) for e in at.error)
    assert list(train_dir.iterdir()) == []


def test_start_from_a_second_tab_is_refused_while_a_job_runs(train_dir):
    from vae.training.jobs import JobRegistry, TrainRequest

    other_tab = train_page()  # loaded before the job started: its Start button is enabled
    jobs = JobRegistry(train_dir)
    jobs.start(TrainRequest(name="running-one", dataset="synthetic", arch="mlp", latent_dim=2, epochs=1000))
    try:
        other_tab.selectbox(key="train_dataset").set_value("synthetic")
        other_tab.text_input(key="train_name").set_value("second-one")
        start_button(other_tab).click().run()
        assert not other_tab.exception
        assert any("already running: 'running-one'" in visible(e.value) for e in other_tab.error)
        assert not (train_dir / "second-one").exists()
        assert any(b.label == "Cancel" for b in other_tab.button)
    finally:
        jobs.cancel()
        assert not jobs.wait(60).running


def test_after_a_job_the_name_field_offers_a_new_name_and_the_status_names_no_process(train_dir):
    from .hostile import evil, write_job_with_markup

    write_job_with_markup(train_dir)  # a finished job named evil("jobname"), its state at pid 2**22 + 7
    at = AppTest.from_file(page_script("train"), default_timeout=60)
    at.session_state["train_name"] = evil("jobname")  # the name that job used, still in the field
    at.run()
    assert not at.exception
    assert at.text_input(key="train_name").value.startswith("my-vae-")
    status = next(c.value for c in at.caption if "training folder" in c.value)
    assert "pid" not in status and str(2**22 + 7) not in status and str(train_dir) not in status
    assert "into run/ in the training folder" in visible(status)


def test_interpolate_page_renders_every_frame_for_lerp_and_slerp(checkpoints):
    at = run_page("interpolate")
    assert not at.exception
    at.slider(key="interp_steps").set_value(7).run()
    captions = [c for image in at.get("image") for c in image.captions if c.startswith("t=")]
    assert captions == [f"t={t:.2f}" for t in np.linspace(0, 1, 7)]
    at.radio(key="interp_method").set_value("slerp").run()
    assert not at.exception
    labels = [b.proto.label for b in at.get("download_button")]
    assert any("12 frames" in label for label in labels) and any("PNG" in label for label in labels)


def test_an_endpoint_index_typed_in_is_kept(checkpoints):
    at = run_page("interpolate")
    at.number_input(key="interp_A_index").set_value(5).run()
    at.number_input(key="interp_B_index").set_value(9).run()
    assert not at.exception
    assert at.number_input(key="interp_A_index").value == 5
    assert any("from test #5" in visible(c.value) and "to test #9" in visible(c.value) for c in at.caption)


def test_interpolate_endpoints_from_class_centroids_and_the_current_code(checkpoints):
    at = run_page("interpolate")
    at.radio(key="interp_A_source").set_value("class centroid").run()
    at.radio(key="interp_B_source").set_value("current code").run()
    assert not at.exception
    assert any("centroid of" in visible(c.value) for c in at.caption)


def app_at(folder: str) -> AppTest:
    """The app as its entry script runs it, switched to the page in pages/<folder>."""
    at = AppTest.from_file(str(ROOT / "ui" / "app.py"), default_timeout=60)
    at.session_state["bundle_choice"] = "good"
    at.run()
    return at.switch_page(page_script(folder)).run()


def test_generate_page_samples_traversals_and_attribute_directions(checkpoints):
    at = app_at("generate")
    assert not at.exception
    assert sum(b.label == "Load" for b in at.button) == 16
    before = at.session_state["prior_seed"] if "prior_seed" in at.session_state else 0
    next(b for b in at.button if b.label == "New samples").click().run()
    assert at.session_state["prior_seed"] == before + 1
    assert at.slider(key="traversal_k").value >= 1
    at.selectbox(key="attribute_to").set_value(at.selectbox(key="attribute_to").options[2]).run()
    assert not at.exception and at.slider(key="attribute_alpha").value == 1.0


def test_loading_a_prior_sample_sets_the_explore_sliders(checkpoints):
    at = app_at("generate")
    next(b for b in at.button if b.label == "Load").click().run()
    assert not at.exception
    assert at.session_state["code_source"].startswith("prior sample 1")
    values = slider_values(at)
    assert len(values) == 4 and any(v != 0 for v in values)  # the Explore page, sliders set


def test_own_image_page_encodes_a_test_image_and_completes_it(checkpoints):
    at = run_page("your_image")
    assert not at.exception
    at.number_input(key="own_test_index").set_value(5).run()
    at.slider(key="mask_rows").set_value((0, 10)).run()
    assert not at.exception
    assert any(c.startswith("erased (280 pixels") for image in at.get("image") for c in image.captions)


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
