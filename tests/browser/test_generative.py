"""Interpolation and uploads in a real browser: frames, path on the map, GIF download, bad files."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from harness.browser import click_map_point, click_until, download, photo_jpeg, upload

from .conftest import wait_ready

VIEWPORT = {"width": 1500, "height": 1600}
STRIP = ".st-key-interp-strip [data-testid=stImage]"


def open_page(page, app_url: str, path: str) -> None:
    page.goto(f"{app_url}/{path}")
    wait_ready(page)


def click_endpoint(page, index: int, name: str) -> None:
    """Click test point `index` on the map and wait until it is endpoint `name`."""
    endpoint = page.locator(f".st-key-interp_{name}_index input[value='{index}']")
    click_map_point(page, index, lambda timeout: endpoint.wait_for(timeout=timeout))


def path_length(page) -> int:
    return page.evaluate("""() => {
        const gd = document.querySelector('.js-plotly-plot');
        const path = gd._fullData.find(t => t.name === 'path');
        return path ? path._length : 0;
    }""")


def set_frames(page, n: int) -> None:
    slider = page.locator(".st-key-interp_steps input[type=range]")
    slider.focus()
    current = int(slider.input_value())
    for _ in range(abs(n - current)):
        slider.press("ArrowRight" if n > current else "ArrowLeft")
    page.wait_for_function(f"() => document.querySelectorAll('{STRIP}').length === {n}", timeout=20_000)
    wait_ready(page)


def downloaded_gif(page) -> Image.Image:
    return Image.open(io.BytesIO(download(page, page.get_by_role("button", name="Download the animation"))))


@pytest.mark.parametrize("method", ["lerp", "slerp"])
def test_interpolation_between_two_clicked_points(page, app_url, screenshots, method):
    open_page(page, app_url, "interpolate")
    page.wait_for_function("() => document.querySelector('.js-plotly-plot')?._fullData?.length > 1")
    click_endpoint(page, 42, "A")
    wait_ready(page)
    click_endpoint(page, 4321, "B")
    wait_ready(page)
    if method == "slerp":
        page.get_by_text("along the sphere (slerp)").click()
        page.get_by_text("along the sphere (slerp) from test #42").wait_for(timeout=15_000)
        wait_ready(page)
    n = 8
    set_frames(page, n)
    assert page.locator(STRIP).count() == n
    assert page.get_by_text("t=1.00").count() == 1
    page.wait_for_function(f"() => document.querySelector('.js-plotly-plot')._fullData"
                           f".find(t => t.name === 'path')?._length === {n}", timeout=15_000)
    assert path_length(page) == n
    width = 112
    if method == "slerp":  # a larger download, asked for
        width = 224
        larger = page.get_by_role("button", name=f"Download the animation (GIF, {2 * n - 2} frames, 224×224 px")
        click_until(page, page.get_by_role("radio", name="224×224 px"), lambda ms: larger.wait_for(timeout=ms))
        wait_ready(page)
    gif = downloaded_gif(page)
    assert gif.format == "GIF" and gif.n_frames == 2 * n - 2 and gif.size[0] == width
    assert page.locator("[data-testid=stException]").count() == 0
    page.screenshot(path=str(screenshots / f"interpolate-{method}.png"))


def test_upload_of_a_photo_and_of_a_bad_file(page, app_url, screenshots):
    open_page(page, app_url, "own_image")
    photo = photo_jpeg()
    assert len(photo) > 2_000_000
    upload(page, "holiday.jpg", "image/jpeg", photo)
    page.get_by_text("reconstruction").wait_for(timeout=30_000)
    page.get_by_role("button", name="Load this code into the sliders").wait_for(timeout=30_000)
    wait_ready(page)
    assert page.locator("[data-testid=stException]").count() == 0
    page.screenshot(path=str(screenshots / "upload-photo.png"))
    upload(page, "not-really.png", "image/png", b"this is a text file, not a picture\n" * 100)
    page.get_by_text("Cannot use this file").wait_for(timeout=30_000)
    wait_ready(page)
    assert "not a supported image" in page.locator("[data-testid=stAlert]").first.inner_text()
    assert page.locator("[data-testid=stException]").count() == 0
    # The page goes on with an image of the bundle, said so, not with the refused file.
    page.get_by_text("… or start from an image of the bundle").wait_for(timeout=30_000)
    page.get_by_text("reconstruction").wait_for(timeout=30_000)
    page.screenshot(path=str(screenshots / "upload-bad-file.png"))


def test_loading_an_upload_into_the_sliders_opens_explore(page, app_url):
    open_page(page, app_url, "own_image")
    image = Image.new("L", (200, 200), 255)
    image.paste(0, (60, 20, 140, 180))  # a dark "trouser" shape on white: inverted automatically
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    upload(page, "drawing.png", "image/png", buffer.getvalue())
    page.get_by_text("Invert (the model saw light objects").wait_for(timeout=30_000)
    wait_ready(page)
    assert page.get_by_role("checkbox").is_checked()  # dark on light: inverted by default
    click_until(page, page.get_by_role("button", name="Load this code into the sliders"),
                lambda ms: page.get_by_text("Explore the latent space").wait_for(timeout=ms))
    page.get_by_text("Code from your image drawing.png").wait_for(timeout=30_000)
    page.wait_for_function("() => Array.from(document.querySelectorAll('input[type=range]'))"
                           ".some(e => Number(e.value) !== 0)", timeout=10_000)
    wait_ready(page)
    assert page.locator("[data-testid=stException]").count() == 0
