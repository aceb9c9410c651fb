"""`vae-lab export`'s static site in Chromium, served by a plain static file server (`python -m
http.server`), with every request to any other host refused and recorded: a click selects a point,
a slider step decodes in the browser as PyTorch (or onnxruntime) decodes it, a copied link restores
the view. For the shipped z16 and for a portable (imported) bundle."""

from __future__ import annotations

import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import numpy as np
import pytest

from harness.browser import (
    BROWSER_DECODER,
    ROOT,
    free_port,
    isolated_point,
    point_index,
    point_on_screen,
    refuse_outside,
)
from vae.bundle import load_bundle
from vae.latent.placement import nearest_neighbours
from vae.models.inference import decode
from vae.share import export_site

from .conftest import needs_onnxruntime_web

pytestmark = needs_onnxruntime_web

Z16 = ROOT / "checkpoints" / "fashion-mnist-conv-z16"
READY = "body[data-ready=true]"
# The canvas's pixels as (H, W, 3) numbers.
CANVAS_PIXELS = """(selector) => {
  const canvas = document.querySelector(selector);
  const data = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
  return [canvas.height, canvas.width, Array.from(data)];
}"""


def static_server(folder: Path):
    """`python -m http.server` on a free port, serving `folder`, once it answers."""
    port = free_port()
    process = subprocess.Popen([sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1",
                                "--directory", str(folder)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            urllib.request.urlopen(url + "/index.html", timeout=2).close()
            return process, url
        except OSError:
            if time.monotonic() > deadline or process.poll() is not None:
                process.kill()
                raise
            time.sleep(0.1)


@pytest.fixture(scope="module", params=["z16", "portable"])
def site(request, tmp_path_factory):
    """(bundle, the site's URL): the shipped z16 exported whole, or a portable bundle."""
    source = Z16 if request.param == "z16" else request.getfixturevalue("portable_source")[1]
    out = tmp_path_factory.mktemp("site") / request.param
    report = export_site(source, out)
    assert report.n_images == len(load_bundle(source).mu)
    process, url = static_server(out)
    yield request.param, load_bundle(source), url
    process.terminate()
    process.wait(timeout=10)


@pytest.fixture()
def page(browser, site):
    """A page that may reach the static server only; every other request is refused and recorded."""
    context = browser.new_context(viewport={"width": 1400, "height": 1100})
    outside = refuse_outside(context, site[2])
    page = context.new_page()
    errors = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.outside, page.errors = outside, errors
    yield page
    context.close()


def open_site(page, url: str) -> None:
    page.goto(url)
    page.wait_for_selector(READY, timeout=60_000)
    page.wait_for_selector(BROWSER_DECODER, timeout=60_000)


def canvas_pixels(page, selector: str) -> np.ndarray:
    height, width, data = page.evaluate(CANVAS_PIXELS, selector)
    return np.array(data, dtype=np.int16).reshape(height, width, 4)[..., :3]


def python_pixels(bundle, code) -> np.ndarray:
    """The decoder's output for `code` computed in Python, as (H, W, 3) display pixels."""
    pixels = decode(bundle.model, np.asarray(code, dtype=np.float32))[0].astype(np.int16)
    return np.repeat(pixels[..., None], 3, axis=2) if pixels.ndim == 2 else pixels


def fragment(url: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(url).fragment).items()}


def assert_decoded_like_python(page, bundle, selector: str, code) -> None:
    difference = np.abs(canvas_pixels(page, selector) - python_pixels(bundle, code))
    # float16 weights (the native export) move a pixel by a grey level at most, and rarely
    assert difference.max() <= 2, difference.max()
    assert difference.mean() < 0.1, difference.mean()


def test_click_slider_and_a_copied_link_with_nothing_from_outside(page, site, screenshots):
    name, bundle, url = site
    open_site(page, url + "/")
    assert "no encoder" in page.locator("#about").inner_text()

    n = isolated_point(page, start=len(bundle.mu) // 3)
    index = point_index(page, n)
    page.mouse.click(*point_on_screen(page, n))
    page.wait_for_selector(f".vl-selection[data-index='{index}']", timeout=10_000)
    page.wait_for_function("() => Number(document.querySelector('.vl-reconstruction').dataset.frame) > 0")
    codes = bundle.mu.astype(np.float16).astype(np.float64)  # the site's codes
    assert_decoded_like_python(page, bundle, ".vl-reconstruction", codes[index])
    shown_neighbours = [int(i) for i in page.locator(".vl-neighbours button").evaluate_all(
        "buttons => buttons.map((b) => b.dataset.index)")]
    assert shown_neighbours == nearest_neighbours(codes, codes[index], k=10, exclude=index).tolist()
    page.wait_for_function(f"() => location.hash.startsWith('#i={index}&')")
    selected_code = [float(v) for v in fragment(page.url)["z"].split(",")]
    assert np.abs(np.array(selected_code) - codes[index]).max() <= 0.005 + 1e-6  # the sliders' 2 decimals

    before = page.url
    slider = page.get_by_role("slider").first
    slider.focus()
    for _ in range(6):
        slider.press("ArrowRight")
    page.wait_for_function("(before) => location.href !== before", arg=before, timeout=10_000)  # the gesture settled
    code = [float(v) for v in fragment(page.url)["z"].split(",")]
    moved = int(slider.get_attribute("data-dim"))
    assert code[moved] == pytest.approx(min(selected_code[moved] + 0.3, 3.0), abs=0.05 + 1e-9)
    assert_decoded_like_python(page, bundle, ".live-decoder canvas.decoded", code)
    shown = canvas_pixels(page, ".live-decoder canvas.decoded")
    page.screenshot(path=screenshots / f"share_site_{name}_slider.png")

    link = page.locator("#link").input_value()
    assert link == page.url
    page.goto("about:blank")
    open_site(page, link)
    page.wait_for_selector(f".vl-selection[data-index='{index}']", timeout=10_000)
    page.wait_for_function("(frame) => Number(document.querySelector('canvas.decoded').dataset.frame) > 0", arg=0)
    assert fragment(page.url)["z"] == fragment(link)["z"]
    page.wait_for_function("""(code) => document.querySelectorAll('.live-decoder input[type=range]').length
        && [...document.querySelectorAll('.live-decoder input[type=range]')]
           .every((input) => Math.abs(Number(input.value) - code[Number(input.dataset.dim)]) <= 0.025 + 1e-9)""",
                           arg=code)
    np.testing.assert_array_equal(canvas_pixels(page, ".live-decoder canvas.decoded"), shown)
    page.screenshot(path=screenshots / f"share_site_{name}_link.png")
    assert page.outside == [] and page.errors == []


def test_colour_by_elbo_and_hover_thumbnails(page, site, screenshots):
    name, bundle, url = site
    open_site(page, url + "/#c=neg_elbo")
    page.wait_for_function("() => document.querySelector('.js-plotly-plot').layout.coloraxis?.cmax !== undefined")
    colours = page.evaluate("""() => document.querySelector('.js-plotly-plot')._fullData.filter((t) => t.customdata)
        .flatMap((t) => Array.from(t.customdata, (index, i) => [index, t.marker.color[i]]))""")
    got = dict(colours)
    assert bundle.per_image is not None and len(got) == len(bundle.mu)
    np.testing.assert_allclose([got[i] for i in range(len(got))], bundle.per_image["neg_elbo"], rtol=1e-6)
    n = isolated_point(page, start=7)
    page.mouse.move(*point_on_screen(page, n))
    page.wait_for_selector(f".map-hover[data-index='{point_index(page, n)}']", state="visible", timeout=10_000)
    page.screenshot(path=screenshots / f"share_site_{name}_hover.png")
    assert page.outside == [] and page.errors == []
