"""The package installs: a wheel of a clean copy of the tree goes into a fresh virtual environment outside
the repository, and its `vae-lab` command, run from another folder, lists its sub-commands and serves
the explorer on the shipped bundles.

The wheel is built and installed without dependencies (PyTorch and the rest are not downloaded again):
the fresh environment sees them through a `.pth` line naming this environment's site-packages, while
`vae`, `ui` and `pages` come from the wheel alone (checked). CI's scripts/check-install.sh does the same with a
full `pip install .`.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

from harness.browser import READY, ROOT, click_until, free_port, start_app
from ui.navigation import EXPLORE, PAGES

from .conftest import visit_every_page, wait_ready


def clean_copy(target: Path) -> Path:
    """The files git tracks (and untracked ones it does not ignore), as a clean clone of this tree has them."""
    listed = subprocess.run(["git", "ls-files", "-co", "--exclude-standard"], cwd=ROOT, capture_output=True,
                            text=True, check=True).stdout.splitlines()
    for name in listed:
        source = ROOT / name
        if name.startswith("checkpoints/") or not source.is_file():
            continue
        (target / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, target / name, follow_symlinks=False)
    return target


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Path:
    """bin/ of a fresh venv holding the wheel of a clean copy of the tree."""
    tmp = tmp_path_factory.mktemp("install")
    source = clean_copy(tmp / "clone")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation", "-w",
                    str(tmp / "dist"), str(source)], check=True, cwd=tmp)
    (wheel,) = (tmp / "dist").glob("vae_lab-*.whl")
    subprocess.run([sys.executable, "-m", "venv", str(tmp / "venv")], check=True)
    bin_dir = tmp / "venv" / "bin"
    subprocess.run([bin_dir / "python", "-m", "pip", "install", "-q", "--no-deps", str(wheel)], check=True)
    site = Path(subprocess.run([bin_dir / "python", "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                               capture_output=True, text=True, check=True).stdout.strip())
    (site / "shared_dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    return bin_dir


def test_the_wheel_holds_the_whole_app(installed, tmp_path):
    where = subprocess.run([installed / "python", "-c", "import ui, vae; print(ui.__file__); print(vae.__file__)"],
                           cwd=tmp_path, capture_output=True, text=True, check=True).stdout.split()
    site = installed.parent / "lib"
    assert all(Path(p).is_relative_to(site) for p in where), where
    app = Path(where[0]).parent
    for name in ("app.py", "components/live_decoder.js", "components/local_decoder.js", "components/live_decoder.css",
                 "components/map_events.js", ".streamlit/config.toml"):
        assert (app / name).is_file(), name
    for page in PAGES:  # pages/ installs beside ui/, where ui/navigation.py looks for it
        assert (app.parent / "pages" / page.folder / "page.py").is_file(), page.folder
    assert not list((app.parent / "pages").glob("*.py"))
    library = Path(where[1]).parent
    for name in ("share/web/index.html", "share/web/site.js", "share/web/explorer.js", "share/web/explorer_data.js",
                 "share/web/widget.js",
                 "share/web/site.css", "share/web/explorer.css"):
        assert (library / name).is_file(), name
    assert (library.parent / "vae_lab" / "notebook.py").is_file()
    assert not (app.parent / "harness").exists() and not (app.parent / "tests").exists()


def test_vae_lab_help_lists_the_sub_commands(installed, tmp_path):
    out = subprocess.run([installed / "vae-lab", "--help"], cwd=tmp_path, capture_output=True, text=True, check=True)
    for command in ("serve", "train", "evaluate", "import", "export"):
        assert command in out.stdout


def test_vae_lab_serve_from_another_folder_serves_every_page(installed, tmp_path, browser):
    port = free_port()
    proc = start_app(port, args=["--checkpoints", str(ROOT / "checkpoints")], command=[installed / "vae-lab", "serve"],
                     cwd=tmp_path)
    try:
        page = browser.new_page(viewport={"width": 1500, "height": 1100})
        page.goto(f"http://127.0.0.1:{port}/")
        page.wait_for_selector(READY, timeout=90_000)
        page.wait_for_selector(".js-plotly-plot", timeout=60_000)
        page.wait_for_selector("canvas.decoded", timeout=30_000)
        assert page.locator("[data-testid=stException]").count() == 0
        assert "bundle=fashion-mnist-conv-z16" in page.url  # the shipped model, from the folder given
        assert EXPLORE.title in page.locator("[data-testid=stSidebarNav] a[aria-current=page]").inner_text()
        visit_every_page(page, f"http://127.0.0.1:{port}", [info for info in PAGES if info is not EXPLORE])
        page.close()
    finally:
        proc.terminate()
        proc.wait(timeout=20)


def test_serve_with_no_bundle_guides_and_its_demo_model_opens(installed, tmp_path, browser, screenshots):
    """`pip install` then `vae-lab serve` in an empty folder: the first page explains, one click trains a
    demo model, and it opens in the explorer."""
    port = free_port()
    runs = tmp_path / "runs"
    proc = start_app(port, command=[installed / "vae-lab", "serve"], cwd=tmp_path,
                     env={"VAE_LAB_CHECKPOINTS": "", "VAE_LAB_TRAIN_DIR": str(runs)})
    try:
        page = browser.new_page(viewport={"width": 1500, "height": 1100})
        page.goto(f"http://127.0.0.1:{port}/")
        page.get_by_text("Welcome to VAE Lab").wait_for(timeout=90_000)
        assert page.get_by_text("model bundles").count() and page.locator("[data-testid=stException]").count() == 0
        page.screenshot(path=str(screenshots / "welcome-no-bundle.png"), full_page=True)
        click_until(page, page.get_by_role("button", name="Make a demo model"),
                    lambda ms: page.get_by_text("Job · demo-").wait_for(timeout=ms))
        page.get_by_role("link", name="Open in the explorer").wait_for(timeout=300_000)  # a bound, not a timing
        click_until(page, page.get_by_role("link", name="Open in the explorer"),
                    lambda ms: page.get_by_text("Explore the latent space").wait_for(timeout=ms))
        page.wait_for_selector(".js-plotly-plot", timeout=60_000)
        wait_ready(page)
        (demo,) = [p.name for p in runs.iterdir() if p.name.startswith("demo-")]
        assert f"bundle={demo}" in page.url and page.locator("[data-testid=stException]").count() == 0
        page.screenshot(path=str(screenshots / "welcome-demo-opened.png"), full_page=True)
        page.close()
    finally:
        proc.terminate()
        proc.wait(timeout=20)
