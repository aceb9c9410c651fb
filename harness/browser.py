"""Start a Streamlit server and find Chromium: shared by the browser tests and bench/ (dev only, not shipped)."""

from __future__ import annotations

import contextlib
import io
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

from pages.explore.map_events import AREA_KEY

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--no-first-run"]
# The page has settled: no script run under way, and connected to its server (a busy server can drop the
# websocket for a moment; the page then reconnects, its widgets disabled until it has).
READY = "[data-testid=stApp][data-test-script-state=notRunning][data-test-connection-state=CONNECTED]"
# The explorer's live-decoder canvas, or the reference apps' st.image (the first on the page);
# img.decoded: the explorer before its canvas, for benches that measure an older checkout beside it.
DECODED_IMAGE = "canvas.decoded, img.decoded, [data-testid=stImage] img"
# The explorer's live decoder once the browser has its decoder (asked for when a slider gets focus).
BROWSER_DECODER = ".live-decoder[data-decoder=browser]"


# Servers this process started, by port: their process and log, for the report of a failed test.
STARTED: dict[int, tuple[subprocess.Popen, Path]] = {}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_app(port: int, script: str | None = None, env: dict | None = None, args: list[str] | None = None,
              command: list | None = None, cwd: Path = ROOT):
    """Start the explorer as run.sh does (`vae-lab serve`, or `command`, with `args` such as --checkpoints
    DIR), or another app `script` with `streamlit run` (`args` after `--`); wait until it answers."""
    log = tempfile.NamedTemporaryFile(prefix="streamlit-", suffix=".log", delete=False)  # noqa: SIM115
    options = ["--server.port", str(port), "--server.headless", "true", "--server.fileWatcherType", "none",
               "--browser.gatherUsageStats", "false"]
    if script is None:
        argv = [*(command or [sys.executable, "-m", "vae.cli", "serve"]), *options, *(args or [])]
    else:
        argv = [sys.executable, "-m", "streamlit", "run", script, *options, *(["--", *args] if args else [])]
    proc = subprocess.Popen(argv, cwd=cwd, env={**os.environ, **(env or {})}, stdout=log, stderr=subprocess.STDOUT)
    STARTED[port] = (proc, Path(log.name))
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=1) as r:
                if r.status == 200:
                    return proc
        except OSError:
            time.sleep(0.2)
        if proc.poll() is not None:
            raise RuntimeError(Path(log.name).read_text())
    proc.kill()
    raise RuntimeError("streamlit did not start")


@contextlib.contextmanager
def serving(checkpoints: Path, env: dict | None = None):
    """The explorer on a free port, listing the bundles in `checkpoints` too; yields its URL."""
    port = free_port()
    proc = start_app(port, env=env, args=["--checkpoints", str(checkpoints)])
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(timeout=20)


def failure_report(pages: list, ports: list[int], log_lines: int = 30) -> str:
    """What a failed browser test leaves to read in CI's output: each page's address, connection and
    script state and text, each server's state and the end of its log."""
    parts = []
    for page in pages:
        try:
            state = page.evaluate("""() => {
                const app = document.querySelector('[data-testid=stApp]');
                const s = app && app.dataset;
                return app ? [s.testConnectionState, s.testScriptState, app.innerText.slice(0, 1500)]
                           : ['no app', '', document.body.innerText.slice(0, 500)]; }""")
        except Exception as exc:  # noqa: BLE001 - a closed or crashed page is itself the news
            state = [f"unreadable ({exc})", "", ""]
        parts.append(f"page {page.url}: connection {state[0]}, script {state[1]}\n{state[2]}")
    for port in ports:
        proc, log = STARTED[port]
        tail = log.read_text(errors="replace").splitlines()[-log_lines:]
        alive = "running" if proc.poll() is None else f"exited with {proc.returncode}"
        parts.append(f"server on port {port}: {alive}; its log ends:\n" + "\n".join(tail))
    return "\n\n".join(parts)


def photo_jpeg(width: int = 4000, height: int = 3000) -> bytes:
    """A photo-sized JPEG (smooth shapes plus sensor-like noise, several MB) for upload tests."""
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:height, 0:width]
    photo = (127 + 100 * np.sin(xx / 300) * np.cos(yy / 200))[..., None] + rng.normal(0, 20, (height, width, 3))
    buffer = io.BytesIO()
    Image.fromarray(np.clip(photo, 0, 255).astype(np.uint8)).save(buffer, format="JPEG", quality=92)
    return buffer.getvalue()


def upload(page, name: str, mime: str, data: bytes) -> None:
    """Put a file into the page's Streamlit file uploader."""
    page.locator("[data-testid=stFileUploaderDropzoneInput]").set_input_files(
        {"name": name, "mimeType": mime, "buffer": data})


def attach(page, key: str, path: Path) -> None:
    """Put a file into the uploader with widget key `key` and wait until it lists the file and the rerun it
    started is over: a second uploader set during that rerun can lose its file."""
    uploader = page.locator(f".st-key-{key}")
    uploader.locator("input[type=file]").set_input_files(str(path))
    uploader.get_by_text(path.name).wait_for(timeout=60_000)
    page.wait_for_selector(READY, timeout=60_000)


# The map's point traces (those with each point's index in customdata: a trace per class on the
# Explore map, one trace elsewhere) that are drawn, i.e. not hidden by a legend click.
POINT_TRACES = "(gd) => gd._fullData.filter(t => t.customdata && t.visible === true)"
DRAWN_POINTS = f"() => ({POINT_TRACES})(document.querySelector('.js-plotly-plot')).reduce((n, t) => n + t._length, 0)"
EVERY_POINT_TRACE = "(gd) => gd._fullData.filter(t => t.customdata)"  # those the legend hides too


# Chart `gd` is drawn at its final size. Streamlit draws a chart that fills its container at the figure's height
# first and then at the container's, so its points move once after they first appear; the container of the
# Explore map is fitted to the window by the map's companion (map_events.js) before that.
FINAL_SIZE = f"""(gd) => {{
    const area = gd.closest('.st-key-{AREA_KEY}'), element = gd.closest('[data-testid=stElementContainer]');
    if (!gd._fullLayout || (area && !area.parentElement.style.height)) return false;
    return !element || Math.abs(gd._fullLayout.height - element.getBoundingClientRect().height) < 1;
}}"""


def wait_final_size(page, plot: str = "document.querySelector('.js-plotly-plot')", timeout_ms: int = 30_000) -> None:
    """Wait until the chart `plot` (a JS expression) is drawn at its final size: before, its points still move."""
    page.wait_for_function(f"() => {{ const gd = {plot}; return Boolean(gd) && ({FINAL_SIZE})(gd); }}",
                           timeout=timeout_ms)


def screen_points(page, plot: str, traces: str = POINT_TRACES) -> list[list[float]]:
    """[page x, page y, test index] of every point of the chart `plot` (a JS expression) in `traces`."""
    wait_final_size(page, plot)
    return page.evaluate(f"""() => {{
        const gd = {plot}, xa = gd._fullLayout.xaxis, ya = gd._fullLayout.yaxis;
        const box = gd.querySelector('.nsewdrag').getBoundingClientRect(), out = [];
        for (const t of ({traces})(gd)) for (let i = 0; i < t.x.length; i++)
            out.push([box.left + xa.l2p(t.x[i]), box.top + ya.l2p(t.y[i]), t.customdata[i]]);
        return out;
    }}""")


def drag_box(page, left: float, top: float, right: float, bottom: float) -> None:
    """Pick the box-select tool and drag a box, as a person does."""
    page.mouse.move((left + right) / 2, (top + bottom) / 2)  # the mode bar shows on hover
    page.locator('.modebar-btn[data-attr="dragmode"][data-val="select"]').first.click()
    page.mouse.move(left, top)
    page.mouse.down()
    page.mouse.move((left + right) / 2, (top + bottom) / 2, steps=5)
    page.mouse.move(right, bottom, steps=5)
    page.mouse.up()


def point_on_screen(page, index: int, chart: int = 0) -> tuple[float, float]:
    """Page coordinates of the `index`-th drawn point of the map (counted over its point traces in
    order) on the page's `chart`-th Plotly chart."""
    # Right after a rerun the chart can be missing for a moment (bench/map_scale.py met it once).
    page.wait_for_function("(c) => document.querySelectorAll('.js-plotly-plot')[c]?._fullData?.[1]", arg=chart,
                           timeout=30_000)
    wait_final_size(page, f"document.querySelectorAll('.js-plotly-plot')[{int(chart)}]")
    return tuple(page.evaluate(f"""([i, c]) => {{
        const gd = document.querySelectorAll('.js-plotly-plot')[c];
        const xa = gd._fullLayout.xaxis, ya = gd._fullLayout.yaxis;
        const box = gd.querySelector('.nsewdrag').getBoundingClientRect();
        for (const t of ({POINT_TRACES})(gd)) {{
            if (i < t._length) return [box.left + xa.l2p(t.x[i]), box.top + ya.l2p(t.y[i])];
            i -= t._length;
        }}
        return null;
    }}""", [index, chart]))


def isolated_point(page, start: int = 0, min_px: float = 3, chart: int = 0) -> int:
    """The first drawn map point from `start` on (counted as `point_on_screen` does) with no other
    marker of any trace within `min_px` on screen: Plotly gives a click to the nearest of overlapping
    points, so only a click on such a point must select it."""
    wait_final_size(page, f"document.querySelectorAll('.js-plotly-plot')[{int(chart)}]")
    return int(page.evaluate(f"""([start, minPx, c]) => {{
        const gd = document.querySelectorAll('.js-plotly-plot')[c];
        const xa = gd._fullLayout.xaxis, ya = gd._fullLayout.yaxis;
        const cells = new Map(), key = (x, y) => `${{Math.floor(x / minPx)}},${{Math.floor(y / minPx)}}`;
        const screen = (t, i) => [xa.l2p(t.x[i]), ya.l2p(t.y[i])];
        for (const t of gd._fullData.filter(t => t.visible === true && t.x)) {{
            for (let i = 0; i < t._length; i++) {{
                const k = key(...screen(t, i));
                cells.set(k, (cells.get(k) || 0) + 1);
            }}
        }}
        let n = 0;
        for (const t of ({POINT_TRACES})(gd)) {{
            for (let i = 0; i < t._length; i++, n++) {{
                if (n < start) continue;
                const [x, y] = screen(t, i);
                const [cx, cy] = [Math.floor(x / minPx), Math.floor(y / minPx)];
                let near = 0;
                for (let dx = -1; dx <= 1; dx++) {{
                    for (let dy = -1; dy <= 1; dy++) near += cells.get(`${{cx + dx}},${{cy + dy}}`) || 0;
                }}
                if (near === 1) return n;
            }}
        }}
        return null;
    }}""", [start, min_px, chart]))


def point_index(page, index: int, chart: int = 0) -> int:
    """The test index (customdata) of the `index`-th drawn point, counted as `point_on_screen` does."""
    return int(page.evaluate(f"""([i, c]) => {{
        for (const t of ({POINT_TRACES})(document.querySelectorAll('.js-plotly-plot')[c])) {{
            if (i < t._length) return t.customdata[i];
            i -= t._length;
        }}
        return null;
    }}""", [index, chart]))


def click_map_point(page, index: int, registered, attempts: int = 3) -> None:
    """Click map point `index` until `registered(timeout_ms)` stops raising.

    Streamlit sometimes redraws a freshly mounted chart once more, and a click that lands during that
    redraw is dropped (a person would click again); `registered` waits for the click's visible effect,
    longer at each try (5, 10, 20 s) so that a busy machine's slow answer is not taken for a lost click.
    """
    retry(lambda: page.mouse.click(*point_on_screen(page, index)), registered, attempts, 5_000)


def retry(act, registered, attempts: int, first_ms: int) -> None:
    """`act()`, then `registered(timeout_ms)`; again while it raises Playwright's timeout, waiting twice as
    long each time (a busy machine's slow answer is not taken for a lost gesture)."""
    for attempt in range(attempts):
        act()
        try:
            registered(first_ms * 2**attempt)
            return
        except PlaywrightTimeoutError:
            if attempt == attempts - 1:
                raise


def click_until(page, target, registered, attempts: int = 3) -> None:
    """Click `target` once the page has settled, again while `registered(timeout_ms)` raises.

    A click that lands while Streamlit swaps the element in during a rerun is lost (a person would
    click again); `registered` waits for the click's visible effect, longer at each try.
    """
    def act() -> None:
        page.wait_for_selector(READY, timeout=60_000)
        if target.count():  # gone when an earlier click did land, late
            target.click()

    target.wait_for(timeout=60_000)
    retry(act, registered, attempts, 10_000)


def download(page, button, attempts: int = 3) -> bytes:
    """Click a download button until a download arrives; its bytes.

    A click that lands while Streamlit swaps the button in during a rerun starts no download (a person
    would click again), so each try waits for the page to settle first.
    """
    for attempt in range(1, attempts + 1):
        page.wait_for_selector(READY, timeout=60_000)
        try:
            with page.expect_download(timeout=20_000) as started:
                button.click()
            return Path(started.value.path()).read_bytes()
        except PlaywrightTimeoutError:
            if attempt == attempts:
                raise


def refuse_outside(context, origin: str) -> list[str]:
    """Let the browser `context` reach `origin` only: every other request is aborted and its URL
    added to the list returned (which a test expects empty)."""
    outside = []

    def route(route):
        if route.request.url.startswith(origin + "/"):
            route.continue_()
        else:
            outside.append(route.request.url)
            route.abort()

    context.route("**/*", route)
    return outside
