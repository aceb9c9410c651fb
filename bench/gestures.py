"""Timed gestures in the browser, the same for every bench: slider steps and drags, a map click, an upload.

A step is timed by the page itself, from the input event to the painted frame holding the new pixels
(ARM_NEXT_IMAGE); the driver's own seconds are kept beside it, since they include the round trips.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from harness.browser import BROWSER_DECODER, DECODED_IMAGE, READY, point_on_screen, upload

# Arm a promise, `window.nextImage`, for the next slider step: it resolves once the page shows a
# decoded image other than the current one (a canvas counts up its data-frame attribute on each
# drawing; an image must have loaded its new src) and the frame holding it has been painted:
# the requestAnimationFrame after the new pixels, then the task after that frame's paint.
# It gives performance.now() times: `start`, the key press or pointer move (the event's own
# timeStamp, when the browser received it), `drawn` and `shown`. The page reports all of it itself
# (a MutationObserver and load events), so timing a step needs no polling, which would cost every
# open page CPU time.
ARM_NEXT_IMAGE = """(selector) => {
  const version = (el) => el && (el.tagName === 'CANVAS' ? el.dataset.frame : el.src);
  const old = version(document.querySelector(selector));
  let start = null;
  const inputs = ['keydown', 'pointermove'];
  const began = (event) => { start ??= event.timeStamp; };
  inputs.forEach(type => document.addEventListener(type, began, true));
  window.nextImage = new Promise(resolve => {
    const check = () => {
      const el = document.querySelector(selector);
      if (!el || version(el) === old || (el.tagName === 'IMG' && !(el.complete && el.naturalWidth > 0))) return;
      observer.disconnect();
      document.removeEventListener('load', check, true);
      inputs.forEach(type => document.removeEventListener(type, began, true));
      const drawn = performance.now();
      requestAnimationFrame(() => setTimeout(() => resolve({start, drawn, shown: performance.now()})));
    };
    const observer = new MutationObserver(check);
    observer.observe(document.body, {subtree: true, childList: true, attributes: true,
                                     attributeFilter: ['src', 'data-frame']});
    document.addEventListener('load', check, true);
  });
}"""
NEXT_IMAGE = """() => Promise.race([window.nextImage, new Promise((_, reject) =>
  setTimeout(() => reject(new Error('no new image within 30 s')), 30000))])"""
SWING = 20  # key steps one way before turning back, so a run of steps never stops at the slider's end


def step_key(step: int) -> str:
    """The key for the `step`-th step: SWING to the right, SWING back, and so on."""
    return "ArrowRight" if (step // SWING) % 2 == 0 else "ArrowLeft"


def focus_slider(page, timeout_ms: int = 60_000) -> float | None:
    """Focus the first slider, as a person's first key press does; on the explorer, wait until the browser
    decodes (its decoder is sent at the first focus) and the page has settled: the seconds that took."""
    started = time.perf_counter()
    page.get_by_role("slider").first.focus()
    if not page.locator(".live-decoder").count():
        return None
    page.wait_for_selector(BROWSER_DECODER, timeout=timeout_ms)
    waited = time.perf_counter() - started
    page.wait_for_selector(READY, timeout=timeout_ms)
    return waited


def time_step(page, act: Callable[[], object]) -> tuple[dict[str, float], float]:
    """One step made by `act()`: the page's marks (ms: start, drawn, shown) and the driver's seconds."""
    page.evaluate(ARM_NEXT_IMAGE, DECODED_IMAGE)
    started = time.perf_counter()
    act()
    marks = page.evaluate(NEXT_IMAGE)
    return marks, time.perf_counter() - started


def key_steps(page, steps: int, timeout_ms: int = 30_000) -> list[tuple[float, float]]:
    """`steps` key steps on the focused slider, each once the page settled after the last (a key press to
    the focused element, as a person's goes: a locator's press would first search the page's whole tree):
    seconds on screen (input event to new pixels painted) and by the driver, per step."""
    times = []
    for i in range(steps):
        marks, driver = time_step(page, lambda i=i: page.keyboard.press(step_key(i)))
        times.append(((marks["shown"] - marks["start"]) / 1000, driver))
        page.wait_for_selector(READY, timeout=timeout_ms)
    return times


def time_map_click(page, index: int, timeout_ms: int = 60_000) -> float:
    """Click a map point; seconds until the sliders show a new code (then waits for the rerun to end)."""
    x, y = point_on_screen(page, index)
    before = page.get_by_role("slider").evaluate_all("els => els.map(e => e.value).join()")
    started = time.perf_counter()
    page.mouse.click(x, y)
    page.wait_for_function(
        "(old) => Array.from(document.querySelectorAll('input[type=range]')).map(e => e.value).join() !== old",
        arg=before, timeout=timeout_ms)
    elapsed = time.perf_counter() - started
    page.wait_for_selector(READY, timeout=timeout_ms)
    return elapsed


def time_drag_steps(page, moves: int, pixels: int = 8) -> list[float]:
    """Drag the first slider's thumb `pixels` at a time, first towards its farther end, back and forth
    every 10 moves (a move past the end would draw nothing); seconds on screen from each pointer
    move. Only for the explorer, whose range inputs decode while dragged."""
    slider = page.get_by_role("slider").first
    box = slider.bounding_box()
    low, high, value = slider.evaluate("e => [Number(e.min), Number(e.max), Number(e.value)]")
    x, y = box["x"] + box["width"] * (value - low) / (high - low), box["y"] + box["height"] / 2
    towards = pixels if value < (low + high) / 2 else -pixels
    page.mouse.move(x, y)
    page.mouse.down()
    times = []
    for i in range(moves):
        x += towards if (i // 10) % 2 == 0 else -towards
        marks, _ = time_step(page, lambda x=x: page.mouse.move(x, y))
        times.append((marks["shown"] - marks["start"]) / 1000)
    page.mouse.up()
    page.wait_for_selector(READY, timeout=30_000)
    return times


def time_upload(page, url: str, name: str, mime: str, data: bytes, shown: str) -> tuple[float, float]:
    """One upload on a fresh Your image page: (seconds from the browser's upload request until `shown`
    is on screen and the script idle, seconds including Playwright handing the file to the browser).

    The first figure is what a person waits for; the second adds Playwright's transfer of the file
    into the browser over its debugging protocol, which a person picking a file does not pay.
    """
    page.goto(f"{url}own_image")
    page.wait_for_selector(READY, timeout=60_000)
    started = time.perf_counter()
    with page.expect_request(lambda r: "/_stcore/upload_file" in r.url and r.method == "PUT") as request:
        upload(page, name, mime, data)
    requested = time.perf_counter()
    assert request.value
    page.get_by_text(shown).first.wait_for(timeout=30_000)
    page.wait_for_selector(READY, timeout=30_000)
    done = time.perf_counter()
    return done - requested, done - started
