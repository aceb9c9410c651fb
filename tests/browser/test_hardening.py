"""Hostile files and links in a real browser, and what a new user met.

Every request the page makes is intercepted: anything not for this server is recorded and
refused. A bundle, a training job, a link and an upload carry Markdown and HTML in every text
field (tests/hostile.py); no page may render a link or an image from them, or ask another host.
"""

from __future__ import annotations

import io
from urllib.parse import parse_qs, quote, urlencode, urlparse

import pytest
from PIL import Image

from harness.browser import READY, click_map_point, click_until, serving, upload
from ui.text import WORD_JOINER
from vae.training.progress import MAX_DEVICE_TEXT

from ..hostile import FOLDER, HOST, evil, link_query, short_evil, write_bundle_with_markup, write_job_with_markup
from .conftest import wait_ready

PAGES = {"": 1, "interpolate": 1, "generate": 0, "own_image": 0, "model": 3, "train": 1}  # path: charts drawn
# Elements a Streamlit page may link to or load: its own server, the page itself, inline data.
LINKS_AND_SOURCES = """() => Array.from(document.querySelectorAll(
        '[data-testid=stApp] :is(a, img, image, iframe, source, object, embed)'))
    .map(e => e.getAttribute('href') || e.getAttribute('xlink:href') || e.getAttribute('src') || '')"""


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    extra, runs = tmp_path_factory.mktemp("extra"), tmp_path_factory.mktemp("runs")
    write_bundle_with_markup(extra)
    write_job_with_markup(runs)
    with serving(extra, env={"VAE_LAB_TRAIN_DIR": str(runs)}) as url:
        yield url


@pytest.fixture()
def guarded(browser, server):
    """A page whose requests to any other host are refused and listed in `page.outside`."""
    context = browser.new_context(viewport={"width": 1280, "height": 1100})
    page = context.new_page()
    page.outside = []

    def route(route):
        url = route.request.url
        if url.startswith((server, "data:", "blob:")):
            route.continue_()
        else:
            page.outside.append(url)
            route.abort()

    context.route("**/*", route)
    yield page
    context.close()


def open_page(page, url: str, charts: int = 0) -> None:
    """Open `url` and wait until its script has run, its `charts` Plotly charts are drawn and its images loaded."""
    page.goto(url)
    wait_ready(page)
    page.wait_for_function("""(n) => Array.from(document.querySelectorAll('.js-plotly-plot'))
        .filter(c => c._fullLayout).length >= n""", arg=charts, timeout=30_000)
    page.wait_for_function("() => Array.from(document.images).every(i => i.complete)", timeout=30_000)


def foreign(page, server: str) -> list[str]:
    """Links and sources on the page other than this server's own and inline data: any link or
    image made from a text (`[a](x)`, `<img src=x>`, an autolink) is one of them."""
    return [ref for ref in page.evaluate(LINKS_AND_SOURCES) if not ref.startswith(("#", "data:", "blob:", server))]


def shown_text(page) -> str:
    return page.locator("[data-testid=stApp]").inner_text().replace(WORD_JOINER, "")


def shows_the_bundles_and_jobs_texts_as_written(page, path: str) -> None:
    """On the pages that show them, the hostile texts of the bundle and the job appear as plain text."""
    if path == "model":
        page.locator("[data-testid=stTable]").get_by_text("status", exact=True).wait_for()
        text = shown_text(page)
        for tag in ("name", "status", "created"):
            assert evil(tag) in text, tag
        assert short_evil("ds") in text and short_evil("ver") in text
    elif path == "":
        legend = page.locator(".js-plotly-plot .legendtext").all_text_contents()
        assert short_evil("c0") in legend  # the class name, as written
    elif path == "train":
        assert evil("jobmessage") in shown_text(page)
        assert evil("jobdevice")[:MAX_DEVICE_TEXT] in shown_text(page)  # the event log's device, bounded


def test_no_page_renders_markup_from_a_bundle_a_job_or_a_link_nor_asks_another_host(guarded, server):
    page = guarded
    for path, charts in PAGES.items():
        open_page(page, f"{server}/{path}?{urlencode({'bundle': FOLDER})}", charts)
        assert page.locator("[data-testid=stException]").count() == 0, path
        assert foreign(page, server) == [], path
        for chart in range(page.locator(".js-plotly-plot").count()):
            assert page.locator(".js-plotly-plot").nth(chart).locator("a").count() == 0, path
        shows_the_bundles_and_jobs_texts_as_written(page, path)
    open_page(page, f"{server}/?{urlencode(link_query())}", PAGES[""])
    assert evil("link") in shown_text(page)
    assert foreign(page, server) == [] and page.locator("[data-testid=stException]").count() == 0
    assert page.outside == []


def test_an_upload_named_with_markup_is_shown_as_its_name(guarded, server):
    page = guarded
    open_page(page, f"{server}/own_image")
    name = f"![u](x) <img src=x> www.{HOST} u@{HOST} **u**.png"
    picture = io.BytesIO()
    Image.new("L", (60, 40), 0).save(picture, format="PNG")
    upload(page, name, "image/png", picture.getvalue())
    # Until the upload's rerun has shown the image, the button loads the page's default (test #0) instead.
    page.get_by_text("with its shape kept").wait_for(timeout=60_000)
    wait_ready(page)
    # The caption comes with the Explore page's first full run (on a busy machine, a moment after its title).
    click_until(page, page.get_by_role("button", name="Load this code into the sliders"),
                lambda ms: page.wait_for_function("(s) => document.querySelector('[data-testid=stApp]').innerText"
                                                  ".replaceAll('\\u2060', '').includes(s)",
                                                  arg=f"Code from your image {name}", timeout=ms))
    wait_ready(page)
    assert f"Code from your image {name}" in shown_text(page)
    assert foreign(page, server) == [] and page.outside == []


def test_labels_are_not_cut_off(guarded, server):
    page = guarded
    open_page(page, f"{server}/?idx=7", PAGES[""])
    for label in ("Zero", "Selected point", "Random (prior)"):
        page.get_by_role("button", name=label, exact=True).wait_for()
    cut = page.evaluate("""() => Array.from(document.querySelectorAll('[data-testid=stApp] *'))
        .filter(e => e.checkVisibility() && getComputedStyle(e).textOverflow === 'ellipsis'
                     && e.scrollWidth > e.clientWidth + 1)
        .map(e => e.innerText)""")
    assert cut == []
    sizes = page.evaluate("""() => Array.from(document.querySelectorAll('[data-testid=stImage] img'))
        .slice(0, 2).map(i => [i.width, i.height])""")
    assert sizes[0] == sizes[1]  # original and reconstruction
    assert page.locator("[data-testid=stCode] pre").first.evaluate("e => e.scrollWidth <= e.clientWidth + 1")


def url_code(page) -> list[float]:
    return [float(v) for v in parse_qs(urlparse(page.url).query)["z"][0].split(",")]


def test_a_slider_step_leaves_the_other_dimensions_as_they_were(guarded, server):
    page = guarded
    code = [round(-0.18 + 0.07 * d, 2) for d in range(16)]
    open_page(page, f"{server}/?z={quote(','.join(f'{v:.2f}' for v in code))}")
    slider = page.locator("input[type=range]").first
    dim = int(slider.get_attribute("data-dim"))
    slider.focus()
    slider.press("ArrowRight")
    page.wait_for_function("(old) => !location.search.includes(old)", arg=quote(f"{code[dim]:.3f}"),
                           timeout=15_000)
    wait_ready(page)
    moved = url_code(page)
    assert [v for d, v in enumerate(moved) if d != dim] == [v for d, v in enumerate(code) if d != dim]
    assert moved[dim] != code[dim]


def test_a_map_click_fills_only_the_endpoint_waiting_for_one(guarded, server):
    page = guarded
    open_page(page, f"{server}/interpolate")
    page.locator(".st-key-interp_A_source").get_by_text("class centroid").click()
    page.wait_for_selector(".st-key-interp_A_class", timeout=15_000)
    page.wait_for_selector(READY)
    b_index = page.locator(".st-key-interp_B_index input")
    for index in (42, 2):  # points of dense clusters: the click may pick a neighbour, any test point will do
        before = b_index.input_value()
        click_map_point(page, index, lambda timeout, old=before: page.wait_for_function(
            "(old) => document.querySelector('.st-key-interp_B_index input').value !== old", arg=old,
            timeout=timeout))
        wait_ready(page)
        assert page.locator(".st-key-interp_A_source input[type=radio]").nth(1).is_checked()
        assert page.locator(".st-key-interp_A_class").is_visible()
