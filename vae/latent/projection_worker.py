"""The UMAP map of a new bundle, from a process that warms up while training runs.

In a new process, importing umap-learn and loading its compiled kernels takes seconds, so the
training CLI starts this worker together with the training and hands it the bundle once it is
saved: the bundle is openable at once with its PCA map, and the worker adds the UMAP map a few
seconds later (`add_projection` commits atomically, so a reader sees one map or the other).

On stdout, `{"ready": seconds}` once warm; then one JSON request line on stdin (`{"bundle": path,
"seed": n}`) gets one reply line (`{"seconds": s, "cpu_s": s}` or `{"error": message}`); an
empty stdin (no bundle was saved) ends it. It ignores SIGINT and SIGTERM: Ctrl-C and the Train
page's Cancel signal the whole process group, and a cancelled run's bundle still gets its map.
SIGKILL (the page's Force stop) ends it.

    python -m vae.latent.projection_worker --prime   # fill numba's disk cache once (scripts/setup.sh)
"""

from __future__ import annotations

import argparse
import json
import logging
import queue
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import IO, Any

from vae.commands import PROJECTION_WORKER, python_module

log = logging.getLogger(__name__)
TIMEOUT_S = 600.0
STOP_SIGNALS = {signal.SIGINT, signal.SIGTERM}  # Ctrl-C, and the Train page's Cancel


class ProjectionFailed(RuntimeError):
    """The worker gave no map (it crashed, was killed, timed out, or the fit failed)."""


def warm_up() -> float:
    """Run every kernel a fit uses once, on a few random codes; seconds taken (compiling or loading)."""
    import numpy as np

    import vae.bundle  # noqa: F401  (imported now rather than when the bundle arrives)
    from vae.latent.projection import umap_2d

    started = time.monotonic()
    umap_2d(np.random.default_rng(0).normal(size=(64, 4)).astype(np.float32), n_epochs=10)
    return time.monotonic() - started


def project_bundle(bundle: str | Path, seed: int) -> dict[str, float]:
    """Add the UMAP map to a saved bundle (of a sample, the rest placed, for a large one); the wall
    and CPU seconds it took."""
    from vae.bundle import add_projection, load_bundle
    from vae.latent.large_map import sampled_umap_2d

    started, cpu_started = time.monotonic(), time.process_time()
    add_projection(bundle, "umap", sampled_umap_2d(load_bundle(bundle).mu, seed=seed))
    return {"seconds": round(time.monotonic() - started, 3), "cpu_s": round(time.process_time() - cpu_started, 3)}


def serve(requests: IO[str], replies: IO[str]) -> None:
    """Warm up and say so, then answer one request (nothing when `requests` ends first)."""
    replies.write(json.dumps({"ready": round(warm_up(), 2)}) + "\n")
    replies.flush()
    line = requests.readline()
    if not line.strip():
        return
    try:
        request = json.loads(line)
        reply = project_bundle(request["bundle"], int(request.get("seed", 0)))
    except Exception as exc:  # reported to the CLI, which keeps the PCA-only bundle
        log.exception("UMAP map failed")
        reply = {"error": f"{type(exc).__name__}: {exc}"}
    replies.write(json.dumps(reply) + "\n")
    replies.flush()


class ProjectionWorker:
    """The CLI's handle on one worker process: start it early, `project` once, `close`."""

    def __init__(self, proc: subprocess.Popen) -> None:
        self.proc = proc
        self._lines: queue.Queue[str] = queue.Queue()  # a thread reads them: no select on a buffered pipe
        self._reader = threading.Thread(target=self._read_lines, daemon=True, name=f"umap-worker-{proc.pid}")
        self._reader.start()

    @classmethod
    def start(cls) -> ProjectionWorker:
        """A new worker, warming up from now on."""
        # The child starts with the stop signals blocked (a mask survives exec) and ignores them
        # before it unblocks them, so no Cancel can catch it half-started; here they only wait.
        previous = signal.pthread_sigmask(signal.SIG_BLOCK, STOP_SIGNALS)
        try:
            proc = subprocess.Popen(python_module(PROJECTION_WORKER),
                                    stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        finally:
            signal.pthread_sigmask(signal.SIG_SETMASK, previous)
        return cls(proc)

    def wait_until_warm(self, timeout: float = TIMEOUT_S) -> float:
        """Block until the worker has warmed up; the seconds that took (benchmarks)."""
        message = self._next_message(time.monotonic() + timeout)
        if "ready" not in message:
            raise ProjectionFailed(message.get("error", f"unexpected {message}"))
        return float(message["ready"])

    def project(self, bundle: Path, seed: int, timeout: float = TIMEOUT_S) -> dict[str, float]:
        """Have the worker add the UMAP map to `bundle`; its wall and CPU seconds, or ProjectionFailed.

        Returns on the reply line, not on the worker's exit (tearing down numba and torch took
        seconds on a busy machine); the map is committed before the reply is sent.
        """
        deadline = time.monotonic() + timeout
        request = json.dumps({"bundle": str(Path(bundle).resolve()), "seed": seed}) + "\n"
        try:
            self.proc.stdin.write(request)
            self.proc.stdin.close()
        except BrokenPipeError:
            pass  # it ended early; the reply below says how
        reply = self._next_message(deadline)
        if "ready" in reply:  # the warm-up report, unless wait_until_warm took it
            reply = self._next_message(deadline)
        if "error" in reply:
            raise ProjectionFailed(reply["error"])
        return {"seconds": float(reply["seconds"]), "cpu_s": float(reply["cpu_s"])}

    def close(self) -> None:
        """End the worker if it still runs (no bundle to map, or it took too long)."""
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
        if not self.proc.stdin.closed:
            self.proc.stdin.close()
        self._reader.join(timeout=5)  # it reads to the end of the pipe, then the pipe can go
        if not self._reader.is_alive():
            self.proc.stdout.close()

    def _read_lines(self) -> None:
        for line in self.proc.stdout:
            self._lines.put(line)
        self._lines.put("")  # the worker ended

    def _next_message(self, deadline: float) -> dict[str, Any]:
        try:
            line = self._lines.get(timeout=max(0.0, deadline - time.monotonic()))
        except queue.Empty:
            self.close()
            raise ProjectionFailed("the UMAP worker did not answer in time") from None
        if not line.strip():
            return {"error": f"the UMAP worker ended (exit status {self.proc.wait()})"}
        try:
            return json.loads(line)
        except ValueError:
            return {"error": f"the UMAP worker said {line.strip()[:200]!r}"}


def main(argv: list[str] | None = None) -> int:
    for stop in STOP_SIGNALS:  # ignored before unblocked: one that came during start-up is dropped
        signal.signal(stop, signal.SIG_IGN)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, STOP_SIGNALS)
    import torch

    torch.set_num_threads(1)  # it warms up beside the training; UMAP's layout is serial anyway
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    parser = argparse.ArgumentParser(prog="python -m vae.latent.projection_worker", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--prime", action="store_true", help="warm up (compile into numba's cache) and exit")
    args = parser.parse_args(argv)
    if args.prime:
        print(f"UMAP kernels ready in numba's cache ({warm_up():.1f} s)")
        return 0
    replies, sys.stdout = sys.stdout, sys.stderr  # stray prints must not garble the reply line
    serve(sys.stdin, replies)
    return 0


if __name__ == "__main__":
    sys.exit(main())
