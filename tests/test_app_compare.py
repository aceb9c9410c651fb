"""The Compare page headless (AppTest): two models on one test set side by side, or a clear refusal."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from vae.bundle import load_bundle, write_bundle
from vae.diagnostics.compare import procrustes_align

from .conftest import bundle_meta, page_script, train_tiny
from .plotly_spec import decode, point_traces

META_KEYS = ("name", "status", "training", "dataset", "history", "metrics", "device")


@pytest.fixture()
def folder(tmp_path, tiny_bundle, synthetic, monkeypatch):
    """'a' (the tiny 4-D model), 'b' (a 2-D model on the same test set), 'shuffled' (a's model on the
    same images in another order)."""
    root = tmp_path / "extra"
    root.mkdir()
    shutil.copytree(tiny_bundle, root / "a")
    model, result = train_tiny(synthetic, latent_dim=2)
    write_bundle(root / "b", model, synthetic.test_images, synthetic.test_labels, bundle_meta(synthetic, result))
    a = load_bundle(root / "a")
    order = np.random.default_rng(0).permutation(len(a.images))
    write_bundle(root / "shuffled", a.model, a.images[order], a.labels[order],
                 {k: a.config[k] for k in META_KEYS if k in a.config})
    monkeypatch.setenv("VAE_LAB_CHECKPOINTS", str(root))
    return root


def compare(b: str, a: str = "a") -> AppTest:
    at = AppTest.from_file(page_script("compare"), default_timeout=60)
    at.session_state["bundle_choice"] = at.session_state["bundle"] = a
    at.session_state["compare_b"] = b
    return at.run()


def figures(at: AppTest) -> list[dict]:
    return [json.loads(chart.proto.spec) for chart in at.get("plotly_chart")]


def test_two_models_on_one_test_set_side_by_side(folder):
    at = compare("b")
    assert not at.exception and not at.error
    a, b = load_bundle(folder / "a"), load_bundle(folder / "b")
    map_a, map_b, kl = figures(at)
    for fig, bundle in ((map_a, a), (map_b, b)):
        xy = next(iter(bundle.projections.values()))["xy"]
        for trace in point_traces(fig):
            assert np.allclose(np.stack([decode(trace["x"]), decode(trace["y"])], 1), xy[decode(trace["customdata"])])
    table = at.table[0].value
    row = table[table["metric"] == "test −ELBO (nats per image)"].iloc[0]
    expected = b.config["metrics"]["test_neg_elbo"] - a.config["metrics"]["test_neg_elbo"]
    assert float(row["B − A"].replace(",", "")) == pytest.approx(expected, abs=0.001)
    assert [t["name"] for t in kl["data"]] == ["A · a", "B · b"]
    assert not at.warning  # neither card has an IWAE estimate
    assert len(decode(kl["data"][0]["y"])) == 4 and len(decode(kl["data"][1]["y"])) == 2
    assert any(image.captions[0].startswith("top: test images") for image in at.get("image"))


def test_iwae_figures_estimated_unalike_are_said_to_be_so(folder):
    for name, k, images in (("a", 1000, 1000), ("b", 100, 500)):
        card = json.loads((folder / name / "config.json").read_text())
        card["metrics"].update(iwae_nll=250.0 + k / 1000, iwae_k=k, iwae_images=images, iwae_time_s=12.5)
        (folder / name / "config.json").write_text(json.dumps(card))
    at = compare("b")
    assert not at.exception
    (warning,) = at.warning
    assert "A with k = 1,000 samples on 1,000 images, B with k = 100 on 500" in warning.value
    table = at.table[0].value
    row = table[table["metric"] == "IWAE samples per image (k)"].iloc[0]
    assert (row["A · a"], row["B · b"], row["B − A"]) == ("1,000", "100", "-900")  # whole numbers as such
    assert table[table["metric"] == "IWAE time (s)"].iloc[0]["A · a"] == "12.500"


def test_aligning_b_to_a_moves_b_by_procrustes(folder):
    at = compare("b")
    at.toggle(key="compare_align").set_value(True).run()
    assert not at.exception
    a, b = load_bundle(folder / "a"), load_bundle(folder / "b")
    expected = procrustes_align(b.projections["latent"]["xy"], a.projections["pca"]["xy"])
    trace = point_traces(figures(at)[1])[0]
    shown = np.stack([decode(trace["x"]), decode(trace["y"])], 1)
    assert np.allclose(shown, expected[decode(trace["customdata"])], atol=1e-5)


def test_a_selected_image_is_starred_in_both_maps_and_reconstructed(folder):
    at = compare("b")
    at.session_state["compare_selected"] = 7
    at.run()
    a, b = load_bundle(folder / "a"), load_bundle(folder / "b")
    for fig, bundle in zip(figures(at)[:2], (a, b), strict=True):
        star = next(t for t in fig["data"] if t.get("name") == "selected")
        xy = next(iter(bundle.projections.values()))["xy"][7]
        assert np.allclose([decode(star["x"])[0], decode(star["y"])[0]], xy)
    assert any("#7" in image.captions[0] for image in at.get("image"))


def test_two_models_on_different_test_sets_are_refused_with_the_reason(folder):
    at = compare("shuffled")
    assert not at.exception
    assert at.error and "different test sets" in at.error[0].value and "differ" in at.error[0].value
    assert not at.get("plotly_chart")


def test_compare_with_no_second_model_says_so(tmp_path, tiny_bundle, monkeypatch):
    root = tmp_path / "only"
    root.mkdir()
    shutil.copytree(tiny_bundle, root / "a")
    monkeypatch.setenv("VAE_LAB_CHECKPOINTS", str(root))
    monkeypatch.setattr("ui.bundles.DEFAULT_DIR", tmp_path / "none")  # no shipped bundles either
    at = AppTest.from_file(page_script("compare"), default_timeout=60)
    at.session_state["bundle_choice"] = "a"
    at.run()
    assert not at.exception
    assert any("needs a second model" in i.value for i in at.info)
