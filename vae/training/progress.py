"""Turn a run's JSON-lines events into what a progress view shows: phase, fraction, curves."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from vae.training import events as ev

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
    bundle_status: str = ""  # completed | cancelled
    umap_pending: bool = False  # between projection_start and its saved/failed event

    @property
    def fraction(self) -> float:
        return min(1.0, self.global_step / self.total_steps) if self.total_steps else 0.0

    @property
    def epochs_completed(self) -> int:
        return len(self.history)


def summarize_events(events: list[dict[str, Any]]) -> RunProgress:
    """Fold events in order; unknown events are ignored so old readers survive new writers."""
    progress = RunProgress()
    for event in events:
        kind = event.get("event")
        progress.phase = PHASES.get(kind, progress.phase)
        if kind == ev.RUN_START:
            progress.class_names = list(event.get("dataset", {}).get("class_names", []))
        elif kind == ev.TRAIN_START:
            progress.device = str(event.get("device", ""))
            progress.epochs = int(event.get("epochs", 0))
            progress.total_steps = int(event.get("total_steps", 0))
            progress.steps_per_epoch = int(event.get("steps_per_epoch", 0))
        elif kind == ev.STEP_END:
            progress.steps.append(event)
            progress.epoch, progress.step = int(event["epoch"]), int(event["step"])
            progress.global_step = int(event["global_step"])
            progress.images_per_s = float(event.get("images_per_s", 0.0))
            progress.eta_s = event.get("eta_s")
        elif kind == ev.EPOCH_END:
            progress.history.append(event)
        elif kind == ev.BUNDLE_SAVED:
            progress.bundle, progress.bundle_status = event.get("path"), str(event.get("status", ""))
        elif kind in (ev.PROJECTION_START, ev.PROJECTION_SAVED, ev.PROJECTION_FAILED):
            progress.umap_pending = kind == ev.PROJECTION_START
    if progress.phase == "finished":
        progress.eta_s = 0.0
    return progress
