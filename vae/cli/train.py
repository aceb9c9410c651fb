"""Train a VAE and write a bundle.

    vae-lab train --dataset fashion-mnist --arch conv --latent-dim 16 --epochs 30 \\
        --out checkpoints/fashion-conv-z16
    torchrun --standalone --nproc_per_node 2 -m vae.cli train ...   # data parallel, one bundle

Exit status: 0 completed, 130 cancelled (SIGINT/SIGTERM; the last completed epoch is saved),
1 failed (NaN loss, out of memory, disk full, ...), 2 bad arguments or data.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import fields
from pathlib import Path
from typing import Any

from vae.cli.tables import format_table
from vae.models import PRESETS
from vae.models.conv import ACTIVATIONS
from vae.training import Callback, TrainConfig, Trainer, options, pipeline
from vae.training.pipeline import RunRefused, RunSettings

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_CANCELLED = 0, 1, 2, 130


class TqdmProgress(Callback):
    """A terminal progress bar over all optimiser steps, then the epochs' table, before the bundle is
    written (CLI only; the library logs instead)."""

    def on_train_start(self, trainer: Trainer, info: dict[str, Any]) -> None:
        from tqdm import tqdm

        self.bar = tqdm(total=info["total_steps"], unit="step", dynamic_ncols=True)
        self.epochs: list[dict[str, Any]] = []

    def on_step_end(self, trainer: Trainer, metrics: dict[str, Any]) -> None:
        self.bar.update(metrics["global_step"] - self.bar.n)
        self.bar.set_postfix(epoch=metrics["epoch"], loss=f"{metrics['loss']:.2f}",
                             img_s=f"{metrics['images_per_s']:.0f}")

    def on_epoch_end(self, trainer: Trainer, metrics: dict[str, Any]) -> None:
        self.bar.write(f"epoch {metrics['epoch']}: test -ELBO {metrics['test_neg_elbo']:.2f}")
        self.epochs.append(metrics)

    def on_train_end(self, trainer: Trainer, result: dict[str, Any]) -> None:
        self.bar.close()
        if self.epochs:
            print(summary_table(self.epochs))


def add_arguments(p: argparse.ArgumentParser) -> None:
    """The training options (vae/training/options.py), then those of the data, model and bundle."""
    options.add_to_parser(p)
    p.add_argument("--data-dir", help="folder with the dataset's files (searched first)")
    p.add_argument("--image-size", type=int,
                   help="folder datasets: resize every image to this square size (default: the images' own size, "
                        "which they must share)")
    p.add_argument("--channels", type=int, choices=(1, 3), default=1,
                   help="folder datasets with --image-size: 1 grey, 3 colour (without it: from the images)")
    p.add_argument("--preset", choices=sorted(PRESETS), help="named model config (sets --arch)")
    p.add_argument("--hidden", type=int, nargs="+", help="mlp: hidden sizes; conv: one dense size")
    p.add_argument("--full-res-channels", type=int, help="conv: channels of a full-resolution decoder stage")
    p.add_argument("--activation", choices=sorted(ACTIVATIONS), help="conv: activation (default relu)")
    p.add_argument("--out", type=Path, help="bundle directory (default checkpoints/<dataset>-<arch>-z<D>)")
    p.add_argument("--overwrite", action="store_true", help="replace an existing bundle at --out")
    p.add_argument("--no-umap", action="store_true", help="skip the UMAP map (PCA is always written)")
    p.add_argument("--map-images", choices=("test", "all"), default="test",
                   help="images encoded into the bundle's map: the test set, or train + test (70k for "
                        "Fashion-MNIST; a bundle of ~60 MB)")
    p.add_argument("--live-map", type=int, default=2000, metavar="N",
                   help="re-encode N test images after each epoch into <out>/live_map.npz, all epochs kept in "
                        "the bundle as its time-lapse (0: off)")


def settings_from_args(args: argparse.Namespace) -> tuple[TrainConfig, RunSettings]:
    """The training options and the run's data, model and bundle settings, from the parsed flags."""
    config = TrainConfig(**{f.name: getattr(args, f.name) for f in fields(TrainConfig)})
    model = {"latent_dim": args.latent_dim, "hidden": args.hidden, "full_res_channels": args.full_res_channels,
             "activation": args.activation}
    return config, RunSettings(
        dataset=args.dataset, data_dir=args.data_dir,
        image_shape=(args.channels, args.image_size, args.image_size) if args.image_size else None,
        preset=args.preset, arch=args.arch, model=model, out=args.out, overwrite=args.overwrite, name=args.name,
        umap=not args.no_umap, map_images=args.map_images, live_map=args.live_map)


def summary_table(history: list[dict[str, Any]]) -> str:
    rows = [(h["epoch"], h["train_neg_elbo"], h["test_neg_elbo"], h["test_recon"], h["test_kl"],
             h["active_units"], round(h["images_per_s"]), round(h["epoch_time_s"], 1)) for h in history]
    return format_table(["epoch", "train -ELBO", "test -ELBO", "recon", "KL", "active", "img/s", "s"], rows)


def run(args: argparse.Namespace) -> int:
    """Train (vae/training/pipeline.py) and say how it went."""
    config, settings = settings_from_args(args)
    try:
        outcome = pipeline.run(config, settings, progress=[TqdmProgress()], announce=print)
    except RunRefused as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    ended = {"completed": EXIT_OK, "failed": EXIT_FAILED}.get(outcome.status, EXIT_CANCELLED)
    if not outcome.main_process:  # another worker: rank 0 reports and saves
        return ended
    if outcome.save_error:
        print(f"error: {outcome.save_error}", file=sys.stderr)
        return EXIT_FAILED
    if outcome.bundle is None:
        print(f"{outcome.status}: {outcome.message}; no bundle written", file=sys.stderr)
        return EXIT_FAILED if outcome.status == "failed" else EXIT_CANCELLED
    return ended
