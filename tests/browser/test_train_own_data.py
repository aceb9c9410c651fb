"""Train on your own images in a real browser: upload a zip, read its check, train, open the result."""

from __future__ import annotations

import zipfile

import numpy as np
from PIL import Image

from vae.bundle import load_bundle

from . import test_train
from .conftest import wait_ready
from .test_train import open_train, start_job

server, context = test_train.server, test_train.context  # the Train page's server and browser tab fixtures


def shapes_zip(folder) -> tuple:
    """600 PNGs of 28×28 in three class folders (bars across, bars down, dots), zipped as a user would."""
    rng = np.random.default_rng(0)
    counts = {"rows": 250, "columns": 200, "dots": 150}
    for name, n in counts.items():
        (folder / "shapes" / name).mkdir(parents=True)
        for i in range(n):
            pixels = rng.integers(0, 40, (28, 28)).astype(np.uint8)
            k = rng.integers(4, 24)
            if name == "rows":
                pixels[k:k + 3, 3:-3] = 230
            elif name == "columns":
                pixels[3:-3, k:k + 3] = 230
            else:
                pixels[k:k + 4, 28 - k - 4:28 - k] = 250
            Image.fromarray(pixels, "L").save(folder / "shapes" / name / f"{i:03d}.png")
    path = folder / "shapes.zip"
    with zipfile.ZipFile(path, "w") as archive:
        for file in sorted((folder / "shapes").rglob("*.png")):
            archive.write(file, file.relative_to(folder).as_posix())
    return path, counts


def test_train_on_an_uploaded_zip_and_open_it_in_the_explorer(context, server, screenshots, tmp_path):
    url, runs = server
    path, counts = shapes_zip(tmp_path)
    page = open_train(context, url)
    page.get_by_role("combobox", name="Dataset").click()
    page.get_by_role("option", name="your own data").click()
    page.get_by_text("a zip of class sub-folders").click()
    page.locator(".st-key-own_upload_zip input[type=file]").set_input_files(str(path))
    page.get_by_text("600 images · 28×28 · grey, 1 channel · PNG 600").wait_for(timeout=60_000)
    page.get_by_text("(60 images) is held out as the test set").wait_for()
    page.locator("[data-testid=stDataFrame] canvas").first.wait_for(timeout=30_000)  # the class balance
    page.wait_for_timeout(500)  # the grid draws its rows
    page.screenshot(path=str(screenshots / "train-own-data-checked.png"), full_page=True)
    start_job(page, "ui-own-shapes", "your own data", "mlp", 2, 1, batch_size=64)
    page.get_by_text("Job · ui-own-shapes").wait_for(timeout=30_000)
    opened = page.get_by_role("link", name="Open in the explorer")
    opened.wait_for(timeout=300_000)
    page.screenshot(path=str(screenshots / "train-own-data-finished.png"), full_page=True)
    opened.click()
    page.get_by_text("Explore the latent space").wait_for(timeout=30_000)
    wait_ready(page)
    assert "bundle=ui-own-shapes" in page.url
    assert page.locator("[data-testid=stException]").count() == 0
    page.locator(".js-plotly-plot").first.wait_for(timeout=30_000)
    page.screenshot(path=str(screenshots / "train-own-data-explored.png"), full_page=True)
    config = load_bundle(runs / "ui-own-shapes").config
    assert config["dataset"]["class_names"] == sorted(counts)
    assert config["dataset"]["n_test"] == 60 and config["dataset"]["n_train"] == 540
