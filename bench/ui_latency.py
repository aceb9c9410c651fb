"""UI latency of the explorer against reference Streamlit apps, all driven in Debian Chromium.

Five apps (six with --baseline: the explorer of another checkout), each on a fresh server (--rounds
times, interleaved; medians reported): a trivial one (a slider in a fragment rendering an image),
the same plus one 3-point Plotly chart (what Plotly's JavaScript alone costs), the same plus one
10,000-point WebGL chart (the explorer's map's size, without the explorer), a plain explorer
(torch, the 10k-point map and st.image: the cold-start anchor), and the explorer. For each: the time
until the fresh server answers, from navigation until interactive (script idle, first image loaded,
sliders drawn) and until its map is drawn, process start until the map is drawn, and slider steps
(p50/p95 over --steps steps, spread over the rounds), started after the same --settle-ms pause in
every app, so that they are timed in steady state rather than while the browser still finishes the
first load (Plotly's drawing, for the apps with a map); the explorer's steps start as soon as the
browser has its decoder (sent when a slider first gets focus, that wait reported on its own), so
each round's first steps are the first after the decoder arrived. A step is timed two ways: on
screen, from the key press as the page received it (the event's timeStamp) until the frame holding
the new pixels has been painted (see ARM_NEXT_IMAGE), which is what a person sees; and by the
driver, from Playwright's key press until the page reports it, which adds Playwright's round trips.
The explorer's sliders are also dragged (--drags pointer moves over the rounds, timed on screen from
each move; a Streamlit slider sends nothing until it is released, so the reference apps have no such
row). For the explorer also map click -> sliders updated, uploads on the Your image page (a
4000x3000 JPEG until its reconstruction shows, a non-image until its message shows), and the inverse
projection's own cost. All apps run in the same invocation, one after the other, on the same
machine. Prints a table and writes bench/results/ui_latency.json.

    .venv/bin/python -m bench.ui_latency [--rounds 5] [--steps 60] [--drags 60] [--clicks 10] [--uploads 5]
                                         [--settle-ms 1000] [--baseline DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np

from bench.gestures import focus_slider, key_steps, time_drag_steps, time_map_click, time_upload
from bench.stats import percentile
from harness.browser import (
    CHROMIUM,
    CHROMIUM_FLAGS,
    DECODED_IMAGE,
    READY,
    free_port,
    photo_jpeg,
    start_app,
)
from vae.bundle import load_bundle
from vae.cli.tables import format_table
from vae.latent.placement import InverseProjector

ROOT = Path(__file__).resolve().parent.parent

# Milliseconds from navigation start until the page is interactive (script idle, first image loaded,
# a slider drawn) and until a Plotly chart has drawn its points, polled on every animation frame.
MILESTONES = """([withMap, image]) => new Promise(resolve => {
  const marks = {};
  const tick = () => {
    const img = document.querySelector(image);  // the explorer's canvas counts its drawings
    const shown = img && (img.tagName === 'CANVAS' ? img.dataset.frame !== '0' : img.complete && img.naturalWidth > 0);
    const idle = document.querySelector('[data-testid=stApp][data-test-script-state=notRunning]');
    if (marks.interactive === undefined && idle && shown && document.querySelector('input[type=range]'))
      marks.interactive = performance.now();
    const gd = document.querySelector('.js-plotly-plot');
    if (marks.map === undefined && gd && gd._fullData && gd._fullData.some(t => t._length > 0))
      marks.map = performance.now();
    if (marks.interactive !== undefined && (!withMap || marks.map !== undefined)) resolve(marks);
    else requestAnimationFrame(tick);
  };
  tick();
})"""


def time_ready(page, url: str, with_map: bool) -> dict[str, float]:
    """Seconds from navigation start until interactive and (with_map) until the map is drawn."""
    page.goto(url, wait_until="commit")
    marks = page.evaluate(MILESTONES, [with_map, DECODED_IMAGE])
    page.wait_for_selector(READY, timeout=60_000)
    return {f"{name}_s": ms / 1000 for name, ms in marks.items()}


FIRST_STEPS = 3  # a round's first steps after the browser's decoder arrived, also reported alone


def time_slider_steps(page, steps: int) -> tuple[dict[str, list[float]], float | None]:
    """Key steps on the first slider; for the explorer also seconds from the slider's focus until the
    browser decodes."""
    decoder_s = focus_slider(page, 30_000)
    steps_s = key_steps(page, steps)
    times = {"slider_s": [screen for screen, _ in steps_s], "slider_driver_s": [driver for _, driver in steps_s]}
    times["first_s"] = times["slider_s"][:FIRST_STEPS]
    return times, decoder_s


def time_map_clicks(page, clicks: int) -> list[float]:
    return [time_map_click(page, 997 * (i + 1) % 10_000) for i in range(clicks)]


def time_uploads(page, url: str, repeats: int) -> dict[str, list[float]]:
    """A 4000x3000 JPEG until its reconstruction shows; a non-image until its message shows."""
    photo, junk = photo_jpeg(), b"this is not a picture\n" * 200
    times: dict[str, list[float]] = {"photo_s": [], "photo_with_transfer_s": [], "bad_file_s": []}
    for i in range(repeats):
        # The invert check box is drawn only for an uploaded image, with its reconstruction.
        app_s, total_s = time_upload(page, url, f"photo-{i}.jpg", "image/jpeg", photo, "Invert (the model saw")
        times["photo_s"].append(app_s)
        times["photo_with_transfer_s"].append(total_s)
        app_s, _ = time_upload(page, url, f"junk-{i}.png", "image/png", junk, f"Cannot use this file: junk-{i}.png")
        times["bad_file_s"].append(app_s)
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


def measure(browser, script: str | None, with_map: bool, settle_ms: int, steps: int = 0, drags: int = 0,
            clicks: int = 0, uploads: int = 0, command: list | None = None, cwd: Path = ROOT) -> dict:
    """A fresh server for `script` (None: the explorer, started by `command` in the checkout `cwd`)
    and its first page load (cold); then, if asked, slider steps, and for the explorer map clicks and
    uploads."""
    port = free_port()
    started = time.perf_counter()
    proc = start_app(port, script, command=command, cwd=cwd)
    server_s = time.perf_counter() - started
    try:
        context = browser.new_context(viewport={"width": 1500, "height": 1100})
        page = context.new_page()
        result = time_ready(page, f"http://127.0.0.1:{port}/", with_map)
        result["server_s"] = server_s
        if with_map:
            result["start_to_map_s"] = server_s + result["map_s"]
        if steps:
            page.wait_for_timeout(settle_ms)
            times, result["browser_decoder_s"] = time_slider_steps(page, steps)
            result.update(times)
        if drags:
            result["drag_s"] = time_drag_steps(page, drags)
        if clicks:
            result["click_s"] = time_map_clicks(page, clicks)
        if uploads:
            result.update(time_uploads(page, f"http://127.0.0.1:{port}/", uploads))
        context.close()
        return result
    finally:
        proc.terminate()
        proc.wait(timeout=20)


PLAIN = "plain explorer (torch, Plotly, st.image)"
PLOTLY_10K = "trivial + 10k-point Plotly chart"
APPS = {  # name: (script, has a map)
    "trivial app": ("bench/trivial_app.py", False),
    "trivial + Plotly chart": ("bench/plotly_baseline_app.py", True),
    PLOTLY_10K: ("bench/plotly_10k_app.py", True),
    PLAIN: ("bench/plain_explorer_app.py", True),
    "explorer": (None, True),  # the app itself, as `vae-lab serve` starts it
}


STEP_TIMES = ("slider_s", "slider_driver_s", "first_s", "drag_s")
COLD_TIMES = ("server_s", "interactive_s", "map_s", "start_to_map_s")


def measure_all(browser, rounds: int, steps: int, drags: int, clicks: int, uploads: int,
                settle_ms: int, baseline: Path | None = None) -> dict[str, dict]:
    """`rounds` cold starts of every app (and the explorer of the `baseline` checkout), interleaved
    so that machine noise hits them alike; each round also times steps/rounds slider steps (and
    drags/rounds drag moves for an explorer), and the explorer's last round clicks and uploads."""
    apps = {name: (script, with_map, None, ROOT) for name, (script, with_map) in APPS.items()}
    if baseline:  # a checkout from before `vae-lab serve` starts its explorer with `python -m ui.serve`
        command = None if (baseline / "vae" / "cli" / "serve.py").is_file() else [sys.executable, "-m", "ui.serve"]
        apps[f"explorer at {baseline}"] = (None, True, command, baseline)
    runs: dict[str, list[dict]] = {name: [] for name in apps}
    per_round, drags_per_round = max(1, steps // rounds), drags // rounds
    for round_ in range(rounds):
        last = round_ == rounds - 1
        for name, (script, with_map, command, cwd) in apps.items():
            explorer = script is None
            runs[name].append(measure(browser, script, with_map, settle_ms, per_round,
                                      drags_per_round if explorer else 0, clicks if name == "explorer" and last else 0,
                                      uploads if name == "explorer" and last else 0, command, cwd))
    measured = {}
    for name, results in runs.items():
        measured[name] = {
            **results[-1],
            **{key: [v for r in results for v in r.get(key, [])] for key in STEP_TIMES},
            "cold_loads": [{k: r[k] for k in COLD_TIMES if k in r} for r in results],
        }
        for key in (*COLD_TIMES, "browser_decoder_s"):
            if results[0].get(key) is not None:
                measured[name][key] = statistics.median(r[key] for r in results)
    return measured


def main() -> None:
    from playwright.sync_api import sync_playwright

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=60)
    parser.add_argument("--drags", type=int, default=60, help="explorer slider drag moves, over all rounds")
    parser.add_argument("--settle-ms", type=int, default=1000, help="pause after the first load, before the steps")
    parser.add_argument("--clicks", type=int, default=10)
    parser.add_argument("--uploads", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=5, help="cold starts of each app (median reported)")
    parser.add_argument("--baseline", type=Path, help="another checkout whose explorer is measured alongside, e.g. "
                        "the code before a change: git archive COMMIT | tar -x -C DIR, with .venv linked in")
    args = parser.parse_args()
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        apps = measure_all(browser, args.rounds, args.steps, args.drags, args.clicks, args.uploads, args.settle_ms,
                           args.baseline)
        browser.close()
    inverse = inverse_projection_ms()
    trivial, explorer = apps["trivial app"], apps["explorer"]

    def ms(values: list[float] | None, q: float | None = None) -> float | str:
        if not values:
            return "-"
        return round(1000 * (statistics.median(values) if q is None else percentile(values, q)), 1)

    rows = [(name, round(r["server_s"], 2), round(r["interactive_s"], 2), round(r["map_s"], 2) if "map_s" in r else "-",
             round(r["start_to_map_s"], 2) if "start_to_map_s" in r else "-",
             ms(r.get("click_s")), ms(r.get("click_s"), 0.95)) for name, r in apps.items()]
    step_rows = [(name, ms(r["slider_s"]), ms(r["slider_s"], 0.95), ms(r["first_s"], 0.95),
                  ms(r["slider_driver_s"]), ms(r["slider_driver_s"], 0.95), ms(r["drag_s"]), ms(r["drag_s"], 0.95))
                 for name, r in apps.items()]
    ratios = {
        "interactive_ratio": explorer["interactive_s"] / trivial["interactive_s"],
        "map_ratio_to_trivial": explorer["map_s"] / trivial["interactive_s"],
        "map_ratio_to_plotly_baseline": explorer["map_s"] / apps["trivial + Plotly chart"]["map_s"],
        "plotly_10k_interactive_ratio": apps[PLOTLY_10K]["interactive_s"] / trivial["interactive_s"],
        "slider_p50_ratio": statistics.median(explorer["slider_s"]) / statistics.median(trivial["slider_s"]),
        "cold_start_ratio_to_plain": explorer["start_to_map_s"] / apps[PLAIN]["start_to_map_s"],
    }
    print(format_table([f"app (fresh server, first load; median of {args.rounds})", "server up s",
                        "interactive s", "map drawn s", "process start -> map s", "click p50 ms", "click p95 ms"],
                       rows))
    print(format_table(["slider step (ms): key press -> new pixels painted", "p50", "p95",
                        f"p95 of each round's first {FIRST_STEPS}", "driver p50", "driver p95",
                        "drag move p50", "drag move p95"], step_rows))
    print(f"explorer / trivial: interactive {ratios['interactive_ratio']:.2f}x (target <= 1.5), "
          f"slider p50 {ratios['slider_p50_ratio']:.2f}x (target <= 1.25); map drawn "
          f"{ratios['map_ratio_to_trivial']:.2f}x the trivial app's interactive time, "
          f"{ratios['map_ratio_to_plotly_baseline']:.2f}x a 3-point Plotly chart's; the trivial app with a "
          f"10k-point chart: interactive {ratios['plotly_10k_interactive_ratio']:.2f}x")
    print(f"explorer / plain explorer: process start -> map drawn {ratios['cold_start_ratio_to_plain']:.2f}x "
          "(target <= 1.0)")
    for name, r in apps.items():
        if name.startswith("explorer at "):
            p50 = statistics.median(explorer["slider_s"]) / statistics.median(r["slider_s"])
            p95 = percentile(explorer["slider_s"], 0.95) / percentile(r["slider_s"], 0.95)
            print(f"explorer / {name}: slider p50 {p50:.2f}x, p95 {p95:.2f}x")
    one_frame = all(percentile(explorer[key], 0.95) <= 1 / 60 for key in ("slider_s", "drag_s") if explorer[key])
    print(f"explorer steps within one frame (p95 <= 16.7 ms on screen, key presses and drags): {one_frame}")
    print(f"explorer: the browser decodes itself {explorer['browser_decoder_s']:.2f} s after a slider first "
          "gets focus (the decoder is sent then; steps are timed from the moment it is ready)")
    if explorer.get("photo_s"):  # --uploads 0 measures none
        print(format_table(["upload (Your image page), from the browser's upload request", "p50 s", "max s"], [
            ("4000x3000 JPEG -> reconstruction shown", round(statistics.median(explorer["photo_s"]), 2),
             round(max(explorer["photo_s"]), 2)),
            ("  the same, with Playwright's transfer of the file", round(statistics.median(
                explorer["photo_with_transfer_s"]), 2), round(max(explorer["photo_with_transfer_s"]), 2)),
            ("non-image file -> message shown", round(statistics.median(explorer["bad_file_s"]), 2),
             round(max(explorer["bad_file_s"]), 2)),
        ]))
    print(f"inverse projection (UMAP map, 10k points): build {inverse['build_ms']:.0f} ms, query p50 "
          f"{inverse['query_p50_ms']:.2f} ms, p95 {inverse['query_p95_ms']:.2f} ms, "
          f"max {inverse['query_max_ms']:.2f} ms")
    out = ROOT / "bench" / "results" / "ui_latency.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps({"apps": apps, **ratios, "one_frame": one_frame, "inverse_projection": inverse,
                               "args": {**vars(args), "baseline": str(args.baseline)},
                               "load_average": os.getloadavg()}, indent=2))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
