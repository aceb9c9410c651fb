"""A portable bundle (ONNX graphs on onnxruntime) in a real browser: Explore and Interpolate."""

from __future__ import annotations

import base64
import io
import shutil

import numpy as np
import pytest
from PIL import Image

from harness.browser import BROWSER_DECODER, DRAWN_POINTS, click_map_point, serving
from vae.models.inference import decode

from .conftest import needs_onnxruntime_web, wait_ready
from .test_generative import STRIP, click_endpoint, path_length, set_frames

VIEWPORT = {"width": 1500, "height": 1400}


@pytest.fixture(scope="module")
def app_url(tmp_path_factory, portable_source):
    extra = tmp_path_factory.mktemp("portable-extra")
    shutil.copytree(portable_source[1], extra / "portable")
    with serving(extra) as url:
        yield url




def decoded_png(page) -> str:
    """The live decoder's image as a PNG data URI of its canvas's pixels."""
    return page.locator("canvas.decoded").evaluate("canvas => canvas.toDataURL()")


def open_on_map(page, url: str) -> None:
    page.goto(url)
    page.wait_for_function("() => document.querySelector('.js-plotly-plot')?._fullData?.[1]?._length > 0",
                           timeout=30_000)
    wait_ready(page)


def test_explore_a_portable_bundle_select_a_point_and_decode_slider_steps(page, app_url, screenshots,
                                                                         portable_source):
    open_on_map(page, f"{app_url}/?bundle=portable")
    assert page.evaluate(DRAWN_POINTS) == 128
    selected = page.get_by_text("Selected: test #")
    click_map_point(page, 50, lambda timeout: selected.wait_for(timeout=timeout))
    wait_ready(page)
    page.get_by_text("reconstruction", exact=True).wait_for(timeout=10_000)
    slider = page.get_by_role("slider").first
    before = decoded_png(page)
    slider.focus()
    for _ in range(6):
        slider.press("ArrowRight")
    page.wait_for_function("(old) => document.querySelector('canvas.decoded').toDataURL() !== old", arg=before,
                           timeout=15_000)
    dim = int(slider.get_attribute("data-dim"))
    value = f"{float(slider.input_value()):.3f}"
    # The gesture has settled once the code reaches the URL; the server has decoded it by then.
    page.wait_for_function("([dim, value]) => new URLSearchParams(location.search).get('z')?.split(',')[dim] === value",
                           arg=[dim, value], timeout=15_000)
    wait_ready(page)
    values = page.evaluate("() => Array.from(document.querySelectorAll('.live-decoder input[type=range]'),"
                           " e => [Number(e.dataset.dim), Number(e.value)])")
    code = np.zeros(len(values), dtype=np.float32)
    for d, v in values:
        code[d] = v
    # What the page shows is what the original PyTorch model decodes from the sliders' code.
    src = decoded_png(page)
    shown = np.asarray(Image.open(io.BytesIO(base64.b64decode(src.split(",", 1)[1]))).convert("L"), dtype=int)
    expected = decode(portable_source[0], code)[0].astype(int)
    assert np.abs(shown - expected).max() <= 1
    assert page.locator("[data-testid=stException]").count() == 0
    page.screenshot(path=str(screenshots / "portable-explore.png"), full_page=True)


@needs_onnxruntime_web
def test_the_browser_decodes_a_portable_bundle_with_its_own_decoder(page, app_url, portable_source):
    open_on_map(page, f"{app_url}/?bundle=portable")
    slider = page.get_by_role("slider").first
    slider.focus()  # the first touch asks for the decoder: the bundle's decoder.onnx, run by onnxruntime-web
    page.wait_for_selector(BROWSER_DECODER, timeout=30_000)
    wait_ready(page)
    sent_before = page.evaluate("() => document.querySelector('.live-decoder').seq")
    for _ in range(3):
        slider.press("ArrowRight")
    page.wait_for_function("() => !document.querySelector('.live-decoder').decoding", timeout=30_000)
    assert page.evaluate("() => document.querySelector('.live-decoder').seq") == sent_before  # not the server
    values = page.evaluate("() => Array.from(document.querySelectorAll('.live-decoder input[type=range]'),"
                           " e => [Number(e.dataset.dim), Number(e.value)])")
    code = np.zeros(len(values), dtype=np.float32)
    for d, v in values:
        code[d] = v
    shown = np.asarray(Image.open(io.BytesIO(base64.b64decode(decoded_png(page).split(",", 1)[1]))).convert("L"),
                       dtype=int)
    assert code.any() and np.abs(shown - decode(portable_source[0], code)[0].astype(int)).max() <= 1


def test_interpolate_on_a_portable_bundle(page, app_url, screenshots):
    open_on_map(page, f"{app_url}/interpolate?bundle=portable")
    click_endpoint(page, 10, "A")
    wait_ready(page)
    click_endpoint(page, 100, "B")
    wait_ready(page)
    set_frames(page, 6)
    assert page.locator(STRIP).count() == 6
    page.wait_for_function("() => document.querySelector('.js-plotly-plot')._fullData"
                           ".find(t => t.name === 'path')?._length === 6", timeout=15_000)
    assert path_length(page) == 6
    assert page.locator("[data-testid=stException]").count() == 0
    page.screenshot(path=str(screenshots / "portable-interpolate.png"), full_page=True)
