"""`streamlit run app.py` from the repository root: every page is served, and a deep link on a fresh
server still passes the entry script's checks (pages/ beside app.py makes Streamlit's first run take
its legacy multipage path, which must find no page of its own there)."""

from __future__ import annotations

import re

import pytest

from harness.browser import free_port, start_app

from .conftest import visit_every_page, wait_ready


@pytest.fixture(scope="module")
def root_app():
    port = free_port()
    proc = start_app(port, script="app.py")
    yield f"http://127.0.0.1:{port}"
    proc.terminate()
    proc.wait(timeout=20)


# Streamlit's client, opened at /<page>, first asks /<page>/_stcore/health and host-config, then the
# root's (streamlit/streamlit#7074, open): the only 404s a deep link may cause.
BASE_PATH_PROBE = re.compile(r"/[a-z_]+/_stcore/(health|host-config)$")


def test_streamlit_run_app_py_serves_every_page(page, root_app):
    """Every page by its deep link, with no failed request but Streamlit's probes and no image error."""
    failed, console = [], []
    page.on("response", lambda r: failed.append(r.url) if r.status >= 400 else None)
    page.on("console", lambda m: console.append(m.text))
    visit_every_page(page, root_app)
    assert [url for url in failed if not BASE_PATH_PROBE.search(url)] == []
    assert not [text for text in console if "Image source error" in text]


def test_a_deep_link_on_a_fresh_server_goes_through_the_entry_scripts_checks(page):
    """Bound to every interface without a token, the entry script refuses to show any page: /train too."""
    port = free_port()
    proc = start_app(port, script="app.py", env={"STREAMLIT_SERVER_ADDRESS": "0.0.0.0", "VAE_LAB_TOKEN": ""})
    try:
        page.goto(f"http://127.0.0.1:{port}/train")
        wait_ready(page, 90_000)
        page.wait_for_selector("[data-testid=stAlert]", timeout=30_000)
        assert "refusing to listen" in page.locator("[data-testid=stAlert]").inner_text()
        assert page.get_by_text("Train a new model").count() == 0
    finally:
        proc.terminate()
        proc.wait(timeout=20)
