"""The Explore page's diagnostics headless (AppTest): colour by, find, worst fit, selections,
prior samples, posterior cloud, hover thumbnails, and bundles built without per-image values."""

from __future__ import annotations

import base64
import json
import re
import shutil
import time

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from pages.explore import per_image as per_image_ui
from ui.bundles import stamp
from ui.state import kept_code
from vae.bundle import load_bundle
from vae.diagnostics import cache
from vae.diagnostics.per_image import FIELDS
from vae.diagnostics.selection import browse, worst_fit
from vae.media import to_pixels
from vae.share.site_data import class_colours

from .conftest import drop_bundle_file, page_script, selection_grid, selection_tiles, slider_data
from .plotly_spec import decode, point_traces


@pytest.fixture()
def folder(tmp_path, tiny_bundle, monkeypatch):
    """A checkpoints folder with a bundle holding per-image values ('good') and one without ('old')."""
    root = tmp_path / "extra"
    root.mkdir()
    shutil.copytree(tiny_bundle, root / "good")
    shutil.copytree(tiny_bundle, root / "old")
    drop_bundle_file(root / "old", "per_image.npz")
    monkeypatch.setenv("VAE_LAB_CHECKPOINTS", str(root))
    monkeypatch.setenv(cache.CACHE_VAR, str(tmp_path / "cache"))
    return root


def explore(bundle: str = "good", query: dict | None = None, **state) -> AppTest:
    at = AppTest.from_file(page_script("explore"), default_timeout=60)
    for key, value in (query or {}).items():
        at.query_params[key] = value
    at.session_state["bundle_choice"] = at.session_state["bundle"] = bundle  # per-bundle state is kept
    for key, value in state.items():
        at.session_state[key] = value
    return at.run()


def figure(at: AppTest) -> dict:
    """The map's Plotly figure as sent to the browser (the first chart on the page)."""
    return json.loads(at.get("plotly_chart")[0].proto.spec)


def test_the_map_has_a_trace_per_class_holding_every_point_once(folder):
    at = explore()
    assert not at.exception
    bundle = load_bundle(folder / "good")
    traces = point_traces(figure(at))
    assert [t["name"] for t in traces] == bundle.class_names
    indices = np.concatenate([decode(t["customdata"]) for t in traces])
    assert sorted(indices.tolist()) == list(range(len(bundle.mu)))
    for c, trace in enumerate(traces):
        assert (bundle.labels[decode(trace["customdata"])] == c).all()


def test_colour_by_elbo_draws_the_stored_values_on_a_clipped_scale_with_a_colour_bar(folder):
    at = explore()
    bundle = load_bundle(folder / "good")
    options = at.selectbox(key="colour_by").options
    assert options[:5] == ["class", "−ELBO", "reconstruction", "KL", "mean posterior σ"]
    at.selectbox(key="colour_by").set_value("neg_elbo").run()
    assert not at.exception
    fig = figure(at)
    values = bundle.per_image["neg_elbo"]
    axis = fig["layout"]["coloraxis"]
    assert axis["colorbar"]["title"]["text"] == "−ELBO"
    assert axis["cmin"] == pytest.approx(np.percentile(values, 1)) and axis["cmax"] == pytest.approx(
        np.percentile(values, 99))
    for trace in point_traces(fig):
        assert np.allclose(decode(trace["marker"]["color"]), values[decode(trace["customdata"])])
        assert "−ELBO %{marker.color:.3f}" in trace["hovertemplate"]
    # The legend keeps each class's colour (a value-coloured trace's own entry showed black).
    legend = [t for t in fig["data"] if t.get("showlegend", True) and "legendgroup" in t]
    assert [t["name"] for t in legend] == bundle.class_names
    assert [t["marker"]["color"] for t in legend] == class_colours(len(bundle.class_names))
    assert [t["legendgroup"] for t in legend] == [t["legendgroup"] for t in point_traces(fig)]
    assert not any(t.get("showlegend", True) for t in point_traces(fig))
    # The browser companion is told the same colours, to recolour the drawn map in place.
    (sent,) = [json.loads(c.proto.json)["colour"] for c in at.get("bidi_component") if "map_key" in c.proto.json]
    assert sent["key"] == fig["layout"]["meta"]["colour"]
    assert all(sent["coloraxis"][k] == axis[k] for k in ("cmin", "cmax", "colorbar"))
    assert np.array_equal(np.frombuffer(base64.b64decode(sent["values"]), "<f4"), values)
    at.checkbox(key="colour_clip").uncheck().run()
    axis = figure(at)["layout"]["coloraxis"]
    assert axis["cmin"] == pytest.approx(values.min()) and axis["cmax"] == pytest.approx(values.max())


def test_colour_by_a_latent_dimension_uses_its_posterior_means(folder):
    at = explore()
    at.selectbox(key="colour_by").set_value("z2").run()
    bundle = load_bundle(folder / "good")
    trace = point_traces(figure(at))[0]
    assert np.allclose(decode(trace["marker"]["color"]), bundle.mu[decode(trace["customdata"]), 2])
    assert figure(at)["layout"]["coloraxis"]["colorbar"]["title"]["text"] == "posterior mean of z2"


def test_find_by_test_index_selects_the_image(folder):
    at = explore()
    at.number_input(key="find_index").set_value(17).run()
    assert not at.exception
    assert at.session_state["selected"] == 17
    assert any(h.value.startswith("Selected: test #17") for h in at.subheader)
    assert at.session_state["code_source"] == "test #17"


def test_worst_fit_strip_offers_the_highest_elbo_images_and_selects_one(folder):
    at = explore()
    bundle = load_bundle(folder / "good")
    expected = worst_fit(bundle.per_image["neg_elbo"], 12).tolist()
    pills = at.button_group(key="worst_pick")
    assert [int(o.content.lstrip("#")) for o in pills.proto.options] == expected
    pills.set_value(expected[3]).run()
    assert not at.exception
    assert at.session_state["selected"] == expected[3]


def test_a_multi_point_selection_shows_up_to_100_images_classes_mean_elbo_and_downloads(folder):
    bundle = load_bundle(folder / "good")
    chosen = list(range(3, 123))  # 120 images
    at = explore(map_selection=chosen)
    assert not at.exception
    assert any(h.value == "Selection: 120 images" for h in at.subheader)
    grid = selection_grid(at)
    assert grid["captions"] == [f"#{i}" for i in chosen[:100]]
    assert np.array_equal(selection_tiles(grid), to_pixels(bundle.images[chosen[:100]]))  # each tile its image
    metric = next(m for m in at.metric if m.label == "mean −ELBO (nats)")
    assert float(metric.value) == pytest.approx(bundle.per_image["neg_elbo"][chosen].mean(), abs=0.005)
    assert {b.proto.label for b in at.get("download_button")} == {"Indices and codes (CSV)", "Indices and codes (NPY)"}
    at.toggle(key="selection_recon").set_value(True).run()
    assert not at.exception
    tiles = selection_tiles(selection_grid(at))
    height, width = to_pixels(bundle.images[:1]).shape[1:3]
    assert tiles.shape[:3] == (100, height, 2 * width + 1)  # each image, a white column, its reconstruction
    assert np.array_equal(tiles[:, :, :width], to_pixels(bundle.images[chosen[:100]]))
    assert (tiles[:, :, width] == 255).all()


@pytest.mark.parametrize("points", [7, 1])
def test_a_box_selects_a_group_and_leaves_the_sliders_code_alone(folder, points):
    """A box is a group for the selection panel, never a point for the sliders (it used to load the
    code of the point nearest its centre), even when it holds one point."""
    bundle = load_bundle(folder / "good")
    xy = bundle.projections["pca"]["xy"]  # the tiny bundle's one map
    # A box around the points nearest the map's lower-left corner, just wide enough to hold `points`.
    order = np.argsort(xy.sum(axis=1))
    low, high = xy[order[:points]].min(axis=0), xy[order[:points]].max(axis=0)
    box = {"x": [float(high[0]), float(low[0])], "y": [float(low[1]), float(high[1])]}
    inside = np.flatnonzero(((xy >= low) & (xy <= high)).all(axis=1))
    at = explore(**{"map-good-pca": {"selection": {"box": [box], "lasso": [], "points": [],
                                                            "point_indices": []}}})
    assert not at.exception
    assert np.array_equal(np.sort(at.session_state["map_selection"]), inside) and len(inside) >= points
    assert any(h.value == f"Selection: {len(inside):,} images" for h in at.subheader)
    assert "selected" not in at.session_state or at.session_state["selected"] is None
    assert not any(h.value.startswith("Selected: test #") for h in at.subheader)
    data = slider_data(at)
    assert data["values"] == [0] * bundle.latent_dim  # the code being worked on is unchanged


def test_browse_filters_by_class_and_selection_and_orders_by_value_then_index():
    labels = np.array([0, 1, 0, 2, 1, 0])
    value = np.array([5.0, 1.0, 7.0, 5.0, 9.0, 5.0])
    assert browse(labels).tolist() == [0, 1, 2, 3, 4, 5]
    assert browse(labels, value, descending=True).tolist() == [4, 2, 0, 3, 5, 1]  # ties by index
    assert browse(labels, value).tolist() == [1, 0, 3, 5, 2, 4]
    assert browse(labels, value, classes={0}).tolist() == [0, 5, 2]
    assert browse(labels, value, True, classes={0, 1}, within=np.array([5, 4, 1, 5])).tolist() == [4, 5, 1]


def test_the_image_grid_sorts_by_elbo_filters_by_class_and_pages(folder):
    bundle = load_bundle(folder / "good")
    neg_elbo = bundle.per_image["neg_elbo"]
    worst_first = np.argsort(-neg_elbo, kind="stable")

    def shown(at: AppTest) -> list[str]:
        # The grid's captions give the value to a tenth (the worst-fit strip's, whole).
        (grid,) = [image for image in at.get("image") if re.fullmatch(r"#\d+ · -?\d+\.\d", image.proto.imgs[0].caption)]
        return [i.caption for i in grid.proto.imgs]

    at = explore()
    assert not [image for image in at.get("image") if len(image.proto.imgs) == 60]  # nothing until switched on
    at.toggle(key="grid_on").set_value(True).run()
    at.selectbox(key="grid_sort").set_value("neg_elbo").run()
    assert not at.exception
    assert shown(at) == [f"#{i} · {neg_elbo[i]:.1f}" for i in worst_first[:60]]
    at.number_input(key="grid_page").set_value(3).run()  # 128 images: the last page holds 8
    assert shown(at) == [f"#{i} · {neg_elbo[i]:.1f}" for i in worst_first[120:]]
    at.multiselect(key="grid_classes").set_value([2]).run()  # fewer than a page: back to the first
    assert not at.exception
    in_class = [i for i in worst_first if bundle.labels[i] == 2]
    assert [c.split(" ·")[0] for c in shown(at)] == [f"#{i}" for i in in_class[:60]]
    assert any(c.value.startswith(f"{len(in_class):,} images") for c in at.caption)


def test_prior_samples_toggle_places_them_on_the_map_and_shows_the_aggregate_posterior(folder):
    at = explore()
    assert not any(t.get("name", "").startswith("prior samples") for t in figure(at)["data"])
    at.toggle(key="show_prior").set_value(True).run()
    assert not at.exception
    traces = [t for t in figure(at)["data"] if t.get("name", "").startswith("prior samples")]
    assert [t["name"] for t in traces] == ["prior samples", "prior samples in holes"]
    assert sum(len(decode(t["x"])) for t in traces) == 500 and not any("customdata" in t for t in traces)
    assert any(h.value.startswith("Prior holes") for h in at.subheader)
    at.selectbox(key="prior_dim").set_value(at.selectbox(key="prior_dim").options[-1]).run()
    assert not at.exception


def test_posterior_cloud_of_the_selected_image(folder):
    at = explore(query={"idx": "9"})
    (trace,) = [t for t in figure(at)["data"] if t.get("name") == "posterior cloud of #9"]
    assert len(decode(trace["x"])) == 64
    assert any("posterior cloud: 16 of 64 samples" in c.value for c in at.caption)
    at.toggle(key="show_cloud").set_value(False).run()
    assert not any(t.get("name", "").startswith("posterior cloud") for t in figure(at)["data"])


def test_the_hover_component_is_told_the_map_and_gets_its_atlas_once_asked(folder):
    at = explore()
    hover = [json.loads(c.proto.json) for c in at.get("bidi_component") if "map_key" in c.proto.json]
    assert hover[0]["map_key"].startswith("map-good-") and hover[0]["atlas"] is None
    at.session_state["map_atlas_wanted"] = hover[0]["atlas_id"]
    at.run()
    (data,) = [json.loads(c.proto.json) for c in at.get("bidi_component") if "map_key" in c.proto.json]
    assert data["atlas"]["jpeg"].startswith("data:image/jpeg;base64,") and data["atlas"]["width"] == 28
    # With the images, their codes: a click on a drawn point decodes it in the browser at once.
    indices = np.frombuffer(base64.b64decode(data["atlas"]["indices"]), "<i4")
    codes = np.frombuffer(base64.b64decode(data["atlas"]["codes"]), "<f4").reshape(len(indices), data["atlas"]["dim"])
    np.testing.assert_array_equal(codes, kept_code(load_bundle(folder / "good").mu[indices]).astype(np.float32))


def test_the_map_companion_gets_the_sliders_decoder_once_asked(folder):
    at = explore()
    (data,) = [json.loads(c.proto.json) for c in at.get("bidi_component") if "map_key" in c.proto.json]
    if data["decoder_id"] is None:
        pytest.skip("onnxruntime-web is not served here (scripts/web-assets.sh)")
    assert data["decoder_id"] == slider_data(at)["local_id"] and data["decoder"] is None  # one decoder, by id
    at.session_state["map_decoder_wanted"] = data["decoder_id"]
    at.run()
    (data,) = [json.loads(c.proto.json) for c in at.get("bidi_component") if "map_key" in c.proto.json]
    assert data["decoder"]["id"] == data["decoder_id"] and data["decoder"]["decoder"]["latent_dim"] == 4


def test_a_bundle_without_per_image_values_opens_at_once_and_gets_them_in_the_background(folder, tmp_path):
    before = sorted(p.name for p in (folder / "old").iterdir())
    at = explore("old")
    assert not at.exception
    bundle = load_bundle(folder / "old")
    assert "neg_elbo" not in at.selectbox(key="colour_by").options[:2]  # class and latent means meanwhile
    task = per_image_ui._values(str(bundle.path), stamp(bundle))  # the background task, queued at the first run
    deadline = time.monotonic() + 60
    while task.running and time.monotonic() < deadline:
        time.sleep(0.2)
    assert task.error is None and set(task.result) == set(FIELDS)
    deadline = time.monotonic() + 30
    while "−ELBO" not in at.run().selectbox(key="colour_by").options and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not at.exception and "−ELBO" in at.selectbox(key="colour_by").options
    assert sorted(p.name for p in (folder / "old").iterdir()) == before  # the bundle folder is not written
    cached = cache.read_cached(folder / "old", "per_image", 10**6)
    stored = load_bundle(folder / "good").per_image  # the same model and images: the same values
    assert np.allclose(cached["neg_elbo"], stored["neg_elbo"], rtol=1e-5)


def test_a_bundle_too_large_for_the_background_says_why_and_is_coloured_by_class(folder, monkeypatch):
    monkeypatch.setattr(per_image_ui, "MAX_BACKGROUND_IMAGES", 5)
    at = explore("old")
    assert not at.exception
    bundle = load_bundle(folder / "old")
    task = per_image_ui._values(str(bundle.path), stamp(bundle))
    assert not task.running and task.result is None  # refused at once, nothing computed
    captions = " ".join(c.value for c in at.caption)
    assert f"{len(bundle.mu):,} images are more than the 5 whose values are computed" in captions
    assert "neg_elbo" not in at.selectbox(key="colour_by").options


def test_class_names_from_a_bundle_reach_plotly_as_plain_text():
    from ui.map_figure import ColourScale, explore_map

    names = ["<img src=x onerror=alert(1)>", "%{customdata} {x}"]
    xy, labels = np.random.default_rng(0).standard_normal((6, 2)), np.array([0, 1, 0, 1, 0, 1])
    scale = ColourScale(np.arange(6.0), 0, 5, "<b>value</b>")
    fig = explore_map(xy, labels, names, ["#000", "#111"], np.arange(6), scale=scale).to_plotly_json()
    assert [t["name"] for t in fig["data"] if "customdata" in t] == [
        "&lt;img src=x onerror=alert(1)&gt;", "%{customdata} {x}"]
    assert fig["layout"]["coloraxis"]["colorbar"]["title"]["text"] == "&lt;b&gt;value&lt;/b&gt;"
