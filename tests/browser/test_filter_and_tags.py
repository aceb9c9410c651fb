"""The Explore filter, tags and metadata in a real browser: the map greyed by a filter, a box selection
tagged and listed with its CSV, a metadata CSV uploaded and the map coloured by one of its columns."""

from __future__ import annotations

import csv
import io

import pytest

from harness.browser import ROOT, download, drag_box, free_port, screen_points, start_app

from .conftest import wait_ready

SHIPPED = ROOT / "checkpoints" / "fashion-mnist-conv-z16"
VIEWPORT = {"width": 1500, "height": 1300}
PLOT = "document.querySelector('.st-key-map-fashion-mnist-conv-z16-umap .js-plotly-plot')"
GREY = "not in the filter"


@pytest.fixture(scope="module")
def app_url(tmp_path_factory):
    """The app on the shipped models, saving annotations in a folder of this module's own."""
    port = free_port()
    proc = start_app(port, env={"VAE_LAB_DATA": str(tmp_path_factory.mktemp("annotations"))})
    yield f"http://127.0.0.1:{port}"
    proc.terminate()
    proc.wait(timeout=20)


def open_expander(page, title: str) -> None:
    summary = page.locator("[data-testid=stExpander] summary").filter(has_text=title).first
    if summary.locator("xpath=..").get_attribute("open") is None:
        summary.click()


def test_a_filter_greys_the_map_and_a_tagged_selection_is_listed_and_exported(page, app_url, screenshots):
    page.goto(app_url)
    page.wait_for_function(f"() => {PLOT}?._fullData?.length > 10", timeout=60_000)
    wait_ready(page)
    open_expander(page, "Filter")
    page.get_by_role("textbox", name="Test indices").fill("0-1999")
    page.get_by_role("textbox", name="Test indices").press("Enter")
    page.locator(".st-key-filter-count").get_by_text("2,000 of 10,000 images match").wait_for(timeout=60_000)
    page.wait_for_function(f"() => {PLOT}._fullData.some(t => t.name.startsWith('{GREY}'))", timeout=60_000)
    wait_ready(page)
    points = screen_points(page, PLOT)
    assert sorted(int(i) for _, _, i in points) == list(range(2000))
    assert page.evaluate(f"() => {PLOT}._fullData.find(t => t.name.startsWith('{GREY}'))._length") == 8000
    page.locator(".st-key-filter-panel").scroll_into_view_if_needed()  # below the map, which fills the window
    page.screenshot(path=str(screenshots / "filter-map.png"), full_page=False)

    page.locator(".st-key-map-fashion-mnist-conv-z16-umap").scroll_into_view_if_needed()
    x, y, _ = screen_points(page, PLOT)[len(points) // 2]  # where the point is now the page has scrolled
    drag_box(page, x - 45, y - 35, x + 45, y + 35)
    heading = page.locator(".st-key-selection-panel h3").first
    heading.wait_for(timeout=60_000)
    count = int(heading.inner_text().split(":")[1].split()[0].replace(",", ""))
    assert count > 1 and "matching the filter" in heading.inner_text()
    wait_ready(page)
    open_expander(page, "Selections, tags and metadata")
    page.get_by_role("textbox", name="Tag the map's selection").fill("=looks odd()")
    page.get_by_role("button", name="Tag selection").click()
    page.locator(".st-key-annotations-panel").get_by_text(f"=looks odd() · {count:,} images").wait_for(timeout=60_000)
    wait_ready(page)
    rows = list(csv.reader(io.StringIO(download(page, page.get_by_text("All selections and tags (CSV)")).decode())))
    indices = [int(r[2]) for r in rows[1:]]
    assert rows[0] == ["kind", "name", "index"] and {tuple(r[:2]) for r in rows[1:]} == {("tag", "'=looks odd()")}
    assert len(indices) == count and all(0 <= i < 2000 for i in indices)  # only images the filter kept

    csv_text = "index,brightness,group\n" + "".join(f"{i},{i / 100},{'=cmd()' if i % 2 else 'even'}\n"
                                                      for i in range(0, 10_000, 5))
    page.locator(".st-key-annotations_metadata_file input[type=file]").set_input_files(
        {"name": "mine.csv", "mimeType": "text/csv", "buffer": csv_text.encode()})
    page.locator(".st-key-annotations-panel").get_by_text("Metadata from mine.csv").wait_for(timeout=60_000)
    wait_ready(page)
    page.locator(".st-key-colour_by").click()
    page.keyboard.type("metadata")  # the list is long: type to narrow it, as a person does
    page.get_by_role("option", name="metadata: group", exact=True).click()
    page.wait_for_function(f"() => ({PLOT}._fullLayout.coloraxis?.colorbar?.ticktext || []).length === 3",
                           timeout=30_000)
    wait_ready(page)
    ticks = page.evaluate(f"() => {PLOT}._fullLayout.coloraxis.colorbar.ticktext")
    assert ticks == ["(no value)", "=cmd()", "even"]  # the cell shown as text, never run
    page.locator(".st-key-annotations-panel").scroll_into_view_if_needed()
    page.locator(".st-key-annotations-panel").screenshot(path=str(screenshots / "tags-and-metadata.png"))
    page.locator(".st-key-map-fashion-mnist-conv-z16-umap").scroll_into_view_if_needed()
    page.screenshot(path=str(screenshots / "filter-colour-by-metadata.png"), full_page=False)
