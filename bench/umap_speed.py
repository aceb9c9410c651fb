"""How long a UMAP map of a bundle's latent codes takes in a fresh process, by method.

Every variant runs in its own new Python process, because numba compiles UMAP's kernels once
per process and that compilation, not the fit, dominates here. Prints a table and writes
bench/results/umap_speed.json.

    .venv/bin/python -m bench.umap_speed [checkpoints/fashion-mnist-conv-z16] [--repeats 1]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from vae.cli.tables import format_table

ROOT = Path(__file__).resolve().parent.parent

VARIANTS = {
    "umap default (spectral init, pynndescent)": "default",
    "init=pca": "pca-init",
    "init=pca + exact kNN precomputed (sklearn)": "precomputed",
    "vae.latent.projection.umap_2d (what bundles use)": "library",
}

CHILD = r"""
import json, sys, time
t0 = time.perf_counter()
import numpy as np
codes = np.load(sys.argv[1])["mu"]
variant = sys.argv[2]
import umap
t1 = time.perf_counter()
if variant == "default":
    xy = umap.UMAP(random_state=0).fit_transform(codes)
elif variant == "pca-init":
    xy = umap.UMAP(random_state=0, init="pca").fit_transform(codes)
elif variant == "precomputed":
    from vae.latent.projection import exact_knn
    knn = exact_knn(codes, 15)
    xy = umap.UMAP(random_state=0, init="pca", precomputed_knn=knn).fit_transform(codes)
else:
    from vae.latent.projection import umap_2d
    xy = umap_2d(codes, seed=0)["xy"]
t2 = time.perf_counter()
print(json.dumps({"import_s": t1 - t0, "fit_s": t2 - t1, "total_s": t2 - t0, "n": len(codes)}))
"""


def run_variant(latents: Path, variant: str, env: dict) -> dict:
    out = subprocess.run([sys.executable, "-c", CHILD, str(latents), variant],
                         capture_output=True, text=True, env=env, check=True, cwd=ROOT)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("bundle", nargs="?", default=str(ROOT / "checkpoints" / "fashion-mnist-conv-z16"))
    parser.add_argument("--repeats", type=int, default=1)
    args = parser.parse_args()
    latents = Path(args.bundle) / "latents.npz"
    results = {}
    with tempfile.TemporaryDirectory() as cache:
        env = {**os.environ, "NUMBA_CACHE_DIR": cache}
        for label, variant in VARIANTS.items():
            runs = [run_variant(latents, variant, env) for _ in range(args.repeats)]
            results[label] = {"variant": variant, "runs": runs,
                              "total_s_median": statistics.median(r["total_s"] for r in runs),
                              "fit_s_median": statistics.median(r["fit_s"] for r in runs)}
            print(f"{label}: {results[label]['total_s_median']:.1f} s", flush=True)
    base = results[next(iter(VARIANTS))]["total_s_median"]
    rows = [(label, round(r["fit_s_median"], 1), round(r["total_s_median"], 1), round(base / r["total_s_median"], 2))
            for label, r in results.items()]
    print(format_table(["method (fresh process)", "fit s", "total s", "speed-up"], rows))
    out = ROOT / "bench" / "results" / "umap_speed.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps({"bundle": args.bundle, "repeats": args.repeats, "results": results}, indent=2))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
