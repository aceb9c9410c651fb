"""UI latency of the explorer against a trivial Streamlit app, both driven in Debian Chromium.

For each app: time until ready (page load until the script is idle and, for the explorer, the
map is drawn), and slider step -> new image loaded (p50/p95 over --steps arrow-key steps). For
the explorer also map click -> sliders updated, uploads on the Your image page (a 4000x3000 JPEG
until its reconstruction shows, a non-image until its message shows), and the inverse
projection's own cost. Both apps run in the same invocation, one after the other, on the same
machine. Prints a table and writes bench/results/ui_latency.json.

    .venv/bin/python bench/ui_latency.py [--steps 40] [--clicks 10] [--uploads 5]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.browser.harness import (  # noqa: E402
    CHROMIUM,
    CHROMIUM_FLAGS,
    READY,
    free_port,
    photo_jpeg,
    start_app,
    upload,
)
from vae.bundle import load_bundle  # noqa: E402
from vae.cli_output import format_table  # noqa: E402
from vae.latent_tools import InverseProjector  # noqa: E402

IMAGE = "[data-testid=stImage] img"
MAP_DRAWN = ("() => { const gd = document.querySelector('.js-plotly-plot');"
             " return gd && gd._fullData && gd._fullData[1] && gd._fullData[1]._length > 0; }")


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def time_ready(page, url: str, explorer: bool) -> float:
    started = time.perf_counter()
    page.goto(url)
    if explorer:
        page.wait_for_function(MAP_DRAWN, timeout=60_000)
    page.wait_for_selector(IMAGE, timeout=60_000)
    page.wait_for_selector(READY, timeout=60_000)
    return time.perf_counter() - started


def time_slider_steps(page, steps: int) -> list[float]:
    slider = page.get_by_role("slider").first
    slider.focus()
    times = []
    for i in range(steps):
        before = page.locator(IMAGE).first.get_attribute("src")
        started = time.perf_counter()
        slider.press("ArrowRight" if (i // 20) % 2 == 0 else "ArrowLeft")
        page.wait_for_function(
            "(old) => { const img = document.querySelector('[data-testid=stImage] img');"
            " return img.src !== old && img.complete; }", arg=before, timeout=30_000)
        times.append(time.perf_counter() - started)
        page.wait_for_selector(READY, timeout=30_000)
    return times


def time_map_clicks(page, clicks: int) -> list[float]:
    times = []
    for i in range(clicks):
        x, y = page.evaluate("""(i) => {
            const gd = document.querySelector('.js-plotly-plot');
            const t = gd._fullData[1], xa = gd._fullLayout.xaxis, ya = gd._fullLayout.yaxis;
            const box = gd.querySelector('.nsewdrag').getBoundingClientRect();
            return [box.left + xa.l2p(t.x[i]), box.top + ya.l2p(t.y[i])];
        }""", 997 * (i + 1) % 10_000)
        before = page.get_by_role("slider").evaluate_all("els => els.map(e => e.value).join()")
        started = time.perf_counter()
        page.mouse.click(x, y)
        page.wait_for_function(
            "(old) => Array.from(document.querySelectorAll('input[type=range]')).map(e => e.value).join() !== old",
            arg=before, timeout=30_000)
        times.append(time.perf_counter() - started)
        page.wait_for_selector(READY, timeout=30_000)
    return times


def time_uploads(page, url: str, repeats: int) -> dict[str, list[float]]:
    """Your image page: a 4000x3000 JPEG until its reconstruction shows; a non-image until the message."""
    page.goto(f"{url}own_image")
    page.wait_for_selector(READY, timeout=60_000)
    photo, junk = photo_jpeg(), b"this is not a picture\n" * 200
    times: dict[str, list[float]] = {"photo_s": [], "bad_file_s": []}
    for i in range(repeats):
        started = time.perf_counter()
        upload(page, f"photo-{i}.jpg", "image/jpeg", photo)
        page.get_by_text(f"photo-{i}.jpg", exact=False).first.wait_for(timeout=30_000)
        page.get_by_role("button", name="Load this code into the sliders").wait_for(timeout=30_000)
        page.wait_for_selector(READY, timeout=30_000)
        times["photo_s"].append(time.perf_counter() - started)
        started = time.perf_counter()
        upload(page, f"junk-{i}.png", "image/png", junk)
        page.get_by_text(f"Cannot use this file: junk-{i}.png").wait_for(timeout=30_000)
        page.wait_for_selector(READY, timeout=30_000)
        times["bad_file_s"].append(time.perf_counter() - started)
    return times


def inverse_projection_ms(queries: int = 2000) -> dict[str, float]:
    """Build and query cost of the explorer's inverse projection on the shipped UMAP map."""
    bundle = load_bundle(ROOT / "checkpoints" / "fashion-mnist-conv-z16")
    xy = bundle.projections["umap"]["xy"]
    started = time.perf_counter()
    inverse = InverseProjector(xy, bundle.mu)
    build_ms = 1000 * (time.perf_counter() - started)
    rng = np.random.default_rng(0)
    lo, hi = xy.min(axis=0), xy.max(axis=0)
    span = hi - lo
    points = rng.uniform(lo - 0.1 * span, hi + 0.1 * span, size=(queries, 2))  # some outside the hull
    durations = []
    for point in points:
        started = time.perf_counter()
        inverse(tuple(point))
        durations.append(1000 * (time.perf_counter() - started))
    return {"build_ms": build_ms, "query_p50_ms": statistics.median(durations),
            "query_p95_ms": percentile(durations, 0.95), "query_max_ms": max(durations)}


def measure(browser, script: str, explorer: bool, steps: int, clicks: int, uploads: int = 0) -> dict:
    port = free_port()
    proc = start_app(port, script)
    try:
        context = browser.new_context(viewport={"width": 1500, "height": 1100})
        page = context.new_page()
        ready = time_ready(page, f"http://127.0.0.1:{port}/", explorer)
        result = {"ready_s": ready, "slider_s": time_slider_steps(page, steps)}
        if explorer:
            result["click_s"] = time_map_clicks(page, clicks)
            result.update(time_uploads(page, f"http://127.0.0.1:{port}/", uploads))
        context.close()
        return result
    finally:
        proc.terminate()
        proc.wait(timeout=20)


def main() -> None:
    from playwright.sync_api import sync_playwright

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=40)
    parser.add_argument("--clicks", type=int, default=10)
    parser.add_argument("--uploads", type=int, default=5)
    args = parser.parse_args()
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        trivial = measure(browser, "bench/trivial_app.py", False, args.steps, 0)
        explorer = measure(browser, "app.py", True, args.steps, args.clicks, args.uploads)
        browser.close()
    inverse = inverse_projection_ms()
    rows = []
    for name, r in (("trivial app", trivial), ("explorer", explorer)):
        rows.append((name, round(r["ready_s"], 2), round(1000 * statistics.median(r["slider_s"])),
                     round(1000 * percentile(r["slider_s"], 0.95)),
                     round(1000 * statistics.median(r["click_s"])) if "click_s" in r else "-",
                     round(1000 * percentile(r["click_s"], 0.95)) if "click_s" in r else "-"))
    ratios = {
        "ready_ratio": explorer["ready_s"] / trivial["ready_s"],
        "slider_p50_ratio": statistics.median(explorer["slider_s"]) / statistics.median(trivial["slider_s"]),
    }
    print(format_table(["app", "ready s", "slider p50 ms", "slider p95 ms", "click p50 ms", "click p95 ms"], rows))
    print(f"explorer / trivial: ready {ratios['ready_ratio']:.2f}x (target <= 1.5), "
          f"slider p50 {ratios['slider_p50_ratio']:.2f}x (target <= 1.25)")
    print(format_table(["upload (Your image page)", "p50 s", "max s"], [
        ("4000x3000 JPEG -> reconstruction shown", round(statistics.median(explorer["photo_s"]), 2),
         round(max(explorer["photo_s"]), 2)),
        ("non-image file -> message shown", round(statistics.median(explorer["bad_file_s"]), 2),
         round(max(explorer["bad_file_s"]), 2)),
    ]))
    print(f"inverse projection (UMAP map, 10k points): build {inverse['build_ms']:.0f} ms, query p50 "
          f"{inverse['query_p50_ms']:.2f} ms, p95 {inverse['query_p95_ms']:.2f} ms, "
          f"max {inverse['query_max_ms']:.2f} ms")
    out = ROOT / "bench" / "results" / "ui_latency.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps({"trivial": trivial, "explorer": explorer, **ratios, "inverse_projection": inverse,
                               "steps": args.steps}, indent=2))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
