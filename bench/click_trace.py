"""Where a map click's time goes: one traced click on the Explore map, in headless Chromium.

For a bundle (the shipped z16 unless --bundle), a fresh server and page: --clicks clicks on drawn
points, each on a settled page, each traced from the pointer's press until the live decoder has
painted the point's code and the rerun has ended. The page records its own times (performance.now):
the pointer events, Plotly's plotly_click and plotly_selected, every websocket message out (BackMsg)
and in (ForwardMsg, decoded here with Streamlit's protobufs: which element or event it carries), the
script state's changes, the live decoder's drawings and the main thread's long tasks (> 50 ms); the
server records each script run's start and end (a patched ScriptRunner, loaded by sitecustomize).
Prints each click's timeline in ms from the press; writes bench/results/click_trace.json.

    .venv/bin/python -m bench.click_trace [--bundle DIR] [--clicks 3]
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import tempfile
import time
from pathlib import Path

from harness.browser import (
    CHROMIUM,
    CHROMIUM_FLAGS,
    DECODED_IMAGE,
    READY,
    free_port,
    isolated_point,
    point_on_screen,
    start_app,
)

ROOT = Path(__file__).resolve().parent.parent
SHIPPED = ROOT / "checkpoints" / "fashion-mnist-conv-z16"
RESULTS = ROOT / "bench" / "results"

# Loaded by the server's Python at start (its folder first on PYTHONPATH): each script run's wall times.
SITECUSTOMIZE = """
import json, os, time
from streamlit.runtime.scriptrunner import script_runner

_run = script_runner.ScriptRunner._run_script

def _timed(self, rerun_data):
    started = time.time()
    try:
        return _run(self, rerun_data)
    finally:
        with open(os.environ["VAE_LAB_TRACE_RUNS"], "a") as out:
            out.write(json.dumps({"start": 1000 * started, "end": 1000 * time.time(),
                                  "fragment": bool(rerun_data.fragment_id_queue)}) + "\\n")

script_runner.ScriptRunner._run_script = _timed
"""

# Installed before the page's own scripts: the websocket's messages and the pointer's events, while
# window.recording is set.
RECORDER = """(() => {
  const trace = (window.trace = []);
  const mark = (kind, extra = {}) => { if (window.recording) trace.push({ t: performance.now(), kind, ...extra }); };
  const b64 = (bytes) => { let s = ""; for (let i = 0; i < bytes.length; i += 8192)
    s += String.fromCharCode(...bytes.subarray(i, i + 8192)); return btoa(s); };
  const Native = window.WebSocket;
  window.WebSocket = class extends Native {
    constructor(...args) {
      super(...args);
      this.addEventListener("message", (e) => {
        if (e.data instanceof ArrayBuffer) mark("in", { size: e.data.byteLength, bytes: b64(new Uint8Array(e.data)) });
      });
    }
    send(data) {
      const bytes = data instanceof ArrayBuffer ? new Uint8Array(data) : ArrayBuffer.isView(data)
        ? new Uint8Array(data.buffer, data.byteOffset, data.byteLength) : null;
      if (bytes) mark("out", { size: bytes.length, bytes: b64(bytes) });
      return super.send(data);
    }
  };
  for (const type of ["pointerdown", "pointerup", "click"]) document.addEventListener(type, () => mark(type), true);
  new PerformanceObserver((list) => list.getEntries().forEach((e) => mark("long task", { start: e.startTime,
    ms: e.duration }))).observe({ entryTypes: ["longtask"] });
  window.markTrace = mark;
})()"""

# After the map is drawn: Plotly's events, the script state and the decoder's drawings.
WATCH = """(selector) => {
  const gd = document.querySelector('.js-plotly-plot');
  gd.on('plotly_click', () => window.markTrace('plotly_click'));
  gd.on('plotly_selected', () => window.markTrace('plotly_selected'));
  gd.on('plotly_afterplot', () => window.markTrace('plotly_afterplot'));
  const app = document.querySelector('[data-testid=stApp]');
  new MutationObserver(() => window.markTrace('script ' + app.dataset.testScriptState))
    .observe(app, { attributes: true, attributeFilter: ['data-test-script-state'] });
  new MutationObserver(() => window.markTrace('decoder drew'))
    .observe(document.body, { subtree: true, attributes: true, attributeFilter: ['data-frame'] });
  return performance.timeOrigin;
}"""


def describe_in(data: bytes) -> str:
    """What a ForwardMsg carries: its kind, and for a delta the element (or block) it adds."""
    from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

    msg = ForwardMsg.FromString(data)
    kind = msg.WhichOneof("type")
    if kind == "delta":
        delta = msg.delta
        what = delta.WhichOneof("type")
        if what == "new_element":
            element = delta.new_element.WhichOneof("type")
            if element == "bidi_component":
                element += f" {delta.new_element.bidi_component.component_name}"
            return f"delta {element}"
        return f"delta {what}"
    if kind == "session_status_changed":
        return f"session status: running={msg.session_status_changed.script_is_running}"
    if kind == "script_finished":
        return f"script finished ({msg.script_finished})".replace("\n", "")
    if kind == "ref_hash":
        return "ref_hash (a cached message)"
    return kind or "?"


def describe_out(data: bytes) -> str:
    from streamlit.proto.BackMsg_pb2 import BackMsg

    msg = BackMsg.FromString(data)
    kind = msg.WhichOneof("type")
    if kind == "rerun_script":
        widgets = [w.id.split("-")[-1][:40] for w in msg.rerun_script.widget_states.widgets]
        return f"rerun request ({len(widgets)} widget states, fragment {bool(msg.rerun_script.fragment_id)})"
    return kind or "?"


def timeline(events: list[dict], runs: list[dict], origin: float) -> list[tuple[float, str]]:
    """The click's events and the server's runs, as (ms from the press, what), in order."""
    start = next(e["t"] for e in events if e["kind"] == "pointerdown")
    rows = []
    for e in events:
        if e["kind"] == "in":
            what = f"in {e['size']:,} B: {describe_in(base64.b64decode(e['bytes']))}"
        elif e["kind"] == "out":
            what = f"out {e['size']:,} B: {describe_out(base64.b64decode(e['bytes']))}"
        elif e["kind"] == "long task":
            rows.append((e["start"] - start, f"long task begins ({e['ms']:.0f} ms)"))
            continue
        else:
            what = e["kind"]
        rows.append((e["t"] - start, what))
    for run in runs:
        for edge in ("start", "end"):
            at = run[edge] - origin - start
            if at > -50:
                rows.append((at, f"server: {'fragment' if run['fragment'] else 'script'} run {edge}s"
                                 + (f" ({run['end'] - run['start']:.0f} ms)" if edge == "end" else "")))
    return sorted(rows)


def trace_click(page, index: int, runs_file: Path, origin: float) -> list[tuple[float, str]]:
    x, y = point_on_screen(page, index)
    frame = page.locator(DECODED_IMAGE).first.get_attribute("data-frame")
    runs_file.write_text("")
    page.evaluate("() => { window.trace.length = 0; window.recording = true; }")
    page.mouse.click(x, y)
    page.wait_for_function("(old) => document.querySelector('canvas.decoded').dataset.frame !== old", arg=frame,
                           timeout=30_000)
    page.wait_for_selector(READY, timeout=60_000)
    time.sleep(1.5)  # what follows the rerun: Plotly's redraw of the new figure
    events = page.evaluate("() => { window.recording = false; return window.trace; }")
    runs = [json.loads(line) for line in runs_file.read_text().splitlines()]
    return timeline(events, runs, origin)


def main() -> None:
    from playwright.sync_api import sync_playwright

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bundle", type=Path, default=SHIPPED)
    parser.add_argument("--clicks", type=int, default=3)
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="click-trace-"))
    (folder / "sitecustomize.py").write_text(SITECUSTOMIZE)
    runs_file = folder / "runs.jsonl"
    env = {"PYTHONPATH": os.pathsep.join([str(folder), str(ROOT)]), "VAE_LAB_TRACE_RUNS": str(runs_file)}
    port = free_port()
    server = start_app(port, env=env, args=["--checkpoints", str(args.bundle.resolve().parent)])
    clicks = []
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
            page = browser.new_context(viewport={"width": 1500, "height": 1100}).new_page()
            page.add_init_script(RECORDER)
            page.goto(f"http://127.0.0.1:{port}/?bundle={args.bundle.name}")
            page.wait_for_function("() => document.querySelector('.js-plotly-plot')?._fullData?.[1]?._length > 0",
                                   timeout=300_000)
            page.wait_for_selector(READY, timeout=300_000)
            origin = page.evaluate(WATCH, DECODED_IMAGE)
            for i in range(args.clicks):
                index = isolated_point(page, 1 + i * 997)
                rows = trace_click(page, index, runs_file, origin)
                clicks.append([{"ms": round(t, 1), "what": what} for t, what in rows])
                print(f"click {i + 1} (drawn point {index}):")
                for t, what in rows:
                    print(f"  {t:8.1f}  {what}")
            browser.close()
    finally:
        server.terminate()
        server.wait(timeout=60)
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = RESULTS / "click_trace.json"
    out.write_text(json.dumps({"bundle": args.bundle.name, "load": os.getloadavg(), "clicks": clicks}, indent=1))
    print(f"load average {os.getloadavg()[0]:.1f}; wrote {out}")


if __name__ == "__main__":
    main()
