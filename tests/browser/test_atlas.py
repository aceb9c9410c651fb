"""The Explore page at 1400×1000: the map takes most of the width, its decoded atlas follows each zoom, and a
click on a cell loads that cell's code."""

from __future__ import annotations

import base64
import io

import numpy as np
from PIL import Image

from harness.browser import ROOT, retry, wait_final_size
from pages.explore.map_events import AREA_KEY
from vae.bundle import load_bundle
from vae.models.inference import decode

from .conftest import needs_onnxruntime_web, wait_ready
from .test_explorer import assert_sliders_hold, decoded_src

VIEWPORT = {"width": 1400, "height": 1000}
SHIPPED = ROOT / "checkpoints" / "fashion-mnist-conv-z16"
PLOT = "document.querySelector('.js-plotly-plot')"
SHOWN = f"() => {PLOT}?.dataset.decodedAtlas || null"
# What the map shows now: the atlas's cells as Python sent them, how they were drawn, and the layout image.
ATLAS = f"""() => {{
    const root = document.querySelector('.map-hover'), gd = {PLOT};
    const image = gd.layout.images.find((i) => i.name === `decoded atlas ${{gd.dataset.decodedAtlas}}`);
    return {{cells: root.data.decoded.cells, shown: root.atlasShown, source: image.source,
             decoder: gd.dataset.decodedBy}};
}}"""


def layout(page) -> dict:
    return page.evaluate(f"""() => {{
        const box = (s) => {{ const b = document.querySelector(s).getBoundingClientRect();
                             return {{left: b.left, top: b.top, right: b.right, bottom: b.bottom, width: b.width}}; }};
        return {{row: box('[data-testid=stMainBlockContainer] [data-testid=stHorizontalBlock]'),
                map: box('.js-plotly-plot'), area: box('.st-key-{AREA_KEY}'),
                decoded: box('canvas.decoded'), sliders: box('.ld-sliders'), window: window.innerHeight}};
    }}""")


def zoom_in(page, before: str | None) -> dict:
    """Five wheel notches at the map's centre; the atlas of the new view, once drawn."""
    box = page.locator(".js-plotly-plot .nsewdrag").first.bounding_box()
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    for _ in range(5):
        page.mouse.wheel(0, -120)
    page.wait_for_function(f"(old) => ({SHOWN})() !== null && ({SHOWN})() !== old", arg=before, timeout=60_000)
    return page.evaluate(ATLAS)


def codes_of(atlas: dict) -> np.ndarray:
    cells = atlas["cells"]
    return np.frombuffer(base64.b64decode(cells["codes"]), dtype="<f4").reshape(-1, cells["dim"]).copy()


def cell_pixels(atlas: dict, index: int) -> np.ndarray:
    """Cell `index`'s image as drawn on the map, at the model's pixel size (grey)."""
    picture = Image.open(io.BytesIO(base64.b64decode(atlas["source"].split(",", 1)[1]))).convert("L")
    cell = atlas["shown"]["cell"]
    row, column = divmod(index, atlas["cells"]["columns"])
    top, left = row * cell["height"] + cell["offsetY"], column * cell["width"] + cell["offsetX"]
    crop = np.asarray(picture, dtype=int)[top:top + cell["size"], left:left + cell["size"]]
    assert cell["scale"] == int(cell["scale"]) >= 1  # a whole multiple of the model's pixels
    return crop[::cell["scale"], ::cell["scale"]]


def open_explorer(page, app_url) -> None:
    page.goto(app_url)
    page.wait_for_function(f"() => {PLOT}?._fullData?.[1]?._length > 0", timeout=60_000)
    wait_ready(page)
    wait_final_size(page)


def test_the_map_takes_most_of_the_width_and_fits_the_window(page, app_url, screenshots):
    open_explorer(page, app_url)
    page.screenshot(path=str(screenshots / "explore-1400x1000.png"))
    box = layout(page)
    assert box["map"]["width"] > 0.7 * box["row"]["width"]  # of the page's content, beside the sidebar
    assert box["map"]["width"] > 0.5 * VIEWPORT["width"]  # and more than half the window, its sidebar included
    assert 0 <= box["window"] - box["area"]["bottom"] < 40  # its area fitted to the window
    assert box["area"]["bottom"] - 80 < box["map"]["bottom"] <= box["area"]["bottom"]  # filled, but for the caption
    for part in ("decoded", "sliders"):  # beside the map, in view with it
        assert box[part]["left"] >= box["map"]["right"] and box[part]["bottom"] <= box["window"], part


@needs_onnxruntime_web
def test_the_atlas_is_redrawn_for_each_zoomed_view_with_the_decoders_images(page, app_url, screenshots):
    open_explorer(page, app_url)
    page.locator(".st-key-atlas_mode").get_by_text("under", exact=True).click()
    page.wait_for_function(SHOWN, timeout=60_000)
    first = page.evaluate(ATLAS)  # decoded by the server or, if its decoder came first, by the browser
    # The browser asked for the decoder when the atlas came on: once it has it, the next views decode here.
    page.wait_for_function("() => (document.querySelector('.map-hover').reported || '').includes('\"decoder\":true')",
                           timeout=60_000)
    second = zoom_in(page, first["cells"]["key"])
    third = zoom_in(page, second["cells"]["key"])
    page.screenshot(path=str(screenshots / "explore-atlas-zoomed.png"))
    for before, after in ((first, second), (second, third)):
        # Each view's own cells: the codes of a corner cell and of the middle one differ from before the zoom.
        middle = len(codes_of(after)) // 2
        assert not np.allclose(codes_of(before)[[0, middle]], codes_of(after)[[0, middle]])
    assert third["decoder"] == "browser"
    for atlas in (first, second, third):  # square cells (but for whole pixels), each image as large as it fits
        cell = atlas["shown"]["cell"]
        assert max(cell["width"], cell["height"]) / min(cell["width"], cell["height"]) < 1.1, cell
        assert cell["size"] > min(cell["width"], cell["height"]) - 28, cell  # a whole multiple of 28 px
    bundle = load_bundle(SHIPPED)
    for atlas in (first, third):  # either decoder draws the same picture
        codes, far = codes_of(atlas), np.array(atlas["cells"]["far"], dtype=bool)
        for index in np.flatnonzero(~far)[[0, -1]]:  # cells near data, not dimmed: the decoder's own pixels
            expected = decode(bundle.model, codes[index])[0].astype(int)
            assert np.abs(cell_pixels(atlas, index) - expected).max() <= 2, (atlas["decoder"], index)  # float16 weights


def test_a_click_anywhere_in_a_cell_loads_its_code_and_decodes_it(page, app_url, screenshots):
    """Over the points ("instead of them"), a click off a cell's centre, as a hand lands, loads that cell's code
    into the sliders, and the decoded image is that code's decode."""
    open_explorer(page, app_url)
    page.locator(".st-key-atlas_mode").get_by_text("over", exact=True).click()
    page.wait_for_function(SHOWN, timeout=60_000)
    wait_ready(page)
    page.wait_for_function(f"() => {PLOT}.dataset.atlasTargets === {PLOT}.dataset.decodedAtlas", timeout=30_000)
    atlas = page.evaluate(ATLAS)
    cells, cell = atlas["cells"], atlas["shown"]["cell"]
    index = int(np.flatnonzero(~np.array(cells["far"], dtype=bool))[len(cells["far"]) // 4])  # among the points
    x, y = page.evaluate(f"""(i) => {{
        const gd = {PLOT}, box = gd.querySelector('.nsewdrag').getBoundingClientRect(), cells = ({ATLAS})().cells;
        return [box.left + gd._fullLayout.xaxis.l2p(cells.x[i]), box.top + gd._fullLayout.yaxis.l2p(cells.y[i])];
    }}""", index)
    code = codes_of(atlas)[index]
    caption = page.get_by_text("Code from map position")
    retry(lambda: page.mouse.click(x + 0.35 * cell["width"], y - 0.35 * cell["height"]),
          lambda timeout: caption.wait_for(timeout=timeout), 3, 10_000)
    wait_ready(page)
    assert_sliders_hold(page, code)
    page.wait_for_function("() => !document.querySelector('.live-decoder').decoding", timeout=30_000)
    shown = Image.open(io.BytesIO(base64.b64decode(decoded_src(page).split(",", 1)[1]))).convert("L")
    expected = decode(load_bundle(SHIPPED).model, code)[0].astype(int)
    assert np.abs(np.asarray(shown, dtype=int) - expected).max() <= 2  # float16 weights: under 2 grey levels
    page.screenshot(path=str(screenshots / "explore-atlas-cell-clicked.png"))
