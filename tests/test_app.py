"""Every page runs headless (AppTest) without exceptions and shows its key elements."""

import shutil

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from vae.catalog import scan

from .conftest import ROOT


@pytest.fixture()
def checkpoints(tmp_path, tiny_bundle, monkeypatch):
    """A checkpoints folder with one good bundle and one whose weights are corrupt."""
    folder = tmp_path / "extra"
    folder.mkdir()
    shutil.copytree(tiny_bundle, folder / "good")
    shutil.copytree(tiny_bundle, folder / "broken")
    weights = folder / "broken" / "model.safetensors"
    weights.write_bytes(b"\x00" * weights.stat().st_size)
    monkeypatch.setenv("VAE_LAB_CHECKPOINTS", str(folder))
    return folder


def run_page(name: str, query: dict | None = None) -> AppTest:
    at = AppTest.from_file(str(ROOT / "app_pages" / name), default_timeout=60)
    for key, value in (query or {}).items():
        at.query_params[key] = value
    at.session_state["bundle_choice"] = "good"
    return at.run()


def test_catalog_lists_the_corrupt_bundle_with_its_reason(checkpoints):
    entries = {e.path.name: e for e in scan([checkpoints])}
    assert entries["good"].valid and not entries["broken"].valid
    assert any("model.safetensors" in p for p in entries["broken"].problems)


def test_explore_page_shows_sliders_image_and_map(checkpoints):
    at = run_page("explore.py")
    assert not at.exception
    assert len(at.slider) == 4
    assert at.sidebar.selectbox[0].value == "good"
    assert at.sidebar.expander[0].label.startswith("1 invalid bundle")
    assert any("model.safetensors" in c.value for c in at.sidebar.caption)
    assert at.get("plotly_chart")


def test_moving_a_slider_changes_the_code_and_the_url(checkpoints):
    at = run_page("explore.py")
    at.slider[0].set_value(1.5).run()
    assert not at.exception
    z = np.array([float(v) for v in at.query_params["z"].split(",")])
    assert 1.5 in z


def test_zero_and_random_buttons_set_the_sliders(checkpoints):
    at = run_page("explore.py")
    random_button = next(b for b in at.button if b.label == "Random (prior)")
    random_button.click().run()
    values = [s.value for s in at.slider]
    assert any(v != 0 for v in values)
    next(b for b in at.button if b.label == "Zero").click().run()
    assert all(s.value == 0 for s in at.slider)


def test_a_shared_url_restores_the_selection_and_code(checkpoints):
    at = run_page("explore.py", {"bundle": "good", "idx": "7", "z": "0.5,-1,0.25,2"})
    assert not at.exception
    assert [s.value for s in sorted(at.slider, key=lambda s: s.key)] == [0.5, -1.0, 0.25, 2.0]
    assert any("test #7" in h.value for h in at.subheader)


@pytest.mark.parametrize("query", [{"idx": "99999"}, {"idx": "abc"}, {"z": "1,2"}, {"z": "nan,0,0,0"}])
def test_malformed_url_values_are_ignored_with_a_notice(checkpoints, query):
    at = run_page("explore.py", {"bundle": "good", **query})
    assert not at.exception
    assert all(s.value == 0 for s in at.slider)
    assert at.toast and "Ignored" in at.toast[0].value


def test_model_card_page(checkpoints):
    at = run_page("model.py")
    assert not at.exception
    labels = [m.label for m in at.metric]
    assert "test −ELBO" in labels and "active units" in labels
    assert len(at.get("plotly_chart")) == 3


def test_no_valid_bundle_gives_a_message_not_a_crash(tmp_path, monkeypatch):
    monkeypatch.setenv("VAE_LAB_CHECKPOINTS", str(tmp_path))
    at = AppTest.from_file(str(ROOT / "app_pages" / "explore.py"), default_timeout=60)
    monkeypatch.setattr("ui.bundles.ROOT", tmp_path)
    at.run()
    assert not at.exception and at.sidebar.error
