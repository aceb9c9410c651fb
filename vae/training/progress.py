"""Turn a run's JSON-lines events into what a progress view shows: phase, fraction, curves."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from vae.bundle.schema import MAX_CLASS_NAME, MAX_CLASSES
from vae.training import events as ev

MAX_DEVICE_TEXT = 100  # characters of a device name an event log may show

PHASES = {
    ev.RUN_START: "starting",
    ev.TRAIN_START: "training", ev.STEP_END: "training", ev.EVAL_END: "training", ev.EPOCH_END: "training",
    ev.TRAIN_END: "saving the bundle", ev.BUNDLE_SAVED: "saved",
    ev.PROJECTION_START: "saved; computing the UMAP map", ev.PROJECTION_SAVED: "saved with its UMAP map",
    ev.PROJECTION_FAILED: "saved with its PCA map only",
    ev.RUN_END: "finished",
}


@dataclass
class RunProgress:
    """The state of one run as of its latest event."""

    phase: str = "loading data"
    device: str = ""
    class_names: list[str] = field(default_factory=list)
    epochs: int = 0
    epoch: int = 0
    step: int = 0
    steps_per_epoch: int = 0
    global_step: int = 0
    total_steps: int = 0
    images_per_s: float = 0.0
    eta_s: float | None = None
    steps: list[dict[str, Any]] = field(default_factory=list)  # step_end records
    history: list[dict[str, Any]] = field(default_factory=list)  # epoch_end records
    bundle: str | None = None  # the saved bundle: openable from here on, before its UMAP map
    bundle_status: str = ""  # completed | cancelled | failed
    umap_pending: bool = False  # between projection_start and its saved/failed event

    @property
    def fraction(self) -> float:
        return min(1.0, self.global_step / self.total_steps) if self.total_steps else 0.0

    @property
    def epochs_completed(self) -> int:
        return len(self.history)


def _numbers(event: dict[str, Any], *keys: str) -> bool:
    return all(isinstance(event.get(k), int | float) and not isinstance(event.get(k), bool)
               and math.isfinite(event[k]) for k in keys)


def summarize_events(events: list[dict[str, Any]]) -> RunProgress:
    """Fold events in order; unknown events, and known ones without the numbers they should carry
    (a damaged or foreign log), are ignored so the Train page always has something to show."""
    progress = RunProgress()
    for event in events:
        kind = event.get("event")
        if kind == ev.TRAIN_START and not _numbers(event, "epochs", "total_steps", "steps_per_epoch"):
            continue
        if kind == ev.STEP_END and not _numbers(event, "epoch", "step", "global_step", "recon", "kl"):
            continue
        if kind == ev.EPOCH_END and not _numbers(event, "epoch", "test_neg_elbo"):
            continue
        progress.phase = PHASES.get(kind, progress.phase)
        if kind == ev.RUN_START:
            dataset = event.get("dataset")
            names = dataset.get("class_names") if isinstance(dataset, dict) else None
            if isinstance(names, list):
                progress.class_names = [str(n)[:MAX_CLASS_NAME] for n in names[:MAX_CLASSES]]
        elif kind == ev.TRAIN_START:
            progress.device = str(event.get("device", ""))[:MAX_DEVICE_TEXT]
            progress.epochs = int(event["epochs"])
            progress.total_steps = int(event["total_steps"])
            progress.steps_per_epoch = int(event["steps_per_epoch"])
        elif kind == ev.STEP_END:
            progress.steps.append(event)
            progress.epoch, progress.step = int(event["epoch"]), int(event["step"])
            progress.global_step = int(event["global_step"])
            progress.images_per_s = float(event["images_per_s"]) if _numbers(event, "images_per_s") else 0.0
            progress.eta_s = float(event["eta_s"]) if _numbers(event, "eta_s") else None
        elif kind == ev.EPOCH_END:
            progress.history.append(event)
        elif kind == ev.BUNDLE_SAVED:
            progress.bundle, progress.bundle_status = event.get("path"), str(event.get("status", ""))
        elif kind in (ev.PROJECTION_START, ev.PROJECTION_SAVED, ev.PROJECTION_FAILED):
            progress.umap_pending = kind == ev.PROJECTION_START
    if progress.phase == "finished":
        progress.eta_s = 0.0
    return progress
