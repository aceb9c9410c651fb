"""The Explore page's t-SNE map (computed in the background, kept in the user cache) and 3-D view, headless."""

from __future__ import annotations

import json
import shutil
import time

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from pages.explore import tsne_map
from ui import bundles
from vae.bundle import load_bundle
from vae.diagnostics import cache
from vae.latent import tsne
from vae.latent.three_d import points_3d

from .conftest import page_script
from .plotly_spec import decode, point_traces


@pytest.fixture()
def folder(tmp_path, tiny_bundle, monkeypatch):
    root = tmp_path / "extra"
    root.mkdir()
    shutil.copytree(tiny_bundle, root / "good")
    monkeypatch.setenv("VAE_LAB_CHECKPOINTS", str(root))
    monkeypatch.setenv(cache.CACHE_VAR, str(tmp_path / "cache"))
    bundles._open.clear()  # a bundle opened by another test has no map of this test's cache
    return root


def explore(**state) -> AppTest:
    at = AppTest.from_file(page_script("explore"), default_timeout=60)
    at.session_state["bundle_choice"] = at.session_state["bundle"] = "good"
    for key, value in state.items():
        at.session_state[key] = value
    return at.run()


def figure(at: AppTest) -> dict:
    return json.loads(at.get("plotly_chart")[0].proto.spec)


def wait_for_tsne(path) -> tsne_map.TsneRun:
    bundle = load_bundle(path)
    run = tsne_map._runs().get(bundle)
    deadline = time.monotonic() + 120
    while run.running and time.monotonic() < deadline:
        time.sleep(0.2)
    assert run.error is None and run.done == run.total
    return run


def test_the_tsne_map_is_computed_in_the_background_then_offered_and_drawn(folder):
    before = sorted(p.name for p in (folder / "good").iterdir())
    at = explore()
    assert not at.exception and not [r for r in at.radio if r.key == "projection"]  # one map (PCA): no chooser
    at.button(key="tsne-start").click().run()
    assert not at.exception
    assert wait_for_tsne(folder / "good").kept
    deadline = time.monotonic() + 30
    while not [r for r in at.run().radio if r.key == "projection"] and time.monotonic() < deadline:
        time.sleep(0.2)
    assert at.radio(key="projection").options == ["PCA", "t-SNE"]  # the tiny bundle has no UMAP map
    assert not [b for b in at.button if b.key == "tsne-start"]  # offered no more
    at.radio(key="projection").set_value("tsne").run()
    assert not at.exception
    fig = figure(at)
    assert (fig["layout"]["xaxis"]["title"]["text"], fig["layout"]["yaxis"]["title"]["text"]) == ("t-SNE 1", "t-SNE 2")
    xy = tsne.read_map(folder / "good", len(load_bundle(folder / "good").mu))["xy"]
    for trace in point_traces(fig):
        index = decode(trace["customdata"]).astype(int)
        assert np.allclose(np.column_stack([decode(trace["x"]), decode(trace["y"])]), xy[index], atol=1e-5)
    assert sorted(p.name for p in (folder / "good").iterdir()) == before  # the bundle is not written
    bundles._open.clear()  # a new server: the map comes from the cache, nothing computed
    assert "t-SNE" in explore().radio(key="projection").options


def test_a_click_and_a_click_on_empty_space_on_the_tsne_map_place_the_current_code_there(folder):
    bundle = load_bundle(folder / "good")
    xy = tsne.tsne_2d(bundle.mu)["xy"]
    tsne.write_map(folder / "good", {"xy": xy})
    key = "map-good-tsne"
    point = {"selection": {"points": [{"customdata": 7, "x": float(xy[7, 0]), "y": float(xy[7, 1])}],
                           "box": [], "lasso": [], "point_indices": [7]}}
    at = explore(projection="tsne", **{key: point})
    assert not at.exception and at.session_state["selected"] == 7
    (cross,) = [t for t in figure(at)["data"] if t.get("name") == "current code"]
    # The × on the clicked point: its code, kept to two decimals, lies a hair off the point's own code.
    assert np.allclose([cross["x"][0], cross["y"][0]], xy[7], atol=0.01 * np.ptp(xy, axis=0).max())
    empty = (float(xy[:, 0].max() + 1.0), float(xy[:, 1].mean()))  # right of every point
    at = explore(projection="tsne", **{key: {"selection": {"points": [{"x": empty[0], "y": empty[1]}],
                                                          "box": [], "lasso": [], "point_indices": []}}})
    assert not at.exception and "map position" in at.session_state["code_source"]
    (cross,) = [t for t in figure(at)["data"] if t.get("name") == "current code"]
    assert np.allclose([cross["x"][0], cross["y"][0]], empty, atol=1e-3)


def test_a_cancelled_tsne_offers_the_button_again(folder, monkeypatch):
    def fit_until_stopped(codes, progress, stop):
        while not stop():
            time.sleep(0.05)
        raise tsne.Stopped("the t-SNE map was cancelled")

    monkeypatch.setattr(tsne, "tsne_2d", fit_until_stopped)
    at = explore()
    at.button(key="tsne-start").click().run()
    assert not at.exception and [b for b in at.button if b.key == "tsne-cancel"]
    at.button(key="tsne-cancel").click().run()
    bundle = load_bundle(folder / "good")
    run = tsne_map._runs().get(bundle)
    deadline = time.monotonic() + 10
    while run.running and time.monotonic() < deadline:
        time.sleep(0.05)
    assert run.cancelled and not run.running
    at.run()
    assert [b for b in at.button if b.key == "tsne-start"] and not at.error  # offered again, no failure shown


def test_the_3d_toggle_draws_the_pca_map_with_its_third_component(folder):
    at = explore()
    assert not at.exception and not at.toggle(key="map_3d").value
    at.toggle(key="map_3d").set_value(True).run()
    assert not at.exception
    fig = figure(at)
    traces = point_traces(fig)
    assert {t["type"] for t in traces} == {"scatter3d"}
    bundle = load_bundle(folder / "good")
    index = np.concatenate([decode(t["customdata"]) for t in traces]).astype(int)
    assert np.array_equal(np.sort(index), np.arange(len(bundle.mu)))  # every point once (fewer than MAX_DRAWN)
    xyz = np.concatenate([np.column_stack([decode(t["x"]), decode(t["y"]), decode(t["z"])]) for t in traces])
    assert np.allclose(xyz, points_3d("pca", bundle.projections["pca"]["xy"], bundle.mu, index), atol=1e-5)
    assert fig["layout"]["scene"]["zaxis"]["title"]["text"] == "PC 3"
    assert any("work on the 2-D map only" in c.value for c in at.caption)


def test_the_3d_view_marks_the_selected_point_and_the_current_code(folder):
    """Test image #5 selected and its code in the sliders: both marks sit on that image's point, whose third
    coordinate is its code along the codes' third principal axis (numpy's SVD here, up to sign)."""
    bundle = load_bundle(folder / "good")
    at = AppTest.from_file(page_script("explore"), default_timeout=60)
    at.query_params["idx"] = "5"  # a link to test image #5: selected, its code in the sliders
    at.session_state["bundle_choice"] = at.session_state["bundle"] = "good"
    at.session_state["map_3d"] = True
    at.run()
    assert not at.exception and at.session_state["selected"] == 5
    marks = {t["name"]: t for t in figure(at)["data"] if t["name"] in ("selected", "current code")}
    centred = bundle.mu.astype(np.float64) - bundle.mu.mean(axis=0)
    third = np.linalg.svd(centred, full_matrices=False)[2][2]
    x, y = bundle.projections["pca"]["xy"][5]
    star = [marks["selected"][axis][0] for axis in "xyz"]
    assert star[:2] == pytest.approx([x, y], abs=1e-5)
    assert abs(star[2]) == pytest.approx(abs(centred[5] @ third), abs=1e-4)
    cross = [marks["current code"][axis][0] for axis in "xyz"]
    assert cross == pytest.approx(star, abs=0.02)  # the sliders keep the code to two decimals


def test_the_3d_toggle_is_not_offered_for_a_tsne_map_and_says_why(folder):
    bundle = load_bundle(folder / "good")
    xy = np.random.default_rng(0).normal(size=(len(bundle.mu), 2)).astype(np.float32)
    tsne.write_map(folder / "good", {"xy": xy})
    at = explore(projection="tsne")
    assert not at.exception
    off = at.toggle(key="map_3d-none")
    assert off.disabled and "fitted in two dimensions" in off.help
