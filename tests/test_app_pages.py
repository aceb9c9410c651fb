"""Interpolate, Generate and Your image headless (AppTest): each renders, takes its inputs and hands codes on."""

import numpy as np

from ui.text import visible

from .conftest import app_at, run_page, slider_values


def test_interpolate_page_renders_every_frame_for_lerp_and_slerp(checkpoints):
    at = run_page("interpolate")
    assert not at.exception
    at.slider(key="interp_steps").set_value(7).run()
    captions = [c for image in at.get("image") for c in image.captions if c.startswith("t=")]
    assert captions == [f"t={t:.2f}" for t in np.linspace(0, 1, 7)]
    method = at.radio(key="interp_method")
    assert [method.proto.options[i] for i in range(2)] == ["straight line (lerp)", "along the sphere (slerp)"]
    assert "keeping the codes' length" in method.help
    method.set_value("slerp").run()
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
