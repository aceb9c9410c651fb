"""A real Streamlit server and Debian's Chromium driven by Playwright."""

from __future__ import annotations

import base64
import io
import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from harness.browser import CHROMIUM, CHROMIUM_FLAGS, READY, ROOT, STARTED, failure_report, free_port, start_app
from pages.explore.live_decoder import ORT_DIR, ORT_MODULE
from ui.navigation import EXPLORE, PAGES

if not Path(CHROMIUM).exists():
    pytest.skip("Debian's chromium is not installed (scripts/system-packages.sh installs it)",
                allow_module_level=True)

# Decoding in the browser needs onnxruntime-web, which scripts/setup.sh installs with npm.
needs_onnxruntime_web = pytest.mark.skipif(not (ORT_DIR / ORT_MODULE).is_file(),
                                           reason=f"onnxruntime-web is not in {ORT_DIR}: run scripts/web-assets.sh")


@pytest.fixture(scope="session")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        instance = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        yield instance
        instance.close()


@pytest.fixture(scope="session")
def app_url():
    """The app as ./run.sh starts it, on the shipped models: one server for the modules that only read
    (a module that needs other bundles, or writes, overrides this fixture with a server of its own)."""
    port = free_port()
    proc = start_app(port)
    yield f"http://127.0.0.1:{port}"
    proc.terminate()
    proc.wait(timeout=20)


@pytest.fixture()
def page(browser, request):
    """A page in a fresh browser context, sized by the test module's VIEWPORT (1500×1100 unless it sets one)."""
    context = browser.new_context(viewport=getattr(request.module, "VIEWPORT", {"width": 1500, "height": 1100}),
                                  accept_downloads=True)
    yield context.new_page()
    context.close()


@pytest.fixture(scope="session")
def screenshots() -> Path:
    folder = Path(os.environ.get("VAE_LAB_SCREENSHOTS", ROOT / "tests" / "screenshots"))
    folder.mkdir(parents=True, exist_ok=True)
    return folder


# Holds back what the page sends its server while window.holdSends is set (window.releaseSends() sends it, in
# order): what the page shows meanwhile, it made without any rerun.
HOLD_SENDS = """(() => {
  const send = WebSocket.prototype.send, held = [];
  WebSocket.prototype.send = function (data) {
    if (window.holdSends) return void held.push([this, data]);
    return send.call(this, data);
  };
  window.heldSends = () => held.length;
  window.releaseSends = () => {
    window.holdSends = false;
    held.splice(0).forEach(([ws, data]) => send.call(ws, data));
  };
})()"""


def canvas_grey(page) -> np.ndarray:
    """The live decoder's image (its canvas) in grey levels, (H, W) int."""
    src = page.locator("canvas.decoded").evaluate("canvas => canvas.toDataURL()")
    return np.asarray(Image.open(io.BytesIO(base64.b64decode(src.split(",", 1)[1]))).convert("L"), dtype=int)


def wait_ready(page, timeout_ms: int = 60_000) -> None:
    page.wait_for_selector(READY, timeout=timeout_ms)


def visit_every_page(page, url: str, pages=PAGES) -> None:
    """Open each page (of `pages`) by its URL: it renders its title, raises nothing, and is the one the
    navigation marks."""
    for info in pages:
        page.goto(f"{url}/{'' if info is EXPLORE else info.url_path}")
        wait_ready(page, 90_000)
        page.wait_for_selector("h1", timeout=30_000)
        assert page.locator("[data-testid=stException]").count() == 0, info.title
        current = page.locator("[data-testid=stSidebarNav] a[aria-current=page]").inner_text()
        assert info.title in current, (info.title, current)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """A failed browser test's report tells what the page showed and how its server fared."""
    outcome = yield
    report = outcome.get_result()
    if report.when != "call" or not report.failed:
        return
    values = []
    for value in getattr(item, "funcargs", {}).values():  # a fixture may give a tuple, e.g. (url, folder)
        values.extend(value if isinstance(value, tuple) else [value])
    pages = [v for v in values if hasattr(v, "evaluate") and hasattr(v, "url")]
    pages += [p for v in values if hasattr(v, "new_page") and hasattr(v, "pages") for p in v.pages]  # a context's
    ports = [port for port in STARTED
             if any(isinstance(v, str) and v.endswith(f"127.0.0.1:{port}") for v in values)]
    report.sections.append(("browser and server at the failure", failure_report(pages, ports)))
