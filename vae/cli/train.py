"""Train a VAE and write a bundle.

    vae-lab train --dataset fashion-mnist --arch conv --latent-dim 16 --epochs 30 \\
        --out checkpoints/fashion-conv-z16
    torchrun --standalone --nproc_per_node 2 -m vae.cli train ...   # data parallel, one bundle

Exit status: 0 completed, 130 cancelled (SIGINT/SIGTERM; the last completed epoch is saved),
1 failed (NaN loss, out of memory, disk full, ...), 2 bad arguments or data.
"""

from __future__ import annotations

import argparse
import signal
import sys
import traceback
from dataclasses import fields
from pathlib import Path
from typing import Any

import numpy as np
import torch

from vae.bundle import CONFIG, write_bundle
from vae.cli.tables import format_table
from vae.data import DataFileError, DatasetNotFoundError, ImageDataset, load_dataset
from vae.device import resolve_device
from vae.latent.projection_worker import ProjectionFailed, ProjectionWorker
from vae.models import PRESETS, build_model, config_from_dict
from vae.models.conv import ACTIVATIONS
from vae.models.inference import encode
from vae.training import Callback, EventLog, TrainConfig, Trainer, TrainResult, options
from vae.training import events as ev
from vae.training.distributed import DistContext, init_from_env
from vae.training.live_map import LiveLatentMap

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_CANCELLED = 0, 1, 2, 130


class TqdmProgress(Callback):
    """A terminal progress bar over all optimiser steps (CLI only; the library logs instead)."""

    def on_train_start(self, trainer: Trainer, info: dict[str, Any]) -> None:
        from tqdm import tqdm

        self.bar = tqdm(total=info["total_steps"], unit="step", dynamic_ncols=True)

    def on_step_end(self, trainer: Trainer, metrics: dict[str, Any]) -> None:
        self.bar.update(metrics["global_step"] - self.bar.n)
        self.bar.set_postfix(epoch=metrics["epoch"], loss=f"{metrics['loss']:.2f}",
                             img_s=f"{metrics['images_per_s']:.0f}")

    def on_epoch_end(self, trainer: Trainer, metrics: dict[str, Any]) -> None:
        self.bar.write(f"epoch {metrics['epoch']}: test -ELBO {metrics['test_neg_elbo']:.2f}")

    def on_train_end(self, trainer: Trainer, result: dict[str, Any]) -> None:
        self.bar.close()


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


def model_config_from_args(args: argparse.Namespace, input_shape: tuple[int, int, int]) -> dict[str, Any]:
    """Merge preset, architecture and explicit flags into one model config dict."""
    data: dict[str, Any] = dict(PRESETS[args.preset]) if args.preset else {"arch": args.arch}
    data["input_shape"] = input_shape
    if args.latent_dim is not None:
        data["latent_dim"] = args.latent_dim
    if args.full_res_channels is not None:
        data["full_res_channels"] = args.full_res_channels
    if args.activation is not None:
        data["activation"] = args.activation
    if args.hidden:
        data["hidden"] = tuple(args.hidden) if data["arch"] == "mlp" else args.hidden[0]
    return config_from_dict(data).to_dict()


def summary_table(history: list[dict[str, Any]]) -> str:
    rows = [(h["epoch"], h["train_neg_elbo"], h["test_neg_elbo"], h["test_recon"], h["test_kl"],
             h["active_units"], round(h["images_per_s"]), round(h["epoch_time_s"], 1)) for h in history]
    return format_table(["epoch", "train -ELBO", "test -ELBO", "recon", "KL", "active", "img/s", "s"], rows)


def _prepare(args: argparse.Namespace) -> tuple[TrainConfig, ImageDataset, dict[str, Any]]:
    """Validate settings and load the data; ValueError and dataset errors carry the user's message."""
    train_config = TrainConfig(**{f.name: getattr(args, f.name) for f in fields(TrainConfig)})
    train_config.validate()
    shape = (args.channels, args.image_size, args.image_size) if args.image_size else None
    dataset = load_dataset(args.dataset, args.data_dir, shape=shape)
    return train_config, dataset, model_config_from_args(args, dataset.input_shape)


def _bundle_meta(args: argparse.Namespace, out: Path, config: TrainConfig, dataset: ImageDataset,
                 result: TrainResult, device: torch.device, world_size: int) -> dict[str, Any]:
    last = result.history[-1]
    return {
        "name": args.name or out.name,
        "status": result.status,
        "status_message": result.message,
        "training": config.to_dict(),
        "dataset": {"name": dataset.name, "class_names": dataset.class_names,
                    "n_train": len(dataset.train_images), "n_test": len(dataset.test_images),
                    "map_images": "train+test" if args.map_images == "all" else "test"},
        "history": result.history,
        "metrics": {k: last[k] for k in ("test_neg_elbo", "test_recon", "test_kl", "active_units")},
        "device": result.device,
        "device_name": torch.cuda.get_device_name(device) if device.type == "cuda" else device.type,
        "world_size": world_size,
        "train_time_s": round(result.elapsed_s, 1),
    }


def _save(args: argparse.Namespace, out: Path, model: torch.nn.Module, dataset: ImageDataset,
          meta: dict[str, Any], events: EventLog, umap_worker: ProjectionWorker | None,
          live_map: LiveLatentMap | None = None) -> None:
    """Write the bundle (PCA map: openable from here on), then have the worker add the UMAP map.

    OSError (disk full) propagates; a failed UMAP map leaves the PCA-only bundle and says why.
    """
    images, labels = dataset.test_images, dataset.test_labels
    if args.map_images == "all":
        images = np.concatenate([dataset.test_images, dataset.train_images])
        labels = np.concatenate([dataset.test_labels, dataset.train_labels])
    mu, logvar = encode(model, images)  # (N, D) each: the bundle's codes
    write_bundle(out, model, images, labels, meta, codes=(mu, logvar),
                 timelapse=live_map.timelapse() if live_map else None)
    events.write(ev.BUNDLE_SAVED, {"path": str(out), "status": meta["status"]})
    print(f"bundle written: {out} ({meta['status']})")
    if umap_worker is None:
        return
    events.write(ev.PROJECTION_START, {"name": "umap"})
    try:
        timings = umap_worker.project(out, seed=args.seed)
    except ProjectionFailed as exc:
        events.write(ev.PROJECTION_FAILED, {"name": "umap", "message": str(exc)})
        print(f"warning: no UMAP map ({exc}); the bundle keeps its PCA map", file=sys.stderr)
    else:
        events.write(ev.PROJECTION_SAVED, {"name": "umap", **timings})


def run(args: argparse.Namespace) -> int:
    """Load the data, train, and on the main process write events and the bundle."""
    try:
        train_config, dataset, model_dict = _prepare(args)
        dist = init_from_env(args.device)
        device = dist.device if dist else resolve_device(args.device)
    except (ValueError, DatasetNotFoundError, DataFileError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    # The UMAP worker imports umap-learn and loads its kernels while the model trains (main process only).
    wants_umap = not args.no_umap and model_dict["latent_dim"] > 2 and (dist is None or dist.is_main)
    umap_worker = ProjectionWorker.start() if wants_umap else None
    try:
        return _train(args, train_config, dataset, model_dict, dist, device, umap_worker)
    finally:
        if umap_worker:
            umap_worker.close()
        if dist:
            dist.close()


def _train(args: argparse.Namespace, train_config: TrainConfig, dataset: ImageDataset, model_dict: dict[str, Any],
           dist: DistContext | None, device: torch.device, umap_worker: ProjectionWorker | None) -> int:
    """Train, and on the main process write events and the bundle."""
    main_process = dist is None or dist.is_main
    out = args.out or Path("checkpoints") / f"{dataset.name}-{model_dict['arch']}-z{model_dict['latent_dim']}"
    if main_process and (out / CONFIG).exists() and not args.overwrite:
        print(f"error: {out} already holds a bundle; pass --overwrite or choose another --out", file=sys.stderr)
        return EXIT_USAGE
    callbacks: list[Callback] = []
    events = live_map = None
    if main_process:
        out.mkdir(parents=True, exist_ok=True)
        (out / ev.EVENTS_FILE).unlink(missing_ok=True)
        events = EventLog(out / ev.EVENTS_FILE)
        events.write(ev.RUN_START, {"name": args.name or out.name, "model": model_dict,
                                   "dataset": {"name": dataset.name, "class_names": dataset.class_names}})
        callbacks = [events, TqdmProgress()]
        if args.live_map > 0:
            live_map = LiveLatentMap(out, dataset.test_images, dataset.test_labels, args.live_map, args.seed)
            callbacks.insert(0, live_map)
    torch.manual_seed(args.seed)
    model = build_model(config_from_dict(model_dict))
    trainer = Trainer(model, train_config, dataset.train_images, dataset.test_images, callbacks,
                      device=device, dist=dist)
    previous = {sig: signal.signal(sig, lambda s, _f: trainer.request_stop(signal.Signals(s).name))
                for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        result = trainer.fit()
    except Exception as exc:  # out of memory, device errors: report them as a failed run
        if events:
            events.write(ev.TRAIN_END, {"status": "failed", "message": f"{type(exc).__name__}: {exc}",
                                       "epochs_completed": 0})
        traceback.print_exc()
        return EXIT_FAILED
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    exit_code = EXIT_OK if result.status == "completed" else EXIT_CANCELLED
    if events is None:  # another worker: rank 0 reports and saves
        return EXIT_FAILED if result.status == "failed" else exit_code
    if result.history:
        print(summary_table(result.history))
    bundle: str | None = None
    if result.state_dict is None or result.status == "failed":
        print(f"{result.status}: {result.message}; no bundle written", file=sys.stderr)
        status, message = result.status, result.message
        exit_code = EXIT_FAILED if result.status == "failed" else EXIT_CANCELLED
    else:
        meta = _bundle_meta(args, out, train_config, dataset, result, device, dist.world_size if dist else 1)
        try:
            _save(args, out, model, dataset, meta, events, umap_worker, live_map)
            status, message, bundle = result.status, result.message, str(out)
        except OSError as exc:  # disk full, permissions: any previous bundle at `out` is left intact
            status, message = "failed", f"could not save the bundle to {out}: {exc.strerror or exc}"
            print(f"error: {message}", file=sys.stderr)
            exit_code = EXIT_FAILED
    events.write(ev.RUN_END, {"status": status, "message": message, "bundle": bundle})
    events.close()
    return exit_code
