"""The notebook widget in a real JupyterLab, started here on a free port: a click on a point of the
widget's map sets `widget.selected` in the kernel (seen through a file the notebook's own observer
writes), with every request outside the JupyterLab server refused and recorded."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.request

import nbformat
import pytest
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

from harness.browser import ROOT, free_port, isolated_point, point_index, point_on_screen, refuse_outside
from vae.latent.selection import display_subset

from .conftest import needs_onnxruntime_web

pytestmark = needs_onnxruntime_web
Z2 = ROOT / "checkpoints" / "fashion-mnist-conv-z2"
TOKEN = "vae-lab-test-token"
EXPLORER = ".vae-lab-explorer[data-ready=true]"
FROM_PYTHON = int(display_subset(10_000, 500)[-1])


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    """(JupyterLab's URL, its folder): a notebook that shows the widget and writes each selection to a file."""
    folder = tmp_path_factory.mktemp("lab")
    chosen = folder / "selected.json"
    cell = (f"import sys\nsys.path.insert(0, {str(ROOT)!r})\nimport json, pathlib\n"
            "from vae_lab.notebook import explore\n"
            f"widget = explore({str(Z2)!r}, max_images=500)\n"
            f"widget.observe(lambda change: pathlib.Path({str(chosen)!r}).write_text("
            "json.dumps(change['new']['indices'])), names='selected')\nwidget")
    kernel = {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}}
    # The second cell selects from Python: the last of the widget's 500 images.
    cells = [cell, f"widget.selected_index = {FROM_PYTHON}"]
    nbformat.write(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in cells], metadata=kernel),
                   folder / "explore.ipynb")
    # Start the notebook's kernel without asking, and fetch no news.
    settings = folder / ".settings" / "@jupyterlab"
    for extension, plugin, values in (("notebook-extension", "tracker", {"autoStartDefaultKernel": True}),
                                      ("apputils-extension", "notification", {"fetchNews": "false"})):
        (settings / extension).mkdir(parents=True, exist_ok=True)
        (settings / extension / f"{plugin}.jupyterlab-settings").write_text(json.dumps(values))
    port = free_port()
    env = {**os.environ, "JUPYTERLAB_SETTINGS_DIR": str(folder / ".settings"),
           "JUPYTER_CONFIG_DIR": str(folder / ".config"), "JUPYTER_RUNTIME_DIR": str(folder / ".runtime"),
           "IPYTHONDIR": str(folder / ".ipython")}
    process = subprocess.Popen(
        [sys.executable, "-m", "jupyterlab", "--no-browser", "--allow-root", "--ServerApp.ip=127.0.0.1",
         f"--ServerApp.port={port}", f"--IdentityProvider.token={TOKEN}", f"--ServerApp.root_dir={folder}",
         "--LabApp.news_url=None",
         "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
         f"--LabApp.workspaces_dir={folder / '.workspaces'}"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 90
    while True:
        try:
            urllib.request.urlopen(f"{url}/api/status?token={TOKEN}", timeout=2).close()
            break
        except OSError:
            if time.monotonic() > deadline or process.poll() is not None:
                process.kill()
                raise
            time.sleep(0.5)
    yield url, chosen
    process.terminate()
    process.wait(timeout=30)


def run_cell(page, number: int, attempts: int = 3) -> None:
    """Run the notebook's cell `number` (Ctrl+Enter) until its prompt shows it queued or run: a run
    asked for while the page is still attaching the kernel is dropped (a person would press again)."""
    started = ("(n) => /\\[(\\*|\\d+)\\]/.test(document.querySelectorAll('.jp-Notebook .jp-InputPrompt')[n]"
               ".textContent)")
    for attempt in range(attempts):
        page.locator(".jp-Notebook .jp-Cell").nth(number).locator(".jp-InputPrompt").click()
        page.keyboard.press("Control+Enter")
        try:
            page.wait_for_function(started, arg=number, timeout=15_000)
            return
        except PlaywrightTimeoutError:
            if attempt == attempts - 1:
                raise


def test_a_click_in_the_widgets_map_sets_widget_selected_in_the_kernel_and_back(browser, lab, screenshots):
    url, chosen = lab
    context = browser.new_context(viewport={"width": 1500, "height": 1200})
    outside = refuse_outside(context, url)
    page = context.new_page()
    messages = []
    page.on("console", lambda message: messages.append(f"{message.type}: {message.text}"))
    try:
        page.goto(f"{url}/lab/tree/explore.ipynb?token={TOKEN}")
        page.wait_for_selector(".jp-Notebook .jp-Cell .jp-InputArea-editor", timeout=120_000)
        page.wait_for_selector(".jp-Notebook-ExecutionIndicator[data-status=idle]", timeout=120_000)
        run_cell(page, 0)
        page.wait_for_selector(EXPLORER, timeout=90_000)
        page.wait_for_selector(".live-decoder[data-decoder=browser]", timeout=60_000)
        n = isolated_point(page, start=40)
        index = point_index(page, n)
        page.mouse.click(*point_on_screen(page, n))
        page.wait_for_selector(f".vl-selection[data-index='{index}']", timeout=20_000)
        deadline = time.monotonic() + 30
        while not (chosen.is_file() and json.loads(chosen.read_text()) == [index]):
            assert time.monotonic() < deadline, f"the kernel did not hear of #{index}"
            time.sleep(0.2)
        page.screenshot(path=screenshots / "notebook_lab_widget.png")
        run_cell(page, 1)  # Python selects: the widget shows it
        page.wait_for_selector(f".vl-selection[data-index='{FROM_PYTHON}']", timeout=20_000)
        assert outside == []
    except Exception:
        page.screenshot(path=screenshots / "notebook_lab_failed.png")
        print("\n".join(messages))
        raise
    finally:
        context.close()
