"""The Model card's "Download as a static site (zip)" in the running app: the zip a person gets is
the bundle's site, as `vae-lab export` writes it (its contents: tests/test_share_export.py)."""

from __future__ import annotations

import json
import zipfile

from harness.browser import free_port, start_app

from .conftest import needs_onnxruntime_web, wait_ready

pytestmark = needs_onnxruntime_web
NAME = "fashion-mnist-conv-z2"


def test_the_model_card_downloads_the_bundle_as_a_static_site(browser, screenshots):
    port = free_port()
    app = start_app(port)
    context = browser.new_context(viewport={"width": 1400, "height": 1000}, accept_downloads=True)
    try:
        page = context.new_page()
        page.goto(f"http://127.0.0.1:{port}/model?bundle={NAME}")
        wait_ready(page)
        button = page.get_by_role("button", name="Download as a static site (zip)")
        button.scroll_into_view_if_needed()
        with page.expect_download(timeout=180_000) as download:
            button.click()
        assert download.value.suggested_filename == f"{NAME}-site.zip"
        with zipfile.ZipFile(download.value.path()) as archive:
            names = set(archive.namelist())
            for name in ("index.html", "site.js", "explorer.js", "vae_lab.js", "decoder.onnx", "atlas.webp",
                         "plotly.min.js.gz", "onnxruntime-web/ort-wasm-simd-threaded.wasm.gz"):
                assert f"{NAME}-site/{name}" in names, name
            data = json.loads(archive.read(f"{NAME}-site/site.json"))
        assert data["name"] == NAME and data["n_images"] == 10_000
        page.screenshot(path=screenshots / "share_model_card_button.png")
    finally:
        context.close()
        app.terminate()
        app.wait(timeout=20)
