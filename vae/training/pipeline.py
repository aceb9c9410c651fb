"""A training run from settings to bundle: data → model → Trainer → bundle → UMAP map.

`vae-lab train` (vae/cli/train.py) parses its flags into a TrainConfig and RunSettings, calls `run`
and prints what it returns; the app's training jobs run that command in their own process. Progress
goes to the callbacks (the events log every run writes, and whatever the caller adds, such as the
command's progress bar); warnings and failures to the log.
"""

from __future__ import annotations

import contextlib
import logging
import signal
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from vae.bundle import CONFIG, write_bundle
from vae.data import DataFileError, DatasetNotFoundError, ImageDataset, load_dataset
from vae.device import resolve_device
from vae.latent.projection_worker import ProjectionFailed, ProjectionWorker
from vae.models import PRESETS, build_model, config_from_dict
from vae.models.inference import encode
from vae.training import events as ev
from vae.training.callbacks import Callback
from vae.training.config import TrainConfig
from vae.training.distributed import DistContext, init_from_env
from vae.training.events import EventLog
from vae.training.live_map import LiveLatentMap
from vae.training.trainer import Trainer, TrainResult

log = logging.getLogger(__name__)


@dataclass
class RunSettings:
    """What a run needs besides the training options: its data, its model, and where its bundle goes."""

    dataset: str
    data_dir: str | None = None
    image_shape: tuple[int, int, int] | None = None  # (C, H, W) to resize a folder dataset to
    preset: str | None = None  # a named model config (sets the architecture)
    arch: str = "conv"
    model: dict[str, Any] = field(default_factory=dict)  # explicit fields: latent_dim, hidden, activation, ...
    out: Path | None = None
    overwrite: bool = False
    name: str | None = None
    umap: bool = True
    map_images: str = "test"  # "test", or "all": train + test
    live_map: int = 2000  # test images re-encoded after each epoch (0: off)


class RunRefused(ValueError):
    """The settings or the data cannot be used: nothing was trained (the message says why)."""


@dataclass
class RunOutcome:
    """How a run ended: status completed, cancelled or failed; the bundle written, if any."""

    status: str
    message: str
    bundle: Path | None = None
    main_process: bool = True  # False on the other workers of a distributed run (rank 0 reports and saves)
    save_error: str | None = None  # the run ended well but its bundle could not be written


def model_config(settings: RunSettings, input_shape: tuple[int, int, int]) -> dict[str, Any]:
    """Merge preset, architecture and explicit fields into one model config dict."""
    data: dict[str, Any] = dict(PRESETS[settings.preset]) if settings.preset else {"arch": settings.arch}
    data["input_shape"] = input_shape
    data.update({k: v for k, v in settings.model.items() if v is not None and k != "hidden"})
    hidden = settings.model.get("hidden")
    if hidden:
        data["hidden"] = tuple(hidden) if data["arch"] == "mlp" else hidden[0]
    return config_from_dict(data).to_dict()


def default_out(dataset: ImageDataset, model: dict[str, Any]) -> Path:
    return Path("checkpoints") / f"{dataset.name}-{model['arch']}-z{model['latent_dim']}"


def run(config: TrainConfig, settings: RunSettings, progress: list[Callback] | None = None,
        announce: Callable[[str], None] = log.info) -> RunOutcome:
    """Load the data, train, and on the main process write events and the bundle.

    `progress` are callbacks besides the events log; `announce` hears that the bundle is written (it
    opens from then on, while the UMAP map is still being computed). Raises RunRefused (bad settings,
    missing or unreadable data, an existing bundle at `out`).
    """
    try:
        config.validate()
        dataset = load_dataset(settings.dataset, settings.data_dir, shape=settings.image_shape)
        model = model_config(settings, dataset.input_shape)
        dist = init_from_env(config.device)
        device = dist.device if dist else resolve_device(config.device)
    except (ValueError, DatasetNotFoundError, DataFileError) as exc:
        raise RunRefused(str(exc)) from exc
    # The UMAP worker imports umap-learn and loads its kernels while the model trains (main process only).
    wants_umap = settings.umap and model["latent_dim"] > 2 and (dist is None or dist.is_main)
    umap_worker = ProjectionWorker.start() if wants_umap else None
    try:
        return _train(config, settings, dataset, model, dist, device, umap_worker, progress or [], announce)
    finally:
        if umap_worker:
            umap_worker.close()
        if dist:
            dist.close()


def _train(config: TrainConfig, settings: RunSettings, dataset: ImageDataset, model_dict: dict[str, Any],
           dist: DistContext | None, device: torch.device, umap_worker: ProjectionWorker | None,
           progress: list[Callback], announce: Callable[[str], None]) -> RunOutcome:
    main_process = dist is None or dist.is_main
    out = settings.out or default_out(dataset, model_dict)
    if main_process and (out / CONFIG).exists() and not settings.overwrite:
        raise RunRefused(f"{out} already holds a bundle; pass --overwrite or choose another --out")
    callbacks: list[Callback] = []
    events = live_map = None
    if main_process:
        out.mkdir(parents=True, exist_ok=True)
        (out / ev.EVENTS_FILE).unlink(missing_ok=True)
        events = EventLog(out / ev.EVENTS_FILE)
        events.write(ev.RUN_START, {"name": settings.name or out.name, "model": model_dict,
                                   "dataset": {"name": dataset.name, "class_names": dataset.class_names}})
        callbacks = [events, *progress]
        if settings.live_map > 0:
            live_map = LiveLatentMap(out, dataset.test_images, dataset.test_labels, settings.live_map, config.seed)
            callbacks.insert(0, live_map)
    torch.manual_seed(config.seed)
    model = build_model(config_from_dict(model_dict))
    trainer = Trainer(model, config, dataset.train_images, dataset.test_images, callbacks, device=device, dist=dist)
    with _stop_signals_ask(trainer):
        try:
            result = trainer.fit()
        except Exception as exc:  # out of memory, device errors: report them as a failed run
            message = f"{type(exc).__name__}: {exc}"
            if events:
                events.write(ev.TRAIN_END, {"status": "failed", "message": message, "epochs_completed": 0})
            log.exception("training failed")
            return RunOutcome("failed", message, main_process=main_process)
        if events is None:
            return RunOutcome(result.status, result.message, main_process=False)
        outcome = RunOutcome(result.status, result.message)
        if result.state_dict is not None and (result.status != "failed" or result.worker_lost):
            meta = _bundle_meta(settings, out, config, dataset, result, device, dist.world_size if dist else 1)
            try:
                _write(settings, out, model, dataset, meta, events, live_map, announce)
                outcome.bundle = out
            except OSError as exc:  # disk full, permissions: any previous bundle at `out` is left intact
                outcome.status = "failed"
                outcome.message = outcome.save_error = f"could not save the bundle to {out}: {exc.strerror or exc}"
    if outcome.bundle is not None and umap_worker is not None:  # a stop from here on ends the process at once
        _add_umap_map(out, config.seed, umap_worker, events)
    events.write(ev.RUN_END, {"status": outcome.status, "message": outcome.message,
                              "bundle": str(outcome.bundle) if outcome.bundle else None})
    events.close()
    return outcome


@contextlib.contextmanager
def _stop_signals_ask(trainer: Trainer) -> Iterator[None]:
    """SIGINT and SIGTERM ask the trainer to stop after its step, until the bundle is written: one that comes
    while it is written (a second Cancel, or torchrun stopping the workers left when one was lost) waits for
    the bundle, as the first stop did. Not while the UMAP map is computed: the bundle opens without it."""
    previous = {sig: signal.signal(sig, lambda s, _f: trainer.request_stop(signal.Signals(s).name))
                for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _bundle_meta(settings: RunSettings, out: Path, config: TrainConfig, dataset: ImageDataset,
                 result: TrainResult, device: torch.device, world_size: int) -> dict[str, Any]:
    last = result.history[-1]
    return {
        "name": settings.name or out.name,
        "status": result.status,
        "status_message": result.message,
        "training": config.to_dict(),
        "dataset": {"name": dataset.name, "class_names": dataset.class_names,
                    "n_train": len(dataset.train_images), "n_test": len(dataset.test_images),
                    "map_images": "train+test" if settings.map_images == "all" else "test"},
        "history": result.history,
        "metrics": {k: last[k] for k in ("test_neg_elbo", "test_recon", "test_kl", "active_units")},
        "device": result.device,
        "device_name": torch.cuda.get_device_name(device) if device.type == "cuda" else device.type,
        "world_size": world_size,
        "train_time_s": round(result.elapsed_s, 1),
    }


def _write(settings: RunSettings, out: Path, model: torch.nn.Module, dataset: ImageDataset, meta: dict[str, Any],
           events: EventLog, live_map: LiveLatentMap | None, announce: Callable[[str], None]) -> None:
    """Write the bundle, with its PCA map: openable from here on. OSError (disk full) propagates."""
    images, labels = dataset.test_images, dataset.test_labels
    if settings.map_images == "all":
        images = np.concatenate([dataset.test_images, dataset.train_images])
        labels = np.concatenate([dataset.test_labels, dataset.train_labels])
    mu, logvar = encode(model, images)  # (N, D) each: the bundle's codes
    write_bundle(out, model, images, labels, meta, codes=(mu, logvar),
                 timelapse=live_map.timelapse() if live_map else None)
    events.write(ev.BUNDLE_SAVED, {"path": str(out), "status": meta["status"]})
    announce(f"bundle written: {out} ({meta['status']})")


def _add_umap_map(out: Path, seed: int, umap_worker: ProjectionWorker, events: EventLog) -> None:
    """Have the worker add the UMAP map to the written bundle; a failed one leaves the PCA-only bundle and says
    why."""
    events.write(ev.PROJECTION_START, {"name": "umap"})
    try:
        timings = umap_worker.project(out, seed=seed)
    except ProjectionFailed as exc:
        events.write(ev.PROJECTION_FAILED, {"name": "umap", "message": str(exc)})
        log.warning("no UMAP map (%s); the bundle keeps its PCA map", exc)
    else:
        events.write(ev.PROJECTION_SAVED, {"name": "umap", **timings})
