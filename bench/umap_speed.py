"""How soon a UMAP map of 10k latent codes exists, against umap-learn's default fit (the anchor).

Every run is a new Python process, because numba compiles UMAP's kernels once per process and
that compilation dominated a job's map (issue #16). Rows, run round-robin so that the machine's
load drifts across all of them alike:

- umap-learn default: `umap.UMAP().fit_transform(codes)`, process start to map (the anchor);
- fast path, fresh process: `vae.latent.projection.umap_2d` (exact kNN, 200 epochs, kernels from
  numba's disk cache primed by scripts/setup.sh), process start to map;
- fast path, empty numba cache (`--cold`): the same with NUMBA_CACHE_DIR empty (never primed);
- warm worker: what a training job waits after saving its bundle: a fresh `vae.latent.projection_worker`
  warms up (during training, in a job), then bundle in → UMAP map committed;
- training CLI (`--end-to-end`, needs Fashion-MNIST): a 1-epoch MLP with a 16-D latent, from the
  last epoch's end to the UMAP map saved, read from the run's events.

Trustworthiness (scikit-learn, k=10) of each map against the codes it maps. "CPU s" is the
process' CPU time (the worker's for its request; all threads' for the anchor, whose
layout runs on every core): on a busy machine, the wall time a quiet one would need is closer to it.
Prints a table and writes bench/results/umap_speed.json.

    .venv/bin/python -m bench.umap_speed [--bundle checkpoints/fashion-mnist-conv-z16] [--repeats 3]
        [--cold] [--end-to-end]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from vae.cli.tables import format_table

ROOT = Path(__file__).resolve().parent.parent

FIT = r"""
import json, sys, time
t0 = time.perf_counter()
import numpy as np
codes = np.load(sys.argv[1])["mu"]
import umap
if sys.argv[2] == "anchor":
    fit_start = time.perf_counter()
    xy = umap.UMAP().fit_transform(codes)
else:
    import torch
    from vae.latent.projection import umap_2d
    fit_start = time.perf_counter()
    xy = umap_2d(codes, seed=0)["xy"]
done = time.perf_counter()
np.save(sys.argv[3], xy)
print(json.dumps({"total_s": done - t0, "fit_s": done - fit_start, "cpu_s": time.process_time()}))
"""

WORKER = r"""
import json, sys, time
from vae.latent.projection_worker import ProjectionWorker
from vae.bundle import load_bundle
worker = ProjectionWorker.start()
try:
    warm = worker.wait_until_warm()
    t0 = time.perf_counter()
    cpu = worker.project(sys.argv[1], seed=0)["cpu_s"]
    total = time.perf_counter() - t0
finally:
    worker.close()
import numpy as np
np.save(sys.argv[2], load_bundle(sys.argv[1]).projections["umap"]["xy"])
print(json.dumps({"total_s": total, "warm_up_s": warm, "cpu_s": cpu}))
"""


def child(args: list[str], env: dict | None = None) -> dict:
    started = os.getloadavg()[0]
    out = subprocess.run([sys.executable, *args], capture_output=True, text=True, env=env, check=True, cwd=ROOT)
    return {**json.loads(out.stdout.strip().splitlines()[-1]), "load_before": round(started, 2)}


def end_to_end(workdir: Path) -> dict:
    """A 1-epoch training run: seconds from the last epoch's end to the bundle, and to its UMAP map."""
    out = workdir / "run"
    started = os.getloadavg()[0]
    subprocess.run([sys.executable, "-m", "vae.cli", "train", "--dataset", "fashion-mnist", "--arch", "mlp",
                    "--latent-dim", "16", "--epochs", "1", "--live-map", "0", "--device", "cpu", "--overwrite",
                    "--out", str(out)], cwd=ROOT, check=True, capture_output=True,
                   env={**os.environ, "TQDM_DISABLE": "1"})
    events = {}
    for line in (out / "events.jsonl").read_text().splitlines():
        event = json.loads(line)
        events[event["event"]] = event
    times = {name: event["time"] for name, event in events.items()}
    latents = np.load(out / "latents.npz")["mu"]
    xy = np.load(out / "projection_umap.npz")["xy"]
    return {"total_s": times["projection_saved"] - times["train_end"],
            "bundle_s": times["bundle_saved"] - times["train_end"], "cpu_s": events["projection_saved"]["cpu_s"],
            "load_before": round(started, 2), "codes": latents, "xy": xy}


def trustworthiness_of(codes: np.ndarray, xy: np.ndarray, cache: dict) -> float:
    """scikit-learn's trustworthiness (k=10), once per distinct map."""
    from sklearn.manifold import trustworthiness

    key = hashlib.sha256(codes.tobytes() + xy.tobytes()).hexdigest()
    if key not in cache:
        cache[key] = float(trustworthiness(codes, xy, n_neighbors=10))
    return cache[key]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bundle", default=str(ROOT / "checkpoints" / "fashion-mnist-conv-z16"))
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--cold", action="store_true", help="add the fast path with an empty numba cache")
    parser.add_argument("--end-to-end", action="store_true", help="add 1-epoch training runs (Fashion-MNIST)")
    args = parser.parse_args()
    bundle = Path(args.bundle)
    codes = np.load(bundle / "latents.npz")["mu"]
    rows = {"umap-learn default (anchor)": "anchor", "fast path, fresh process": "fast"}
    if args.cold:
        rows["fast path, fresh process, empty numba cache"] = "cold"
    rows["fast path, warm worker (bundle in -> map saved)"] = "worker"
    if args.end_to_end:
        rows["training CLI: last epoch -> UMAP map saved"] = "train"
    runs: dict[str, list[dict]] = {label: [] for label in rows}
    cache: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        for repeat in range(args.repeats):
            for label, kind in rows.items():
                xy_file = work / f"{kind}-{repeat}.npy"
                if kind in ("anchor", "fast", "cold"):
                    env = dict(os.environ)
                    if kind == "cold":
                        env["NUMBA_CACHE_DIR"] = tempfile.mkdtemp(dir=work)
                    run = child(["-c", FIT, str(bundle / "latents.npz"), kind, str(xy_file)], env)
                    mapped = codes
                elif kind == "worker":
                    copy = work / f"bundle-{repeat}"
                    shutil.copytree(bundle, copy)
                    run = child(["-c", WORKER, str(copy), str(xy_file)])
                    mapped = codes
                else:
                    run = end_to_end(work)
                    mapped = run.pop("codes")
                    np.save(xy_file, run.pop("xy"))
                run["trustworthiness"] = trustworthiness_of(mapped, np.load(xy_file), cache)
                runs[label].append(run)
                print(f"[{repeat + 1}/{args.repeats}] {label}: {run['total_s']:.1f} s, "
                      f"T={run['trustworthiness']:.4f}, load {run['load_before']}", flush=True)
    summary = {}
    for label, results in runs.items():
        summary[label] = {key: statistics.median(r[key] for r in results)
                          for key in ("total_s", "cpu_s", "trustworthiness", "load_before", "fit_s", "warm_up_s",
                                      "bundle_s")
                          if key in results[0]}
    anchor = summary["umap-learn default (anchor)"]
    table = []
    for label, s in summary.items():
        extra = (f"fit {s['fit_s']:.1f} s" if "fit_s" in s else
                 f"warm-up {s['warm_up_s']:.1f} s, during training" if "warm_up_s" in s else
                 f"bundle saved after {s['bundle_s']:.1f} s")
        own_codes = rows[label] == "train"  # another model's codes: no same-codes comparison
        table.append((label, len(runs[label]), f"{s['total_s']:.1f}", f"{s['cpu_s']:.1f}", extra,
                      f"{s['trustworthiness']:.4f}",
                      "-" if own_codes else f"{s['trustworthiness'] - anchor['trustworthiness']:+.4f}",
                      "-" if own_codes else f"{anchor['total_s'] / s['total_s']:.1f}x", f"{s['load_before']:.1f}"))
    print(f"\n{len(codes):,} codes of {bundle.name} ({codes.shape[1]}-D); medians of {args.repeats} fresh processes")
    print(format_table(["method", "runs", "s to map", "CPU s", "of which", "trustworthiness", "vs anchor",
                        "speed-up", "load"], table))
    out = ROOT / "bench" / "results" / "umap_speed.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps({"bundle": str(bundle), "n": len(codes), "repeats": args.repeats,
                               "cpus": os.cpu_count(), "summary": summary, "runs": runs,
                               "when": time.strftime("%Y-%m-%d %H:%M:%S")}, indent=2))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
