"""The Compare page in a real browser: a point selected in A's map is starred in B's."""

from __future__ import annotations

import re

import numpy as np
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

from harness.browser import ROOT, free_port, point_on_screen, start_app
from vae.bundle import load_bundle

from .conftest import wait_ready

STAR = ("(c) => { const t = document.querySelectorAll('.js-plotly-plot')[c]._fullData"
        ".find(t => t.name === 'selected'); return t ? [t.x[0], t.y[0]] : null; }")


def test_selecting_a_point_in_a_stars_the_same_test_image_in_b(browser, screenshots):
    a = load_bundle(ROOT / "checkpoints" / "fashion-mnist-conv-z16")
    b = load_bundle(ROOT / "checkpoints" / "fashion-mnist-conv-z2")
    port = free_port()
    proc = start_app(port)
    context = browser.new_context(viewport={"width": 1500, "height": 1200})
    try:
        page = context.new_page()
        page.goto(f"http://127.0.0.1:{port}/compare?bundle={a.name}")
        page.wait_for_function("() => document.querySelectorAll('.js-plotly-plot')[1]?._fullData?.length > 10",
                               timeout=60_000)
        wait_ready(page)
        assert page.evaluate(STAR, 1) is None
        for attempt in range(3):  # a click landing while Streamlit redraws a fresh chart is dropped
            page.mouse.click(*point_on_screen(page, 1234, chart=0))
            try:
                page.wait_for_function(f"() => ({STAR})(1) !== null", timeout=10_000)
                break
            except PlaywrightTimeoutError:
                if attempt == 2:
                    raise
        wait_ready(page)
        caption = page.get_by_text("top: test images").first.inner_text()
        index = int(re.search(r"#(\d+)", caption)[1])  # the selected image comes first
        assert np.allclose(page.evaluate(STAR, 0), a.projections["umap"]["xy"][index], atol=1e-5)
        assert np.allclose(page.evaluate(STAR, 1), b.projections["latent"]["xy"][index], atol=1e-5)
        page.screenshot(path=str(screenshots / "compare-linked-selection.png"), full_page=True)
    finally:
        context.close()
        proc.terminate()
        proc.wait(timeout=20)
