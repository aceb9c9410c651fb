"""A neighbour-preserving map of 1,000,000 codes: UMAP of a sample, every code placed by its nearest
sample codes (`vae.latent.large_map`), against umap-learn's own map of a 10k sample (the anchor).

Reads the codes of the 1M bundle `bench.million_bundle` builds. In one run, on the same machine:
  - the anchor: umap-learn (the project's settings, `umap_2d`: exact kNN, 200 epochs; with
    `--umap-default`, also `umap.UMAP()` as shipped) of a random 10k evaluation sample;
  - PCA of every code (the map a 1M bundle opens with);
  - for each sample size: UMAP of the sample, then every code placed near its nearest sample code's
    position, pulled toward its k nearest (and the trustworthiness other pulls would give);
  - placement alone, per 100k codes: `ForwardProjector.place_many` (a k-d tree, what the explorer
    uses for a few hundred codes) vs `place_by_neighbours` (blocks of matrix products).
Trustworthiness (scikit-learn, k=10) is of the evaluation sample's rows of each map against their
codes. Medians over `--repeats`. Prints a table and writes bench/results/million_umap.json.

    .venv/bin/python -m bench.million_umap [--bundle bench/results/maps/fashion-mnist-conv-z16-1m]
        [--samples 10000,20000] [--repeats 1] [--umap-default]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time
from pathlib import Path

import numpy as np
import torch

from vae.cli.tables import format_table
from vae.latent.large_map import PLACE_K, PULL, SAMPLE_SIZE, place_by_neighbours, sample_indices
from vae.latent.placement import ForwardProjector
from vae.latent.projection import pca_2d, umap_2d

ROOT = Path(__file__).resolve().parent.parent
BUNDLE = ROOT / "bench" / "results" / "maps" / "fashion-mnist-conv-z16-1m"
EVAL_SIZE = 10_000
PLACEMENT_CHECK = 20_000  # codes each placement method places, reported per 100k
OTHER_PULLS = (0.0, 0.2, 1.0)  # besides PULL: the nearest's position, more pull, the neighbours' mean


def trustworthiness_of(codes: np.ndarray, xy: np.ndarray) -> float:
    from sklearn.manifold import trustworthiness

    return float(trustworthiness(codes, xy, n_neighbors=10))


def timed(function, *args, **kwargs):
    started = time.perf_counter()
    result = function(*args, **kwargs)
    return result, time.perf_counter() - started


def anchor_maps(codes: np.ndarray, default: bool) -> dict[str, dict]:
    """umap-learn's own maps of the evaluation sample."""
    maps = {}
    xy, seconds = timed(lambda: umap_2d(codes, seed=0)["xy"])
    maps["umap-learn, project settings (anchor)"] = {"total_s": seconds,
                                                     "trustworthiness": trustworthiness_of(codes, xy)}
    if default:
        import umap

        xy, seconds = timed(lambda: umap.UMAP().fit_transform(codes))
        maps["umap-learn, UMAP() defaults"] = {"total_s": seconds, "trustworthiness": trustworthiness_of(codes, xy)}
    return maps


def sampled_map(codes: np.ndarray, evaluation: np.ndarray, size: int, k: int) -> dict:
    """`sampled_umap_2d`'s steps, each timed: UMAP of the sample, then every code placed. A code's
    place depends on the sample alone, so the other pulls' trustworthiness places the evaluation
    codes only: the same rows their full maps would have."""
    sample = sample_indices(len(codes), size, seed=0)
    sample_xy, fit_s = timed(lambda: umap_2d(codes[sample], seed=0)["xy"])
    xy, place_s = timed(place_by_neighbours, codes, codes[sample], sample_xy, k)
    assert np.isfinite(xy).all() and xy.shape == (len(codes), 2)
    result = {"fit_s": fit_s, "place_s": place_s, "total_s": fit_s + place_s,
              "trustworthiness": trustworthiness_of(codes[evaluation], xy[evaluation])}
    for pull in OTHER_PULLS:
        placed = place_by_neighbours(codes[evaluation], codes[sample], sample_xy, k, pull)
        result[f"trustworthiness_pull_{pull}"] = trustworthiness_of(codes[evaluation], placed)
    return result


def placement_speed(codes: np.ndarray, size: int, k: int) -> dict[str, float]:
    """Seconds per 100k codes placed on a `size`-code map, by the explorer's k-d tree and by blocks."""
    sample = sample_indices(len(codes), size, seed=1)
    xy = pca_2d(codes[sample])["xy"]  # any layout: only the search and the average are timed
    queries = codes[:PLACEMENT_CHECK]
    tree = ForwardProjector(codes[sample], xy, k=k)
    by_tree, tree_s = timed(tree.place_many, queries)
    # pull 1: the same positions as the k-d tree's (any pull costs the same).
    by_blocks, blocks_s = timed(place_by_neighbours, queries, codes[sample], xy, k, 1.0)
    scale = 100_000 / len(queries)
    return {"kd_tree_s_per_100k": tree_s * scale, "blocks_s_per_100k": blocks_s * scale,
            "max_difference": float(np.abs(by_tree - by_blocks).max())}


def median_of(runs: list[dict]) -> dict[str, float]:
    return {key: statistics.median(run[key] for run in runs) for key in runs[0]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bundle", type=Path, default=BUNDLE)
    parser.add_argument("--samples", default=str(SAMPLE_SIZE), help="sample sizes UMAP fits, comma-separated")
    parser.add_argument("--k", type=int, default=PLACE_K)
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--umap-default", action="store_true", help="add umap.UMAP() as shipped to the anchors")
    args = parser.parse_args()
    codes = np.load(args.bundle / "latents.npz")["mu"].astype(np.float32)
    evaluation = sample_indices(len(codes), EVAL_SIZE, seed=1234)
    sizes = [int(size) for size in args.samples.split(",")]
    umap_2d(codes[:200], n_epochs=10)  # load numba's kernels once, outside every timing
    runs: dict[str, list[dict]] = {}
    load: list[float] = []
    for repeat in range(args.repeats):
        load.append(os.getloadavg()[0])
        for label, result in anchor_maps(codes[evaluation], args.umap_default).items():
            runs.setdefault(label, []).append(result)
        xy, seconds = timed(lambda: pca_2d(codes)["xy"])
        runs.setdefault("PCA of every code (the first map)", []).append(
            {"total_s": seconds, "trustworthiness": trustworthiness_of(codes[evaluation], xy[evaluation])})
        for size in sizes:
            runs.setdefault(f"UMAP of {size:,}, the rest placed (k={args.k}, pull {PULL})", []).append(
                sampled_map(codes, evaluation, size, args.k))
        runs.setdefault("placement", []).append(placement_speed(codes, min(sizes), args.k))
        for label, results in runs.items():
            print(f"[{repeat + 1}/{args.repeats}] {label}: {results[-1]}", flush=True)
    summary = {label: median_of(results) for label, results in runs.items()}
    placement = summary.pop("placement")
    anchor = summary["umap-learn, project settings (anchor)"]
    rows = []
    for label, s in summary.items():
        mapped = EVAL_SIZE if label.startswith("umap-learn") else len(codes)
        rows.append((label, f"{mapped:,}", f"{s['fit_s']:.1f}" if "fit_s" in s else "-",
                     f"{s['place_s']:.1f}" if "place_s" in s else "-", f"{s['total_s']:.1f}",
                     f"{s['trustworthiness']:.4f}", f"{s['trustworthiness'] - anchor['trustworthiness']:+.4f}"))
        for pull in OTHER_PULLS if "fit_s" in s else ():
            value = s[f"trustworthiness_pull_{pull}"]
            rows.append((f"  the same, pull {pull}", f"{mapped:,}", "same", "same", "same", f"{value:.4f}",
                         f"{value - anchor['trustworthiness']:+.4f}"))
    print(f"\n{len(codes):,} codes of {args.bundle.name} ({codes.shape[1]}-D); trustworthiness (k=10) on the same "
          f"{EVAL_SIZE:,} random codes; medians of {args.repeats}; load average {statistics.median(load):.1f} "
          f"on {os.cpu_count()} cores")
    print(format_table(["map", "codes mapped", "fit s", "place s", "total s", "trustworthiness", "vs anchor"], rows))
    print(format_table([f"placement on a {min(sizes):,}-code map", "s per 100k codes", "speed-up"], [
        ("ForwardProjector.place_many (k-d tree), this run", f"{placement['kd_tree_s_per_100k']:.1f}", "1.0x"),
        ("place_by_neighbours (blocks of matrix products)", f"{placement['blocks_s_per_100k']:.1f}",
         f"{placement['kd_tree_s_per_100k'] / placement['blocks_s_per_100k']:.1f}x"),
    ]))
    out = ROOT / "bench" / "results" / "million_umap.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps({
        "bundle": str(args.bundle), "n": len(codes), "eval_size": EVAL_SIZE, "k": args.k, "repeats": args.repeats,
        "cpus": os.cpu_count(), "threads": torch.get_num_threads(), "machine": platform.machine(),
        "load_average": load, "summary": summary, "placement": placement, "runs": runs,
        "when": time.strftime("%Y-%m-%d %H:%M:%S"),
    }, indent=2))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
