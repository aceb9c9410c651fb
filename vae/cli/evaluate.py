"""Evaluate a bundle on its own stored test images (no dataset needed).

    vae-lab evaluate checkpoints/fashion-mnist-conv-z16 --iwae-k 1000 [--save]

Prints test -ELBO, reconstruction, KL, active units and an IWAE-k estimate of -log p(x). With
--save, records them in the bundle's config.json, with the per-image values (per_image.npz) when
the bundle was built without them: asked for, since a bundle may be someone else's (a shipped one,
a download) whose files should stay as they came.
"""

from __future__ import annotations

import argparse
import time
from functools import partial
from pathlib import Path

from vae import progress_log
from vae.bundle import CONFIG, BundleError, add_per_image, load_bundle, update_config
from vae.cli.errors import fail
from vae.cli.tables import format_table
from vae.diagnostics.per_image import per_image_values
from vae.evaluation import evaluate, iwae_estimate, likelihood_of

IWAE_STAGE = "iwae"  # the progress file's stage name


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("bundle", help="the bundle directory")
    p.add_argument("--iwae-k", type=int, default=1000, help="importance samples per image (0 skips, max 5000)")
    p.add_argument("--iwae-images", type=int, default=1000, help="test images used for the IWAE estimate")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--progress-file", type=Path,
                   help="append the IWAE estimate's progress as JSON lines (stage, done, total), for a page to follow")
    p.add_argument("--save", action="store_true",
                   help="record the metrics (and per-image values) in the bundle; without it nothing is written")


def run(args: argparse.Namespace) -> int:
    """Evaluate, print a table, record the metrics when asked; 2 for bad arguments or an unusable bundle."""
    if not 0 <= args.iwae_k <= 5000 or args.iwae_images < 1:
        return fail("--iwae-k must be 0..5000 and --iwae-images at least 1")
    try:
        bundle = load_bundle(args.bundle)
    except BundleError as exc:
        return fail(exc)
    likelihood, sigma = likelihood_of(bundle.config["training"])
    metrics = evaluate(bundle.model, bundle.images, likelihood=likelihood, sigma=sigma, seed=args.seed)
    result = {f"test_{k}" if k in ("neg_elbo", "recon", "kl") else k: v for k, v in metrics.items()}
    if args.iwae_k:
        started = time.monotonic()
        progress = partial(progress_log.append, args.progress_file, IWAE_STAGE) if args.progress_file else None
        result.update(iwae_estimate(bundle.model, bundle.images, args.iwae_k, args.iwae_images,
                                    likelihood, sigma, seed=args.seed, progress=progress))
        result["iwae_time_s"] = round(time.monotonic() - started, 1)
    rows = [(k, v) for k, v in result.items() if k != "kl_per_dim"]
    print(format_table(["metric (nats per image)", "value"], rows))
    if args.save:
        if bundle.per_image is None:
            add_per_image(bundle.path, per_image_values(bundle.model, bundle.images, likelihood, sigma))
        update_config(bundle.path, {"metrics": {**bundle.config.get("metrics", {}), **result}})
        print(f"recorded in {bundle.path / CONFIG}")
    return 0
