"""Open a model in a real browser: a Keras-style ONNX pair uploaded with no spec, checked, what was found
shown before the import, then imported with one convention changed."""

from __future__ import annotations

from harness.browser import attach
from vae.bundle import load_bundle

from ..published.training import keras_style_pair
from . import test_train
from .conftest import wait_ready
from .test_train import choose

server, context = test_train.server, test_train.context  # a server with its own training folder, a browser tab


def test_the_check_shows_the_conventions_found_before_the_import(context, server, screenshots, tmp_path, synthetic):
    url, runs = server
    keras_style_pair(tmp_path, synthetic.train_images)
    page = context.new_page()
    page.goto(f"{url}/open_model")
    wait_ready(page)
    page.get_by_text("Open a model trained elsewhere").wait_for()
    attach(page, "open_encoder", tmp_path / "encoder.onnx")
    attach(page, "open_decoder", tmp_path / "decoder.onnx")
    choose(page, "Images for the map", "synthetic")
    page.get_by_role("button", name="Check the model").click()
    page.get_by_text("What the import found").wait_for(timeout=120_000)
    table = page.locator("[data-testid=stTable]")
    for text in ("input layout", "nhwc", "named results 'z_mean' and 'z_log_var' of the graph's outputs",
                 "probabilities in [0, 1]"):
        table.get_by_text(text).first.wait_for()
    assert not list(runs.glob("*/config.json"))  # checked, nothing imported yet
    page.screenshot(path=str(screenshots / "open-model-checked.png"), full_page=True)
    choose(page, "Change the likelihood", "gaussian")
    page.get_by_role("textbox", name="Bundle name").fill("keras-checked")
    page.get_by_role("textbox", name="Bundle name").press("Enter")
    page.get_by_role("button", name="Import").click()
    page.get_by_role("button", name="Open in the explorer").wait_for(timeout=300_000)
    page.screenshot(path=str(screenshots / "open-model-imported.png"), full_page=True)
    assert page.locator("[data-testid=stException]").count() == 0
    config = load_bundle(runs / "keras-checked").config
    assert config["import"]["findings"]["input_layout"]["value"] == "nhwc"
    assert config["training"]["likelihood"] == "gaussian"
