"""The million-point map in headless Chromium, against the shipped 10k map in the same run.

For each map (the shipped z16's 10,000 test codes: the anchor; the 1,000,000 codes of
bench/million_bundle.py) and each round, a fresh server and browser page: time until the map is
drawn; a scroll-wheel zoom (in, then out) and a pan (a drag) until Plotly has redrawn, p50; on the
large map, the wheel zoom until the view's own picture and points are in place, p50; a click on a
point until its decoded image is painted in the live decoder, p50; the server's resident size
(VmRSS) with the map open, and what each of three more browser sessions adds (each draws the map,
zooms and selects a point). Each click notes whether the page had the browser's decoder then (it asks
for it once the pointer enters the map): such a click is painted in the browser, before the rerun
(pages/explore/map_events.py). Medians over the rounds; prints a table and writes
bench/results/million_map.json. Targets (issue 16): pan/zoom p50 <= 100 ms, click -> image <= 200 ms,
RSS < 3 GB, < 100 MB per extra session.

    .venv/bin/python -m bench.million_bundle --out bench/results/maps/fashion-mnist-conv-z16-1m
    .venv/bin/python -m bench.million_map [--rounds 3] [--repeats 9]
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

from bench.gestures import ARM_NEXT_IMAGE
from harness.browser import (
    BROWSER_DECODER,
    CHROMIUM,
    CHROMIUM_FLAGS,
    DECODED_IMAGE,
    DRAWN_POINTS,
    READY,
    free_port,
    point_on_screen,
    start_app,
)
from vae.cli.tables import format_table

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
LARGE = RESULTS / "maps" / "fashion-mnist-conv-z16-1m"
SHIPPED = ROOT / "checkpoints" / "fashion-mnist-conv-z16"
MAP_DRAWN = "() => document.querySelector('.js-plotly-plot')?._fullData?.[1]?._length > 0"
RANGE = "() => JSON.stringify(document.querySelector('.js-plotly-plot')._fullLayout.xaxis.range)"
DETAIL = "() => (document.querySelector('.js-plotly-plot').layout.meta || {}).detail || null"
TWO_FRAMES = "() => new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))"
EXTRA_SESSIONS = 3
NEXT_IMAGE_WITHIN = "() => Promise.race([window.nextImage, new Promise(r => setTimeout(() => r(null), 8000))])"


def rss_mb(pid: int) -> float:
    """The process's resident size now (VmRSS), in MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


def open_map(context, url: str):
    page = context.new_page()
    page.goto(url)
    page.wait_for_function(MAP_DRAWN, timeout=300_000)
    page.wait_for_selector(READY, timeout=300_000)
    return page


def _plot_centre(page) -> tuple[float, float]:
    box = page.locator(".js-plotly-plot .nsewdrag").first.bounding_box()
    return box["x"] + box["width"] / 2, box["y"] + box["height"] / 2


def _until_redrawn(page, before: str, started: float) -> float:
    page.wait_for_function(f"(old) => ({RANGE})() !== old", arg=before, timeout=30_000)
    page.evaluate(TWO_FRAMES)
    return 1000 * (time.perf_counter() - started)


def settle(page, detail: str | None) -> None:
    """On a large map, wait until the view's own layers replace `detail` (and the page is idle)."""
    if detail is not None:
        page.wait_for_function(f"(old) => ({DETAIL})() !== old", arg=detail, timeout=60_000)
        page.evaluate(TWO_FRAMES)
    page.wait_for_selector(READY, timeout=60_000)


def zoom_ms(page, direction: int) -> float:
    """One wheel notch (in for -1, out for +1) until Plotly has drawn the new range."""
    page.mouse.move(*_plot_centre(page))
    before = page.evaluate(RANGE)
    started = time.perf_counter()
    page.mouse.wheel(0, 120 * direction)
    return _until_redrawn(page, before, started)


def pan_ms(page, dx: int) -> float:
    """A drag of `dx` pixels: from the button's release until Plotly has drawn the new range."""
    x, y = _plot_centre(page)
    page.mouse.move(x, y)
    before = page.evaluate(RANGE)
    page.mouse.down()
    page.mouse.move(x + dx, y, steps=4)
    started = time.perf_counter()
    page.mouse.up()
    return _until_redrawn(page, before, started)


def detail_ms(page) -> float:
    """A wheel zoom in until the large map's picture and points for the new view are in place."""
    page.mouse.move(*_plot_centre(page))
    before = page.evaluate(DETAIL)
    started = time.perf_counter()
    page.mouse.wheel(0, -120)
    page.wait_for_function(f"(old) => ({DETAIL})() !== old", arg=before, timeout=60_000)
    page.evaluate(TWO_FRAMES)
    elapsed = 1000 * (time.perf_counter() - started)
    page.wait_for_selector(READY, timeout=60_000)
    return elapsed


def click_ms(page, index: int, attempts: int = 3) -> float:
    """Click the `index`-th drawn point: ms from the click until the live decoder paints its code.

    A click that lands while Streamlit redraws a freshly mounted chart is dropped (harness/browser.py):
    then it is made again, and timed again.
    """
    page.evaluate(f"() => window.clickDecoder = document.querySelector('{BROWSER_DECODER}') ? 'browser' : 'server'")
    for attempt in range(attempts):
        x, y = point_on_screen(page, index)
        page.evaluate(ARM_NEXT_IMAGE, DECODED_IMAGE)
        page.mouse.click(x, y)
        marks = page.evaluate(NEXT_IMAGE_WITHIN)
        if marks is not None:
            break
        if attempt == attempts - 1:
            raise RuntimeError(f"no decoded image after {attempts} clicks on point {index}")
    page.wait_for_selector(READY, timeout=60_000)
    page.wait_for_function(MAP_DRAWN, timeout=60_000)
    return marks["shown"] - marks["start"]


def measure(browser, bundle: Path, repeats: int, screenshot: Path | None) -> dict:
    port = free_port()
    server = start_app(port, args=["--checkpoints", str(bundle.parent)])
    url = f"http://127.0.0.1:{port}/?bundle={bundle.name}"
    contexts = []
    try:
        context = browser.new_context(viewport={"width": 1500, "height": 1100})
        contexts.append(context)
        started = time.perf_counter()
        page = open_map(context, url)
        ready_s = time.perf_counter() - started
        result = {"bundle": bundle.name, "ready_s": ready_s, "drawn": page.evaluate(DRAWN_POINTS)}
        # Each gesture on a settled map, as a person looks before the next one (a large map's view
        # detail then follows; its own row below).
        result["zoom_ms"], result["pan_ms"] = [], []
        for i in range(repeats):
            detail = page.evaluate(DETAIL)
            result["zoom_ms"].append(zoom_ms(page, -1 if i % 2 == 0 else 1))
            settle(page, detail)
        for i in range(repeats):
            detail = page.evaluate(DETAIL)
            result["pan_ms"].append(pan_ms(page, 60 if i % 2 == 0 else -60))
            settle(page, detail)
        if page.evaluate(DETAIL) is not None:
            result["detail_ms"] = [detail_ms(page) for _ in range(repeats)]
            if screenshot:
                zoomed = screenshot.with_name(f"{screenshot.stem}_zoomed.png")
                page.locator(".js-plotly-plot").first.screenshot(path=str(zoomed))
            page.goto(url)
            page.wait_for_function(MAP_DRAWN, timeout=300_000)
            page.wait_for_selector(READY, timeout=300_000)
        drawn = page.evaluate(DRAWN_POINTS)
        result["click_ms"], result["clicks_browser_decoded"] = [], 0
        for i in range(1, repeats + 1):
            result["click_ms"].append(click_ms(page, (i * 7919) % drawn))
            result["clicks_browser_decoded"] += page.evaluate("() => window.clickDecoder") == "browser"
        if screenshot:
            page.screenshot(path=str(screenshot))
        result["rss_mb"] = rss_mb(server.pid)
        for _ in range(EXTRA_SESSIONS):  # each like a visitor: draw the map, zoom, select a point
            extra = browser.new_context(viewport={"width": 1500, "height": 1100})
            contexts.append(extra)
            other = open_map(extra, url)
            zoom_ms(other, -1)
            click_ms(other, 1)
        time.sleep(2)
        result["rss_sessions_mb"] = rss_mb(server.pid)
        result["rss_per_session_mb"] = (result["rss_sessions_mb"] - result["rss_mb"]) / EXTRA_SESSIONS
    finally:
        for context in contexts:
            context.close()
        server.terminate()
        server.wait(timeout=60)
    return result


def summary(runs: list[dict]) -> dict:
    """Medians over rounds: of each round's p50 for timings, of each round's value otherwise."""
    out = {"bundle": runs[0]["bundle"], "rounds": len(runs)}
    for key in runs[0]:
        if key == "bundle":
            continue
        per_round = [statistics.median(r[key]) if isinstance(r[key], list) else r[key] for r in runs]
        out[key] = statistics.median(per_round)
    return out


def main() -> None:
    from playwright.sync_api import sync_playwright

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--repeats", type=int, default=9)
    parser.add_argument("--large", type=Path, default=LARGE, help="the 1M bundle (bench/million_bundle.py)")
    args = parser.parse_args()
    if not (args.large / "config.json").exists():
        raise SystemExit(f"no bundle at {args.large}: build it with python -m bench.million_bundle --out {args.large}")
    RESULTS.mkdir(parents=True, exist_ok=True)
    runs: dict[str, list[dict]] = {"shipped 10k (anchor)": [], "1M": []}
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        for round_ in range(args.rounds):  # the maps alternate, so both see the same machine
            for name, bundle in (("shipped 10k (anchor)", SHIPPED), ("1M", args.large)):
                shot = RESULTS / f"million_map_{'1m' if name == '1M' else '10k'}.png" if round_ == 0 else None
                runs[name].append(measure(browser, bundle, args.repeats, shot))
                print(name, "round", round_ + 1, "done", flush=True)
        browser.close()
    summaries = {name: summary(r) for name, r in runs.items()}
    rows = [(name, f"{s['drawn']:,.0f}", round(s["ready_s"], 1), round(s["zoom_ms"]), round(s["pan_ms"]),
             round(s["detail_ms"]) if "detail_ms" in s else "-", round(s["click_ms"]),
             f"{s['clicks_browser_decoded']:g} of {args.repeats}", round(s["rss_mb"]),
             round(s["rss_per_session_mb"], 1)) for name, s in summaries.items()]
    print(format_table(["map", "drawn", "ready s", "zoom p50 ms", "pan p50 ms", "view detail p50 ms",
                        "click->image p50 ms", "clicks decoded in the browser", "server RSS MB",
                        "MB per extra session"], rows))
    anchor, large = summaries["shipped 10k (anchor)"], summaries["1M"]
    print("ratios 1M / anchor: " + ", ".join(f"{k} {large[k] / anchor[k]:.2f}x"
                                               for k in ("zoom_ms", "pan_ms", "click_ms", "rss_mb")))
    out = RESULTS / "million_map.json"
    out.write_text(json.dumps({"summary": summaries, "runs": runs}, indent=2))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
