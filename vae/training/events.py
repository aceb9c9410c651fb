"""The run's event log: every event name, the file name, the writer and the reader.

A training run appends one JSON object per line to `<out>/events.jsonl`; the Train page, the job
registry and the tests read it back. Every event string is named here and nowhere else.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from vae.files import read_regular
from vae.training.callbacks import Callback

if TYPE_CHECKING:
    from vae.training.trainer import Trainer

EVENTS_FILE = "events.jsonl"
MAX_EVENTS_BYTES = 256 * 2**20  # a 10,000-epoch run writes a few MB

RUN_START = "run_start"  # the CLI: name, model config, dataset
TRAIN_START = "train_start"  # the trainer: epochs, steps, device
STEP_END = "step_end"  # throttled: loss terms, images/s, ETA
EVAL_END = "eval_end"  # test metrics of one epoch
EPOCH_END = "epoch_end"  # one history record
TRAIN_END = "train_end"  # status and message of the training loop
BUNDLE_SAVED = "bundle_saved"  # the bundle (PCA map) is on disk
PROJECTION_START = "projection_start"  # the UMAP map is being computed (by vae/latent/projection_worker.py)
PROJECTION_SAVED = "projection_saved"  # the bundle has its UMAP map; seconds the worker took
PROJECTION_FAILED = "projection_failed"  # no UMAP map (the bundle keeps its PCA map): message
RUN_END = "run_end"  # the CLI's final status; the bundle's path when there is one


class EventLog(Callback):
    """Appends one JSON object per line to `path`, flushed at once, so another process can follow.

    Step events are throttled to one per `step_interval_s` seconds to keep the file small.
    """

    def __init__(self, path: str | Path, step_interval_s: float = 0.5) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.step_interval_s = step_interval_s
        self._last_step_write = 0.0
        self._file = self.path.open("a", encoding="utf-8")

    def write(self, event: str, payload: dict[str, Any]) -> None:
        """Write one event line and push it to the OS so readers see it immediately."""
        record = {"event": event, "time": time.time(), "pid": os.getpid(), **payload}
        self._file.write(json.dumps(record, allow_nan=False, default=_jsonable) + "\n")
        self._file.flush()

    def on_train_start(self, trainer: Trainer, info: dict[str, Any]) -> None:
        self.write(TRAIN_START, info)

    def on_step_end(self, trainer: Trainer, metrics: dict[str, Any]) -> None:
        now = time.monotonic()
        last_step = metrics["step"] == metrics["steps_per_epoch"]
        if last_step or now - self._last_step_write >= self.step_interval_s:
            self._last_step_write = now
            self.write(STEP_END, metrics)

    def on_eval_end(self, trainer: Trainer, metrics: dict[str, Any]) -> None:
        self.write(EVAL_END, metrics)

    def on_epoch_end(self, trainer: Trainer, metrics: dict[str, Any]) -> None:
        self.write(EPOCH_END, metrics)

    def on_train_end(self, trainer: Trainer, result: dict[str, Any]) -> None:
        self.write(TRAIN_END, result)

    def close(self) -> None:
        self._file.close()


def _jsonable(value: Any) -> Any:
    if hasattr(value, "tolist"):
        return value.tolist()
    return str(value)


def read_events(path: str | Path) -> list[dict[str, Any]]:
    """All complete events of a JSON-lines log; a partly written last line is skipped."""
    events = []
    try:
        text = read_regular(path, MAX_EVENTS_BYTES).decode("utf-8", errors="replace")
    except OSError:  # none yet, or not a regular file (a pipe would block the page for ever)
        return []
    for line in text.splitlines():
        try:
            event = json.loads(line)
        except (json.JSONDecodeError, RecursionError):
            continue
        if isinstance(event, dict):
            events.append(event)
    return events
