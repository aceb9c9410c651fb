"""The map as a diagnostic instrument in a real browser: colour by −ELBO, legend filtering, box
selections and their downloads, hover thumbnails both ways (map to image, grid image to map), the prior
overlay and the posterior cloud."""

from __future__ import annotations

import base64
import csv
import io
import re

import numpy as np
import pytest
from PIL import Image

from harness.browser import (
    DRAWN_POINTS,
    EVERY_POINT_TRACE,
    ROOT,
    click_map_point,
    download,
    drag_box,
    screen_points,
)
from vae.bundle import load_bundle
from vae.media import to_pixels

from .conftest import wait_ready

SHIPPED = ROOT / "checkpoints" / "fashion-mnist-conv-z16"
VIEWPORT = {"width": 1500, "height": 1300}
PLOT = "document.querySelector('.st-key-map-fashion-mnist-conv-z16-umap .js-plotly-plot')"


@pytest.fixture(scope="module")
def bundle():
    return load_bundle(SHIPPED)


@pytest.fixture(autouse=True)
def explorer(page, app_url):
    """Each test starts on the explorer with its map drawn."""
    page.goto(app_url)
    page.wait_for_function(f"() => {PLOT}?._fullData?.length > 10", timeout=60_000)
    wait_ready(page)


def inside(points, box, margin: float) -> set[int]:
    left, top, right, bottom = box
    return {int(i) for x, y, i in points
            if left + margin <= x <= right - margin and top + margin <= y <= bottom - margin}


def download_csv(page) -> list[list[str]]:
    data = download(page, page.get_by_text("Indices and codes (CSV)"))
    return list(csv.reader(io.StringIO(data.decode())))


def selection_count(page) -> int:
    heading = page.locator(".st-key-selection-panel h3").first
    heading.wait_for(timeout=30_000)
    return int(heading.inner_text().split(":")[1].split()[0].replace(",", ""))


def test_colour_by_elbo_shows_a_colour_bar_and_the_hover_shows_the_stored_value_and_the_image(
        page, bundle, screenshots):
    page.locator(".st-key-colour_by").click()
    page.get_by_role("option", name="−ELBO", exact=True).click()
    page.wait_for_function(f"() => {PLOT}?._fullLayout?.coloraxis?.cmax > 0", timeout=30_000)
    wait_ready(page)
    page.locator(".st-key-map-fashion-mnist-conv-z16-umap .colorbar").wait_for(timeout=10_000)
    assert page.evaluate(f"() => {PLOT}._fullLayout.coloraxis.colorbar.title.text") == "−ELBO"
    points = screen_points(page, PLOT)
    rng = np.random.default_rng(0)
    for x, y, _ in (points[i] for i in rng.choice(len(points), 3, replace=False)):
        page.mouse.move(5, 5)  # off the map: no hover label, no thumbnail
        page.wait_for_function("() => !document.querySelector('.hoverlayer .hovertext')", timeout=10_000)
        page.mouse.move(x, y, steps=3)
        label = page.locator(".hoverlayer .hovertext").first
        label.wait_for(timeout=10_000)
        text = label.text_content()  # e.g. "Shirt#4321−ELBO 251.372" (the point closest to the pointer)
        hovered, value = int(re.search(r"#(\d+)", text)[1]), float(re.search(r"−ELBO\s*([-\d.]+)", text)[1])
        assert value == pytest.approx(float(bundle.per_image["neg_elbo"][hovered]), abs=6e-4)
        # The thumbnail beside the pointer is the hovered test image (the atlas is JPEG: a few grey levels off).
        page.wait_for_selector(f".map-hover[data-index='{hovered}']", state="attached", timeout=30_000)
        uri = page.evaluate("() => document.querySelector('.map-hover canvas').toDataURL('image/png')")
        shown = np.asarray(Image.open(io.BytesIO(base64.b64decode(uri.split(",")[1]))).convert("L"), dtype=float)
        expected = to_pixels(bundle.images[hovered : hovered + 1], 3)[0].astype(float)
        assert shown.shape == expected.shape and np.abs(shown - expected).mean() < 6
    page.screenshot(path=str(screenshots / "diagnostics-colour-elbo-hover.png"), full_page=True)


def test_hiding_a_class_by_its_legend_entry_removes_its_points_from_the_map_and_from_box_selections(
        page, bundle, screenshots):
    hidden_class = bundle.class_names.index("Shirt")
    before = page.evaluate(DRAWN_POINTS)
    shirt = page.locator(".legend .traces").filter(has=page.locator(".legendtext", has_text=re.compile("^Shirt$")))
    shirt.locator(".legendtoggle").click()
    page.wait_for_function(f"(n) => ({DRAWN_POINTS})() < n", arg=before, timeout=10_000)
    assert before - page.evaluate(DRAWN_POINTS) == int((bundle.labels == hidden_class).sum()) == 1000
    drawn = screen_points(page, PLOT)
    assert not any(bundle.labels[int(i)] == hidden_class for _, _, i in drawn)
    # A box around the middle of the map, where shirts, pullovers and coats lie together.
    xs, ys = np.array([p[0] for p in drawn]), np.array([p[1] for p in drawn])
    box = (np.percentile(xs, 30), np.percentile(ys, 20), np.percentile(xs, 70), np.percentile(ys, 60))
    every_point_in_box = inside([[x, y, i] for (x, y, i) in screen_points(page, PLOT, EVERY_POINT_TRACE)], box, -1)
    assert any(bundle.labels[i] == hidden_class for i in every_point_in_box)  # the box does cover shirts
    drag_box(page, *box)
    count = selection_count(page)
    wait_ready(page)
    rows = download_csv(page)
    selected = {int(r[0]) for r in rows[1:]}
    assert len(selected) == count
    assert inside(drawn, box, 1) <= selected <= inside(drawn, box, -1)  # what is drawn in the box, no shirts
    assert page.evaluate(DRAWN_POINTS) == before - 1000  # the class stays hidden after the rerun
    page.screenshot(path=str(screenshots / "diagnostics-legend-hidden-box.png"), full_page=True)


def test_a_box_selection_shows_its_images_and_the_csv_lists_exactly_them_with_their_codes(page, bundle, screenshots):
    points = screen_points(page, PLOT)
    x, y, _ = points[4321]
    box = (x - 30, y - 25, x + 30, y + 25)
    drag_box(page, *box)
    count = selection_count(page)
    wait_ready(page)
    rows = download_csv(page)
    assert rows[0][:3] == ["index", "label", "class"] and len(rows[0]) == 3 + bundle.latent_dim
    indices = [int(r[0]) for r in rows[1:]]
    assert len(indices) == count and inside(points, box, 1) <= set(indices) <= inside(points, box, -1)
    codes = np.array([[float(v) for v in r[3:]] for r in rows[1:]], dtype=np.float32)
    assert np.array_equal(codes, bundle.mu[indices])
    assert [bundle.class_names[bundle.labels[i]] for i in indices] == [r[2] for r in rows[1:]]
    grid = ".st-key-selection-panel .selection-grid"  # pages/explore/map_selection.py (selection_grid.js)
    page.wait_for_function(f"() => {{ const g = document.querySelector('{grid}'); "
                           "return !!g && g.dataset.drawn === g.dataset.id; }", timeout=30_000)
    assert page.locator(f"{grid} canvas").count() == min(count, 100) and count > 1
    assert page.locator(f"{grid} figcaption").all_inner_texts() == [f"#{i}" for i in indices[:100]]
    first = page.evaluate(f"""() => {{ const c = document.querySelector('{grid} canvas');
        return Array.from(c.getContext('2d').getImageData(0, 0, c.width, c.height).data); }}""")
    assert np.array_equal(np.array(first).reshape(28, 28, 4)[..., 0], to_pixels(bundle.images[indices[:1]])[0])
    page.screenshot(path=str(screenshots / "diagnostics-box-selection.png"), full_page=True)


def test_prior_samples_and_posterior_cloud_are_drawn_on_the_map(page, bundle, screenshots):
    selected = page.get_by_text("Selected: test #")
    click_map_point(page, 2500, lambda timeout: selected.wait_for(timeout=timeout))
    page.wait_for_function(f"() => {PLOT}._fullData.some(t => t.name.startsWith('posterior cloud') && t._length == 64)",
                           timeout=30_000)
    wait_ready(page)
    page.locator(".st-key-show_prior label").click()
    page.wait_for_function(f"() => {PLOT}._fullData.some(t => t.name.startsWith('prior samples'))", timeout=30_000)
    wait_ready(page)
    page.get_by_text("posterior cloud: 16 of 64 samples").wait_for(timeout=10_000)
    prior = page.evaluate(f"() => {PLOT}._fullData.filter(t => t.name.startsWith('prior samples')).map(t => t._length)")
    assert sum(prior) == 500 and prior[1] > 0  # some of them in holes
    page.locator(".st-key-map-fashion-mnist-conv-z16-umap").screenshot(
        path=str(screenshots / "diagnostics-prior-and-cloud-map.png"))
    page.locator(".st-key-posterior-cloud").screenshot(path=str(screenshots / "diagnostics-cloud-strip.png"))
    page.locator(".st-key-prior-holes").screenshot(path=str(screenshots / "diagnostics-prior-holes.png"))


def test_pointing_at_a_grid_image_rings_its_point_on_the_map(page, bundle, screenshots):
    """The grid under the map and the map are linked both ways: hover an image, see where it lies."""
    page.get_by_text("All test images: sort, filter, page through").click()
    tiles = page.locator(".st-key-image-grid [data-testid=stImageContainer]")  # each image with its caption
    tiles.nth(7).wait_for(timeout=30_000)
    wait_ready(page)
    ring = f"() => {PLOT}.data.find(t => t.name === 'in the grid under the pointer')"
    xy = bundle.projections["umap"]["xy"]
    for tile in (7, 2):  # the grid's first page holds test images 0-59 in order
        tiles.nth(tile).scroll_into_view_if_needed()
        tiles.nth(tile).hover()
        page.wait_for_function(f"(x) => {{ const t = ({ring})(); return t && t.x.length === 1 && t.x[0] === x; }}",
                               arg=float(xy[tile, 0]), timeout=10_000)
        assert page.evaluate(f"() => ({ring})().y[0]") == pytest.approx(float(xy[tile, 1]))
    page.get_by_text("All test images: sort, filter, page through").hover()
    page.wait_for_function(f"() => ({ring})().x.length === 0", timeout=10_000)
    tiles.nth(2).hover()
    page.screenshot(path=str(screenshots / "diagnostics-grid-hover-ring.png"), full_page=True)
