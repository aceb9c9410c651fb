"""The t-SNE map and the 3-D view in a real browser: computed in the background, then chosen and drawn."""

from __future__ import annotations

import pytest

from harness.browser import DRAWN_POINTS, serving
from vae.bundle import write_bundle
from vae.diagnostics.cache import CACHE_VAR

from ..conftest import bundle_meta, train_tiny
from .conftest import wait_ready

PLOT = "document.querySelector('.st-key-map-tiny-{}{} .js-plotly-plot')"


@pytest.fixture(scope="module")
def app_url(tmp_path_factory, synthetic):
    """The app on the shipped models and a tiny 4-D bundle, with a user cache of its own."""
    extra = tmp_path_factory.mktemp("extra")
    model, result = train_tiny(synthetic)
    write_bundle(extra / "tiny", model, synthetic.test_images, synthetic.test_labels, bundle_meta(synthetic, result))
    with serving(extra, env={CACHE_VAR: str(tmp_path_factory.mktemp("cache"))}) as url:
        yield f"{url}/?bundle=tiny"


def test_the_tsne_map_appears_after_its_background_computation_and_is_drawn(page, app_url, screenshots):
    page.goto(app_url)
    wait_ready(page)
    page.get_by_role("button", name="Compute t-SNE map").click()
    page.get_by_text("Computing the t-SNE map in the background").wait_for(timeout=30_000)
    chooser = page.get_by_role("radiogroup", name="Map")
    chooser.get_by_text("t-SNE").wait_for(timeout=120_000)  # the page reruns when the map lands
    chooser.get_by_text("t-SNE").click()
    page.wait_for_function(f"() => {PLOT.format('tsne', '')}?._fullLayout?.xaxis?.title?.text === 't-SNE 1'",
                           timeout=60_000)
    wait_ready(page)
    assert page.evaluate(DRAWN_POINTS) == 128
    assert page.get_by_role("button", name="Compute t-SNE map").count() == 0
    page.screenshot(path=screenshots / "tsne_map_tiny.png", full_page=False)


def test_the_3d_toggle_draws_the_pca_map_in_a_gl3d_scene(page, app_url, screenshots):
    page.goto(app_url)
    wait_ready(page)
    page.get_by_text("3-D view").click()
    plot = PLOT.format("pca", "").replace("map-", "map3d-")
    page.wait_for_function(f"() => {plot}?._fullLayout?.scene?._scene !== undefined", timeout=60_000)
    wait_ready(page)
    traces = page.evaluate(f"() => {plot}._fullData.filter(t => t.customdata).map(t => [t.type, t._length])")
    assert {kind for kind, _ in traces} == {"scatter3d"} and sum(n for _, n in traces) == 128
    assert page.locator(".js-plotly-plot .gl-container canvas").count() >= 1
    assert page.get_by_text("work on the 2-D map only").count() == 1
    page.screenshot(path=screenshots / "pca_3d_tiny.png", full_page=False)
