"""How the explorer's map scales: 10k and 70k points, drawn in full or as a sample, in Chromium.

Builds (once) a bundle whose map holds all 70,000 Fashion-MNIST images (train + test; the classic
MLP, 3 epochs, PCA map), then for each case starts the app and measures: the figure's JSON size
and build time on the server, time until the map is drawn, the points drawn, a scroll-wheel zoom
until Plotly has redrawn (p50), a click on a point until the sliders change (p50), and a slider
step until the new pixels are painted (p50, from the key press as the page received it; decoded in
the browser, with the marker placed among up to 20k codes). Prints a table and writes
bench/results/map_scale.json. A map above the draw limit is drawn as a large map since the
million-point work (pages/explore/map_detail.py: a picture of every point under VAE_LAB_VIEW_POINTS points),
so its "drawn" column counts those points; bench/million_map.py measures that mode.

    .venv/bin/python -m bench.map_scale [--repeats 9]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

from bench.gestures import focus_slider, key_steps, time_map_click
from harness.browser import (
    CHROMIUM,
    CHROMIUM_FLAGS,
    DRAWN_POINTS,
    READY,
    free_port,
    start_app,
)
from ui.map_figure import explore_map
from vae.bundle import load_bundle
from vae.cli.tables import format_table
from vae.latent.selection import display_subset

ROOT = Path(__file__).resolve().parent.parent

RESULTS = ROOT / "bench" / "results"
BIG = RESULTS / "maps" / "fashion-mnist-70k"
SHIPPED = ROOT / "checkpoints" / "fashion-mnist-conv-z16"
MAP_DRAWN = "() => document.querySelector('.js-plotly-plot')?._fullData?.[1]?._length > 0"


def build_big_bundle() -> Path:
    if not (BIG / "config.json").exists():
        subprocess.run([sys.executable, "-m", "vae.cli", "train", "--dataset", "fashion-mnist", "--preset", "classic",
                        "--epochs", "3", "--device", "cpu", "--no-umap", "--live-map", "0", "--map-images", "all",
                        "--out", str(BIG), "--overwrite"], cwd=ROOT, check=True, stdout=subprocess.DEVNULL,
                       env={**os.environ, "TQDM_DISABLE": "1"})
    return BIG


def figure_cost(bundle_path: Path, limit: int) -> tuple[float, int, int]:
    """Server side: seconds to build and serialise the map figure, its JSON size, and the points."""
    bundle = load_bundle(bundle_path)
    projection = next(p for p in ("umap", "latent", "pca") if p in bundle.projections)
    xy = bundle.projections[projection]["xy"]
    started = time.perf_counter()
    fig = explore_map(xy, bundle.labels, bundle.class_names, ["#1f77b4"] * len(bundle.class_names),
                      display_subset(len(xy), limit))
    payload = fig.to_json()
    return time.perf_counter() - started, len(payload), len(xy)


def zoom_ms(page) -> float:
    gd = page.locator(".js-plotly-plot .nsewdrag").first
    box = gd.bounding_box()
    before = page.evaluate("() => JSON.stringify(document.querySelector('.js-plotly-plot')._fullLayout.xaxis.range)")
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    started = time.perf_counter()
    page.mouse.wheel(0, -120)
    page.wait_for_function(
        "(old) => JSON.stringify(document.querySelector('.js-plotly-plot')._fullLayout.xaxis.range) !== old",
        arg=before, timeout=30_000)
    page.evaluate("() => new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))")
    return 1000 * (time.perf_counter() - started)


def step_ms(page) -> float:
    """One key step once the browser decodes: ms from the key press until the new pixels are painted."""
    focus_slider(page)
    ((screen_s, _),) = key_steps(page, 1, 60_000)
    return 1000 * screen_s


def measure(browser, bundle_path: Path, limit: int, repeats: int) -> dict:
    port = free_port()
    server = start_app(port, env={"VAE_LAB_MAX_DRAWN": str(limit)},
                       args=["--checkpoints", str(bundle_path.parent)])
    try:
        context = browser.new_context(viewport={"width": 1500, "height": 1100})
        page = context.new_page()
        started = time.perf_counter()
        page.goto(f"http://127.0.0.1:{port}/?bundle={bundle_path.name}")
        page.wait_for_function(MAP_DRAWN, timeout=180_000)
        page.wait_for_selector(READY, timeout=180_000)
        ready = time.perf_counter() - started
        drawn = page.evaluate(DRAWN_POINTS)
        zooms = [zoom_ms(page) for _ in range(repeats)]
        page.goto(f"http://127.0.0.1:{port}/?bundle={bundle_path.name}")
        page.wait_for_function(MAP_DRAWN, timeout=180_000)
        page.wait_for_selector(READY, timeout=180_000)
        clicks = [1000 * time_map_click(page, (i * 7919) % drawn) for i in range(1, repeats + 1)]
        steps = [step_ms(page) for _ in range(repeats)]
        context.close()
    finally:
        server.terminate()
        server.wait(timeout=30)
    build_s, json_bytes, points = figure_cost(bundle_path, limit)
    return {"bundle": bundle_path.name, "points": points, "limit": limit, "ready_s": ready, "drawn": drawn,
            "figure_build_s": build_s, "figure_json_mb": json_bytes / 2**20,
            "zoom_ms": zooms, "click_ms": clicks, "step_ms": steps}


def main() -> None:
    from playwright.sync_api import sync_playwright

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=9)
    args = parser.parse_args()
    big = build_big_bundle()
    cases = [(SHIPPED, 100_000), (big, 100_000), (big, 30_000), (big, 20_000), (big, 10_000)]
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        results = [measure(browser, path, limit, args.repeats) for path, limit in cases]
        browser.close()
    rows = [(f"{r['points']:,}", f"{r['limit']:,}",
             f"{r['drawn']:,}", round(r["figure_json_mb"], 1), round(r["figure_build_s"], 2), round(r["ready_s"], 1),
             round(statistics.median(r["zoom_ms"])), round(statistics.median(r["click_ms"])),
             round(statistics.median(r["step_ms"]))) for r in results]
    print(format_table(["points", "draw limit", "drawn", "figure MB", "build s", "ready s", "zoom p50 ms",
                        "click p50 ms", "slider p50 ms"], rows))
    RESULTS.mkdir(exist_ok=True)
    out = RESULTS / "map_scale.json"
    out.write_text(json.dumps({"results": results}, indent=2))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
