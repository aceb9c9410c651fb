"""The Explore map's decoded atlas in headless Chromium: gesture end -> atlas redrawn for the new view; and the
Latent plane page's grid redrawn after an axis change.

Shipped z16. For each atlas path (the browser decoding the cells with onnxruntime-web, K×K = 16×16 and 32×32
cells; the server decoding them, a server started without static serving so the page never gets the
browser's decoder: the anchor, at the same K), a fresh server and page: the atlas on, the window sized until
the map's plot area gives K×K square cells (a cell is at least 28 px), then GESTURES gestures, alternately a one-notch
wheel zoom (in, then out) and a 60 px drag (right, then left), each once the last redraw settled: ms from the
gesture's last input event (as the page received it) until the new view's atlas is on the map and the frame
that paints it begins, and where that time went (the companion's report of the view, Python's cells, the
decode or the server's tiles, composing the picture, Plotly putting it on the map, waiting for the frame).
The cells' click targets move after that frame (map_atlas.js): they are not in these figures.

The plane: GESTURES changes of its "Up (rows)" axis, each to a direction not shown before (its picture is not
cached), against the anchor of changes back to one shown before (cached: Streamlit's rerun and the picture's
transfer alone): ms from the Enter that picks it until the new picture is loaded and a frame painted.

Medians; prints a table and the load average (the machine may be shared) and writes bench/results/atlas.json.
Goal (issue 23): a 16×16 atlas redrawn within 150 ms of the gesture's end in the browser.

    .venv/bin/python -m bench.atlas [--gestures 20]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
from pathlib import Path

from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

from harness.browser import CHROMIUM, CHROMIUM_FLAGS, READY, free_port, start_app, wait_final_size
from pages.latent_plane.latent_plane import axis_choices
from ui.navigation import PAGES
from vae.bundle import load_bundle
from vae.cli.tables import format_table
from vae.latent.atlas import MIN_CELL_PX

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
SHIPPED = ROOT / "checkpoints" / "fashion-mnist-conv-z16"
GOAL_MS = 150
STAGES = ("report", "cells", "decode", "compose", "apply")  # where an atlas redraw's time goes, in order
MAP_DRAWN = "() => document.querySelector('.js-plotly-plot')?._fullData?.[1]?._length > 0"
SHOWN = "() => document.querySelector('.js-plotly-plot')?.dataset.decodedAtlas || null"
STATE = """() => { const root = document.querySelector('.map-hover'), gd = document.querySelector('.js-plotly-plot');
    const cells = root.data.decoded && root.data.decoded.cells;
    const { w, h } = gd._fullLayout._size;
    return {grid: cells && [cells.columns, cells.rows], size: [w, h], key: gd.dataset.decodedAtlas || null,
            decoder: gd.dataset.decodedBy || null, reported: root.reported || ''}; }"""
# Arm `window.redrawn` for the next gesture: the last wheel or pointer-up event's time, then the time the next
# atlas is on the map and the frame that paints it begins, and the companion's marks between.
ARM = """(old) => {
  const root = document.querySelector('.map-hover'), gd = document.querySelector('.js-plotly-plot');
  let end = null;
  const mark = (event) => { end = event.timeStamp; };
  ['wheel', 'pointerup'].forEach((type) => document.addEventListener(type, mark, true));
  window.redrawn = new Promise((resolve) => {
    const check = () => {
      if (gd.dataset.decodedAtlas === old) return;
      observer.disconnect();
      ['wheel', 'pointerup'].forEach((type) => document.removeEventListener(type, mark, true));
      const times = root.atlasTimes;
      requestAnimationFrame(() => resolve({ // the frame that paints it (the click targets move after it)
        total: performance.now() - end, report: root.reportedAt - end, cells: times.arrived - root.reportedAt,
        decode: times.decode_ms, compose: times.compose_ms, apply: times.apply_ms, decoder: gd.dataset.decodedBy,
        gesture_ended: end !== null}));
    };
    const observer = new MutationObserver(check);
    observer.observe(gd, {attributes: true, attributeFilter: ['data-decoded-atlas']});
  });
}"""
# Arm `window.redrawn` for the plane: from the Enter that picks an axis until its new picture is drawn.
ARM_PLANE = """() => {
  const image = () => document.querySelector('[data-testid=stImage] img');
  const old = image().src;
  let end = null;
  const mark = (event) => { if (event.key === 'Enter') end = event.timeStamp; };
  document.addEventListener('keydown', mark, true);
  window.redrawn = new Promise((resolve) => {
    const check = async () => {
      const now = image();
      if (!now || now.src === old || end === null) return requestAnimationFrame(check);
      await now.decode();
      document.removeEventListener('keydown', mark, true);
      requestAnimationFrame(() => setTimeout(() => resolve({total: performance.now() - end})));
    };
    requestAnimationFrame(check);
  });
}"""
REDRAWN = """() => Promise.race([window.redrawn, new Promise((_, reject) =>
  setTimeout(() => reject(new Error('not redrawn within 60 s')), 60000))])"""


def plot_centre(page) -> tuple[float, float]:
    box = page.locator(".js-plotly-plot .nsewdrag").first.bounding_box()
    return box["x"] + box["width"] / 2, box["y"] + box["height"] / 2


def settle(page) -> None:
    """The atlas on the map with its click targets, and the page idle (given 10 s: on a busy machine a rerun
    can still be under way)."""
    page.wait_for_function(SHOWN, timeout=60_000)
    page.wait_for_function("() => { const gd = document.querySelector('.js-plotly-plot');"
                           " return gd.dataset.atlasTargets === gd.dataset.decodedAtlas; }", timeout=60_000)
    try:
        page.wait_for_selector(READY, timeout=10_000)
    except PlaywrightTimeoutError:
        pass


def size_for(page, side: int) -> tuple[int, int]:
    """Resize the window until the atlas has `side` × `side` cells: the plot area square, `side` cells and half
    of one a side (the map's width is 3/4 of the page's beside the sidebar, its height follows the window's)."""
    width, height, got = 1400, 1000, None
    target = MIN_CELL_PX * side + MIN_CELL_PX // 2
    for _ in range(8):
        page.set_viewport_size({"width": width, "height": height})
        try:  # the companion fits the map to the window and reports the new size; Python sends that grid's cells
            page.wait_for_function(f"(side) => String(({STATE})().grid) === String([side, side])", arg=side,
                                   timeout=15_000)
        except PlaywrightTimeoutError:
            pass
        settle(page)
        state = page.evaluate(STATE)
        got = state["grid"]
        if got == [side, side]:
            return width, height
        plot_width, plot_height = state["size"]
        width += round((target - plot_width) * 4 / 3)
        height += round(target - plot_height)
    raise RuntimeError(f"no window size gave {side}×{side} cells (last {got})")


def gesture(page, number: int) -> None:
    x, y = plot_centre(page)
    page.mouse.move(x, y)
    if number % 2 == 0:  # a wheel notch: in, then out
        page.mouse.wheel(0, -120 if number % 4 == 0 else 120)
        return
    dx = 60 if number % 4 == 1 else -60
    page.mouse.down()
    page.mouse.move(x + dx, y, steps=4)
    page.mouse.up()


def medians(marks: list[dict], keys: tuple[str, ...]) -> dict:
    return {f"{k}_ms": statistics.median(m[k] for m in marks) for k in keys}


def measure_atlas(browser, side: int, decoder: str, gestures: int) -> dict:
    port = free_port()
    args = ["--server.enableStaticServing", "false"] if decoder == "server" else []
    server = start_app(port, args=args)
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    try:
        page = context.new_page()
        page.goto(f"http://127.0.0.1:{port}/")
        page.wait_for_function(MAP_DRAWN, timeout=300_000)
        page.wait_for_selector(READY, timeout=60_000)
        wait_final_size(page)
        page.locator(".st-key-atlas_mode").get_by_text("under", exact=True).click()
        settle(page)
        if decoder == "browser":
            page.wait_for_function("() => (document.querySelector('.map-hover').reported || '')"
                                   ".includes('\"decoder\":true')", timeout=120_000)
        window = size_for(page, side) if side else (1400, 1000)  # K 0: as the 1400×1000 window gives it
        marks = []
        for number in range(gestures):
            page.evaluate(ARM, page.evaluate(STATE)["key"])
            gesture(page, number)
            marks.append(page.evaluate(REDRAWN))
            settle(page)
        columns, rows = page.evaluate(STATE)["grid"]
        page.screenshot(path=str(RESULTS / f"atlas_{decoder}_{columns}x{rows}.png"))
    finally:
        context.close()
        server.terminate()
        server.wait(timeout=60)
    if not all(m["gesture_ended"] for m in marks):
        raise RuntimeError(f"the {decoder} path's atlas was redrawn before a gesture ended")
    drawn_by = {m["decoder"] for m in marks}
    if drawn_by != {decoder}:
        raise RuntimeError(f"the {decoder} path's atlas was drawn by {drawn_by}")
    for m in marks:  # what is left: the frame after Plotly's redraw
        m["frame"] = m["total"] - sum(m[k] for k in STAGES)
    return {"grid": f"{columns}x{rows}", "decoder": decoder, "window": list(window), "gestures": marks,
            **medians(marks, ("total", *STAGES, "frame"))}


def choose_up(page, label: str) -> None:
    """Pick `label` in the plane's "Up (rows)" box, typed as a person narrows a long list; Enter picks it."""
    page.locator(".st-key-plane_axis_up input").fill(label)
    page.get_by_role("option", name=label, exact=True).wait_for(timeout=10_000)


def measure_plane(browser, changes: int) -> dict:
    """The plane's picture redrawn after `changes` axis changes to new directions, and as many back to shown ones."""
    port = free_port()
    server = start_app(port)
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    url_path = next(p.url_path for p in PAGES if p.folder == "latent_plane")
    directions = list(axis_choices(load_bundle(SHIPPED)))
    try:
        page = context.new_page()
        page.goto(f"http://127.0.0.1:{port}/{url_path}")
        page.wait_for_selector("[data-testid=stImage] img", timeout=300_000)
        page.wait_for_selector(READY, timeout=60_000)
        across, up = (page.locator(f".st-key-plane_axis_{name} input").input_value() for name in ("across", "up"))
        new = [d for d in directions if d not in (across, up)][:changes]
        if len(new) < changes:
            raise RuntimeError(f"only {len(new)} directions not shown yet, for {changes} changes")
        marks = {"new direction": [], "shown before (cached)": []}
        for number in range(2 * changes):
            kind = "new direction" if number % 2 == 0 else "shown before (cached)"
            label = new[number // 2] if number % 2 == 0 else up  # back to the first plane, cached since
            choose_up(page, label)
            page.evaluate(ARM_PLANE)
            page.keyboard.press("Enter")
            marks[kind].append(page.evaluate(REDRAWN))
            page.wait_for_selector(READY, timeout=60_000)
        page.screenshot(path=str(RESULTS / "atlas_plane.png"))
    finally:
        context.close()
        server.terminate()
        server.wait(timeout=60)
    return {kind: {"changes": m, **medians(m, ("total",))} for kind, m in marks.items()}


def main() -> None:
    from playwright.sync_api import sync_playwright

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--gestures", type=int, default=20)
    parser.add_argument("--paths", nargs="+", default=["browser:16", "server:16", "browser:32", "server:32"],
                        help="decoder:K pairs to measure, K×K cells (K 0: whatever the 1400×1000 window gives)")
    parser.add_argument("--no-plane", action="store_true", help="measure the atlas only")
    args = parser.parse_args()
    RESULTS.mkdir(parents=True, exist_ok=True)
    load_before = os.getloadavg()
    results, plane = [], None
    out = RESULTS / "atlas.json"
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        if not args.no_plane:
            plane = measure_plane(browser, args.gestures)
            print("plane done", flush=True)
        for decoder, side in (path.split(":") for path in args.paths):
            results.append(measure_atlas(browser, int(side), decoder, args.gestures))
            print(decoder, side, "done", flush=True)
            out.write_text(json.dumps({"partial": True, "results": results, "plane": plane}, indent=2))
        browser.close()
    load_after = os.getloadavg()
    anchors = {r["grid"]: r["total_ms"] for r in results if r["decoder"] == "server"}
    rows = [(f"atlas, {r['decoder']} decode, {r['grid']}", round(r["total_ms"]),
             f"{r['total_ms'] / anchors[r['grid']]:.2f}x" if r["grid"] in anchors else "",
             *(round(r[f"{k}_ms"]) for k in (*STAGES, "frame"))) for r in results]
    if plane:
        anchor = plane["shown before (cached)"]["total_ms"]
        rows += [(f"plane, axis changed to one {kind}", round(m["total_ms"]), f"{m['total_ms'] / anchor:.2f}x",
                  *[""] * (len(STAGES) + 1)) for kind, m in plane.items()]
    print(format_table(["path", "gesture end -> redrawn p50 ms", "vs anchor", "view reported", "cells from Python",
                        "decode / tiles", "compose", "on the map", "frame"], rows))
    print(f"load average (1 min) {load_before[0]:.1f} before, {load_after[0]:.1f} after, on {os.cpu_count()} cores")
    for r in results:
        if r["decoder"] == "browser" and r["grid"] == "16x16":
            print(f"goal: 16x16 in the browser within {GOAL_MS} ms: {r['total_ms']:.0f} ms, "
                  f"{'met' if r['total_ms'] <= GOAL_MS else 'missed'}")
    out.write_text(json.dumps({"goal_ms": GOAL_MS, "load_average": {"before": load_before, "after": load_after},
                               "cores": os.cpu_count(), "results": results, "plane": plane}, indent=2))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
