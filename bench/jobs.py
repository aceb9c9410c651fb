"""A training job's overhead on each engine: submit -> first progress event, and cancel -> stopped, local vs Ray.

Each round starts the same long job (synthetic images, MLP, 2-D latent) through the engine's registry, as the
Train page does, times the first `step_end` event in its events log from the call to `start`, then cancels it
and times the call to `cancel` until the registry reports it ended (the trainer ends its step and saves the
last epoch's bundle). Ray runs on a head this bench starts on this machine (`harness/ray_head.py`), or on
`--ray-address`. Prints a table of medians and writes bench/results/jobs.json.

    .venv/bin/python -m bench.jobs [--rounds 3] [--ray-address http://HEAD:8265]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import platform
import statistics
import tempfile
import time
from pathlib import Path

from harness.ray_head import ray_head
from vae.cli.tables import format_table
from vae.job_engine import LOCAL, RAY, choose
from vae.training import events as ev
from vae.training.backend import registry
from vae.training.events import read_events
from vae.training.jobs import TrainRequest

TIMEOUT_S = 300


def _until(predicate, timeout: float = TIMEOUT_S) -> float:
    """Seconds until `predicate()` holds (polled every 50 ms)."""
    started = time.perf_counter()
    while not predicate():
        if time.perf_counter() - started > timeout:
            raise TimeoutError("the job did not get there in time")
        time.sleep(0.05)
    return time.perf_counter() - started


def one_round(jobs, name: str) -> tuple[float, float]:
    """(submit -> first progress event, cancel -> stopped) in seconds for one job."""
    request = TrainRequest(name=name, dataset="synthetic", arch="mlp", latent_dim=2, epochs=1000, batch_size=64)
    started = time.perf_counter()
    job = jobs.start(request)
    events = job.out_path / ev.EVENTS_FILE
    _until(lambda: any(e["event"] == ev.STEP_END for e in read_events(events)))
    first_progress = time.perf_counter() - started
    started = time.perf_counter()
    jobs.cancel()
    _until(lambda: not jobs.current().running)
    return first_progress, time.perf_counter() - started


def measure(kind: str, address: str | None, rounds: int, folder: Path) -> dict:
    jobs = registry(folder / kind, choose(kind, address))
    results = [one_round(jobs, f"{kind}-{i}") for i in range(rounds)]
    firsts, stops = [r[0] for r in results], [r[1] for r in results]
    return {"engine": kind, "submit_to_first_progress_s": firsts, "cancel_to_stopped_s": stops,
            "median_first_progress_s": statistics.median(firsts), "median_stopped_s": statistics.median(stops)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--ray-address", help="an existing head's dashboard (default: start one here)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-jobs-") as tmp:
        local = measure(LOCAL, None, args.rounds, Path(tmp))
        with contextlib.ExitStack() as heads:
            address = args.ray_address or heads.enter_context(ray_head()).address
            ray = measure(RAY, address, args.rounds, Path(tmp))
    rows = [(r["engine"], round(r["median_first_progress_s"], 2), round(r["median_stopped_s"], 2))
            for r in (local, ray)]
    print(format_table(["engine", "submit -> first progress s (median)", "cancel -> stopped s (median)"], rows))
    out = Path(__file__).resolve().parent / "results" / "jobs.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps({"rounds": args.rounds, "machine": platform.machine(), "job": "synthetic mlp z2",
                               "ray_head": "given" if args.ray_address else "started here", "results": [local, ray]},
                              indent=2))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
