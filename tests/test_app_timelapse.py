"""The model card's training time-lapse headless (AppTest)."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from streamlit.testing.v1 import AppTest

from vae.bundle import load_bundle, write_bundle
from vae.models import MLPConfig, build_model
from vae.training import TrainConfig, Trainer
from vae.training.live_map import LiveLatentMap

from .conftest import bundle_meta, page_script
from .plotly_spec import decode


@pytest.fixture(scope="module")
def bundles(tmp_path_factory, synthetic):
    """'lapse': trained 3 epochs with a live map of 64 test images; 'plain': without one."""
    tmp_path = tmp_path_factory.mktemp("timelapse")
    torch.manual_seed(0)
    model = build_model(MLPConfig(latent_dim=4, hidden=(64,)))
    (tmp_path / "run").mkdir()
    live = LiveLatentMap(tmp_path / "run", synthetic.test_images, synthetic.test_labels, n=64)
    result = Trainer(model, TrainConfig(epochs=3, batch_size=64, device="cpu"), synthetic.train_images,
                     synthetic.test_images, [live]).fit()
    root = tmp_path / "extra"
    write_bundle(root / "lapse", model, synthetic.test_images, synthetic.test_labels, bundle_meta(synthetic, result),
                 timelapse=live.timelapse())
    meta = {**bundle_meta(synthetic, result), "name": "plain"}
    write_bundle(root / "plain", model, synthetic.test_images, synthetic.test_labels, meta)
    return root


@pytest.fixture()
def folder(bundles, monkeypatch):
    monkeypatch.setenv("VAE_LAB_CHECKPOINTS", str(bundles))
    return bundles


def model_card(name: str) -> AppTest:
    at = AppTest.from_file(page_script("model_card"), default_timeout=60)
    at.session_state["bundle_choice"] = name
    return at.run()


def shown_xy(at: AppTest) -> np.ndarray:
    (fig,) = [json.loads(c.proto.spec) for c in at.get("plotly_chart") if "latent map after epoch" in c.proto.spec]
    return np.concatenate([np.stack([decode(t["x"]), decode(t["y"])], 1) for t in fig["data"]])


def test_the_epoch_slider_replays_each_epochs_map(folder):
    lapse = load_bundle(folder / "lapse").timelapse
    assert lapse["epochs"].tolist() == [1, 2, 3] and lapse["xy"].shape == (3, 64, 2)
    at = model_card("lapse")
    assert not at.exception
    slider = at.select_slider(key="timelapse_epoch")
    assert slider.options == ["1", "2", "3"] and slider.value == 3
    by_class = np.argsort(lapse["labels"], kind="stable")  # the figure has a trace per class
    assert np.allclose(shown_xy(at), lapse["xy"][2].astype(np.float32)[by_class])
    slider.set_value(1).run()
    assert not at.exception
    assert np.allclose(shown_xy(at), lapse["xy"][0].astype(np.float32)[by_class])


def test_a_bundle_without_a_time_lapse_says_why(folder):
    at = model_card("plain")
    assert not at.exception
    assert any("keeps no time-lapse" in c.value for c in at.caption)
