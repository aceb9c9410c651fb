"""Many users on one server: slider latency with 1 and with N concurrent Chromium sessions.

One Streamlit server on the shipped models. First a single session moves a slider for --seconds,
then --sessions sessions do the same at once, each one a separate browser context (a separate
Streamlit session). Each step is an arrow key on the first slider, timed from the key press (as the
page received it) until the new decoded pixels are painted (the page reports it, see ARM_NEXT_IMAGE:
polling ten pages would load the machine itself), and by the driver, from Playwright's key press
until the page reports it; then --think-ms of pause, as a person dragging would; every 20 steps the
slider turns round after --gesture-pause-ms, long enough for the gesture to settle, so the
explorer sends each gesture's code to the server (its one server round trip per gesture: the
browser decodes the steps itself once a slider has had focus, and timing starts after that).
Errors are steps that time out and exceptions shown on a page. The server's resident memory is sampled throughout:
the model is cached once per process, so extra sessions must not add a model's worth each.
Prints a table and writes bench/results/load.json.

    .venv/bin/python -m bench.load [--sessions 10] [--seconds 60] [--think-ms 250] [--gesture-pause-ms 1500]
                                   [--script bench/trivial_app.py]

With --script bench/trivial_app.py the same load runs against the one-slider reference app, which
shows how much of the slowdown under load is this machine's browsers rather than the explorer.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import threading
import time
from pathlib import Path

from bench.gestures import ARM_NEXT_IMAGE, NEXT_IMAGE, SWING, step_key
from bench.stats import percentile
from harness.browser import (
    BROWSER_DECODER,
    CHROMIUM,
    CHROMIUM_FLAGS,
    DECODED_IMAGE,
    READY,
    free_port,
    start_app,
)
from vae.cli.tables import format_table

ROOT = Path(__file__).resolve().parent.parent


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


class RssSampler(threading.Thread):
    """Samples the server's RSS every 0.5 s; `peak` and `last` are in MB."""

    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.pid, self.peak, self.last, self.running = pid, 0.0, 0.0, True

    def run(self) -> None:
        while self.running:
            self.last = rss_mb(self.pid)
            self.peak = max(self.peak, self.last)
            time.sleep(0.5)


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def machine_busy_seconds() -> float:
    """CPU seconds the whole machine has spent busy (all cores), from /proc/stat."""
    values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = values[3] + values[4]
    return (sum(values) - idle) / os.sysconf("SC_CLK_TCK")


async def open_session(browser, url: str, viewport: tuple[int, int], with_map: bool):
    context = await browser.new_context(viewport={"width": viewport[0], "height": viewport[1]})
    page = await context.new_page()
    await page.goto(url)
    await page.wait_for_selector(DECODED_IMAGE, timeout=120_000)
    if with_map:
        await page.wait_for_function("() => document.querySelector('.js-plotly-plot')?._fullData?.length > 1",
                                     timeout=120_000)
    await page.wait_for_selector(READY, timeout=120_000)
    return context, page


async def drive(page, seconds: float, think_s: float, gesture_pause_s: float) -> dict:
    """Step the first slider back and forth for `seconds`; latency of each step, and errors."""
    slider = page.get_by_role("slider").first
    await slider.focus()
    if await page.locator(".live-decoder").count():
        await page.wait_for_selector(BROWSER_DECODER, timeout=60_000)
    latencies, driver, errors, step = [], [], 0, 0
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        await page.evaluate(ARM_NEXT_IMAGE, DECODED_IMAGE)
        started = time.perf_counter()
        await page.keyboard.press(step_key(step))  # to the focused slider (bench/gestures.py's key_steps)
        try:
            marks = await asyncio.wait_for(page.evaluate(NEXT_IMAGE), timeout=15)
            driver.append(time.perf_counter() - started)
            latencies.append((marks["shown"] - marks["start"]) / 1000)
        except Exception:  # a step that never shows its image counts as an error
            errors += 1
        step += 1
        await asyncio.sleep(gesture_pause_s if step % SWING == 0 else think_s)
    errors += await page.locator("[data-testid=stException]").count()
    return {"latencies": latencies, "driver": driver, "errors": errors}


async def phase(browser, url: str, server_pid: int, sessions: int, args: argparse.Namespace,
                viewport: tuple[int, int], with_map: bool) -> dict:
    opened = await asyncio.gather(*(open_session(browser, url, viewport, with_map) for _ in range(sessions)))
    server_before, machine_before, started = cpu_seconds(server_pid), machine_busy_seconds(), time.monotonic()
    results = await asyncio.gather(*(drive(page, args.seconds, args.think_ms / 1000, args.gesture_pause_ms / 1000)
                                     for _, page in opened))
    wall = time.monotonic() - started
    server_cpu = (cpu_seconds(server_pid) - server_before) / wall
    machine_cpu = (machine_busy_seconds() - machine_before) / wall
    for context, _ in opened:
        await context.close()
    latencies = [v for r in results for v in r["latencies"]]
    driver = [v for r in results for v in r["driver"]]
    return {
        "sessions": sessions, "steps": len(latencies), "errors": sum(r["errors"] for r in results),
        "p50_ms": 1000 * statistics.median(latencies) if latencies else float("nan"),
        "p95_ms": 1000 * percentile(latencies, 0.95), "steps_per_s": len(latencies) / args.seconds,
        "driver_p50_ms": 1000 * statistics.median(driver) if driver else float("nan"),
        "driver_p95_ms": 1000 * percentile(driver, 0.95),
        "server_cpu_cores": server_cpu, "machine_cpu_cores": machine_cpu, "cores": os.cpu_count(),
        "latencies_s": latencies,
    }


async def run(args: argparse.Namespace) -> dict:
    from playwright.async_api import async_playwright

    port = free_port()
    server = start_app(port, args.script)
    sampler = RssSampler(server.pid)
    sampler.start()
    try:
        async with async_playwright() as p:
            browser = await p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
            url = f"http://127.0.0.1:{port}/"
            idle_rss = rss_mb(server.pid)
            viewport = tuple(int(v) for v in args.viewport.split("x"))
            with_map = args.script is None
            single = await phase(browser, url, server.pid, 1, args, viewport, with_map)
            single_rss = sampler.last
            many = await phase(browser, url, server.pid, args.sessions, args, viewport, with_map)
            await browser.close()
    finally:
        sampler.running = False
        server.terminate()
        server.wait(timeout=30)
    return {"single": single, "many": many, "rss_mb": {"idle": idle_rss, "after_single": single_rss,
                                                         "peak": sampler.peak}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sessions", type=int, default=10)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--think-ms", type=float, default=250)
    parser.add_argument("--gesture-pause-ms", type=float, default=1500, help="pause every 20 steps")
    parser.add_argument("--script", help="another app to load instead of the explorer: bench/trivial_app.py, "
                                           "the reference")
    parser.add_argument("--viewport", default="1500x1100", help="each browser window, WIDTHxHEIGHT")
    args = parser.parse_args()
    result = asyncio.run(run(args))
    single, many, rss = result["single"], result["many"], result["rss_mb"]
    rows = [(f"{r['sessions']} session(s)", r["steps"], round(r["steps_per_s"], 1), round(r["p50_ms"], 1),
             round(r["p95_ms"], 1), round(r["driver_p50_ms"]), round(r["driver_p95_ms"]), r["errors"],
             round(r["server_cpu_cores"], 2), f"{r['machine_cpu_cores']:.2f} of {r['cores']}") for r in (single, many)]
    print(format_table(["load", "steps", "steps/s", "p50 ms", "p95 ms", "driver p50 ms", "driver p95 ms", "errors",
                        "server CPU (cores)", "machine CPU (cores)"], rows))
    ratio = many["p95_ms"] / single["p95_ms"]
    print(f"p95 with {args.sessions} sessions / p95 alone: {ratio:.2f}x (target <= 2), errors: {many['errors']}")
    print(f"server RSS: idle {rss['idle']:.0f} MB, after one session {rss['after_single']:.0f} MB, "
          f"peak with {args.sessions} sessions {rss['peak']:.0f} MB")
    name = "load.json" if args.script is None else f"load-{Path(args.script).stem}.json"
    out = ROOT / "bench" / "results" / name
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps({**result, "p95_ratio": ratio, "args": vars(args)}, indent=2))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
