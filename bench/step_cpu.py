"""What a slider step costs the browser in CPU time, from a Chrome trace: the figure that load hides.

On a busy machine a step's latency is mostly waiting for a core; the CPU time the browser's threads
spend on it says what the step would take on a quiet one. For the explorer (and with --baseline the
explorer of another checkout, e.g. the commit before a change), --rounds fresh pages each time the
first slider's decoder is in the browser, then --steps key steps are traced (Chrome's own trace,
thread CPU time of each top-level task). A step's window runs from its keydown's dispatch until the
page reports the new pixels painted (ARM_NEXT_IMAGE); the tasks starting in it are summed per
thread: the renderer's main thread (input, decode, drawing, style, layout, paint), its compositor,
and the GPU process's display compositor (software GL). Prints a table and writes
bench/results/step_cpu.json.

    .venv/bin/python -m bench.step_cpu [--rounds 3] [--steps 20] [--baseline DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
from pathlib import Path

from bench.gestures import focus_slider, key_steps
from bench.stats import percentile
from harness.browser import (
    CHROMIUM,
    CHROMIUM_FLAGS,
    READY,
    free_port,
    start_app,
)
from vae.cli.tables import format_table

ROOT = Path(__file__).resolve().parent.parent

THREADS = {"CrRendererMain": "renderer main", "Compositor": "renderer compositor",
           "VizCompositorThread": "GPU process compositor"}
CATEGORIES = ["devtools.timeline", "disabled-by-default-devtools.timeline", "toplevel", "v8", "blink", "cc", "viz"]


def step_cpu_ms(trace: dict, walls_ms: list[float]) -> list[dict[str, float]]:
    """Per step, CPU ms of each thread in THREADS over the step's window (see the module docstring)."""
    events = trace["traceEvents"]
    names = {(e["pid"], e["tid"]): e["args"]["name"] for e in events
             if e.get("ph") == "M" and e.get("name") == "thread_name"}
    keydowns = sorted(e["ts"] for e in events if e.get("name") == "EventDispatch"
                      and e.get("args", {}).get("data", {}).get("type") == "keydown")
    tasks = [(e["ts"], e["tdur"], THREADS[names[(e["pid"], e["tid"])]]) for e in events
             if e.get("ph") == "X" and e.get("name") == "RunTask" and "tdur" in e
             and names.get((e["pid"], e["tid"])) in THREADS]
    if len(keydowns) != len(walls_ms):
        raise RuntimeError(f"{len(keydowns)} keydowns traced for {len(walls_ms)} steps")
    steps = []
    for start, wall in zip(keydowns, walls_ms, strict=True):
        end = start + 1000 * wall
        cpu = dict.fromkeys(THREADS.values(), 0.0)
        for ts, tdur, thread in tasks:
            if start - 500 <= ts < end:  # the keydown's own task starts just before its dispatch
                cpu[thread] += tdur / 1000
        steps.append(cpu)
    return steps


def measure(browser, url: str, rounds: int, steps: int) -> dict[str, list]:
    cpu, walls = [], []
    for _ in range(rounds):
        page = browser.new_page(viewport={"width": 1500, "height": 1100})
        page.goto(url)
        page.wait_for_selector(READY, timeout=60_000)
        focus_slider(page)
        with tempfile.NamedTemporaryFile(suffix=".json") as trace:
            browser.start_tracing(page=page, path=trace.name, categories=CATEGORIES)
            round_walls = [1000 * screen_s for screen_s, _ in key_steps(page, steps)]
            browser.stop_tracing()
            cpu += step_cpu_ms(json.loads(Path(trace.name).read_text()), round_walls)
        walls += round_walls
        page.close()
    return {"cpu_ms": cpu, "wall_ms": walls}


def main() -> None:
    from playwright.sync_api import sync_playwright

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--baseline", type=Path, help="another checkout whose explorer is traced alongside")
    args = parser.parse_args()
    checkouts = {"explorer": (None, ROOT)}
    if args.baseline:  # a checkout from before `vae-lab serve` starts its explorer with `python -m ui.serve`
        old = not (args.baseline / "vae" / "cli" / "serve.py").is_file()
        checkouts[f"explorer at {args.baseline}"] = ([sys.executable, "-m", "ui.serve"] if old else None, args.baseline)
    results = {}
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        for name, (command, cwd) in checkouts.items():
            port = free_port()
            server = start_app(port, command=command, cwd=cwd)
            try:
                results[name] = measure(browser, f"http://127.0.0.1:{port}/", args.rounds, args.steps)
            finally:
                server.terminate()
                server.wait(timeout=20)
        browser.close()
    rows = []
    for name, r in results.items():
        totals = [sum(step.values()) for step in r["cpu_ms"]]
        per_thread = [round(statistics.median(step[t] for step in r["cpu_ms"]), 1) for t in THREADS.values()]
        rows.append((name, *per_thread, round(statistics.median(totals), 1), round(percentile(totals, 0.95), 1),
                     round(statistics.median(r["wall_ms"]), 1), round(percentile(r["wall_ms"], 0.95), 1)))
    print(format_table([f"slider step, {args.rounds} x {args.steps} steps (ms)",
                        *(f"{t} CPU p50" for t in THREADS.values()), "CPU total p50", "CPU total p95",
                        "on screen p50", "on screen p95"], rows))
    print(f"load average during the run: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    out = ROOT / "bench" / "results" / "step_cpu.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps({"results": results, "args": {**vars(args), "baseline": str(args.baseline)},
                               "load_average": os.getloadavg()}, indent=2))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
