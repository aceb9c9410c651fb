"""A 200,000-point map in Chromium: a zoom swaps in the view's picture and every point in view."""

from __future__ import annotations

import numpy as np
import pytest

from harness.browser import (
    DRAWN_POINTS,
    POINT_TRACES,
    click_map_point,
    isolated_point,
    point_index,
    serving,
    wait_final_size,
)
from pages.explore import map_detail
from tests.conftest import write_large_map
from ui.bundles import stamp
from ui.state import kept_code
from vae.bundle import load_bundle
from vae.models.inference import decode

from .conftest import HOLD_SENDS, canvas_grey, needs_onnxruntime_web, wait_ready

N = 200_000
SETTLED = """() => {
    const gd = document.querySelector('.js-plotly-plot'), image = gd.layout.images[0];
    const [x0, x1] = gd._fullLayout.xaxis.range, width = x1 - x0;
    return Math.abs(image.x - x0) < 1e-3 * width && Math.abs(image.sizex - width) < 1e-3 * width;
}"""
RANGE = ("() => { const l = document.querySelector('.js-plotly-plot')._fullLayout;"
         " return [...l.xaxis.range, ...l.yaxis.range]; }")
DETAIL = "() => (document.querySelector('.js-plotly-plot').layout.meta || {}).detail || null"
DRAWN = f"""() => {{
    const gd = document.querySelector('.js-plotly-plot');
    return {{range: [...gd._fullLayout.xaxis.range, ...gd._fullLayout.yaxis.range],
             indices: ({POINT_TRACES})(gd).flatMap(t => Array.from(t.customdata)),
             image: gd.layout.images[0]}};
}}"""


def _inside(xy, view):
    x0, x1, y0, y1 = view
    return np.flatnonzero((xy[:, 0] >= x0) & (xy[:, 0] <= x1) & (xy[:, 1] >= y0) & (xy[:, 1] <= y1))


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    root = tmp_path_factory.mktemp("large-browser")
    write_large_map(root / "large", N)
    return root


def zoom_in(page, url: str, xy: np.ndarray) -> None:
    """Open the large map and zoom in until at most 4,000 points are in view and the view's own picture and
    points are on screen."""
    page.goto(f"{url}/?bundle=large")
    page.wait_for_function("() => document.querySelector('.js-plotly-plot')?._fullData?.[1]?._length > 0",
                           timeout=120_000)
    wait_ready(page, 120_000)
    assert page.evaluate(DRAWN_POINTS) == 5_000
    wait_final_size(page)
    whole = page.evaluate(DETAIL)
    box = page.locator(".js-plotly-plot .nsewdrag").first.bounding_box()
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    for _ in range(150):  # Plotly zooms ~10% a notch; a redraw mid-gesture under load can drop some
        if len(_inside(xy, page.evaluate(RANGE))) <= 4_000:
            break
        page.mouse.wheel(0, -120)
    page.wait_for_function(f"(old) => ({DETAIL})() !== old", arg=whole, timeout=60_000)
    page.wait_for_function(SETTLED, timeout=60_000)  # the picture and points of the view on screen


def test_a_zoom_swaps_in_the_picture_and_every_point_of_the_view(browser, folder, screenshots):
    xy = load_bundle(folder / "large").projections["pca"]["xy"]
    with serving(folder) as url:
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        zoom_in(page, url, xy)
        shown = page.evaluate(DRAWN)
        page.screenshot(path=str(screenshots / "large-map-zoomed.png"))
        page.close()
    x0, x1, y0, y1 = shown["range"]
    inside = _inside(xy, shown["range"])
    indices = np.sort(np.array(shown["indices"]))
    assert 0 < len(inside) <= 5_000, "the zoom should leave fewer points in view than the map draws"
    assert np.array_equal(indices, inside)  # every point in view, nothing else
    image = shown["image"]
    assert image["source"].startswith("data:image/jpeg") and image["x"] == pytest.approx(x0, rel=1e-3, abs=1e-6)


@needs_onnxruntime_web
def test_a_click_on_a_point_of_a_zoomed_view_is_painted_in_the_browser_from_the_views_codes(browser, folder):
    """The view's points come with their codes: a click on one is decoded in the page with the rerun held back."""
    bundle = load_bundle(folder / "large")
    with serving(folder) as url:
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.add_init_script(HOLD_SENDS)
        zoom_in(page, url, bundle.projections["pca"]["xy"])
        page.wait_for_selector(".live-decoder[data-decoder=browser]", timeout=60_000)  # asked as the pointer came
        wait_ready(page)
        # A point the whole map's view does not draw: its code is the zoomed view's, not the hover atlas's.
        whole_view = set(map_detail.base_sample(str(bundle.path), stamp(bundle), map_detail.VIEW_POINTS).tolist())
        drawn = isolated_point(page)
        while (clicked := point_index(page, drawn)) in whole_view:
            drawn = isolated_point(page, drawn + 1)
        frame = page.locator("canvas.decoded").get_attribute("data-frame")
        page.evaluate("() => { window.holdSends = true; }")
        click_map_point(page, drawn, lambda timeout: page.wait_for_function(
            "(old) => document.querySelector('canvas.decoded').dataset.frame !== old", arg=frame, timeout=timeout))
        page.wait_for_function("() => !document.querySelector('.live-decoder').decoding", timeout=10_000)
        assert page.evaluate("() => window.heldSends()") > 0
        shown = canvas_grey(page)
        page.close()
    expected = decode(bundle.model, kept_code(bundle.mu[clicked]))[0].astype(int)
    assert shown.shape == expected.shape and np.abs(shown - expected).max() <= 2
