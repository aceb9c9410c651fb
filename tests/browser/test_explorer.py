"""The explorer in a real browser: map, sliders, selection, inverse projection, bad bundles."""

from __future__ import annotations

import base64
import io
import shutil

import numpy as np
import pytest
from PIL import Image
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

from harness.browser import (
    DRAWN_POINTS,
    POINT_TRACES,
    ROOT,
    click_map_point,
    isolated_point,
    point_index,
    point_on_screen,
    serving,
    wait_final_size,
)
from pages.explore.live_decoder import STEP
from ui.state import SLIDER_LIMIT, kept_code
from vae.bundle import load_bundle
from vae.latent.placement import InverseProjector
from vae.models.inference import decode

from .conftest import HOLD_SENDS, canvas_grey, needs_onnxruntime_web, wait_ready

SHIPPED = ROOT / "checkpoints" / "fashion-mnist-conv-z16"
DECODED = "canvas.decoded"  # the live decoder's image


@pytest.fixture(scope="module")
def app_url(tmp_path_factory):
    """The app on the shipped models plus an extra folder holding a corrupt bundle."""
    extra = tmp_path_factory.mktemp("extra")
    shutil.copytree(SHIPPED, extra / "corrupt-weights", ignore=shutil.ignore_patterns("events.jsonl"))
    weights = extra / "corrupt-weights" / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[: weights.stat().st_size // 2])
    with serving(extra) as url:
        yield url


def drawn_points(page) -> int:
    return page.evaluate(DRAWN_POINTS)


def decoded_src(page) -> str:
    """The decoded image as a PNG data URI of the canvas's pixels."""
    return page.locator(DECODED).evaluate("canvas => canvas.toDataURL()")


def slider_values(page) -> list[str]:
    return page.get_by_role("slider").evaluate_all("els => els.map(e => e.value)")


def empty_spots(page, count: int, apart: float = 120) -> list[tuple[float, float, float, float]]:
    """`count` click-grid nodes (trace 0) inside the plot area and the window, far from every point and
    `apart` pixels from each other: each one's page coordinates and map coordinates."""
    page.locator(".js-plotly-plot").first.scroll_into_view_if_needed()
    return [tuple(spot) for spot in page.evaluate(f"""([count, apart]) => {{
        const gd = document.querySelector('.js-plotly-plot');
        const grid = gd._fullData[0], xa = gd._fullLayout.xaxis, ya = gd._fullLayout.yaxis;
        const box = gd.querySelector('.nsewdrag').getBoundingClientRect();
        const xs = [], ys = [];
        for (const t of ({POINT_TRACES})(gd)) for (let i = 0; i < t._length; i += 7) {{
            xs.push(xa.l2p(t.x[i])); ys.push(ya.l2p(t.y[i]));
        }}
        const nodes = [];
        for (let g = 0; g < grid.x.length; g++) {{
            const px = xa.l2p(grid.x[g]), py = ya.l2p(grid.y[g]);
            if (px < 20 || py < 20 || px > box.width - 20 || py > box.height - 20) continue;
            if (box.top + py < 10 || box.top + py > window.innerHeight - 10) continue;  // a click must land
            let d = Infinity;
            for (let i = 0; i < xs.length; i++) d = Math.min(d, (xs[i] - px) ** 2 + (ys[i] - py) ** 2);
            nodes.push([d, box.left + px, box.top + py, grid.x[g], grid.y[g]]);
        }}
        nodes.sort((a, b) => b[0] - a[0]);
        const chosen = [];
        for (const node of nodes) {{
            if (chosen.every((c) => (c[0] - node[1]) ** 2 + (c[1] - node[2]) ** 2 > apart ** 2))
                chosen.push(node.slice(1));
            if (chosen.length === count) break;
        }}
        return chosen;
    }}""", [count, apart])]


# The map's current-code cross: its distance in pixels from map position [x, y], with the axes as
# drawn now (a rerun can move the chart on the page); null until the map draws a cross.
CROSS_FROM = """([x, y]) => {
    const gd = document.querySelector('.js-plotly-plot');
    const cross = gd && gd._fullData && gd._fullData.find((t) => t.name === 'current code');
    if (!cross) return null;
    const xa = gd._fullLayout.xaxis, ya = gd._fullLayout.yaxis;
    return Math.hypot(xa.l2p(cross.x[0]) - xa.l2p(x), ya.l2p(cross.y[0]) - ya.l2p(y));
}"""
# The map position under page coordinates [left, top], and the page coordinates of map position [x, y]
# (each with the chart where it is now: a rerun can move it down the page).
MAP_POSITION = """([left, top]) => {
    const gd = document.querySelector('.js-plotly-plot');
    const box = gd.querySelector('.nsewdrag').getBoundingClientRect();
    return [gd._fullLayout.xaxis.p2l(left - box.left), gd._fullLayout.yaxis.p2l(top - box.top)];
}"""
ON_PAGE = """([x, y]) => {
    const gd = document.querySelector('.js-plotly-plot');
    const box = gd.querySelector('.nsewdrag').getBoundingClientRect();
    return [box.left + gd._fullLayout.xaxis.l2p(x), box.top + gd._fullLayout.yaxis.l2p(y)];
}"""


def slider_code(page) -> tuple[np.ndarray, np.ndarray]:
    """The code the sliders hold, by dimension: the value printed beside each, and the thumb's."""
    rows = page.evaluate("() => Array.from(document.querySelectorAll('.live-decoder input[type=range]'),"
                         " e => [Number(e.dataset.dim), Number(e.closest('.ld-row').querySelector('output')"
                         ".textContent), Number(e.value)])")
    shown, thumbs = np.zeros(len(rows)), np.zeros(len(rows))
    for dim, printed, thumb in rows:
        shown[dim], thumbs[dim] = printed, thumb
    return shown, thumbs


def assert_sliders_hold(page, code: np.ndarray) -> None:
    """The sliders show `code` as the app keeps it: to 2 decimals, thumbs on the 0.05 steps."""
    expected = np.clip(code.astype(np.float64), -SLIDER_LIMIT, SLIDER_LIMIT)
    shown, thumbs = slider_code(page)
    assert shown.shape == expected.shape
    np.testing.assert_allclose(shown, expected, atol=0.005 + 1e-6)
    np.testing.assert_allclose(thumbs, expected, atol=STEP / 2 + 1e-6)


def open_explorer(page, app_url):
    """Open the explorer and wait for its map (how fast that is, is bench.ui_latency's to measure)."""
    page.goto(app_url)
    page.wait_for_function(
        "() => { const gd = document.querySelector('.js-plotly-plot');"
        " return gd && gd._fullData && gd._fullData[1] && gd._fullData[1]._length > 0; }",
        timeout=60_000)
    wait_ready(page)
    wait_final_size(page)


def test_map_shows_all_test_points(page, app_url, screenshots):
    open_explorer(page, app_url)
    assert drawn_points(page) == 10_000
    page.screenshot(path=str(screenshots / "explore-map.png"), full_page=True)


def test_every_slider_of_a_16_dimension_model_is_in_view_at_once(page, app_url):
    open_explorer(page, app_url)
    box = page.locator(".ld-sliders")
    # No scrolling inside the box: each informative dimension's slider and label lie wholly inside it.
    assert box.evaluate("e => e.scrollHeight <= e.clientHeight + 1")
    outer = box.bounding_box()
    rows = page.locator(".ld-sliders > .ld-row")
    assert rows.count() >= 7  # the shipped z16 model shows more than the 7 rows an earlier box held
    for i in range(rows.count()):
        row = rows.nth(i).bounding_box()
        assert outer["y"] <= row["y"] and row["y"] + row["height"] <= outer["y"] + outer["height"], i


def test_slider_step_changes_the_decoded_image(page, app_url, screenshots):
    open_explorer(page, app_url)
    before = decoded_src(page)
    slider = page.get_by_role("slider").first
    slider.focus()
    for _ in range(10):
        slider.press("ArrowRight")
    page.wait_for_function("(old) => document.querySelector('canvas.decoded').toDataURL() !== old",
                           arg=before, timeout=10_000)
    # Ten quick steps, at most one in flight at a time: the last one must reach the code (and the URL).
    dim = int(slider.get_attribute("data-dim"))
    page.wait_for_function("(dim) => new URLSearchParams(location.search).get('z')?.split(',')[dim] === '0.500'",
                           arg=dim, timeout=10_000)
    wait_ready(page)
    assert slider_values(page)[0] == "0.5"
    page.screenshot(path=str(screenshots / "explore-slider.png"), full_page=True)


@needs_onnxruntime_web
def test_the_browser_decodes_slider_steps_as_the_server_does(page, app_url, screenshots):
    open_explorer(page, app_url)
    slider = page.get_by_role("slider").first
    slider.focus()  # the first touch asks for the decoder
    page.wait_for_selector(".live-decoder[data-decoder=browser]", timeout=20_000)
    wait_ready(page)
    moves_sent = "() => document.querySelector('.live-decoder').seq"
    sent_before = page.evaluate(moves_sent)
    for _ in range(3):
        slider.press("ArrowRight")
    # Decoded here (onnxruntime-web, one step at a time), with no move sent until the gesture settles.
    page.wait_for_function("() => !document.querySelector('.live-decoder').decoding", timeout=30_000)
    local_src, values = decoded_src(page), page.evaluate(  # collapsed dimensions' sliders included
        "() => Array.from(document.querySelectorAll('.live-decoder input[type=range]'),"
        " e => [Number(e.dataset.dim), Number(e.value)])")
    assert page.evaluate(moves_sent) == sent_before
    bundle = load_bundle(SHIPPED)
    code = np.zeros(bundle.latent_dim, dtype=np.float32)
    for dim, value in values:
        code[dim] = value
    assert len(values) == bundle.latent_dim and code.any()
    expected = decode(bundle.model, code)[0].astype(int)
    shown = np.asarray(Image.open(io.BytesIO(base64.b64decode(local_src.split(",", 1)[1]))).convert("L"), dtype=int)
    assert shown.shape == expected.shape
    assert np.abs(shown - expected).max() <= 1  # float16 weights: at most one grey level apart
    # Once settled, one move carries the code to the server, and the URL takes it.
    dim = int(slider.get_attribute("data-dim"))
    page.wait_for_function("(dim) => new URLSearchParams(location.search).get('z')?.split(',')[dim] === '0.150'",
                           arg=dim, timeout=10_000)
    assert page.evaluate(moves_sent) == sent_before + 1
    page.screenshot(path=str(screenshots / "explore-browser-decoded.png"), full_page=True)


def test_clicking_a_point_loads_its_code_and_shows_original_and_reconstruction(page, app_url, screenshots):
    open_explorer(page, app_url)
    drawn = isolated_point(page, start=1234)
    clicked = point_index(page, drawn)
    selected = page.get_by_text(f"Selected: test #{clicked} ")
    click_map_point(page, drawn, lambda timeout: selected.wait_for(timeout=timeout))
    wait_ready(page)
    # The sliders hold the clicked image's stored code (the bundle's posterior mean), not just any new one.
    assert_sliders_hold(page, load_bundle(SHIPPED).mu[clicked])
    # The images (and their captions) may be drawn a moment after the script state says idle.
    page.get_by_text("original", exact=True).wait_for(timeout=10_000)
    page.get_by_text("reconstruction", exact=True).wait_for(timeout=10_000)
    assert f"idx={clicked}" in page.url
    page.screenshot(path=str(screenshots / "explore-selected.png"), full_page=True)


@needs_onnxruntime_web
def test_a_click_on_a_point_paints_its_code_in_the_browser_before_the_rerun(page, app_url, screenshots):
    """Once the pointer has been on the map, the page has the decoder and the drawn points' codes: a click on a
    point paints that point's decoded code with the server's answer held back; the rerun ends on the same code."""
    page.add_init_script(HOLD_SENDS)
    open_explorer(page, app_url)
    drawn = isolated_point(page, 123)
    page.mouse.move(*point_on_screen(page, drawn))  # the pointer enters the map: the decoder, then the atlas
    page.wait_for_selector(".live-decoder[data-decoder=browser]", timeout=60_000)
    page.wait_for_selector(".map-hover[data-atlas]", state="attached", timeout=60_000)
    wait_ready(page)
    clicked = point_index(page, drawn)
    bundle = load_bundle(SHIPPED)
    expected = decode(bundle.model, kept_code(bundle.mu[clicked]))[0].astype(int)  # the code as the sliders hold it
    frame = page.locator(DECODED).get_attribute("data-frame")
    page.evaluate("() => { window.holdSends = true; }")
    click_map_point(page, drawn, lambda timeout: page.wait_for_function(
        "(old) => document.querySelector('canvas.decoded').dataset.frame !== old", arg=frame, timeout=timeout))
    page.wait_for_function("() => !document.querySelector('.live-decoder').decoding", timeout=10_000)
    assert page.evaluate("() => window.heldSends()") > 0  # the selection's rerun is still in the page
    shown = canvas_grey(page)
    assert shown.shape == expected.shape
    assert np.abs(shown - expected).max() <= 2  # float16 weights
    assert_sliders_hold(page, bundle.mu[clicked])
    page.screenshot(path=str(screenshots / "explore-click-browser-decoded.png"), full_page=True)
    # The rerun follows: the page shows the clicked image's panel, and the same code and image.
    page.evaluate("() => window.releaseSends()")
    page.get_by_text(f"Selected: test #{clicked} ").wait_for(timeout=60_000)
    wait_ready(page)
    assert_sliders_hold(page, bundle.mu[clicked])
    assert np.abs(canvas_grey(page) - expected).max() <= 2


def test_clicking_empty_space_decodes_there_and_marks_the_place_clicked(page, app_url, screenshots):
    """Three clicks on empty map space, a few pixels off the click grid as a hand lands: each puts the
    current-code cross where the click was, and shows the decode of that place's code."""
    open_explorer(page, app_url)
    bundle = load_bundle(SHIPPED)
    inverse = InverseProjector(bundle.projections["umap"]["xy"], bundle.mu)
    for number, (_, _, x, y) in enumerate(empty_spots(page, 3)):
        before = decoded_src(page)
        left, top = page.evaluate(ON_PAGE, [x, y])
        click = (left + 3, top - 2)
        clicked = page.evaluate(MAP_POSITION, click)
        page.mouse.click(*click)
        page.get_by_text(f"Code from map position ({x:.2f}, {y:.2f}), decoded from").wait_for(timeout=30_000)
        wait_ready(page)
        page.wait_for_function("(old) => document.querySelector('canvas.decoded').toDataURL() !== old",
                               arg=before, timeout=30_000)
        # The map is redrawn with the cross a moment after the rerun ends: wait for it near the click.
        try:
            page.wait_for_function(f"(p) => ({CROSS_FROM})(p) !== null && ({CROSS_FROM})(p) <= 6", arg=clicked,
                                   timeout=30_000)
        except PlaywrightTimeoutError:
            pytest.fail(f"click {number}: the cross lies {page.evaluate(CROSS_FROM, clicked)} px from it")
        code, _ = inverse((x, y))
        assert_sliders_hold(page, code)
        shown = Image.open(io.BytesIO(base64.b64decode(decoded_src(page).split(",", 1)[1]))).convert("L")
        expected = decode(bundle.model, np.round(code, 2).astype(np.float32))[0].astype(int)
        assert np.abs(np.asarray(shown, dtype=int) - expected).max() <= 2, number
    page.screenshot(path=str(screenshots / "explore-empty-click.png"), full_page=True)


def test_corrupt_bundle_is_listed_with_its_reason_and_the_app_still_works(page, app_url, screenshots):
    open_explorer(page, app_url)
    page.get_by_text("invalid bundle").click()
    page.get_by_text("model.safetensors", exact=False).first.wait_for(timeout=30_000)
    assert page.locator("[data-testid=stException]").count() == 0
    page.screenshot(path=str(screenshots / "explore-invalid-listed.png"), full_page=True)
